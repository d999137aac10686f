"""How often anyone may try things on the site: the registry's lookups and writes, and editor logins.

Every limit here is a sliding window kept in memory (ratelimit.py). The reasoning for the
registry's limits is in docs/registry.md, and every default is listed in docs/security.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.crisis_site.ratelimit import RateLimiter


@dataclass
class RegistryLimits:
    """Per client address, generous: a family shares a phone and staff help many at one desk.

    Per looked-up name, two budgets of misses (lookups that found nobody), keyed on the name as the
    lookup normalises it, so spelling, case, accents or invisible characters make no new name:
    - per name and searcher address, tight: nobody needs many phone numbers or addresses for one
      name, and one searcher's misses never lock out another searcher;
    - per name from everyone, a backstop that bounds guessing spread over many addresses; it is
      set well above what one address may do, so locking a name for everyone takes many addresses.
    A lookup that finds someone does not spend the name's budgets.
    """

    lookup_client: RateLimiter = field(default_factory=lambda: RateLimiter(300, 600.0))
    lookup_name_client: RateLimiter = field(default_factory=lambda: RateLimiter(10, 600.0))
    lookup_name: RateLimiter = field(default_factory=lambda: RateLimiter(300, 3600.0))
    write_client: RateLimiter = field(default_factory=lambda: RateLimiter(300, 600.0))


@dataclass
class LoginLimits:
    """Editor logins: tries per address, failures per account (whatever address they came from), and
    the whole site's password hashes.

    All are checked before the password is hashed (login_gate.py), so a guesser past a limit costs
    no CPU. The hashing budget bounds what passwords cost whatever the number of addresses: 8 hashes
    in any 4 s, so 2 a second sustained, about 5 % of one core (at nice 10) with argon2 at OWASP's
    minimum (about 25 ms of CPU each, accounts.py; a hash still at older, dearer parameters takes
    as many as it costs, accounts.check_cost). A shift of eight editors logging in at once all
    get in; a ninth waits about a second (503 with Retry-After). Editors log in a few times a day;
    only a guesser needs more.
    """

    per_client: RateLimiter = field(default_factory=lambda: RateLimiter(10, 600.0))
    failures_per_account: RateLimiter = field(default_factory=lambda: RateLimiter(20, 900.0))
    hashes: RateLimiter = field(default_factory=lambda: RateLimiter(8, 4.0))
