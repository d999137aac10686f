"""A small worker pool for the site's CPU-heavy steps (argon2 password hashes), off the event loop.

One argon2 verification costs about 25 ms of CPU (150-200 ms at the library's default parameters);
run on the loop, every one would stall the crisis page for as long. Here they run in a fixed
number of threads (argon2's C code releases the GIL: measured, the loop runs on meanwhile),
and the queue in front of them is bounded: past it a login is answered "busy" at once instead of
waiting behind a guesser's queue.

The workers run at a lower CPU priority (nice 10; any thread argon2 starts inherits it): on a
small box, a guesser keeps a worker hashing all the time, and the crisis page's loop and the
resolver then shared the other core with everything else, or waited for this one. Now they get a
core first; an editor's login waits instead, which is the right way round while someone guesses.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
WORKER_NICENESS = 10


def _lower_priority() -> None:
    """This thread only (Linux: a thread's nice value is its own, inherited by threads it starts)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
    except (AttributeError, OSError):
        pass  # elsewhere, or not allowed: the pool still bounds the work


class Busy(Exception):
    """The pool's queue is full."""


class BoundedPool:
    def __init__(self, workers: int = 1, queue: int = 8) -> None:
        self.capacity = workers + queue
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="crisis-site-cpu", initializer=_lower_priority
        )
        self._pending = 0  # touched only on the event loop's thread

    async def run(self, work: Callable[..., T], *args: object) -> T:
        if self._pending >= self.capacity:
            raise Busy
        self._pending += 1
        try:
            return await asyncio.wrap_future(self._executor.submit(work, *args))
        finally:
            self._pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
