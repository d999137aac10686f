"""The island gate: while the island is in island mode, the phones' new connections to the outside are refused.

During a cut a phone's HTTPS check, an app or a browser tab opened before the cut sends its
packets into the black hole and waits out its own timeout (often 30 s or more), while the phone
says nothing useful. The island knows better: its resolver says when every upstream is down. The
gate follows that word and fills one nftables chain, which the firewall jumps to for the phones'
new connections towards the uplink, with refusals: a TCP reset for TCP (connect() fails at once,
"connection refused"), an ICMP "administratively prohibited" for the rest (QUIC, outside DNS).
When the uplink is back the chain is emptied and the phones reach the internet again. The gate
never decides by itself: unknown (no answer from the resolver yet) is "not island mode", so it
never closes a working internet.

The chain is the firewall's own (``etc/nftables.d/odrift.nft`` on a box, the router's rules in the
netns backend): the gate only flushes and fills it, in one nft transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("gate")

TABLE = "inet odrift"
CHAIN = "island_mode"
# What the chain holds in island mode (one line each, as `nft add rule` takes them).
REFUSALS = ("meta l4proto tcp reject with tcp reset", "reject with icmpx admin-prohibited")


class GateError(RuntimeError):
    pass


def script(closed: bool, table: str = TABLE, chain: str = CHAIN) -> str:
    """One nft transaction: the chain empty (open) or holding the refusals (closed)."""
    lines = [f"flush chain {table} {chain}"]
    if closed:
        lines += [f"add rule {table} {chain} {rule}" for rule in REFUSALS]
    return "\n".join(lines) + "\n"


@dataclass
class Gate:
    nft: tuple[str, ...] = ("nft",)  # the command, e.g. ("ip", "netns", "exec", "router", "nft")
    table: str = TABLE
    chain: str = CHAIN
    status_file: Path | None = None  # {"closed": bool, "since": unix time}, for status and health

    async def set(self, closed: bool) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.nft,
            "-f",
            "-",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate(script(closed, self.table, self.chain).encode())
        if proc.returncode != 0:
            raise GateError(
                f"nft refused to {'close' if closed else 'open'} the chain {self.table} {self.chain}: "
                f"{err.decode().strip()} (is the firewall file loaded? `nft list chain {self.table} {self.chain}`)"
            )
        if closed:
            log.warning("island mode: the phones' new connections to the outside are refused at once")
        else:
            log.warning("not island mode: the phones reach the internet through the uplink")
        if self.status_file is not None:
            self.status_file.write_text(json.dumps({"closed": closed, "since": time.time()}) + "\n")
