"""``island deploy render SITE OUT``: the configuration one island box runs, written from the site file.

One folder per trygghetspunkt, laid out like the box's own file system (``etc/...``), plus a
``SUMMARY.md`` for the technical owner. Rendering is a pure function of the site file: the same
file gives the same bytes, so a rendered folder can be kept in version control and diffed.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from services.gate.gate import CHAIN as GATE_CHAIN
from services.gate.gate import COUNTER as GATE_COUNTER
from services.gate.gate import NAT_CHAIN as GATE_NAT_CHAIN
from services.gate.gate import REFUSALS as GATE_REFUSALS
from services.gate.gate import portal_jump
from services.tls.certificate import PAIR_FILE
from services.upstream.islands import CREDENTIAL_FILE

from ..service_specs import TLS_FOLDER
from .region import island_name, nats_args, region_file, replicator_args
from .site import SiteFile, Trygghetspunkt

# Where the package and the data live on an installed box. The data folder is never deleted by the
# package (an upgrade or a reinstall keeps the register); see docs/guide/en/05-data.md.
PREFIX = "/opt/odrift"
DATA_DIR = "/var/lib/odrift"
CONFIG_DIR = "/etc/odrift"
METRICS_PORT = 9153


@dataclass(frozen=True)
class BoxCommand:
    """A command the installed units call: the Debian package that has it, and what a box without it does."""

    package: str
    # Empty when the box cannot work without it (`island deploy check` fails); otherwise what then happens,
    # since the rest still works (the check warns and says so).
    without_it: str = ""


# The commands the installed units call besides the package's own (the venv's python, and a region's
# nats-server, which the wheelhouse brings).
BOX_COMMANDS = {
    "nft": BoxCommand("nftables"),
    "dnsmasq": BoxCommand("dnsmasq"),
    # The gate closes without it; only the connections already open are not cut.
    "conntrack": BoxCommand(
        "conntrack", without_it="checks a phone sent into a cut before the gate closed wait it out"
    ),
}
# The crisis name's TTL on the island: short, so a phone that moves between an island and the
# internet follows within half a minute (the same 30 s as RFC 8767's stale answers).
CRISIS_NAME_TTL = 30
HTTPS_PORT = 443
# How often the site looks at its certificate: it asks for a new one when a third of its lifetime
# is left (30 days of a 90-day certificate) or when there is none, and rereads a file installed by hand.
CERTIFICATE_CHECK_SECONDS = 30.0
# The box's trusted roots (Debian's ca-certificates): what the certificate must chain to, and what the
# certificate service's own HTTPS is checked against. The rehearsal puts the simulated public CA here.
TRUST_STORE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class BoxPaths:
    """Where a box keeps its configuration and data, under ``root``.

    ``root`` is empty on a real box. ``island up --site`` renders the same files with the rehearsal's
    folder as root, so the bytes differ only in that prefix. The package (``PREFIX``) and the
    containers' own paths in the compose file are not under it: neither is a file the rehearsal writes.
    """

    root: str = ""

    @property
    def config_dir(self) -> str:
        return self.root + CONFIG_DIR

    @property
    def data_dir(self) -> str:
        return self.root + DATA_DIR

    @property
    def tls_dir(self) -> str:
        """The island's key and certificate chain (``island.pem``), its status and its credential."""
        return f"{self.data_dir}/{TLS_FOLDER}"

    @property
    def certificate(self) -> str:
        return f"{self.tls_dir}/{PAIR_FILE}"

    @property
    def credential(self) -> str:
        """What the island proves itself to the municipality's certificate service with (docs/https.md)."""
        return f"{self.tls_dir}/{CREDENTIAL_FILE}"

    @property
    def trust_store(self) -> str:
        return self.root + TRUST_STORE


BOX = BoxPaths()


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the island's folder
    text: str
    mode: int = 0o644


