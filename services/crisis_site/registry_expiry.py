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
import time
from collections.abc import Callable

log = logging.getLogger("crisis_site.registry")


class Sweeper:
    """Every `every` seconds, deletes expired records in batches until none are left.

    The batch size follows the disk: each transaction should hold the writers' lock for about
    TARGET seconds (deleting a record rewrites pages all over its hashed indexes, and
    secure_delete overwrites them), so a registration never waits long behind one."""

    TARGET = 0.005
    SMALLEST, LARGEST = 10, 1000

    def __init__(
        self,
        expire_batch: Callable[[int], int],
        checkpoint: Callable[[], None],
        every: float,
        pause: float = 0.005,
    ) -> None:
        self._expire_batch = expire_batch  # (at most this many) -> how many records it deleted
        self._checkpoint = checkpoint  # moves the batch's pages into the file, off the writers' lock
        self._every = every
        self._pause = pause
        self._batch = 50
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
            began = time.perf_counter()
            deleted = self._expire_batch(self._batch)
            took = time.perf_counter() - began
            total += deleted
            # Otherwise the next registration's commit would find the write-ahead log over its
            # limit and copy the sweep's pages back itself, while the resident waits.
            self._checkpoint()
            if deleted < self._batch:
                break
            if took > 2 * self.TARGET:
                self._batch = max(self.SMALLEST, self._batch // 2)
            elif took < self.TARGET / 2:
                self._batch = min(self.LARGEST, self._batch * 2)
            self._stopping.wait(self._pause)  # the registrations waiting for the lock go first
        return total

    def _run(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                self.sweep()
            except sqlite3.Error:  # a busy or full disk: try again next time, keep serving
                log.exception("registry expiry sweep failed; retrying in %s s", self._every)
