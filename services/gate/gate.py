"""The island gate: while the island is in island mode, the phones' new connections to the outside are refused.

During a cut a phone's HTTPS check, an app or a browser tab opened before the cut sends its
packets into the black hole and waits out its own timeout (often 30 s or more), while the phone
says nothing useful. The island knows better: its resolver says when every upstream is down. The
gate follows that word and fills one nftables chain, which the firewall jumps to for the phones'
new connections towards the uplink, with refusals: a TCP reset for TCP (connect() fails at once,
"connection refused"), an ICMP "administratively prohibited" for the rest (QUIC, outside DNS).
When the uplink is back the chain is emptied and the phones reach the internet again.

Plain HTTP is different: every phone's connectivity check is a port-80 fetch, and a phone keeps the
check name's outside address for its TTL (5 s). So port 80 to the outside is not refused but sent
to the island's portal (DNAT, as every captive portal does, in the chain ``NAT_CHAIN``): a check
that still had the outside address gets the portal's redirect, and the phone its sign-in sheet,
never "no internet". NAT applies only to a connection's first packet: a check whose SYN went into
the cut before the gate closed has a connection-tracking entry already, and its retransmitted SYNs
would follow it into the cut. The firewall marks those connections (``MARK``) and the gate has
conntrack forget them when it closes.

Island mode is "no upstream answered within the forward budget", which a slow but working uplink
(2 s of latency under load) also gives. So the gate closes only when, besides, nothing at all has
come in over the uplink for ``QUIET_SECONDS`` (the firewall counts it: ``counter uplink_in``): on a
slow uplink the late answers to the resolver's own heartbeats keep arriving, on a cut one nothing
does. Unknown (no answer from the resolver yet, no counter) is "open": the gate never closes a
working internet.

The chain is the firewall's own (``etc/nftables.d/odrift.nft`` on a box, the router's rules in the
netns backend): the gate only flushes and fills it, in one nft transaction. Loading the firewall
again (`nft -f`, `systemctl reload nftables`) empties it and zeroes the counter; the gate reads the
firewall on every round anyway, so it fills a closed chain found empty again within one round.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from services.crisis_site.island_mode import IslandModeWatch

log = logging.getLogger("gate")

TABLE = "inet odrift"
CHAIN = "island_mode"
NAT_CHAIN = "island_mode_nat"  # a nat prerouting chain's jump target for the phones' port 80 to the outside
MARK = 0x6F64  # the connection mark of those connections ("od"), for conntrack to forget them
COUNTER = "uplink_in"  # packets in over the uplink, counted by the firewall
# A cut is noticed by the resolver 1.5-2 s after it starts, by when the uplink has been silent as long;
# the resolver's heartbeats (tries at most a second apart) keep a slow uplink from ever being this quiet.
QUIET_SECONDS = 1.5
# How often the gate reads the resolver's word: a quarter of a second adds little to the time a cut
# takes to notice (a heartbeat and a forward budget, docs/phones.md), and costs one local HTTP GET.
INTERVAL = 0.25
# What the chain holds in island mode (one line each, as `nft add rule` takes them).
REFUSALS = ("meta l4proto tcp reject with tcp reset", "reject with icmpx admin-prohibited")


class GateError(RuntimeError):
    pass


class Firewall(NamedTuple):
    packets_in: int  # the packets that have come in over the uplink (the counter COUNTER)
    refusing: bool  # whether the gate's chain holds its refusals (it is empty while open)


def portal_jump(match: str) -> str:
    """The nat prerouting rule that sends the phones' port-80 connections to the outside (``match``, e.g.
    ``iifname "wlan0" fib daddr oifname "wan"``) through ``NAT_CHAIN``, marked."""
    return f"{match} tcp dport 80 ct mark set {MARK:#x} jump {NAT_CHAIN}"


def script(closed: bool, table: str = TABLE, chain: str = CHAIN, portal: str | None = None) -> str:
    """One nft transaction: the chains empty (open), or holding the refusals and the way to the
    ``portal`` (``address:port``; none: the firewall has no ``NAT_CHAIN``) (closed)."""
    lines = [f"flush chain {table} {chain}"]
    if portal is not None:
        lines.append(f"flush chain {table} {NAT_CHAIN}")
    if closed:
        lines += [f"add rule {table} {chain} {rule}" for rule in REFUSALS]
        if portal is not None:
            lines.append(f"add rule {table} {NAT_CHAIN} tcp dport 80 dnat ip to {portal}")
    return "\n".join(lines) + "\n"


@dataclass
class Gate:
    nft: tuple[str, ...] = ("nft",)  # the command, e.g. ("ip", "netns", "exec", "router", "nft")
    table: str = TABLE
    chain: str = CHAIN
    status_file: Path | None = None  # {"closed": bool, "since": unix time}, for status and health
    closed: bool | None = None  # as last set
    portal: str | None = None  # address:port the phones' port 80 to the outside goes to when closed
    conntrack: tuple[str, ...] = ("conntrack",)  # the command, as ``nft``
    _heard: tuple[int, float] | None = None  # the counter's packets, and when they last changed

    async def _nft(self, *args: str, script: str | None = None) -> str:
        return await self._run(self.nft, *args, script=script)

    @staticmethod
    async def _run(command: tuple[str, ...], *args: str, script: str | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            *command,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(script.encode() if script is not None else None)
        if proc.returncode != 0:
            raise GateError(f"`{command[-1]} {' '.join(args)}` failed: {err.decode().strip()}")
        return out.decode()

    async def look(self) -> Firewall:
        """The firewall as the gate sees it, in one nft call (GateError when unknown: no table, no counter)."""
        try:
            listing = json.loads(await self._nft("--json", "list", "table", *self.table.split()))["nftables"]
            packets = next(
                int(item["counter"]["packets"])
                for item in listing
                if item.get("counter", {}).get("name") == COUNTER
            )
        except (ValueError, KeyError, StopIteration) as problem:
            raise GateError(f"no counter {COUNTER} in {self.table}: {problem}") from problem
        refusing = any(item.get("rule", {}).get("chain") == self.chain for item in listing)
        return Firewall(packets, refusing)

    async def apply(self, closed: bool) -> None:
        """Fill or empty the chains; on closing, forget the marked connections (NAT applies to new ones)."""
        await self._nft("-f", "-", script=script(closed, self.table, self.chain, self.portal))
        if closed and self.portal is not None and self.conntrack:
            try:
                await self._run(self.conntrack, "--delete", "--mark", f"{MARK:#x}")
            except FileNotFoundError:
                # Said once, not at every close (the compose router's image has no conntrack; its cut is
                # in the same router, so no check's connection is past it).
                log.warning(
                    "%s is not installed: checks sent into the cut before the gate closed will "
                    "wait it out (install Debian's conntrack)",
                    self.conntrack[0],
                )
                self.conntrack = ()
            except (GateError, OSError) as problem:
                if "flow entries have been deleted" not in str(problem):  # exit status 1 when none were
                    log.error("%s: checks sent into the cut before the gate closed will wait it out", problem)

    def uplink_quiet(self, packets: int | None, now: float) -> bool:
        """Whether nothing has come in over the uplink (``packets``: None when unknown) for ``QUIET_SECONDS``."""
        if packets is None:
            return False
        if self._heard is None or packets > self._heard[0]:
            self._heard = (packets, now)
        elif packets < self._heard[0]:  # the firewall was loaded again and counts from zero: nothing came in
            self._heard = (packets, self._heard[1])
        return now - self._heard[1] >= QUIET_SECONDS

    async def follow(self, island_mode: bool, now: float) -> None:
        """Close while the resolver says island mode and the uplink is quiet; open otherwise.

        The firewall is read on every round, island mode or not (one nft call, about 10 ms of CPU): the
        quiet is timed from the cut itself, not from when the resolver noticed it, and a closed chain
        found empty (the firewall loaded again, `nft -f`, which empties it) is filled again at once.
        """
        try:
            seen: Firewall | None = await self.look()
        except GateError:
            seen = None
        quiet = self.uplink_quiet(seen.packets_in if seen else None, now)  # every round, island mode or not
        closed = island_mode and quiet
        if closed != self.closed:
            await self.set(closed)
        elif seen is not None and closed and not seen.refusing:
            log.warning(
                "the chain %s %s was found empty (the firewall loaded again?): filled again",
                self.table,
                self.chain,
            )
            await self.apply(closed)

    async def set(self, closed: bool) -> None:
        try:
            await self.apply(closed)
        except GateError as problem:
            raise GateError(
                f"could not {'close' if closed else 'open'} the chain {self.table} {self.chain}: {problem} "
                f"(is the firewall file loaded? `nft list chain {self.table} {self.chain}`)"
            ) from problem
        self.closed = closed
        if closed:
            log.warning("island mode: the phones' new connections to the outside are refused at once")
        else:
            log.warning("not island mode: the phones reach the internet through the uplink")
        if self.status_file is not None:
            self.status_file.write_text(json.dumps({"closed": closed, "since": time.time()}) + "\n")


async def keep_following(gate: Gate, resolver_metrics: str, interval: float = INTERVAL) -> None:
    """Open ``gate``, then have it follow the resolver's island mode (its /metrics URL) until cancelled,
    and open it again then: a fresh start never keeps a closed gate from before, a stopped one never
    leaves the phones without whatever internet there is."""
    await gate.set(False)
    watch = IslandModeWatch(resolver_metrics, interval)
    watch.start()
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                await gate.follow(watch.captive, loop.time())
            except GateError as problem:  # tried again on the next round
                log.error("%s", problem)
            await asyncio.sleep(interval)
    finally:
        await watch.stop()
        await gate.set(False)
