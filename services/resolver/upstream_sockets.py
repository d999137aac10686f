"""The UDP sockets the resolver asks one upstream through: a few connected sockets shared by the
queries in flight, instead of a new socket per query.

A socket per query cost the resolver a socket, a bind, a connect and two more loop callbacks for
every never-seen name (about 80 µs of the ~800 µs such a name costs). Sharing must not make a
forged answer easier to slip in, so:
- each query gets a random ID (``secrets``), never one already waiting on the same socket;
- an answer is taken only if its ID is waiting, it is a response, and it repeats the question as
  sent (a header-only answer, FORMERR and the like, has no question to repeat); anything else is
  dropped and the query keeps waiting for its real answer;
- each socket is connected, so the kernel drops datagrams from any other address or port;
- each socket serves at most USES queries and is then replaced by a new one on a new random port
  (the kernel picks ephemeral ports at random), so the source port keeps changing: a forger who
  learned one port has it for a few dozen queries, not for good;
- late answers (after a query's timeout) find nothing waiting and are dropped.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from services.dns import DNSExchangeError, DNSRefused, DNSTimeout
from services.dns.wire import question_end

SOCKETS = 4  # open at once per upstream
USES = 64  # queries per socket before it is replaced (a new random source port)


def answers_question(data: bytes, question: bytes) -> bool:
    """Whether ``data`` (its ID already matched) is a response that repeats ``question`` (name, type,
    class as sent, any letter case) or, like FORMERR and its kind, carries no question at all."""
    if len(data) < 12 or not data[2] & 0x80:
        return False
    return data[4:6] == b"\x00\x00" or data[12 : 12 + len(question)].lower() == question.lower()


class _Socket(asyncio.DatagramProtocol):
    """One connected socket and the queries waiting on it: ID -> (question bytes, answer)."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.waiting: dict[int, tuple[bytes, asyncio.Future[bytes]]] = {}
        self.uses = 0
        self.closed = False
        self.opening: asyncio.Future[Any] | None = None  # while the socket is being made

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        # The opening task's result holds this socket: kept, it would make a cycle per socket that
        # only a garbage collection frees (a pause growing with the names asked, bench/scale/resolver.py).
        self.opening = None

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if len(data) < 12:
            return  # not a DNS message
        waiting = self.waiting.get(int.from_bytes(data[:2], "big"))
        if waiting is None:
            return  # a stray, late or forged datagram: no query of ours has this ID now
        question, answer = waiting
        if not answers_question(data, question):
            return  # not an answer to the question asked: keep waiting for the real one
        if not answer.done():
            answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        # A connected socket hears the upstream's ICMP port unreachable: nothing listens there.
        for _, answer in self.waiting.values():
            if not answer.done():
                answer.set_exception(DNSRefused(str(exc)))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for _, answer in self.waiting.values():
            if not answer.done():
                answer.set_exception(DNSExchangeError(f"socket closed: {exc}"))

    def close_if_done(self) -> None:
        if self.uses >= USES and not self.waiting and self.transport is not None:
            self.transport.close()


class UpstreamSockets:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._open: list[_Socket] = []
        self._next = 0

    def _socket(self) -> _Socket:
        """A socket with uses left: the next of the open ones in turn, or a new one (made here, at
        once, so that queries arriving together share the few sockets rather than each open one)."""
        self._open = [s for s in self._open if s.uses < USES and not s.closed]
        if len(self._open) >= SOCKETS:
            self._next = (self._next + 1) % len(self._open)
            return self._open[self._next]
        sock = _Socket()
        sock.opening = asyncio.ensure_future(
            asyncio.get_running_loop().create_datagram_endpoint(
                lambda: sock, remote_addr=(self.host, self.port)
            )
        )
        self._open.append(sock)
        return sock

    async def exchange(self, packet: bytes, timeout: float) -> bytes:
        """Send the query ``packet`` (one question; its ID is replaced by a fresh random one) and
        return the answer, whose ID and question have been checked. DNSTimeout, DNSRefused."""
        end = question_end(packet)
        if end is None:
            raise ValueError("an upstream query has exactly one plain question")
        sock = self._socket()
        if sock.transport is None and sock.opening is not None:
            try:
                await asyncio.shield(sock.opening)
            except OSError as exc:
                sock.closed = True
                raise DNSRefused(f"cannot reach {self.host}:{self.port}: {exc}") from exc
        query_id = secrets.randbits(16)
        while query_id in sock.waiting:
            query_id = secrets.randbits(16)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()
        sock.waiting[query_id] = (packet[12:end], answer)
        sock.uses += 1
        # A timer rather than asyncio.wait_for: no second future and task step per query.
        timer = loop.call_later(timeout, _time_out, answer, self, timeout)
        try:
            assert sock.transport is not None
            sock.transport.sendto(query_id.to_bytes(2, "big") + packet[2:])
            return await answer
        finally:
            timer.cancel()
            del sock.waiting[query_id]
            if answer.done() and not answer.cancelled():
                answer.exception()  # seen, even when nobody awaits it any more
            sock.close_if_done()
            # A timeout or a refusal raised here keeps this frame in its traceback, and the frame
            # would keep the answer holding that exception: a cycle per failed query.
            del answer

    def give_up(self, reason: Exception) -> None:
        """Fail every query waiting on these sockets with ``reason`` (the upstream was found down)."""
        for sock in self._open:
            for _, answer in sock.waiting.values():
                if not answer.done():
                    answer.set_exception(reason)

    def close(self) -> None:
        for sock in self._open:
            if sock.transport is not None:
                sock.transport.close()
            elif sock.opening is not None:
                sock.opening.cancel()
        self._open = []


def _time_out(answer: asyncio.Future[bytes], sockets: UpstreamSockets, timeout: float) -> None:
    if not answer.done():
        answer.set_exception(
            DNSTimeout(f"no answer from {sockets.host}:{sockets.port} within {timeout:.1f} s")
        )
