"""A registration the person saw acknowledged survives the site being SIGKILLed mid-burst.

Real process, real HTTP, real SQLite file on disk: writers keep registering while the site
is killed; after a restart on the same file every acknowledged registration is found.
"""

from __future__ import annotations

import re
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from site_helpers import free_port, run_site, wait_healthy

pytestmark = pytest.mark.e2e

WRITERS = 4
KILL_AFTER = 40  # acknowledgements seen before the kill, so the kill lands mid-burst


def _start(db: Path) -> tuple[object, str]:
    port = free_port()
    proc = run_site("--host", "127.0.0.1", "--port", str(port), "--db", str(db))
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, proc)
    return proc, base


def test_every_acknowledged_registration_survives_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "site.sqlite3"
    proc, base = _start(db)
    acked: list[tuple[str, str]] = []
    lock = threading.Lock()
    killed = threading.Event()

    def writer(w: int) -> None:
        with httpx.Client(base_url=base, timeout=10.0) as c:
            for i in range(10_000):
                if killed.is_set():
                    return
                person = (f"Person {w} Nummer {i}", f"Byvägen {w * 10_000 + i}, Ödsbyn")
                try:
                    r = c.post(
                        "/anhoriga/registrera",
                        data={"name": person[0], "identifier": person[1], "presets": "safe"},
                    )
                except httpx.TransportError:
                    return  # no acknowledgement: the person would register again
                assert r.status_code == 200, r.text
                assert re.search(r'id="kod">[A-Z0-9-]+<', r.text)
                with lock:
                    acked.append(person)
                    if len(acked) >= KILL_AFTER and not killed.is_set():
                        killed.set()
                        proc.send_signal(signal.SIGKILL)

    try:
        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(writer, range(WRITERS)))
        assert killed.is_set(), "the burst ended before the kill"
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    proc, base = _start(db)
    try:
        with httpx.Client(base_url=base, timeout=10.0) as c:
            missing = [
                p
                for p in acked
                if "Meddelanden från"
                not in c.post("/anhoriga/sok", data={"name": p[0], "identifier": p[1]}).text
            ]
        assert len(acked) >= KILL_AFTER
        assert missing == []
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_expiry_days_come_from_the_command_line(tmp_path: Path) -> None:
    port = free_port()
    proc = run_site(
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        str(tmp_path / "s.sqlite3"),
        "--registry-days",
        "2",
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        r = httpx.post(
            f"http://127.0.0.1:{port}/anhoriga/registrera",
            data={"name": "Karl Berg", "identifier": "Byvägen 1", "presets": "safe"},
        )
        assert r.status_code == 200 and "Uppgifterna tas bort automatiskt efter 2 dagar." in r.text
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