def _unit(
    description: str,
    exec_start: str,
    *,
    after: str = "network-online.target",
    capability: str = "CAP_NET_BIND_SERVICE",
    exec_start_pre: str | None = None,
) -> str:
    # Hardened like a distribution's own units: its own dynamic user, a read-only system, only the
    # data folder writable, the low ports (or the firewall, for the gate) by capability rather than as root.
    caps = f"AmbientCapabilities={capability}\nCapabilityBoundingSet={capability}\n"
    # nft speaks netlink to the kernel; the others need only IP and local sockets.
    families = "AF_INET AF_INET6 AF_UNIX" + (" AF_NETLINK" if capability == "CAP_NET_ADMIN" else "")
    return f"""[Unit]
Description={description}
Documentation=file://{PREFIX}/share/doc/odrift/guide
Wants=network-online.target
After={after}

[Service]
Type=simple
{f"ExecStartPre={exec_start_pre}{chr(10)}" if exec_start_pre else ""}ExecStart={exec_start}
Restart=on-failure
RestartSec=2s
# Back off when it keeps failing, instead of giving up: a trygghetspunkt has nobody to restart it.
RestartSteps=5
RestartMaxDelaySec=60s
StartLimitIntervalSec=0
User=odrift
Group=odrift
DynamicUser=yes
StateDirectory=odrift
StateDirectoryMode=0750
ConfigurationDirectory=odrift
{caps}NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictAddressFamilies={families}
SystemCallArchitectures=native
UMask=0027

[Install]
WantedBy=multi-user.target
"""


def resolver_config(site: SiteFile, place: Trygghetspunkt) -> dict[str, object]:
    island = place.wifi.island_address
    return {
        "listen": {"host": "0.0.0.0", "port": 53},
        "local_zones": [
            {"name": site.crisis_name, "type": "static", "data": f"@ {CRISIS_NAME_TTL} IN A {island}\n"},
        ],
        "upstreams": [{"host": upstream, "port": 53} for upstream in site.resolver.upstreams],
        # Only the island's own clients: an open resolver on the uplink would be an amplifier.
        "allow": ["127.0.0.0/8", "::1/128", place.wifi.network],
        "metrics": {"host": "127.0.0.1", "port": METRICS_PORT},
        # While every upstream is down the phones' connectivity checks are sent to the crisis page
        # (docs/phones.md); the resolver's own timings are the ones the simulator rehearses.
        "island_mode": {"portal": island},
    }


def site_database(paths: BoxPaths = BOX) -> str:
    """The crisis site's database: content, editor accounts, the safe-and-well register."""
    return f"{paths.data_dir}/site.sqlite3"


def site_config(site: SiteFile, paths: BoxPaths = BOX) -> dict[str, object]:
    return {
        "db": site_database(paths),
        "feed": f"https://www.{site.municipality.domain}/api/cap.xml",
        "poll_interval": 30.0,
        # The first page, before the island has heard from the municipality: its own notice and places.
        "content": f"{paths.config_dir}/content.yaml",
        # Other names (phones' checks sent here in island mode) get the captive portal's answer, and
        # the resolver's metrics say when the island is in island mode (RFC 8908's "captive").
        "crisis_name": site.crisis_name,
        "resolver_metrics": f"http://127.0.0.1:{METRICS_PORT}/metrics",
        **({"tls": tls_config(site, paths)} if site.certificate.source != "none" else {}),
    }


def tls_config(site: SiteFile, paths: BoxPaths = BOX) -> dict[str, object]:
    """The site's ``tls`` object (services/crisis_site/tls.py): where the certificate is kept and who renews it."""
    settings: dict[str, object] = {
        "folder": paths.tls_dir,
        "name": site.crisis_name,
        "roots": paths.trust_store,
        "check_interval": CERTIFICATE_CHECK_SECONDS,
    }
    if site.certificate.source == "central":
        settings.update(issuer_url=site.certificate.central_url, credential_file=paths.credential)
    else:
        settings["no_issuer"] = "installed by hand (island site install-cert CERT KEY)"
    return settings


def content_seed(site: SiteFile) -> dict[str, object]:
    """The crisis site's seed (services/crisis_site/content.py ``Seed``): no messages, every trygghetspunkt."""
    return {
        "municipality": site.municipality.name,
        "sender": site.municipality.sender or site.municipality.name,
        "updated": site.standing_notice.updated.isoformat(),
        "actions": [site.standing_notice.text],
        "messages": [],
        "trygghetspunkter": [
            {
                "name": place.name,
                "address": place.address,
                "opening_hours": place.opening_hours,
                "water": place.water,
                "heat": place.heat,
                "toilets": place.toilets,
                "charging": place.charging,
                "phone_112": place.phone_112,
                "status": place.status,
            }
            for place in site.trygghetspunkter
        ],
    }


