"""Shared helpers for the crisis site's tests: the app in-process, over httpx's ASGI transport."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import yaml

from services.crisis_site import SiteConfig, create_app
from services.crisis_site.app import DEMO_CONTENT


class Clock:
    """A clock that stands still until a test moves ``now``."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def demo() -> dict:
    return yaml.safe_load(DEMO_CONTENT.read_text(encoding="utf-8"))


@asynccontextmanager
async def client_for(app) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` in-process, inside the app's lifespan: the site's parts are closed afterwards,
    as when uvicorn stops it."""
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://krisinfo.kommun.example") as c:
            yield c


def app_with(tmp_path: Path | None = None, **overrides):
    config = SiteConfig(**overrides)
    if tmp_path is not None and "database" not in overrides:
        config.database = str(tmp_path / "site.sqlite3")
    return create_app(config=config)


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


def stop_site(proc: subprocess.Popen[str]) -> str:
    """Stop a site started with run_site; what it wrote to stderr, which must hold no traceback."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    assert "Traceback" not in err, err
    return err
