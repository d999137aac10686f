"""Starting and stopping service processes so that none outlives ``island down``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start a process in its own session (so Ctrl-C in the terminal reaches only the CLI)."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            close_fds=True,
        )
    return process.pid


def is_ours(pid: int, marker: str) -> bool:
    """Alive, and still the process we started (a recycled pid runs something else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if not cmdline:
        return _starting(pid)
    return marker in cmdline


def _starting(pid: int) -> bool:
    """An empty command line is a zombie (exited, not yet reaped), a kernel thread, or a process in the
    middle of exec: only the last one is a process we just started (the watchdog must not start it twice)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state, ppid = stat.rsplit(")", 1)[1].split()[:2]
    return state not in ("Z", "X") and int(ppid) != 2 and pid != 2


def exit_status(pid: int) -> int | None:
    """Reap a child that has exited and return its status; None if it is still running or not our child."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def terminate(pids: dict[int, str], grace: float = 5.0) -> None:
    """SIGTERM each process group, then SIGKILL what is still there after ``grace`` seconds."""
    live = {pid: marker for pid, marker in pids.items() if is_ours(pid, marker)}
    for pid in live:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        for pid in list(live):
            exit_status(pid)
            if not is_ours(pid, live[pid]):
                del live[pid]
        time.sleep(0.05)
    for pid in live:
        _signal_group(pid, signal.SIGKILL)
        exit_status(pid)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
