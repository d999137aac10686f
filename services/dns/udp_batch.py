"""A UDP socket drained in batches: one recvmmsg and one sendmmsg (Linux, through ctypes) per burst.

Unbound pays two system calls per query (recvfrom, sendto). A Python server that does
the same pays them plus the event loop's per-packet work, which is where it fell behind.
Here one readiness event reads up to ``BATCH`` queries at once into preallocated buffers,
answers those the fast path knows straight into preallocated send buffers (the reply
goes back to the very sockaddr bytes it came from, never converted to a string), and
sends them with one call. Everything else is handed, as bytes and an address tuple,
to the server's full path.

Only the socket work lives here; what to answer is the ``answer`` callable's business.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

BATCH = 64
# The largest UDP payload: a query is never cut short (MSG_TRUNC), however odd it is.
_RECEIVE_SLOT = 65536
# The largest answer the fast path hands back (our EDNS maximum is 1232); larger ones go via sendto.
_SEND_SLOT = 4096
# Slots a little more than a power of two apart, so their first bytes do not share a CPU cache set.
_SKEW = 64
_SOCKADDR_SLOT = 128  # sizeof(struct sockaddr_storage)
_MSG_DONTWAIT = 0x40
# Batches read per readiness event before the loop gets its turn (timers, TCP, the full path).
_BATCHES_PER_WAKEUP = 8

# struct mmsghdr on 64-bit Linux: struct msghdr (56 bytes) then msg_len, padded to 64.
_MMSGHDR = struct.Struct("QI4xQQQQi4xI4x")
_IOVEC = struct.Struct("QQ")
_IOV_LEN = struct.Struct("=Q")

# answer(query bytes, client host, "udp") -> reply (its first two bytes are replaced by the
# query's ID), b"" to drop the query, or None to take the full path.
FastAnswer = Callable[[bytes, str, str], "bytes | None"]
# A client's socket address as the socket module gives it: (host, port) for IPv4,
# (host, port, flowinfo, scope_id) for IPv6.
Address = tuple[Any, ...]
# full_path(query bytes, client address)
FullPath = Callable[[bytes, Address], None]
# batch_done(answered by the fast path, seconds from the first receive to the send)
BatchDone = Callable[[int, float], None]


# recvmmsg(2) and sendmmsg(2) through ctypes: each returns how many messages, or -1 (see errno).
_MMsgCall = Callable[..., int]


def _libc() -> tuple[_MMsgCall, _MMsgCall] | None:
    if not sys.platform.startswith("linux") or struct.calcsize("P") != 8:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        recvmmsg, sendmmsg = libc.recvmmsg, libc.sendmmsg
    except (OSError, AttributeError):
        return None
    recvmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_void_p]
    recvmmsg.restype = ctypes.c_int
    sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    sendmmsg.restype = ctypes.c_int
    return recvmmsg, sendmmsg


_CALLS = _libc()


def available() -> bool:
    """Whether batched receive and send work here (64-bit Linux); elsewhere the server reads per packet."""
    return _CALLS is not None


def _address_of(buffer: bytearray) -> int:
    return ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))


class BatchedUDP:
    """Drains a non-blocking UDP socket in batches; call :meth:`drain` whenever it is readable."""

    def __init__(
        self,
        sock: socket.socket,
        answer: FastAnswer | None,
        full_path: FullPath,
        batch_done: BatchDone | None = None,
        batch: int = BATCH,
    ) -> None:
        if _CALLS is None:
            raise OSError(errno.ENOSYS, "recvmmsg/sendmmsg are not available here")
        self._recvmmsg, self._sendmmsg = _CALLS
        self.sock = sock
        self._fd = sock.fileno()
        self._answer = answer
        self._full_path = full_path
        self._batch_done = batch_done
        self._n = batch
        self._v6 = sock.family == socket.AF_INET6
        # The address part of each sockaddr (no port): the key for the host-string cache. Read for a
        # whole batch in one call, as are the lengths: per batch, not per packet.
        host_field = "8x16s104x" if self._v6 else "4x4s120x"
        self._hosts_of = [struct.Struct(host_field * n) for n in range(batch + 1)]
        self._lengths_of = [struct.Struct("=" + "56xI4x" * n) for n in range(batch + 1)]
        self._hosts: dict[bytes, str] = {}
        name_length = 28 if self._v6 else 16
        receive_stride, send_stride = _RECEIVE_SLOT + _SKEW, _SEND_SLOT + _SKEW
        self._receive_stride, self._send_stride = receive_stride, send_stride
        self._received = bytearray(batch * receive_stride)
        self._replies = bytearray(batch * send_stride)
        self._addresses = bytearray(batch * _SOCKADDR_SLOT)
        self._receive_headers = bytearray(batch * _MMSGHDR.size)
        self._send_headers = bytearray(batch * _MMSGHDR.size)
        receive_iovecs = bytearray(batch * _IOVEC.size)
        # Two pieces per answer: the query's own ID (still in the receive slot), then the reply after its ID.
        self._send_iovecs = bytearray(batch * 2 * _IOVEC.size)
        received, replies, addresses = map(_address_of, (self._received, self._replies, self._addresses))
        receive_iov, send_iov = _address_of(receive_iovecs), _address_of(self._send_iovecs)
        for i in range(batch):
            address = addresses + i * _SOCKADDR_SLOT
            _IOVEC.pack_into(receive_iovecs, i * _IOVEC.size, received + i * receive_stride, _RECEIVE_SLOT)
            _IOVEC.pack_into(self._send_iovecs, 2 * i * _IOVEC.size, received + i * receive_stride, 2)
            _IOVEC.pack_into(self._send_iovecs, (2 * i + 1) * _IOVEC.size, replies + i * send_stride + 2, 0)
            _MMSGHDR.pack_into(
                self._receive_headers,
                i * _MMSGHDR.size,
                address,
                _SOCKADDR_SLOT,
                receive_iov + i * _IOVEC.size,
                1,
                0,
                0,
                0,
                0,
            )
            _MMSGHDR.pack_into(
                self._send_headers,
                i * _MMSGHDR.size,
                address,
                name_length,
                send_iov + 2 * i * _IOVEC.size,
                2,
                0,
                0,
                0,
                0,
            )
        self._fresh_receive_headers = bytes(self._receive_headers)
        self._received_view, self._replies_view = memoryview(self._received), memoryview(self._replies)
        # Per slot: where its query starts, where its reply goes, where its reply's length is written.
        self._slots = [
            (i * receive_stride, i * send_stride, (2 * i + 1) * _IOVEC.size + 8) for i in range(batch)
        ]
        self._keep_alive = (receive_iovecs,)
        self._receive_headers_at = _address_of(self._receive_headers)
        self._send_headers_at = _address_of(self._send_headers)
        self.batches = 0  # for tests and curious operators: how many recvmmsg calls returned data

    def drain(self) -> None:
        """Read, answer and send until the socket is empty (or a few batches, to stay fair to the loop)."""
        for _ in range(_BATCHES_PER_WAKEUP):
            if self._one_batch() < self._n:
                return

    def _one_batch(self) -> int:
        headers = self._receive_headers
        headers[:] = self._fresh_receive_headers  # the kernel wrote name lengths and flags into them
        count = self._recvmmsg(self._fd, self._receive_headers_at, self._n, _MSG_DONTWAIT, None)
        if count <= 0:
            if count < 0 and ctypes.get_errno() not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                log.debug("recvmmsg: %s", errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
            return 0
        started = time.monotonic()
        self.batches += 1
        received, replies, send_iovecs = self._received_view, self._replies_view, self._send_iovecs
        lengths = self._lengths_of[count].unpack_from(headers)
        answer = self._answer
        if answer is None:
            for i in range(count):
                start = self._slots[i][0]
                self._full_path(received[start : start + lengths[i]].tobytes(), self._client(i))
            return count
        hosts, iov_len = self._hosts, _IOV_LEN.pack_into
        raw_hosts = self._hosts_of[count].unpack_from(self._addresses)
        run_start = (
            0  # answers are sent in runs of consecutive slots; a query taking the full path ends a run
        )
        answered = 0
        for i, (receive_at, reply_at, length_at), length, raw_host in zip(
            range(count), self._slots, lengths, raw_hosts
        ):
            data = received[receive_at : receive_at + length].tobytes()
            host = hosts.get(raw_host)
            if host is None:
                host = self._remember_host(raw_host)
            try:
                reply = answer(data, host, "udp")
            except Exception:
                log.exception("fast path failed for a packet from %s", host)
                reply = None
            if reply and len(reply) <= _SEND_SLOT and length >= 2:
                size = len(reply)
                replies[reply_at : reply_at + size] = reply
                iov_len(send_iovecs, length_at, size - 2)
                answered += 1
                continue
            self._send(run_start, i)
            run_start = i + 1
            if reply is None:
                self._full_path(data, self._client(i))
            elif reply and length >= 2:  # too big for a send slot: rare enough for a plain sendto
                self._send_one(data[:2] + reply[2:], i)
        self._send(run_start, count)
        if self._batch_done is not None and answered:
            self._batch_done(answered, time.monotonic() - started)
        return count

    def _send(self, first: int, end: int) -> None:
        while first < end:
            sent = self._sendmmsg(
                self._fd, self._send_headers_at + first * _MMSGHDR.size, end - first, _MSG_DONTWAIT
            )
            if sent <= 0:
                # A full send buffer: drop the rest, as a UDP server does (the client asks again).
                log.debug("sendmmsg: %s", errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno()))
                return
            first += sent

    def _send_one(self, reply: bytes, i: int) -> None:
        try:
            self.sock.sendto(reply, self._client(i))
        except OSError as exc:
            log.debug("sendto: %s", exc)

    def _client(self, i: int) -> tuple[str, int] | tuple[str, int, int, int]:
        at = i * _SOCKADDR_SLOT
        raw = bytes(self._addresses[at : at + _SOCKADDR_SLOT])
        port = struct.unpack_from("!H", raw, 2)[0]
        if self._v6:
            flowinfo, scope = struct.unpack_from("!I", raw, 4)[0], struct.unpack_from("=I", raw, 24)[0]
            return (socket.inet_ntop(socket.AF_INET6, raw[8:24]), port, flowinfo, scope)
        return (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)

    def _remember_host(self, raw_host: bytes) -> str:
        host = socket.inet_ntop(socket.AF_INET6 if self._v6 else socket.AF_INET, raw_host)
        if len(self._hosts) >= 65536:
            self._hosts.clear()  # rare (a scan of many addresses): cheaper than LRU bookkeeping
        self._hosts[raw_host] = host
        return host
