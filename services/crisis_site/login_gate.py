"""Who may have a password checked now: the login limits, asked in one place, in the order that keeps
a refused login cheap.

A password check is an argon2 hash (about 25 ms of one core, accounts.py). Three limits stand
before it (limits.LoginLimits): tries per address, failures per account, and the whole site's hashing
budget, which bounds the CPU spent on passwords whatever the number of addresses guessing.

`early` runs before the login form is read, from the site's fast path (cache.FastPath, in the
HTTP protocol itself): an address past its tries, or a POST while the budget is spent, is answered
from a page rendered once, with no form parsing, no template and no ASGI cycle. `admit` is the
full check once the form is read. Each POST counts once as a try of its address, in whichever of
the two answers it.
"""

from __future__ import annotations

import math

from services.crisis_site.forms import Limited, Refused
from services.crisis_site.limits import LoginLimits

SITE = "site"  # the hashing budget's one key: it is the whole site's
BUSY_SECONDS = 1  # Retry-After floor for a spent budget: it refills within seconds


def _busy(wait: float) -> Refused:
    return Refused(503, "busy", retry_after=max(BUSY_SECONDS, math.ceil(wait)))


def early(limits: LoginLimits, client: str, method: str) -> Refused | None:
    """Before the form is read. The form itself (GET) is refused to an address that may not try
    again for minutes; a POST while the budget is spent is refused as busy and counts as one of the
    address's tries, so a guesser cannot keep asking for the form and posting at no cost to itself."""
    if method == "POST":
        busy = limits.hashes.wait(SITE)
        if busy > 0:
            wait = limits.per_client.allow(client)
            return Limited(wait) if wait > 0 else _busy(busy)
    wait = limits.per_client.wait(client)
    if wait > 0:
        return Limited(wait)
    return None


def admit(limits: LoginLimits, client: str, username: str, cost: int = 1) -> Refused | None:
    """Once the form is read: None when the password may be hashed now (the try and the hash are
    counted), else why not. Every login that reaches here counts as one of the address's tries.
    `cost` (accounts.check_cost) is what the check takes of the budget: an account whose hash is
    still at older, dearer parameters takes as many of today's checks as it costs."""
    wait = limits.per_client.allow(client)
    if wait > 0:
        return Limited(wait)
    busy = limits.hashes.wait(SITE)
    if busy > 0:
        return _busy(busy)
    wait = limits.failures_per_account.wait(username)
    if wait > 0:
        return Limited(wait)
    limits.hashes.allow(SITE)  # had room just above, on this same thread
    for _ in range(cost - 1):
        limits.hashes.record(SITE)
    return None
