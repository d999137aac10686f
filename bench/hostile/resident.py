"""A resident's view while an attack runs: the crisis name's and the crisis page's latency.

Shared by the hostile test tier (tests/hostile) and `make bench-hostile`. An attack is a
plain function run in a child process of its own (so the resident's measurements never
wait on the attacker's interpreter); it gets the Target and a stop event, must stop by
itself within its own count and time bounds, and returns how many packets or connections
it sent. Traffic goes only to the island's loopback addresses named in the Target.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from typing import Any

import dns.message
import dns.query
import dns.rcode
import httpx

# The resident's probes: one lookup of the crisis name every NAME_INTERVAL, one page fetch every
# PAGE_INTERVAL; each must succeed within LIMIT seconds.
NAME_INTERVAL = 0.02
PAGE_INTERVAL = 0.05
LIMIT = 1.0


@dataclass(frozen=True)
class Target:
    """Where the island is, who the resident is and where attacks come from (all loopback)."""

    crisis_name: str
    resolver_host: str
    resolver_port: int
    site_host: str
    site_port: int
    resident: str  # the resident's address (a phone at the trygghetspunkt)
    attacker: str  # the attacker's address, on the same Wi-Fi as the resident

    def attacker_address(self, index: int) -> str:
        """Further attacker addresses on the same network, for attacks from a few addresses."""
        net, last = self.attacker.rsplit(".", 1)
        return f"{net}.{int(last) + index}"


# attack(target, stop) -> packets or connections sent; bounded in count and time by itself.
Attack = Callable[[Target, Event], int]


@dataclass
class Probes:
    """What the resident saw: seconds per successful operation, and each failure described."""

    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def p99(self) -> float:
        return percentile(self.seconds, 0.99)

    def worst(self) -> float:
        return max(self.seconds, default=math.nan)


@dataclass
class Measurement:
    name: Probes  # the crisis name over UDP
    page: Probes  # the crisis page by HTTP
    name_tcp: Probes  # the crisis name over TCP (when asked for)
    attack_sent: int
    # CPU seconds the attacker's own process used: on this machine it shares the island's cores,
    # which a phone on the Wi-Fi does not, so the bench shows it beside the services' CPU.
    attack_cpu: float = 0.0

    def failures(self) -> list[str]:
        return self.name.failures + self.page.failures + self.name_tcp.failures


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def _ask_name(target: Target, tcp: bool) -> str | None:
    """None when the crisis name came back right, else what went wrong."""
    query = dns.message.make_query(target.crisis_name, "A")
    ask = dns.query.tcp if tcp else dns.query.udp
    answer = ask(
        query, target.resolver_host, port=target.resolver_port, timeout=LIMIT, source=target.resident
    )
    if answer.rcode() != dns.rcode.NOERROR:
        return f"rcode {dns.rcode.to_text(answer.rcode())}"
    found = [rr.address for rrset in answer.answer for rr in rrset if rrset.rdtype == 1]
    return None if found == [target.site_host] else f"addresses {found}"


def _fetch_page(client: httpx.Client, target: Target) -> str | None:
    page = client.get(f"http://{target.site_host}:{target.site_port}/")
    if page.status_code != 200:
        return f"HTTP {page.status_code}"
    return None if "Krisinformation" in page.text else "no Krisinformation on the page"


def _probe_loop(probes: Probes, interval: float, until: float, operation: Callable[[], str | None]) -> None:
    started = time.monotonic()
    while (now := time.monotonic()) < until:
        try:
            problem = operation()
        except Exception as exc:  # a timeout, a reset: what the resident saw
            problem = f"{type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - now
        if problem is None and elapsed > LIMIT:
            problem = f"took {elapsed:.2f} s"
        if problem is None:
            probes.seconds.append(elapsed)
        else:
            probes.failures.append(f"at +{now - started:.1f} s: {problem}")
        time.sleep(max(0.0, interval - elapsed))


def _run_attack(
    attack: Attack, target: Target, stop: Event, sent: Any, cpu: Any, cores: frozenset[int] | None
) -> None:
    if cores:
        os.sched_setaffinity(0, cores)  # before any thread of the attack starts: they inherit it
    sent.value = attack(target, stop)
    cpu.value = time.process_time()  # this child's threads together


@contextlib.contextmanager
def attack_running(
    target: Target, attack: Attack, cores: frozenset[int] | None = None
) -> Iterator[Callable[[], tuple[int, float]]]:
    """``attack`` in a child process of its own for the duration of the block; stopped at its end.
    With ``cores``, the attacker runs on those CPU cores only (a phone's CPU is not the island's).

    Yields a function that tells, once the block has ended, how many packets or connections it sent
    and the CPU seconds it used.
    """
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    sent = context.Value("q", 0)
    cpu = context.Value("d", 0.0)
    child = context.Process(target=_run_attack, args=(attack, target, stop, sent, cpu, cores), daemon=True)
    child.start()
    try:
        yield lambda: (int(sent.value), float(cpu.value))
    finally:
        stop.set()
        child.join(10)
        if child.is_alive():
            child.kill()
            child.join()


def measure_resident(
    target: Target,
    attack: Attack | None,
    seconds: float,
    *,
    tcp: bool = False,
    warmup: float = 0.5,
    attacker_cores: frozenset[int] | None = None,
) -> Measurement:
    """The resident's probes for ``seconds`` while ``attack`` runs (started ``warmup`` earlier).

    With ``tcp`` the resident also asks over TCP (for attacks on TCP slots); with
    ``attacker_cores`` the attack runs on those cores only.
    """
    if attack is None:
        return _probe_resident(target, seconds, tcp)
    with attack_running(target, attack, attacker_cores) as sent:
        time.sleep(warmup)
        measurement = _probe_resident(target, seconds, tcp)
    measurement.attack_sent, measurement.attack_cpu = sent()
    return measurement


def _probe_resident(target: Target, seconds: float, tcp: bool) -> Measurement:
    measurement = Measurement(Probes(), Probes(), Probes(), 0)
    until = time.monotonic() + seconds
    transport = httpx.HTTPTransport(local_address=target.resident)
    # A new connection each time, as phones come and go.
    headers = {"Host": target.crisis_name, "Connection": "close"}
    with httpx.Client(transport=transport, headers=headers, timeout=LIMIT) as client:
        loops = [
            threading.Thread(
                target=_probe_loop,
                args=(measurement.name, NAME_INTERVAL, until, lambda: _ask_name(target, False)),
            ),
            threading.Thread(
                target=_probe_loop,
                args=(measurement.page, PAGE_INTERVAL, until, lambda: _fetch_page(client, target)),
            ),
        ]
        if tcp:
            loops.append(
                threading.Thread(
                    target=_probe_loop,
                    args=(measurement.name_tcp, NAME_INTERVAL * 5, until, lambda: _ask_name(target, True)),
                )
            )
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join()
    return measurement
