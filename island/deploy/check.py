"""``island deploy check``: is this installed island box ready for a crisis?

Each check is one small function that returns a line: ok, warn or fail, what was seen, and what to
do next when it is not ok. The checks read the installed configuration (``/etc/odrift``), so they
test the box as it really is, not as the site file says it should be.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from dnslib import QTYPE, RCODE, DNSRecord

from services.crisis_site.tls import STATUS_FILE
from services.tls.certificate import PAIR_FILE, CertificateProblem, info, read_chain

from ..backup import last_backup
from ..service_specs import TLS_FOLDER
from .render import BOX_COMMANDS, PREFIX

OK, WARN, FAIL = "ok", "warn", "fail"
# A trygghetspunkt must not run out of disk in a long crisis: the register, logs and backups grow.
MIN_FREE_BYTES = 1 << 30
BACKUP_MAX_AGE_DAYS = 7
CERT_WARN_DAYS = 21


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    seen: str
    next_step: str = ""


@dataclass(frozen=True)
class Box:
    """Where the installed island's pieces are; the defaults are what `island deploy render` installs."""

    config_dir: Path = Path("/etc/odrift")
    data_dir: Path = Path("/var/lib/odrift")
    dhcp_config: Path = Path("/etc/dnsmasq.d/odrift.conf")
    units: tuple[str, ...] | None = (
        None  # default: what `island deploy render` installed here (see expected_units)
    )
    resolver_address: str | None = None  # default: the Wi-Fi side's island address, from the config
    site_url: str | None = None
    certificate: Path | None = None  # default: island.pem in site.json's tls folder, else DATA/tls/
    path: str | None = None  # where commands are looked for; default: PATH and the sbin folders
    venv: Path = Path(PREFIX) / "venv"


