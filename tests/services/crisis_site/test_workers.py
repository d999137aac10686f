"""The site's worker pool for CPU-heavy steps: work runs off the event loop, and the queue is bounded."""

from __future__ import annotations

import asyncio
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
