"""The registry's upkeep in the background: expired records deleted a small batch at a time, and
the write-ahead log checkpointed, both off a resident's request.

Never inside a resident's request: a sweep used to run inside the first registration of the
day, which then waited for every expired record to be deleted (1.8 s at a million records).
Here each batch is its own short transaction, and the sweeper pauses between batches so the
registrations waiting for the writers' lock go first.

The checkpoint likewise: left to SQLite, the commit that finds the log over 1,000 pages copies
them into the file and syncs it, and that commit is some resident's registration (one in a
hundred or so, 50-110 ms of disk at a million records). The registry turns that off
(wal_autocheckpoint=0) when this thread checkpoints instead, every `checkpoint_every` seconds.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable

log = logging.getLogger("crisis_site.registry")


class Sweeper:
    """Every `every` seconds, deletes expired records in batches until none are left; every
    `checkpoint_every` seconds in between, a passive checkpoint (None: not that part).

    The batch size follows the disk: each transaction should hold the writers' lock for about
    TARGET seconds (deleting a record rewrites pages all over its hashed indexes, and
    secure_delete overwrites them), so a registration never waits long behind one."""

    TARGET = 0.005
    SMALLEST, LARGEST = 10, 1000

    def __init__(
        self,
        expire_batch: Callable[[int], int],
        checkpoint: Callable[[], None],
        every: float | None,
        checkpoint_every: float | None = None,
        pause: float = 0.005,
    ) -> None:
        self._expire_batch = expire_batch  # (at most this many) -> how many records it deleted
        self._checkpoint = checkpoint  # moves the batch's pages into the file, off the writers' lock
        self._every = every
        self._checkpoint_every = checkpoint_every
        self._pause = pause
        self._batch = 50
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry-expiry", daemon=True)

    def start(self) -> None:
        if self._every is not None or self._checkpoint_every is not None:
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
        tick = min(t for t in (self._every, self._checkpoint_every, math.inf) if t is not None)
        next_sweep = math.inf if self._every is None else time.monotonic() + self._every
        while not self._stopping.wait(tick):
            try:
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + (self._every or math.inf)
                    self.sweep()  # checkpoints after each batch
                elif self._checkpoint_every is not None:
                    self._checkpoint()
            except sqlite3.Error:  # a busy or full disk: try again next time, keep serving
                log.exception("registry upkeep failed; retrying in %s s", tick)
