"""Run the real `island` command in a child process, on a loopback network of the test's own."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from tiers import loopback_network_reason, require_tier

# Each test island gets its own 127.x network; ISLAND_TEST_NET_BASE moves them all, so that
# several checkouts can run their tests at once on one machine.
NET_BASE = int(os.environ.get("ISLAND_TEST_NET_BASE", "43"))


def island_net(offset: int = 0) -> str:
    return f"127.{NET_BASE + offset}"


MARKERS = (
    "services.upstream",
    "services.resolver",
    "services.crisis_site",
    "island.backends.local_uplink",
    "island.backends.watchdog",
    "services.region",  # a region's replicators
    "nats-server",  # and its servers
    "dnsmasq",  # the netns backend's DHCP servers
)


@dataclass
class IslandCLI:
    state_dir: Path
    net: str

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["ISLAND_STATE_DIR"] = str(self.state_dir)
        env["ISLAND_NET"] = self.net
        env.pop("ISLAND_CRISIS_NAME", None)
        return env

    def run(
        self, *args: str, timeout: float = 120, check: bool = False, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "island", *args],
            input=input,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"island {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    def add_editor(self, name: str, password: str) -> subprocess.CompletedProcess[str]:
        """`island site add-editor NAME`, the password on stdin as a script gives it."""
        return self.run("site", "add-editor", name, "--password-stdin", input=password + "\n", timeout=60)

    def status(self) -> dict:
        return json.loads(self.run("status", "--json").stdout)


def in_namespace(namespace: str, code: str) -> str:
    """Run Python in a namespace, as an independent client would (its own process, the namespace's resolv.conf)."""
    done = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def curl_trusting(ca_file: str, *args: str, namespace: str | None = None) -> subprocess.CompletedProcess[str]:
    """curl trusting only ``ca_file`` (the simulated public CA); in ``namespace``, from that host."""
    inside = ["ip", "netns", "exec", namespace] if namespace is not None else []
    return subprocess.run(
        [*inside, "curl", "--silent", "--show-error", "--max-time", "10", "--cacert", ca_file, *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def served_serial(ca_file: str, host: str, port: int, name: str = "krisinfo.kommun.example") -> int:
    """The serial number of the certificate served at host:port for ``name``, trusting only ``ca_file``."""
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection((host, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            der = tls.getpeercert(binary_form=True)
            assert der is not None
            return x509.load_der_x509_certificate(der).serial_number


def island_cli(tmp_path: Path, net: str) -> IslandCLI:
    require_tier("e2e", loopback_network_reason(net))
    return IslandCLI(tmp_path / "state", net)


def island_processes(cli: IslandCLI) -> list[str]:
    """Command lines of live island processes of this test's island (by state dir or address)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(m in cmdline for m in MARKERS) and (
            str(cli.state_dir) in cmdline or f" {cli.net}." in cmdline
        ):
            found.append(cmdline)
    return found
