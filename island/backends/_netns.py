"""Linux network namespaces for the netns backend: making them, running code inside them, removing them.

Everything here shells out to iproute2 (`ip`), nftables (`nft`) and `tc`, the tools an operator
would use by hand, so what the backend does can be read and repeated from its log.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_CLONE_NEWNET = 0x40000000
NETNS_RUN = Path("/run/netns")
NETNS_ETC = Path("/etc/netns")


class CommandError(RuntimeError):
    pass


def run(*argv: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise CommandError(f"`{' '.join(argv)}` failed: {(done.stderr or done.stdout).strip()}")
    return done


def nft(namespace: str, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run("ip", "netns", "exec", namespace, "nft", "-f", "-", input=script, check=check)


def existing(prefix: str) -> list[str]:
    """Namespaces whose name starts with ``prefix`` (ours, maybe left by a crashed run)."""
    try:
        return sorted(p.name for p in NETNS_RUN.iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


def pids_in(namespace: str) -> list[int]:
    done = run("ip", "netns", "pids", namespace, check=False)
    return [int(p) for p in done.stdout.split() if p.isdigit()]


def remove(namespace: str) -> None:
    """Kill whatever still runs in the namespace, then delete it and its /etc/netns folder."""
    for pid in pids_in(namespace):
        try:
            os.kill(pid, signal.SIGCONT)  # a paused process must wake to die quickly
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    run("ip", "netns", "del", namespace, check=False)
    shutil.rmtree(NETNS_ETC / namespace, ignore_errors=True)


def unavailable_reason() -> str | None:
    """Why network namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "the netns backend needs root (it makes network namespaces); run it as root, or use --backend local"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables"), ("tc", "iproute2")):
        if shutil.which(tool) is None:
            return f"the netns backend needs `{tool}`: apt-get install {package}"
    probe = f"odrprobe{os.getpid()}"
    done = run("ip", "netns", "add", probe, check=False)
    if done.returncode != 0:
        return f"`ip netns add` fails here: {done.stderr.strip()}"
    run("ip", "netns", "del", probe, check=False)
    return None


class NamespaceLoop:
    """An asyncio loop on a thread that lives in one network namespace.

    ``setns`` changes the namespace of the calling thread only, so sockets made
    on this thread are the namespace's own: probes and health checks then run
    the same code as on loopback, from a real host of the simulated network.
    """

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"netns-{namespace}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            fd = os.open(NETNS_RUN / self.namespace, os.O_RDONLY)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns into {self.namespace}: {os.strerror(errno)}")
            finally:
                os.close(fd)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        asyncio.set_event_loop(self.loop)
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def run(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn()`` on this namespace's loop (coroutine made there, so are its sockets) and await it here."""

        async def call() -> T:
            return await fn()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.loop))

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
