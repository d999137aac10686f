"""The local backend's uplink: a relay between the island and the simulated internet.

Without root there is no router to pull the plug on, so every packet the island
sends to the internet goes through this relay, which can

- pass traffic (``up``),
- swallow it silently (``blackhole``: the island's queries time out), or
- refuse it (``reject``: its sockets are closed, so the kernel answers UDP with
  ICMP port-unreachable and TCP with a reset, a fast failure),
- do either to DNS only (``dns_mode``), drop a share of what the island sends
  (``loss`` percent; for TCP a whole connection, since a relay sees no segments),
- and hold the internet's answers back (``delay_ms`` plus up to ``jitter_ms``):
  this kernel has no netem, so latency is made here, in user space.

Where the relay is the phones' only way out (the local backend) it is also the island gate
(``gate`` in its configuration; services/gate on a box and on netns): while the resolver says
island mode and nothing has come in from the internet for a while, a phone's connection to the
web port goes to the island's portal and any other is reset at once. What a phone sent into the cut
before is held (as its SYNs would be retransmitted) and goes the same way once the gate closes.

It is run as ``python -m island.backends.local_uplink --config FILE`` and steered
over a Unix socket with one JSON object per line, any subset of
``{"mode": "blackhole", "dns_mode": "up", "loss": 30, "delay_ms": 2000, "jitter_ms": 0}``;
the reply is the whole state.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict

from services.gate.gate import Firewall, Gate, keep_following
from services.tcp_reset import reset_stream

log = logging.getLogger("uplink")

Mode = Literal["up", "blackhole", "reject"]
MODES: tuple[str, ...] = ("up", "blackhole", "reject")
_UDP_FLOW_IDLE = 30.0
# What a phone may send into the cut to be held for the gate: a connectivity check is a few hundred
# bytes; more is reset, so no client can grow the relay's memory while the gate has not closed.
HELD_LIMIT = 8192
Addr = tuple[Any, ...]  # a socket address, as asyncio's datagram protocols get it


class GateConfig(BaseModel):
    """The island gate in the relay (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid")
    resolver_metrics: str  # the island resolver's /metrics URL: island mode
    phones: list[str]  # the addresses of the phones behind the island (its trygghetspunkter)
    web_port: int  # a phone's connection to this port goes to the portal; to any other, a reset
    portal_host: str
    portal_port: int


class RelayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listen_host: str
    target_host: str
    udp_ports: list[int]
    tcp_ports: list[int]
    control_socket: str
    dns_port: int = 53
    # Every TCP port forwards to this one port of the target (a region's island link: its own port
    # in, the hub's leaf-node port out); None: each to the same port.
    target_port: int | None = None
    # A TCP port listened on and forwarded at an address of its own rather than listen_host and
    # target_host (an island's link to each node of a hub cluster: the node's address both ways, so
    # the node's certificate still matches).
    hosts: dict[int, str] = {}
    gate: GateConfig | None = None


class _UDPFlow(asyncio.DatagramProtocol):
    """The relay's socket towards the internet for one client address."""

    def __init__(self, relay: UplinkRelay, front: asyncio.DatagramTransport, client: Addr, port: int) -> None:
        self.relay, self.front, self.client, self.front_port = relay, front, client, port
        self.transport: asyncio.DatagramTransport | None = None
        self.last_used = asyncio.get_running_loop().time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # a datagram endpoint's transport

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.relay.heard += 1
        delay = self.relay.answer_delay()
        if delay:
            asyncio.get_running_loop().call_later(delay, self._deliver, data)
        else:
            self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        if self.relay.mode_for(self.front_port) == "up" and not self.front.is_closing():
            self.front.sendto(data, self.client)


class _UDPFront(asyncio.DatagramProtocol):
    def __init__(self, relay: UplinkRelay, port: int) -> None:
        self.relay, self.port = relay, port
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[Addr, _UDPFlow] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # a datagram endpoint's transport

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        if self.relay.mode_for(self.port) != "up" or self.relay.lost():
            return  # black hole (or a lost packet): not a word back
        asyncio.ensure_future(self._forward(data, addr))

    async def _forward(self, data: bytes, client: Addr) -> None:
        loop = asyncio.get_running_loop()
        front = self.transport
        assert front is not None  # set in connection_made, before any datagram arrives
        flow = self.flows.get(client)
        transport = flow.transport if flow is not None else None
        if flow is None or transport is None or transport.is_closing():
            transport, flow = await loop.create_datagram_endpoint(
                lambda: _UDPFlow(self.relay, front, client, self.port),
                remote_addr=(self.relay.config.target_host, self.port),
            )
            self.flows[client] = flow
        flow.last_used = loop.time()
        transport.sendto(data)

    def expire(self, now: float) -> None:
        for client, flow in list(self.flows.items()):
            if now - flow.last_used > _UDP_FLOW_IDLE:
                if flow.transport is not None:
                    flow.transport.close()
                del self.flows[client]

    def close(self) -> None:
        for flow in self.flows.values():
            if flow.transport is not None:
                flow.transport.close()
        self.flows.clear()
        if self.transport is not None:
            self.transport.close()


class UplinkRelay:
    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.mode: Mode = "up"
        self.dns_mode: Mode = "up"
        self.loss = 0
        self.delay_ms = 0.0
        self.jitter_ms = 0.0
        self._udp: dict[int, _UDPFront] = {}
        self._tcp: dict[int, asyncio.base_events.Server] = {}
        self._connections: set[asyncio.StreamWriter] = set()
        self.heard = 0  # what has come in from the internet (the gate's "uplink_in" counter)
        self.gate_closed = asyncio.Event()
        # Its settings outlive the process: started again after a crash (by the island's watchdog),
        # a cut uplink stays cut. A new island starts with a new state folder, so with none of them.
        self._saved = Path(config.control_socket + ".settings")
        try:
            self._set(json.loads(self._saved.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass  # none saved (a new island), or unreadable: start up

    def _set(self, request: dict[str, Any]) -> None:
        for key in ("mode", "dns_mode"):
            if key in request and request[key] not in MODES:
                raise ValueError(f"unknown uplink mode {request[key]!r}; use one of {', '.join(MODES)}")
        if "loss" in request and not 0 <= int(request["loss"]) <= 100:
            raise ValueError("loss is a percentage, 0 to 100")
        self.mode = request.get("mode", self.mode)
        self.dns_mode = request.get("dns_mode", self.dns_mode)
        self.loss = int(request.get("loss", self.loss))
        self.delay_ms = float(request.get("delay_ms", self.delay_ms))
        self.jitter_ms = float(request.get("jitter_ms", self.jitter_ms))

    def mode_for(self, port: int) -> Mode:
        if self.mode != "up":
            return self.mode
        return self.dns_mode if port == self.config.dns_port else "up"

    def lost(self) -> bool:
        return self.loss > 0 and random.random() * 100 < self.loss

    def answer_delay(self) -> float:
        return (self.delay_ms + random.uniform(0, self.jitter_ms)) / 1000

    def settings(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dns_mode": self.dns_mode,
            "loss": self.loss,
            "delay_ms": self.delay_ms,
            "jitter_ms": self.jitter_ms,
        }

    async def open(self) -> None:
        """Listen on every port that is not rejecting (and not listening yet)."""
        loop = asyncio.get_running_loop()
        host = self.config.listen_host
        for port in self.config.udp_ports:
            if port not in self._udp and self.mode_for(port) != "reject":
                _, front = await loop.create_datagram_endpoint(
                    functools.partial(_UDPFront, self, port), local_addr=(host, port)
                )
                self._udp[port] = front
        for port in self.config.tcp_ports:
            if port not in self._tcp and self.mode_for(port) != "reject":
                self._tcp[port] = await asyncio.start_server(
                    functools.partial(self._relay_tcp, port=port),
                    self.config.hosts.get(port, host),
                    port,
                    reuse_address=True,
                )

    def close(self, ports: set[int] | None = None) -> None:
        """Stop listening on ``ports`` (all by default) and cut their connections."""
        for port in list(self._udp):
            if ports is None or port in ports:
                self._udp.pop(port).close()
        for port in list(self._tcp):
            if ports is None or port in ports:
                self._tcp.pop(port).close()
        for writer in list(self._connections):
            if ports is None or getattr(writer, "relay_port", None) in ports:
                writer.transport.abort()
                self._connections.discard(writer)

    async def configure(self, request: dict[str, Any]) -> None:
        self._set(request)
        self._saved.write_text(json.dumps(self.settings()), encoding="utf-8")
        ports = set(self.config.udp_ports) | set(self.config.tcp_ports)
        self.close({p for p in ports if self.mode_for(p) == "reject"})
        await self.open()
        log.info("uplink %s", self.settings())

    async def set_mode(self, mode: Mode) -> None:
        await self.configure({"mode": mode})

    async def _relay_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        writer.relay_port = port  # type: ignore[attr-defined]
        self._connections.add(writer)
        gate = self.config.gate
        phone = gate is not None and writer.get_extra_info("peername")[0] in gate.phones
        try:
            if phone and self.gate_closed.is_set():
                await self._through_gate(reader, writer, port, b"")
                return
            if self.mode_for(port) != "up" or self.lost():
                if phone:
                    await self._hold(reader, writer, port)
                else:
                    await self._swallow(reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    self.config.hosts.get(port, self.config.target_host), self.config.target_port or port
                )
            except OSError:
                writer.transport.abort()
                return
            up_writer.relay_port = port  # type: ignore[attr-defined]
            self._connections.add(up_writer)
            try:
                await asyncio.gather(
                    self._pipe(reader, up_writer, port),
                    self._pipe(up_reader, writer, port, self.answer_delay(), inbound=True),
                )
            finally:
                self._connections.discard(up_writer)
                up_writer.close()
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        """A phone's connection into the cut: what it sends is held until the gate closes, then goes
        through the gate (a real phone's SYN, retransmitted, reaches the gate once it has closed).
        More than ``HELD_LIMIT`` is reset."""
        held = b""
        closed = asyncio.ensure_future(self.gate_closed.wait())
        try:
            while not closed.done():
                read = asyncio.ensure_future(reader.read(HELD_LIMIT + 1 - len(held)))
                await asyncio.wait({read, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    read.cancel()
                    break
                data = read.result()
                if not data:
                    return  # the phone gave up
                held += data
                if len(held) > HELD_LIMIT:
                    reset_stream(writer)
                    return
        except (ConnectionError, OSError):
            return
        finally:
            closed.cancel()
        await self._through_gate(reader, writer, port, held)

    async def _through_gate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, held: bytes
    ) -> None:
        """The closed gate: the web port to the island's portal, any other port reset at once."""
        gate = self.config.gate
        assert gate is not None
        if port != gate.web_port:
            reset_stream(writer)
            return
        try:
            portal_reader, portal_writer = await asyncio.open_connection(gate.portal_host, gate.portal_port)
        except OSError:
            writer.transport.abort()
            return
        try:
            portal_writer.write(held)
            await asyncio.gather(
                self._pipe(reader, portal_writer, port, cut=False),
                self._pipe(portal_reader, writer, port, cut=False),
            )
        finally:
            portal_writer.close()

    def gate_state(self) -> dict[str, str]:
        """Whether the gate is closed, for whoever asks the control socket (nothing without a gate)."""
        if self.config.gate is None:
            return {}
        return {"gate": "closed" if self.gate_closed.is_set() else "open"}

    def set_gate(self, closed: bool) -> None:
        if closed:
            self.gate_closed.set()
        else:
            self.gate_closed.clear()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        port: int,
        delay: float = 0.0,
        *,
        inbound: bool = False,
        cut: bool = True,
    ) -> None:
        """``inbound``: from the internet (counted as heard); ``cut``: stopped while the uplink is cut."""
        try:
            first = True
            while data := await reader.read(65536):
                if inbound:
                    self.heard += 1
                if first and delay:
                    await asyncio.sleep(delay)  # the answer comes late (once per connection)
                first = False
                if not cut or self.mode_for(port) == "up":
                    writer.write(data)
                    await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.transport.abort()

    @staticmethod
    async def _swallow(reader: asyncio.StreamReader) -> None:
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass

    async def expire_flows(self) -> None:
        while True:
            await asyncio.sleep(_UDP_FLOW_IDLE / 2)
            now = asyncio.get_running_loop().time()
            for front in self._udp.values():
                front.expire(now)

    async def serve_control(self, path: str) -> asyncio.base_events.Server:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while line := await reader.readline():
                    try:
                        request = json.loads(line)
                        if request:
                            await self.configure(request)
                        reply = {"ok": True, **self.settings(), **self.gate_state()}
                    except (ValueError, TypeError, OSError) as exc:
                        reply = {"ok": False, "error": str(exc), **self.settings(), **self.gate_state()}
                    writer.write(json.dumps(reply).encode() + b"\n")
                    await writer.drain()
            finally:
                writer.close()

        if os.path.exists(path):
            os.unlink(path)
        return await asyncio.start_unix_server(handle, path)


async def control(path: str | Path, request: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to a running relay and return its reply."""
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), timeout)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        reply: dict[str, Any] = json.loads(line)
        return reply
    finally:
        writer.close()


class RelayGate(Gate):
    """The island gate with the relay for its firewall: the relay counts what comes in, and holds the chain."""

    def __init__(self, relay: UplinkRelay) -> None:
        super().__init__(nft=())
        self.relay = relay

    async def look(self) -> Firewall:
        return Firewall(self.relay.heard, self.relay.gate_closed.is_set())

    async def apply(self, closed: bool) -> None:
        self.relay.set_gate(closed)


async def _main(config: RelayConfig) -> None:
    relay = UplinkRelay(config)
    await relay.open()
    control_server = await relay.serve_control(config.control_socket)
    expiry = asyncio.ensure_future(relay.expire_flows())
    gate = (
        asyncio.ensure_future(keep_following(RelayGate(relay), config.gate.resolver_metrics))
        if config.gate is not None
        else None
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        expiry.cancel()
        if gate is not None:
            gate.cancel()
        control_server.close()
        relay.close()
        if os.path.exists(config.control_socket):
            os.unlink(config.control_socket)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m island.backends.local_uplink", description=__doc__)
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s uplink %(levelname)s %(message)s")
    config = RelayConfig.model_validate_json(Path(args.config).read_text(encoding="utf-8"))
    try:
        asyncio.run(_main(config))
    except OSError as exc:
        print(f"uplink relay: cannot listen on {config.listen_host}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
