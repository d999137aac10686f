"""`python -m services.resolver`: clear errors, not tracebacks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from net_helpers import HOST


def run(tmp_path: Path, config: dict) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "resolver.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", "services.resolver", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_a_taken_dns_port_is_named(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((HOST, 0))
        port = taken.getsockname()[1]
        done = run(tmp_path, {"listen": {"host": HOST, "port": port}})
    assert done.returncode == 3
    assert f"port {port} on {HOST} is already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_taken_metrics_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(tmp_path, {"listen": {"host": HOST, "port": 1}, "metrics": {"host": HOST, "port": port}})
    assert done.returncode == 3
    assert f"cannot serve metrics on {HOST}:{port}" in done.stderr
