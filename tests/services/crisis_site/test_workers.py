"""The site's worker pool for CPU-heavy steps: work runs off the event loop, and the queue is bounded."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from services.crisis_site.workers import WORKER_NICENESS, BoundedPool, Busy


async def test_work_runs_off_the_loop_and_past_the_queue_is_busy_at_once() -> None:
    pool = BoundedPool(workers=1, queue=2)
    release = threading.Event()
    loop_thread = threading.get_ident()

    def work() -> int:
        release.wait(5)
        return threading.get_ident()

    try:
        running = [asyncio.ensure_future(pool.run(work)) for _ in range(3)]
        await asyncio.sleep(0.05)
        start = time.monotonic()
        with pytest.raises(Busy):
            await pool.run(work)
        assert time.monotonic() - start < 0.05, "a full queue answers at once, it does not wait"
        ticks = 0
        while ticks < 5:  # the loop keeps running while the workers are busy
            await asyncio.sleep(0.01)
            ticks += 1
        release.set()
        threads = await asyncio.gather(*running)
        assert loop_thread not in threads
        assert await pool.run(lambda: 42) == 42  # room again once the queue drained
    finally:
        release.set()
        pool.close()


async def test_the_work_runs_at_a_lower_cpu_priority_than_the_loop() -> None:
    def own_niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    pool = BoundedPool(workers=1, queue=1)
    try:
        in_worker = await pool.run(own_niceness)
    finally:
        pool.close()
    assert in_worker == min(19, own_niceness() + WORKER_NICENESS)
    assert own_niceness() == os.getpriority(os.PRIO_PROCESS, 0)  # the loop's thread keeps its own
