"""The island's certificate from the operator's side: `island site install-cert`, and what `island status` shows.

The crisis site keeps its key and certificate chain in its TLS folder (`tls/island.pem`) and
says how HTTPS is doing in `tls/status.json`; it rereads the folder every few seconds, so a
certificate installed here is served without a restart. A certificate is checked before it is
written: nothing already served is replaced by one that would fail.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from acme import crypto_util
from cryptography.hazmat.primitives.asymmetric import ec

from services.crisis_site.tls import STATUS_FILE
from services.tls import https_port
from services.tls.certificate import (
    PAIR_FILE,
    CertificateProblem,
    check,
    info,
    key_pem,
    read_chain,
    system_roots,
    write_pair,
)
from services.upstream import pebble
from services.upstream.pebble import public_ca

from .deploy.rehearsal import Rehearsal
from .scenario.model import Scenario, UplinkCut
from .service_specs import TLS_FOLDER
from .state import StateDir
from .topology import Addresses
from .topology.local import local_addresses

EXIT_REFUSED = 2


def tls_folder(state: StateDir) -> Path:
    """Where the island's site keeps its key and certificate: a rehearsed site file's rendered folder, else
    the TLS folder in the island's data folder."""
    rehearsed = (state.read() or {}).get("site")
    if rehearsed:
        return Path(Rehearsal.from_dict(rehearsed).paths.tls_dir)
    return state.data_dir / TLS_FOLDER


def public_ca_file(state: StateDir) -> Path | None:
    """The simulated public CA's root, when the simulated internet runs one."""
    found = public_ca(state.path)
    return Path(found) if found else None


def trusted_roots(state: StateDir) -> Path | None:
    """What the island's certificate must chain to: the simulated public CA, else the system's roots."""
    return public_ca_file(state) or system_roots()


def https_url(topology: Addresses, port: int | None = None) -> str:
    """The crisis name over HTTPS; ``port``: where it is published, else the one beside the HTTP port."""
    port = port or https_port(topology.http_port)
    return f"https://{topology.crisis_name}/" if port == 443 else f"https://{topology.crisis_name}:{port}/"


def tls_status(state: StateDir, now: datetime | None = None) -> dict[str, Any]:
    """`tls` of `island status --json`: the public CA file, the certificate's dates and names, HTTPS on/off."""
    folder = tls_folder(state)
    ca = public_ca_file(state)
    status: dict[str, Any] = {
        "ca_file": str(ca) if ca else None,
        "not_after": None,
        "days_left": None,
        "certificate_file": str(folder / PAIR_FILE),
    }
    try:
        served: dict[str, Any] = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        served = {}
    status["https"] = served.get("https", "off")
    status["reason"] = served.get("reason", "")
    status["renewal_error"] = served.get("renewal_error", "")
    try:
        facts = info(read_chain(folder / PAIR_FILE)[0])
    except CertificateProblem:
        return status
    status.update(
        not_after=facts.not_after.isoformat(timespec="seconds"),
        days_left=facts.days_left(now or datetime.now(UTC)),
        issuer=facts.issuer,
        names=list(facts.names),
    )
    return status


def describe(tls: dict[str, Any]) -> str:
    """One line for `island status`."""
    if tls["days_left"] is None:
        return f"HTTPS off: {tls['reason'] or 'no certificate'} (HTTP keeps answering)"
    facts = (
        f"certificate for {', '.join(tls['names'])} from {tls['issuer']}, "
        f"{tls['days_left']} days left (until {tls['not_after']})"
    )
    if tls["https"] != "on":
        return f"HTTPS off: {tls['reason'] or 'not served yet'}; {facts}"
    renewal = f"; renewal failing: {tls['renewal_error']}" if tls["renewal_error"] else ""
    return f"HTTPS on, {facts}{renewal}"


def cut_seconds(scenario: Scenario) -> float:
    """How long the scenario keeps the uplink cut (its phases with an uplink cut, added up)."""
    return sum(p.duration for p in scenario.phases if any(isinstance(f, UplinkCut) for f in p.faults))


