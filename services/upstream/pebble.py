"""The simulated internet's public CA: Pebble (Let's Encrypt's ACME test CA), run by the upstream process.

Debian's `pebble` is started with its validation DNS pointed at the simulated internet's DNS;
the root it generates at launch is fetched from its management port and written to a file:
"the public CA" that the simulated phones trust.
Pebble's own HTTPS (its ACME directory) gets a certificate from a small CA made here at start,
for the address it listens on; the municipality's ACME client trusts that CA file.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from services.tls.small_ca import SmallCA

ACME_PORT = 14000
MANAGEMENT_PORT = 15000
# Files beside the configuration: the public CA's root, and the CA of Pebble's own HTTPS port.
PUBLIC_CA_FILE = "public-ca.pem"
LISTENER_CA_FILE = "pebble-listener-ca.pem"


def installed() -> str | None:
    """Where Debian's pebble is, or None (then the simulated internet has no public CA)."""
    return shutil.which("pebble") or ("/usr/bin/pebble" if os.access("/usr/bin/pebble", os.X_OK) else None)


def not_installed_reason() -> str:
    return "no public CA in the simulated internet: pebble is not installed (apt-get install pebble)"


def listener_certificate(host: str, folder: Path) -> tuple[Path, Path, Path]:
    """A fresh CA and a certificate for ``host`` (an IP address) signed by it: (ca, cert, key) files."""
    ca = SmallCA.make("Pebble listener CA (simulator)", days=365)
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = ca.leaf([host], days=365).write(folder, "listener")
    return ca.write_root(folder / "listener-ca.pem"), cert, key


def fetch_root(host: str, listener_ca: Path, deadline: float) -> bytes:
    """Pebble's root, from its management port, once it answers."""
    context = ssl.create_default_context(cafile=str(listener_ca))
    url = f"https://{host}:{MANAGEMENT_PORT}/roots/0"
    # Straight to Pebble: a proxy from the environment is for the real internet, not the simulated one.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    while True:
        try:
            with opener.open(url, timeout=2) as response:
                return bytes(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def start(host: str, dns: str, folder: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Pebble on ``host`` (ACME and management ports), validating against ``dns``; (process, listener CA)."""
    binary = installed()
    if binary is None:
        raise FileNotFoundError(not_installed_reason())
    ca, cert, key = listener_certificate(host, folder / "pebble")
    pebble_config = folder / "pebble" / "pebble-config.json"
    pebble_config.write_text(
        json.dumps(
            {
                "pebble": {
                    "listenAddress": f"{host}:{ACME_PORT}",
                    "managementListenAddress": f"{host}:{MANAGEMENT_PORT}",
                    "certificate": str(cert),
                    "privateKey": str(key),
                    # Validation is DNS-01 against the simulated internet's DNS; these are unused.
                    "httpPort": 5002,
                    "tlsPort": 5001,
                    "ocspResponderURL": "",
                    "externalAccountBindingRequired": False,
                }
            }
        ),
        encoding="utf-8",
    )
    shutil.copyfile(ca, folder / LISTENER_CA_FILE)
    # No random validation sleeps and no rejected nonces: a rehearsal waits for nothing.
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    log = open(folder / "pebble" / "pebble.log", "ab")  # noqa: SIM115 - the child keeps it
    process = subprocess.Popen(
        [binary, "-config", str(pebble_config), "-dnsserver", dns], env=env, stdout=log, stderr=log
    )
    return process, folder / LISTENER_CA_FILE


def publish_root(host: str, listener_ca: Path, folder: Path, timeout: float = 15.0) -> Path:
    """Pebble's root, fetched once it answers, added (atomically) to the public CA file.

    Pebble makes a new root each time it starts; a real public CA keeps its root. So the file
    keeps every root of this run: certificates issued before an upstream restart stay trusted.
    """
    root = fetch_root(host, listener_ca, time.monotonic() + timeout)
    target = folder / PUBLIC_CA_FILE
    known = target.read_bytes() if target.exists() else b""
    if root.strip() not in known:
        tmp = folder / (PUBLIC_CA_FILE + ".tmp")
        tmp.write_bytes(known + root)
        os.replace(tmp, target)
    return target


def public_ca(folder: Path) -> str | None:
    """The public CA file of the simulated internet whose configuration is in ``folder``, if it runs one."""
    path = folder / PUBLIC_CA_FILE
    return str(path) if path.exists() else None