@dataclass(frozen=True)
class DhcpPlan:
    """What one Wi-Fi's DHCP server hands out. A box's comes from the site file (:func:`dnsmasq_config`);
    the netns backend fills in the simulator's addresses, so both run the same configuration."""

    ssid: str
    place: str
    network: str  # the Wi-Fi's network, ``10.4.0.0/24``
    interface: str
    first: str
    last: str
    lease_minutes: int
    router: str
    dns: str
    domain: str
    captive_api: str  # option 114 (RFC 8910): the RFC 8908 API's https:// URL by the crisis name
    lease_file: str


def dhcp_config(plan: DhcpPlan) -> str:
    """dnsmasq in DHCP-only mode for one Wi-Fi: addresses, the gateway, the island resolver, option 114."""
    net = ipaddress.IPv4Network(plan.network)
    gateway = (
        "# The island box is the phones' gateway and their only DNS server."
        if plan.router == plan.dns
        else "# The router is the phones' gateway; the island resolver is their only DNS server."
    )
    return f"""# DHCP for the Wi-Fi "{plan.ssid}" at {plan.place} ({plan.network}).
# dnsmasq in DHCP-only mode (port=0): the island resolver answers DNS, not dnsmasq.
port=0
interface={plan.interface}
bind-interfaces
dhcp-authoritative
dhcp-range={plan.first},{plan.last},{net.netmask},{plan.lease_minutes}m
# No ping before an offer: dnsmasq waits up to 3 s for each and answers nobody else meanwhile, so a
# crowd arriving at once would queue for minutes (measured on netns: concurrent joins failed). This
# server is the Wi-Fi's only one (authoritative), so an address in use is not expected.
no-ping
{gateway}
dhcp-option=option:router,{plan.router}
dhcp-option=option:dns-server,{plan.dns}
dhcp-option=option:domain-search,{plan.domain}
# RFC 8910: the captive-portal API (RFC 8908), which Android 11+ and iOS 14+ ask first.
dhcp-option=114,"{plan.captive_api}"
dhcp-leasefile={plan.lease_file}
log-dhcp
"""


def dnsmasq_config(site: SiteFile, place: Trygghetspunkt, paths: BoxPaths = BOX) -> str:
    wifi = place.wifi
    return dhcp_config(
        DhcpPlan(
            ssid=wifi.ssid,
            place=place.name,
            network=wifi.network,
            interface=site.uplink.lan_interface,
            first=wifi.dhcp_first,
            last=wifi.dhcp_last,
            lease_minutes=wifi.lease_minutes,
            router=wifi.island_address,
            dns=wifi.island_address,
            domain=site.municipality.domain,
            captive_api=site.portal_api,
            lease_file=f"{paths.data_dir}/dnsmasq.leases",
        )
    )


def nftables_rules(site: SiteFile, place: Trygghetspunkt) -> str:
    lan, wan = site.uplink.lan_interface, site.uplink.interface
    wifi = place.wifi
    return f"""#!/usr/sbin/nft -f
# The island box at {place.name}: phones on {wifi.network} ({lan}) reach the island's DHCP, DNS and
# web, and the internet through {wan} while it works. Nothing on the uplink may use the island's
# resolver (no open resolver, no amplification).
table inet odrift
delete table inet odrift
table inet odrift {{
    # Packets in over the uplink: odrift-gate closes only when this has stood still (a cut, not a slow link).
    counter {GATE_COUNTER} {{
    }}

    chain input {{
        type filter hook input priority filter; policy drop;
        iifname "{wan}" counter name {GATE_COUNTER}
        ct state established,related accept
        ct state invalid drop
        iif lo accept
        ip protocol icmp accept
        meta l4proto ipv6-icmp accept
        iifname "{lan}" udp dport 67 accept comment "DHCP"
        iifname "{lan}" ip saddr {wifi.network} udp dport 53 accept comment "the island resolver"
        iifname "{lan}" ip saddr {wifi.network} tcp dport 53 accept
        iifname "{lan}" ip saddr {wifi.network} tcp dport {{ 80, 443 }} accept comment "crisis page, sign-in sheet"
        iifname "{wan}" tcp dport 22 ct state new limit rate 10/minute accept comment "the technical owner's SSH"
    }}

    chain forward {{
        type filter hook forward priority filter; policy drop;
        iifname "{wan}" counter name {GATE_COUNTER}
        ct state established,related accept
        iifname "{lan}" oifname "{wan}" ip saddr {wifi.network} jump {GATE_CHAIN}
        iifname "{lan}" oifname "{wan}" ip saddr {wifi.network} accept comment "the internet while it works"
        # Anything else is refused at once, never left to time out: apps and phones' HTTPS checks
        # fail fast instead of hanging.
        iifname "{lan}" meta l4proto tcp reject with tcp reset
        iifname "{lan}" reject with icmpx admin-prohibited
    }}

    # Empty while the uplink works. In island mode odrift-gate fills it (`{" ; ".join(GATE_REFUSALS)}`):
    # the phones' new connections to the outside are refused at once instead of vanishing in the cut.
    chain {GATE_CHAIN} {{
    }}

    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        {portal_jump(f'iifname "{lan}" ip saddr {wifi.network} fib daddr oifname "{wan}"')}
    }}

    # Empty while the uplink works. In island mode odrift-gate sends the phones' port 80 to the outside
    # here to the island's own web server: a check whose name still had its outside address gets the
    # portal's answer and the phone its sign-in sheet, not "no internet".
    chain {GATE_NAT_CHAIN} {{
    }}

    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "{wan}" ip saddr {wifi.network} masquerade
    }}
}}
"""


