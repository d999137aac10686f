"""The registry probe against the real crisis site on a loopback socket: its forms, its origin check, its
SQLite on disk. A probe is ok only for what a resident or relative would call success, and a site that
shows someone to a wrong identifier fails the probe."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from island.probes import Place, Prober
from island.scenario.model import Person, Probe
from services.crisis_site import SiteConfig, create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _serve(app, port: int) -> tuple[uvicorn.Server, asyncio.Task]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    port = _free_port()
    server, task = await _serve(create_app(config=SiteConfig(database=str(tmp_path / "site.sqlite3"))), port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def operation(site: str, action: str, person: Person, identifier: str = "right") -> Probe:
    check = {"action": action, "site": site, "person": person}
    if action == "lookup":
        check |= {"of": "register", "identifier": identifier}
    return Probe(name=action, registry=check, timeout=10)


def prober() -> Prober:
    return Prober(Place("127.0.0.1", 1, 80), "krisinfo.kommun.example")


ASTRID = Person(
    name="Åsa Öberg-Lind",
    identifier="070-123 45 67",
    wrong_identifier="070-765 43 21",
    message="Vi är OK <3 & mår bra",
)


async def test_a_registration_is_found_by_name_and_identifier_and_never_by_a_wrong_one(site: str) -> None:
    run = prober().run
    registered = await run(operation(site, "register", ASTRID))
    assert (registered.status, registered.detail) == ("ok", "registered Åsa Öberg-Lind")
    found = await run(operation(site, "lookup", ASTRID))
    assert (found.status, found.detail) == ("ok", "Åsa Öberg-Lind: found with their message")
    wrong = await run(operation(site, "lookup", ASTRID, "wrong"))
    assert (wrong.status, wrong.detail) == ("ok", "Åsa Öberg-Lind: wrong identifier, nothing found")


async def test_a_resident_never_registered_is_not_found_and_the_lookup_fails(site: str) -> None:
    missing = await prober().run(operation(site, "lookup", ASTRID))
    assert missing.status == "fail" and "not found with the identifier they registered with" in missing.detail


async def test_a_refused_registration_fails_and_says_why(site: str) -> None:
    nameless = ASTRID.model_copy(update={"name": "12345"})  # the registry asks for a name with letters
    refused = await prober().run(operation(site, "register", nameless))
    assert (
        refused.status == "fail"
        and refused.detail == "register 12345: HTTP 400, not the registry's answer page"
    )


async def test_a_site_that_shows_someone_to_a_wrong_identifier_fails_the_privacy_probe() -> None:
    async def leaky(request_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await request_reader.readuntil(b"\r\n\r\n")
        page = f'<main data-registry="found"><h2>Meddelanden från {ASTRID.name}</h2></main>'.encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(page) + page)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(leaky, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        leaked = await prober().run(operation(f"http://127.0.0.1:{port}", "lookup", ASTRID, "wrong"))
    assert (
        leaked.status == "fail" and leaked.detail == "PRIVACY: Åsa Öberg-Lind found with a wrong identifier"
    )