def expiry_warning(tls: dict[str, Any], cut: float, now: datetime | None = None) -> str | None:
    """A report's warning when the island's certificate would expire during a cut this long, from now."""
    if cut <= 0 or tls.get("not_after") is None:
        return None
    not_after = datetime.fromisoformat(tls["not_after"])
    now = now or datetime.now(UTC)
    if not_after > now + timedelta(seconds=cut):
        return None
    return (
        f"the island's certificate for {', '.join(tls.get('names', []))} expires at "
        f"{not_after.isoformat(timespec='seconds')}, within a cut of this scenario's length ({cut:g} s): "
        "phones that know the municipality's HSTS policy would lose the crisis page; renew it while connected"
    )


def without_https_probes(scenario: Scenario) -> tuple[Scenario, list[str]]:
    """The scenario without its https:// probes (and their expectations), and the names left out."""
    names = [p.name for p in scenario.probes if p.http is not None and p.http.url.startswith("https://")]
    if not names:
        return scenario, []
    phases = [
        phase.model_copy(update={"expect": {k: v for k, v in phase.expect.items() if k not in names}})
        for phase in scenario.phases
    ]
    probes = [p for p in scenario.probes if p.name not in names]
    return scenario.model_copy(update={"probes": probes, "phases": phases}), names


def https_off_reason() -> str:
    return pebble.not_installed_reason() if pebble.installed() is None else "this backend runs no public CA"


async def hand_carried(settings: dict[str, Any], name: str, folder: Path) -> tuple[Path, Path]:
    """A certificate for ``name`` as a municipality hands one over by hand: (chain, key) files in ``folder``.

    Asked of the municipality's certificate service with a new key, as an island's site asks it;
    ``settings`` is a site's ``tls`` object naming the service and the credential to ask with.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    headers = {
        "content-type": "application/pkcs10",
        "authorization": f"Bearer {Path(settings['credential_file']).read_text(encoding='ascii').strip()}",
        **({"host": settings["issuer_host"]} if settings.get("issuer_host") else {}),
    }
    async with httpx.AsyncClient(timeout=60.0, trust_env=False) as client:
        response = await client.post(
            settings["issuer_url"], content=crypto_util.make_csr(key_pem(key), [name]), headers=headers
        )
    if response.status_code != 200:
        raise CertificateProblem(f"the municipality refused: {response.status_code} {response.text}")
    folder.mkdir(parents=True, exist_ok=True)
    chain, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    chain.write_bytes(response.content)
    key_file.touch(mode=0o600)
    key_file.write_bytes(key_pem(key))
    return chain, key_file


def install(state: StateDir, crisis_name: str, cert: Path, key: Path, roots: Path | None) -> Path:
    """Check ``cert`` and ``key`` for ``crisis_name``, then put them where the site serves from."""
    if roots is None:
        raise CertificateProblem(f"{cert}: no trusted roots to check it against (name them with --ca-file)")
    check(cert, key, crisis_name, roots)
    return write_pair(tls_folder(state), cert.read_bytes(), key.read_bytes())


async def cmd_install_cert(args: argparse.Namespace, state: StateDir) -> int:
    recorded = state.read() or {}
    topology = Addresses.from_dict(recorded["topology"]) if "topology" in recorded else local_addresses()
    roots = Path(args.ca_file) if args.ca_file else trusted_roots(state)
    try:
        target = install(state, topology.crisis_name, Path(args.cert), Path(args.key), roots)
    except CertificateProblem as exc:
        print(f"island: refused, nothing was replaced: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    from .backends import BackendError, running_backend  # the backends use this module

    backend = running_backend(state)
    if backend is not None and backend.is_running():
        try:
            await backend.install_certificate(target)
        except BackendError as exc:
            print(f"island: checked, but not handed to the site: {exc}", file=sys.stderr)
            return EXIT_REFUSED
    print(f"Installed for {topology.crisis_name} in {target}; the site serves it within seconds.")
    return 0


def register(site_sub: Any) -> None:
    install_cert = site_sub.add_parser(
        "install-cert", help="install a certificate and key for the crisis name (checked first)"
    )
    install_cert.add_argument("cert", help="the certificate chain (PEM), the island's certificate first")
    install_cert.add_argument("key", help="its private key (PEM, unencrypted)")
    install_cert.add_argument(
        "--ca-file",
        help="trusted roots to check the chain against (default: the public CA, else the system's)",
    )
    install_cert.set_defaults(func=cmd_install_cert)