def compose_file(site: SiteFile, place: Trygghetspunkt) -> str:
    """For those who deploy with containers: the same services, the same configuration files."""
    image = "odrift-island:latest"

    def common() -> dict[str, object]:
        return {
            "image": image,
            "restart": "unless-stopped",
            "network_mode": "host",
            "read_only": True,
            "cap_drop": ["ALL"],
            "cap_add": ["NET_BIND_SERVICE"],
            "security_opt": ["no-new-privileges:true"],
        }

    document = {
        "name": f"odrift-{place.id}",
        "services": {
            "resolver": {
                **common(),
                "command": ["python", "-m", "services.resolver", *resolver_args()],
                "volumes": [f"./etc/odrift/resolver.yaml:{CONFIG_DIR}/resolver.yaml:ro"],
            },
            "site": {
                **common(),
                "command": ["python", "-m", "services.crisis_site", *site_args(site)],
                "volumes": [
                    f"./etc/odrift/site.json:{CONFIG_DIR}/site.json:ro",
                    f"./etc/odrift/content.yaml:{CONFIG_DIR}/content.yaml:ro",
                    f"odrift-data:{DATA_DIR}",
                ],
            },
        },
        # A named volume: `docker compose down` keeps it; only `down -v` would delete the register.
        "volumes": {"odrift-data": {"name": f"odrift-{place.id}-data"}},
    }
    header = f"# The island at {place.name}, as containers. `docker compose up -d` in this folder.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def resolver_args(paths: BoxPaths = BOX) -> list[str]:
    """The resolver's arguments after ``python -m services.resolver``: in the unit and in the rehearsal."""
    return ["--config", f"{paths.config_dir}/resolver.yaml"]


def gate_args(place: Trygghetspunkt) -> list[str]:
    """The gate's arguments after ``python -m services.gate``: it follows the resolver on the box itself
    and sends the phones' port 80 to the outside to the box's own web server in island mode."""
    return [
        "--resolver-metrics",
        f"http://127.0.0.1:{METRICS_PORT}/metrics",
        "--portal",
        f"{place.wifi.island_address}:80",
    ]


def site_args(site: SiteFile, paths: BoxPaths = BOX) -> list[str]:
    """The crisis site's arguments after ``python -m services.crisis_site``: in the unit and in the rehearsal."""
    return [
        "--host",
        "0.0.0.0",
        "--port",
        "80",
        "--config",
        f"{paths.config_dir}/site.json",
        "--registry-days",
        str(site.registry_days),
        # HTTPS beside HTTP once the island has a certificate; editors' cookies only over TLS then.
        *(["--https-port", str(HTTPS_PORT), "--secure-cookies"] if site.certificate.source != "none" else []),
    ]


