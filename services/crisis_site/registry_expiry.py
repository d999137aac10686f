"""Expired safe-and-well records deleted in the background, a small batch at a time.

Never inside a resident's request: a sweep used to run inside the first registration of the
day, which then waited for every expired record to be deleted (1.8 s at a million records).
Here each batch is its own short transaction, and the sweeper pauses between batches so the
registrations waiting for the writers' lock go first.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger("crisis_site.registry")


class Sweeper:
    """Every `every` seconds, calls `expire_batch()` until a batch comes back short."""

    def __init__(
        self, expire_batch: Callable[[], tuple[int, int]], every: float, pause: float = 0.005
    ) -> None:
        self._expire_batch = expire_batch  # -> (records deleted, the batch size asked for)
        self._every = every
        self._pause = pause
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry-expiry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def sweep(self) -> int:
        """Delete every expired record, batch by batch; returns how many (stops early on stop())."""
        total = 0
        while not self._stopping.is_set():
            deleted, asked = self._expire_batch()
            total += deleted
            if deleted < asked:
                break
            self._stopping.wait(self._pause)
        return total

    def _run(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                self.sweep()
            except sqlite3.Error:  # a busy or full disk: try again next time, keep serving
                log.exception("registry expiry sweep failed; retrying in %s s", self._every)
