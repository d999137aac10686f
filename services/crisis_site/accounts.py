"""Editor accounts: argon2id password hashes, and `island site add-editor`."""

from __future__ import annotations

import math
import re

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from services.crisis_site.store import Store

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 12
# zxcvbn's score: 3 is "safely unguessable" (about 10^8 guesses or more) against its lists of
# common passwords, words, names and patterns (repeats, sequences, dates, keyboard walks).
MIN_STRENGTH = 3
# Words a guesser at this site tries first.
SITE_WORDS = ("krisinfo", "krisinformation", "redaktion", "odrift", "ödrift", "kommun", "island")

# argon2id at OWASP's minimum (Password Storage Cheat Sheet: 19 MiB, 2 passes, 1 lane), not the
# library's default (64 MiB, 3 passes, 4 lanes, about 200 ms of CPU per check here, in four threads):
# every check a guesser is allowed runs on the island's one core beside the crisis page and the
# resolver, and at this size it costs about 25 ms of CPU in one thread and far less of the caches.
# A hash made with other parameters still verifies, and is made again at its next login (verify).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


class AccountError(ValueError):
    pass


def check_new_account(username: str, password: str) -> None:
    if not USERNAME.match(username):
        raise AccountError(
            f"username {username!r}: use 2-40 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters long")
    strength = zxcvbn(password[:100], user_inputs=[username, *SITE_WORDS])
    if strength["score"] < MIN_STRENGTH:
        hint = strength["feedback"]["warning"] or "it is made of common words or patterns"
        raise AccountError(f"the password is too easy to guess ({hint}); use a few unrelated words")


def add_editor(store: Store, username: str, password: str) -> None:
    """Create the editor, or give an existing one a new password (which ends their sessions)."""
    check_new_account(username, password)
    store.add_editor(username, _hasher.hash(password))


def check_cost(store: Store, username: str) -> int:
    """What checking this account's password costs, in checks at today's parameters (memory times
    passes): 6 for a hash made at the library's default (64 MiB, 3 passes), until its next login."""
    stored = store.password_hash(username)
    try:
        made = extract_parameters(stored) if stored else None
    except InvalidHashError:
        made = None
    if made is None:
        return 1  # the dummy hash, at today's parameters
    work = made.memory_cost * made.time_cost
    return max(1, math.ceil(work / (_hasher.memory_cost * _hasher.time_cost)))


def verify(store: Store, username: str, password: str) -> bool:
    stored = store.password_hash(username)
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    if stored is None:
        return False
    if _hasher.check_needs_rehash(stored):
        store.set_password_hash(username, _hasher.hash(password))
    return True