def summary(site: SiteFile, place: Trygghetspunkt, paths: BoxPaths = BOX) -> str:
    wifi = place.wifi
    facilities = ", ".join(
        name
        for name, present in (
            ("dricksvatten / water", place.water),
            ("värme / heat", place.heat),
            ("toaletter / toilets", place.toilets),
            ("laddning / charging", place.charging),
        )
        if present
    )
    region = (
        f"hub `{site.region.hub}`; this island is `{island_name(place)}` (its own nats-server and replicator)"
        if site.region
        else "none (a lone island)"
    )
    region_rows = (
        "| `etc/systemd/system/odrift-nats.service` | same path | the island's nats-server (the region) |\n"
        "| `etc/systemd/system/odrift-replicator.service` | same path | the region's replication |\n"
        "| `etc/odrift/region.yaml` | same path | the region: the hub and every island |\n"
        if site.region
        else ""
    )
    region_units = " odrift-nats odrift-replicator" if site.region else ""
    region_secrets = (
        f"""
## The region's credentials

Not rendered: the region's administrator makes them once for the municipality
(`python -m services.region setup region.yaml DIR`, on the administrator's machine, where the region's
CA key stays) and copies this island its own share only, into `{paths.data_dir}/region/credentials/`:
`ca.pem`, `islands/{island_name(place)}.seed` and `islands/{island_name(place)}.client.password` (mode 0600).
The nats-server unit writes its configuration from them at each start.
"""
        if site.region
        else ""
    )
    editors = ", ".join(e.name for e in site.editors) or "none yet (`island site add-editor NAME`)"
    return f"""# Island at {place.name}

For the technical owner. Rendered from the site file of {site.municipality.name}; render again
after every change to the site file, never edit these files by hand.

| | |
| --- | --- |
| Trygghetspunkt | {place.name}, {place.address} |
| Opening hours | {place.opening_hours} |
| Facilities | {facilities or "none listed"} |
| Crisis page | `http://{site.crisis_name}/` and `https://{site.crisis_name}/` |
| Wi-Fi | open SSID `{wifi.ssid}`, no password, no login |
| Network | `{wifi.network}`, the island box at `{wifi.island_address}` on `{site.uplink.lan_interface}` |
| DHCP | `{wifi.dhcp_first}`–`{wifi.dhcp_last}` ({wifi.clients} phones), {wifi.lease_minutes} min leases, option 114 `{site.portal_api}` |
| DNS | the island resolver on `{wifi.island_address}:53`; upstreams {", ".join(f"`{u}`" for u in site.resolver.upstreams)} |
| Uplink | `{site.uplink.interface}` |
| Certificate | {_certificate_line(site, paths)} |
| Region | {region} |
| Editors | {editors} |
| Data | `{paths.data_dir}` (content, accounts, the safe-and-well register): back it up with `island backup` |

## Files

| File | Installs to | What |
| --- | --- | --- |
| `etc/systemd/system/odrift-resolver.service` | same path | the island resolver, restarted on failure |
| `etc/systemd/system/odrift-site.service` | same path | the crisis site, restarted on failure |
| `etc/systemd/system/odrift-gate.service` | same path | in island mode, refuses the phones' outside connections at once |
| `etc/odrift/resolver.yaml` | same path | the resolver: the crisis name, upstreams, who may ask |
| `etc/odrift/site.json` | same path | the crisis site: database, the municipality's feed |
| `etc/odrift/content.yaml` | same path | the first page, before the municipality's feed is heard |
| `etc/dnsmasq.d/odrift.conf` | same path | DHCP for the Wi-Fi, with option 114 |
| `etc/nftables.d/odrift.nft` | same path | the firewall: no open resolver, fast refusals |
{region_rows}| `docker-compose.yml` | anywhere | the same services as containers, instead of the units |
{region_secrets}
## Install, then check

```sh
sudo apt-get install {" ".join(command.package for command in BOX_COMMANDS.values())}
sudo cp -r etc/. /etc/
sudo systemctl daemon-reload
sudo nft -f /etc/nftables.d/odrift.nft
{_credential_step(site, paths)}sudo systemctl enable --now odrift-resolver odrift-site odrift-gate{region_units} dnsmasq
island deploy check
```
"""


def _certificate_line(site: SiteFile, paths: BoxPaths) -> str:
    cert = site.certificate
    if cert.source == "none":
        return "none: the crisis page is served over HTTP only (phones that know the HSTS policy lose it)"
    kept = f"key and chain in `{paths.certificate}`, served on port {HTTPS_PORT}, checked every {CERTIFICATE_CHECK_SECONDS:g} s"
    if cert.source == "manual":
        return f"by hand (`island site install-cert CERT KEY`); {kept}"
    return (
        f"from the municipality's certificate service `{cert.central_url}` with the island's credential "
        f"`{paths.credential}` (from the municipality, installed by you); {kept}, renewed with a third "
        "of its lifetime left; the box finds the service through its own resolver (`nameserver 127.0.0.1`)"
    )


