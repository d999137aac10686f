"""`python -m services.crisis_site` as a real process on loopback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from site_helpers import free_port, run_site, wait_healthy

pytestmark = pytest.mark.e2e


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
