"""Run probes from where a resident is, for a backend that cannot probe from the host.

    python -m island.compose.probe_agent --resolver HOST [--dns-port 53] [--http-port 80] [--https-port 443]
        [--ca-file PEM] --crisis-name NAME

Reads one JSON request a line on stdin, ``{"id": 7, "probe": {...}}`` (an
:class:`island.contract.Operation`), runs it with the same :class:`Prober` as every backend, and writes
``{"id": 7, "status": "ok", "latency_ms": 3.2, "detail": "..."}`` a line on stdout.
Requests run concurrently, as the scenario engine's probe loops do; answers carry their id.
The latency is measured here, next to the resident, not across ``docker exec``.
Before the first request it writes ``{"ready": true}``, once its own code is loaded and has
asked the resolver once (the answer is not recorded): the agent's start-up is not the island's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict

from ..contract import DNSCheck, Operation
from ..probes import Place, Prober


async def _answer(prober: Prober, request_id: int, probe: Operation) -> None:
    outcome = await prober.run(probe)
    sys.stdout.write(json.dumps({"id": request_id, **asdict(outcome)}) + "\n")
    sys.stdout.flush()


async def serve(place: Place, crisis_name: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    prober = Prober(place, crisis_name)
    tasks: set[asyncio.Task[None]] = set()
    try:
        await prober.run(Operation(name="warm-up", dns=DNSCheck(name="{crisis_name}"), timeout=2))
        sys.stdout.write(json.dumps({"ready": True}) + "\n")
        sys.stdout.flush()
        while line := await reader.readline():
            request = json.loads(line)
            task = asyncio.ensure_future(
                _answer(prober, request["id"], Operation.model_validate(request["probe"]))
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    finally:
        await prober.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m island.compose.probe_agent",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--resolver", required=True, help="the resolver a phone here was given")
    parser.add_argument("--dns-port", type=int, default=53)
    parser.add_argument("--http-port", type=int, default=80)
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--ca-file", help="the roots a phone here trusts (the simulated public CA)")
    parser.add_argument("--crisis-name", required=True)
    args = parser.parse_args(argv)
    place = Place(
        args.resolver, args.dns_port, args.http_port, https_port=args.https_port, ca_file=args.ca_file
    )
    asyncio.run(serve(place, args.crisis_name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