def _credential_step(site: SiteFile, paths: BoxPaths) -> str:
    """The one install step the rendered files cannot carry: the island's own secret."""
    if site.certificate.source != "central":
        return ""
    return (
        f"# the island's credential from the municipality; the site asks for its certificate within {CERTIFICATE_CHECK_SECONDS:g} s\n"
        f"sudo install -m 0600 -o odrift -g odrift certificate-service.token {paths.credential}\n"
    )


def render_island(site: SiteFile, place: Trygghetspunkt, paths: BoxPaths = BOX) -> list[RenderedFile]:
    venv_python = f"{PREFIX}/venv/bin/python"
    resolver = yaml.safe_dump(resolver_config(site, place), sort_keys=False, allow_unicode=True)
    return [
        RenderedFile(
            "etc/systemd/system/odrift-resolver.service",
            _unit(
                f"Ödrift island resolver ({place.name})",
                " ".join([venv_python, "-m", "services.resolver", *resolver_args(paths)]),
            ),
        ),
        RenderedFile(
            "etc/systemd/system/odrift-site.service",
            _unit(
                f"Ödrift crisis site ({place.name})",
                " ".join([venv_python, "-m", "services.crisis_site", *site_args(site, paths)]),
                after="network-online.target odrift-resolver.service",
            ),
        ),
        RenderedFile(
            "etc/systemd/system/odrift-gate.service",
            _unit(
                f"Ödrift island gate ({place.name}): refuses the phones' outside connections in island mode",
                " ".join([venv_python, "-m", "services.gate", *gate_args(place)]),
                after="nftables.service odrift-resolver.service",
                capability="CAP_NET_ADMIN",
            ),
        ),
        RenderedFile(
            "etc/odrift/resolver.yaml",
            f"# The island resolver at {place.name}; rendered from the site file.\n" + resolver,
        ),
        RenderedFile(
            "etc/odrift/site.json", json.dumps(site_config(site, paths), indent=2, sort_keys=True) + "\n"
        ),
        RenderedFile(
            "etc/odrift/content.yaml",
            "# The crisis page before the first word from the municipality; rendered from the site file.\n"
            + yaml.safe_dump(content_seed(site), sort_keys=False, allow_unicode=True),
        ),
        *(_region_files(site, place, paths) if site.region else []),
        RenderedFile("etc/dnsmasq.d/odrift.conf", dnsmasq_config(site, place, paths)),
        RenderedFile("etc/nftables.d/odrift.nft", nftables_rules(site, place), 0o755),
        RenderedFile("docker-compose.yml", compose_file(site, place)),
        RenderedFile("SUMMARY.md", summary(site, place, paths)),
    ]


def _region_files(site: SiteFile, place: Trygghetspunkt, paths: BoxPaths) -> list[RenderedFile]:
    venv = f"{PREFIX}/venv/bin"
    configure, server = nats_args(place, paths.config_dir, paths.data_dir)
    replicator = replicator_args(place, paths.config_dir, paths.data_dir, site_database(paths))
    return [
        RenderedFile(
            "etc/systemd/system/odrift-nats.service",
            _unit(
                f"Ödrift region: the island's nats-server ({place.name})",
                " ".join([f"{venv}/nats-server", *server]),
                exec_start_pre=" ".join([f"{venv}/python", *configure]),
                capability="",  # no low port, no firewall
            ),
        ),
        RenderedFile(
            "etc/systemd/system/odrift-replicator.service",
            _unit(
                f"Ödrift region: replication to the hub ({place.name})",
                " ".join([f"{venv}/python", *replicator]),
                after="network-online.target odrift-nats.service odrift-site.service",
                capability="",  # no low port, no firewall
            ),
        ),
        RenderedFile("etc/odrift/region.yaml", region_file(site)),
    ]


def write_island(site: SiteFile, place: Trygghetspunkt, folder: Path, paths: BoxPaths = BOX) -> list[Path]:
    """Write one island's files under ``folder``; returns the paths written."""
    written = []
    for item in render_island(site, place, paths):
        path = folder / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item.text, encoding="utf-8")
        path.chmod(item.mode)
        written.append(path)
    return written


def render_site(site: SiteFile, out: Path) -> list[Path]:
    """Write every island's files under ``out/<trygghetspunkt id>/``; returns the paths written."""
    return [path for place in site.trygghetspunkter for path in write_island(site, place, out / place.id)]
