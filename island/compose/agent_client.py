"""The host's end of ``island.compose.probe_agent``: one agent in the client container, requests and answers matched by id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from ..contract import Operation, Outcome


class AgentError(RuntimeError):
    """The agent did not start or stopped; the message says where to look."""


class ProbeAgent:
    """One ``island.compose.probe_agent`` in the client container; requests and answers matched by id."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._next = 0
        self._waiting: dict[int, asyncio.Future[Outcome]] = {}
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, argv: Sequence[str], timeout: float = 60) -> ProbeAgent:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        try:
            ready = await asyncio.wait_for(process.stdout.readline(), timeout)
        except TimeoutError:
            process.kill()
            raise AgentError(
                f"the probe agent in the client container did not start within {timeout:g} s"
            ) from None
        if not ready.startswith(b'{"ready"'):
            stderr = (await process.stderr.read()).decode(errors="replace").strip() if process.stderr else ""
            raise AgentError(f"the probe agent in the client container did not start: {stderr[-300:]}")
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            answer = json.loads(line)
            waiting = self._waiting.pop(answer["id"], None)
            if waiting is not None and not waiting.done():
                waiting.set_result(Outcome(answer["status"], answer["latency_ms"], answer["detail"]))
        stderr = (
            (await self.process.stderr.read()).decode(errors="replace").strip() if self.process.stderr else ""
        )
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(
                    AgentError(f"the probe agent in the client container stopped: {stderr[-300:]}")
                )
        self._waiting.clear()

    async def run(self, probe: Operation) -> Outcome:
        if self._reader.done():
            raise AgentError("the probe agent in the client container is not running")
        self._next += 1
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        request = {"id": self._next, "probe": probe.model_dump(mode="json")}
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        await self.process.stdin.drain()
        # The agent times its own operations out; this only guards against a hung `docker exec`.
        return await asyncio.wait_for(future, probe.timeout + 10)

    async def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
