"""The site's worker pool for CPU-heavy steps: work runs off the event loop, and the queue is bounded."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from services.crisis_site.workers import BoundedPool, Busy


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


async def test_the_work_runs_in_the_idle_class_and_so_do_the_threads_it_starts() -> None:
    """argon2 hashes its four lanes in threads of its own: they must be as idle as the worker."""

    def classes() -> tuple[int, int]:
        started: list[int] = []
        lane = threading.Thread(target=lambda: started.append(os.sched_getscheduler(0)))
        lane.start()
        lane.join()
        return os.sched_getscheduler(0), started[0]

    pool = BoundedPool(workers=1, queue=1)
    try:
        in_worker = await pool.run(classes)
    finally:
        pool.close()
    assert in_worker == (os.SCHED_IDLE, os.SCHED_IDLE)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the loop's thread keeps its own
