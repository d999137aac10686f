"""`python -m services.crisis_site` as a real process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_site(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "services.crisis_site", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_healthy(base: str, proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"site exited early ({proc.returncode}): {proc.stderr.read()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("site did not become healthy in time")


def test_serves_page_over_real_socket() -> None:
    port = free_port()
    proc = run_site("--host", "127.0.0.1", "--port", str(port))
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, proc)
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok", "service": "crisis-site"}
        r = httpx.get(f"{base}/", timeout=5.0)
        assert r.status_code == 200
        assert "Krisinformation" in r.text
        assert "Sjöbacka kommun" in r.text
        assert r.headers["x-content-type-options"] == "nosniff"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_port_in_use_exits_3() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        proc = run_site("--host", "127.0.0.1", "--port", str(port))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3
    assert f"crisis site: port {port} on 127.0.0.1 is already in use" in err


def test_bad_content_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("municipality: Sjöbacka kommun\nfoo: 1\n", encoding="utf-8")
    proc = run_site("--port", str(free_port()), "--content", str(bad))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert str(bad) in err
    assert "foo" in err