def _dns_query(name: str, server: str, port: int, timeout: float = 2.0) -> int:
    query = DNSRecord.question(name, "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(query.pack(), (server, port))
        reply = DNSRecord.parse(s.recv(4096))
    return (
        int(reply.header.rcode)
        if reply.header.rcode
        else (0 if reply.rr and reply.rr[0].rtype == QTYPE.A else -1)
    )


def is_local_address(address: str) -> bool:
    """Whether ``address`` belongs to this machine: the checks only ever talk to the box itself."""
    try:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((address, 0))
    except OSError:
        return False
    return True


def _not_here(what: str, address: str) -> Finding:
    return Finding(
        what,
        FAIL,
        f"{address} is not an address of this machine",
        "run `island deploy check` on the island box itself (the Wi-Fi side must be up)",
    )


def _resolver(box: Box) -> tuple[dict[str, Any], str, int, str]:
    config = yaml.safe_load((box.config_dir / "resolver.yaml").read_text(encoding="utf-8"))
    listen = config["listen"]
    zone = config["local_zones"][0]
    island = zone["data"].split()[-1]
    host = box.resolver_address or (island if listen["host"] in ("0.0.0.0", "::") else listen["host"])
    return config, host, int(listen["port"]), zone["name"]


def expected_units(box: Box) -> tuple[str, ...]:
    """The units the box must run: the ones asked for, else every unit the render installs, the region's
    two when it rendered etc/odrift/region.yaml (an island in a region)."""
    if box.units is not None:
        return box.units
    region = ("odrift-nats", "odrift-replicator") if (box.config_dir / "region.yaml").exists() else ()
    return ("odrift-resolver", "odrift-site", "odrift-gate", *region, "dnsmasq")


def check_services(box: Box) -> list[Finding]:
    found = []
    for unit in expected_units(box):
        try:
            state = subprocess.run(
                ["systemctl", "is-active", unit], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            found.append(
                Finding(
                    f"service {unit}",
                    WARN,
                    f"cannot ask systemd ({exc})",
                    "run the check on the island box itself",
                )
            )
            continue
        if state == "active":
            found.append(Finding(f"service {unit}", OK, "running"))
        else:
            found.append(
                Finding(
                    f"service {unit}",
                    FAIL,
                    state or "unknown",
                    f"sudo systemctl enable --now {unit}; then `journalctl -u {unit} -n 50` says why it stopped",
                )
            )
    return found


def check_commands(box: Box) -> list[Finding]:
    """Every command the units call is installed: a box set up by hand may lack a Debian package."""
    path = (
        box.path
        if box.path is not None
        else os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    )
    found = []
    for command, needed in BOX_COMMANDS.items():
        where = shutil.which(command, path=path)
        install = f"sudo apt-get install {needed.package}"
        if where is not None:
            found.append(Finding(f"command {command}", OK, where))
        elif needed.without_it:
            found.append(Finding(f"command {command}", WARN, f"not installed: {needed.without_it}", install))
        else:
            found.append(Finding(f"command {command}", FAIL, "not installed", install))
    if (box.config_dir / "region.yaml").exists():
        nats = box.venv / "bin" / "nats-server"
        found.append(
            Finding("command nats-server", OK, str(nats))
            if os.access(nats, os.X_OK)
            else Finding(
                "command nats-server",
                FAIL,
                f"{nats} is missing",
                f"install the package into {box.venv} from the bundle's wheelhouse (it brings nats-server)",
            )
        )
    return found


def check_resolver(box: Box) -> list[Finding]:
    try:
        config, host, port, crisis_name = _resolver(box)
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError) as exc:
        return [
            Finding(
                "resolver configuration",
                FAIL,
                f"cannot read {box.config_dir / 'resolver.yaml'} ({exc})",
                "render the site file again and install etc/odrift/resolver.yaml",
            )
        ]
    if not is_local_address(host):
        return [_not_here("resolver answers the crisis name", host)]
    try:
        rcode = _dns_query(crisis_name, host, port)
    except (OSError, ValueError) as exc:
        return [
            Finding(
                "resolver answers the crisis name",
                FAIL,
                f"no answer from {host}:{port} ({exc})",
                "sudo systemctl restart odrift-resolver; check `nft list ruleset` lets DNS in",
            )
        ]
    found = [
        Finding("resolver answers the crisis name", OK, f"{crisis_name} from {host}:{port}")
        if rcode == 0
        else Finding(
            "resolver answers the crisis name",
            FAIL,
            f"{crisis_name}: {RCODE.get(rcode, rcode)}",
            "render and install etc/odrift/resolver.yaml again, then restart odrift-resolver",
        )
    ]
    allowed = config.get("allow", [])
    open_to_all = any(net in ("0.0.0.0/0", "::/0") for net in allowed)
    found.append(
        Finding(
            "resolver refuses outsiders",
            FAIL,
            "allow lists the whole internet",
            "remove 0.0.0.0/0 from allow in resolver.yaml: an open resolver is an amplifier",
        )
        if open_to_all
        else Finding("resolver refuses outsiders", OK, f"allows only {', '.join(allowed)}")
    )
    return found


def check_sign_in_sheet(box: Box) -> list[Finding]:
    """Whether phones get the crisis page as their sign-in sheet while the uplink is down: the resolver's
    island mode and the site's captive portal (files rendered before they were added lack both)."""
    what = "phones' sign-in sheet during a cut"
    try:
        resolver = yaml.safe_load((box.config_dir / "resolver.yaml").read_text(encoding="utf-8"))
        site = json.loads((box.config_dir / "site.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return [Finding(what, FAIL, f"cannot read the configuration ({exc})", "render the site file again")]
    missing = [
        name
        for name, present in (
            ("island_mode in resolver.yaml", bool((resolver or {}).get("island_mode"))),
            ("crisis_name in site.json", bool(site.get("crisis_name"))),
            ("resolver_metrics in site.json", bool(site.get("resolver_metrics"))),
        )
        if not present
    ]
    if missing:
        return [
            Finding(
                what,
                WARN,
                f"off: no {', no '.join(missing)}; phones will say 'no internet' instead",
                "render the site file again with this version, install etc/odrift/, restart both services",
            )
        ]
    return [Finding(what, OK, f"checks go to {resolver['island_mode']['portal']} while the uplink is down")]


def check_site(box: Box) -> list[Finding]:
    try:
        _, host, _, crisis_name = _resolver(box)
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        host, crisis_name = "127.0.0.1", "localhost"
    if box.site_url is None and not is_local_address(host):
        return [_not_here("crisis page", host)]
    url = box.site_url or f"http://{host}/"
    request = urllib.request.Request(url, headers={"Host": crisis_name})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status = response.status
    except OSError as exc:
        return [
            Finding(
                "crisis page",
                FAIL,
                f"{url}: {exc}",
                "sudo systemctl restart odrift-site; `journalctl -u odrift-site`",
            )
        ]
    return [Finding("crisis page", OK if status == 200 else FAIL, f"{url} answered {status}")]


def check_dhcp(box: Box) -> list[Finding]:
    try:
        text = box.dhcp_config.read_text(encoding="utf-8")
    except OSError as exc:
        return [
            Finding(
                "DHCP option 114",
                FAIL,
                f"cannot read {box.dhcp_config} ({exc.strerror})",
                "install etc/dnsmasq.d/odrift.conf from the rendered folder and restart dnsmasq",
            )
        ]
    option = next((line for line in text.splitlines() if line.startswith("dhcp-option=114,")), None)
    if option is None:
        return [
            Finding(
                "DHCP option 114",
                FAIL,
                "no captive-portal API in the DHCP configuration",
                "render the site file again: phones with Android 11+ and iOS 14+ read option 114",
            )
        ]
    return [Finding("DHCP option 114", OK, option.split(",", 1)[1].strip('"'))]


def certificate_file(box: Box) -> Path:
    """The key-and-chain file the site serves: in the TLS folder the rendered site.json names."""
    if box.certificate is not None:
        return box.certificate
    try:
        settings = json.loads((box.config_dir / "site.json").read_text(encoding="utf-8"))
        folder = Path(settings["tls"]["folder"])
    except (OSError, ValueError, KeyError, TypeError):
        folder = box.data_dir / TLS_FOLDER
    return folder / PAIR_FILE


def check_certificate(box: Box, now: float | None = None) -> list[Finding]:
    path = certificate_file(box)
    if not path.exists():
        return [
            Finding(
                "certificate",
                WARN,
                f"none at {path}: the crisis page is served over HTTP only",
                "phones that know the municipality's HSTS policy need HTTPS: install the island's credential "
                "(certificate: central) or a certificate (island site install-cert); see docs/https.md",
            )
        ]
    try:
        facts = info(read_chain(path)[0])
    except (CertificateProblem, IndexError) as exc:
        return [
            Finding(
                "certificate",
                FAIL,
                f"{path} cannot be read ({exc or 'no certificate in it'})",
                "install a certificate again: island site install-cert",
            )
        ]
    when = dt.datetime.fromtimestamp(now or time.time(), dt.UTC)
    days = facts.days_left(when)
    status = FAIL if facts.not_after <= when else WARN if days < CERT_WARN_DAYS else OK
    seen = f"{days} days left (until {facts.not_after:%Y-%m-%d}), for {', '.join(facts.names)} from {facts.issuer}"
    next_step = "" if status == OK else "renew it now, while the island is connected: see docs/https.md"
    renewal = _renewal_error(path.parent)
    if renewal:  # it still serves, but will not be renewed: say it while there is time
        status = FAIL if status == FAIL else WARN
        seen += f"; renewal failing: {renewal}"
        next_step = "check the island's credential and the certificate service's address in site.json"
    return [Finding("certificate", status, seen, next_step)]


def _renewal_error(folder: Path) -> str:
    try:
        served = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(served.get("renewal_error", "")) if isinstance(served, dict) else ""


def check_clock() -> list[Finding]:
    try:
        out = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return [
            Finding(
                "clock",
                WARN,
                "cannot ask timedatectl",
                "check the clock by hand: certificates and messages need it",
            )
        ]
    if out == "yes":
        return [Finding("clock", OK, "synchronised")]
    return [
        Finding(
            "clock",
            WARN,
            "not synchronised",
            "sudo timedatectl set-ntp true; a wrong clock makes certificates look expired",
        )
    ]


def check_disk(box: Box) -> list[Finding]:
    where = box.data_dir if box.data_dir.exists() else box.data_dir.parent
    free = shutil.disk_usage(where).free
    status = OK if free >= MIN_FREE_BYTES else FAIL
    return [
        Finding(
            "disk",
            status,
            f"{free / (1 << 30):.1f} GiB free at {where}",
            "" if status == OK else "free space, or move old backups off the box",
        )
    ]


def check_backup(box: Box, now: float | None = None) -> list[Finding]:
    last = last_backup(box.data_dir)
    if last is None:
        return [
            Finding("last backup", WARN, "never", f"island backup --data {box.data_dir} /var/backups/odrift")
        ]
    age_days = ((now or time.time()) - float(last["time"])) / 86400
    status = OK if age_days <= BACKUP_MAX_AGE_DAYS else WARN
    return [
        Finding(
            "last backup",
            status,
            f"{age_days:.1f} days ago ({last['file']})",
            "" if status == OK else f"island backup --data {box.data_dir} /var/backups/odrift",
        )
    ]


CHECKS: tuple[Callable[[Box], list[Finding]], ...] = (
    check_services,
    check_commands,
    check_resolver,
    check_sign_in_sheet,
    check_site,
    check_dhcp,
    check_certificate,
    lambda box: check_clock(),
    check_disk,
    check_backup,
)


async def run_checks(box: Box) -> list[Finding]:
    results = await asyncio.gather(*(asyncio.to_thread(check, box) for check in CHECKS))
    return [finding for group in results for finding in group]


def render_text(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.status.upper():4}  {f.check}: {f.seen}")
        if f.next_step:
            lines.append(f"      next: {f.next_step}")
    failed = sum(f.status == FAIL for f in findings)
    warned = sum(f.status == WARN for f in findings)
    lines.append(f"{len(findings)} checks: {failed} failed, {warned} warnings")
    return "\n".join(lines)


def render_json(findings: list[Finding]) -> str:
    return json.dumps(
        {"ok": not any(f.status == FAIL for f in findings), "checks": [asdict(f) for f in findings]},
        indent=2,
        ensure_ascii=False,
    )
