"""What a cut means to residents' phones, from the journal (issue 15's goals; docs/phones.md).

From the start of the uplink cut: when the island noticed it (a probe of the captive-portal API,
RFC 8908, says ``"captive":true``) and when each phone probe first said "portal" (goal <= 5 s);
from the restore: when each said "online" again (goal <= 10 s); the DHCP joins' times; and
whether any phone saw "no internet" while the island was in island mode (it never may).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.crisis_site.routes.captive import PATH as CAPTIVE_API_PATH

from ..probes import SIMULATED_JOIN
from .journal import Journal, Operation
from .model import Scenario

PORTAL_GOAL_S = 5.0
ONLINE_GOAL_S = 10.0


@dataclass(frozen=True)
class PhoneTiming:
    probe: str
    os: str
    joins: bool  # a phone that joins the Wi-Fi for each check
    portal_s: float | None  # cut -> the end of its first "portal"; None: never
    online_s: float | None  # restore -> the end of its first "online"; None: never (or no restore)


@dataclass(frozen=True)
class PhoneTimings:
    cut_at: float
    restored_at: float | None
    island_mode_s: float | None  # None: no captive-API probe, or it never said captive
    phones: tuple[PhoneTiming, ...]
    join_ms: tuple[float, ...]  # every real DHCP join's time
    simulated_joins: int  # joins on a backend without DHCP
    # Checks that said "no internet" (or got no answer) during the cut: before island mode, and in it.
    no_internet_before: int
    no_internet_in_island_mode: tuple[str, ...]

    @property
    def portal_goal_met(self) -> bool:
        return all(p.portal_s is not None and p.portal_s <= PORTAL_GOAL_S for p in self.phones)

    @property
    def online_goal_met(self) -> bool:
        return all(p.online_s is not None and p.online_s <= ONLINE_GOAL_S for p in self.phones)


def _end(op: Operation) -> float:
    return op.t + op.latency_ms / 1000


def _verdict(op: Operation) -> str:
    return op.detail.split(" ", 1)[0] if op.status == "ok" else "no-internet"


def _first_end(ops: list[Operation], since: float, until: float | None, verdict: str) -> float | None:
    ends = [
        _end(o) for o in ops if o.t >= since and (until is None or o.t < until) and _verdict(o) == verdict
    ]
    return round(min(ends) - since, 3) if ends else None


def phone_timings(journal: Journal, scenario: Scenario) -> PhoneTimings | None:
    """None when the scenario has no phone probe or no uplink cut."""
    phones = [p for p in scenario.probes if p.phone is not None]
    cuts = [e.t for e in journal.events if e.kind == "fault-on" and e.detail.startswith("uplink cut")]
    if not phones or not cuts:
        return None
    cut = cuts[0]
    restored = next(
        (
            e.t
            for e in journal.events
            if e.kind == "fault-off" and e.detail.startswith("uplink cut") and e.t > cut
        ),
        None,
    )
    by_probe = {p.name: [o for o in journal.operations if o.probe == p.name] for p in phones}
    island_mode = None
    captive = [
        p.name for p in scenario.probes if p.http is not None and p.http.url.endswith(CAPTIVE_API_PATH)
    ]
    if captive:
        on = [
            o
            for o in journal.operations
            if o.probe in captive and o.status == "ok" and o.t >= cut and (restored is None or o.t < restored)
        ]
        island_mode = round(min(map(_end, on)) - cut, 3) if on else None
    timings = []
    for probe in phones:
        assert probe.phone is not None
        ops = by_probe[probe.name]
        timings.append(
            PhoneTiming(
                probe=probe.name,
                os=probe.phone.os,
                joins=probe.phone.join,
                portal_s=_first_end(ops, cut, restored, "portal"),
                online_s=_first_end(ops, restored, None, "online") if restored is not None else None,
            )
        )
    ops = [o for probe_ops in by_probe.values() for o in probe_ops]
    joined = [o for o in ops if o.lease is not None]
    simulated = [o for o in ops if o.lease is None and SIMULATED_JOIN in o.detail]
    # "No internet" during the cut: an answer that said so, or none in time (the phone gives up too).
    during = [o for o in ops if o.t >= cut and (restored is None or _end(o) <= restored)]
    noticed = cut + island_mode if island_mode is not None else None
    blind = [o for o in during if _verdict(o) == "no-internet"]
    in_island_mode = [o for o in blind if noticed is not None and o.t >= noticed]
    return PhoneTimings(
        cut_at=cut,
        restored_at=restored,
        island_mode_s=island_mode,
        phones=tuple(timings),
        join_ms=tuple(float(o.lease["join_ms"]) for o in joined if o.lease is not None),
        simulated_joins=len(simulated),
        no_internet_before=len(blind) - len(in_island_mode),
        no_internet_in_island_mode=tuple(
            f"{o.t:.2f} s {o.probe}: {o.detail}" for o in sorted(in_island_mode, key=lambda o: o.t)
        ),
    )
