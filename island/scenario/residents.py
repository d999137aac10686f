"""The residents a run registers in the safe-and-well registry, so a lookup from any place finds someone real.

Registry probes carry state from one operation to the next: a lookup must target a resident that
a register operation had acknowledged earlier in the run, perhaps at another trygghetspunkt. The
engine keeps that state here and hands each backend a complete operation (the contract's
:class:`~island.contract.Operation`, its resident filled in), so backends stay stateless and a probe agent in another namespace or
container needs nothing but the operation itself.
"""

from __future__ import annotations

import secrets
import string

from ..contract import Operation, Outcome, Person
from .model import Probe

_FIRST_NAMES = (
    "Astrid",
    "Erik",
    "Ingrid",
    "Lars",
    "Maja",
    "Nils",
    "Sara",
    "Olof",
    "Elin",
    "Hassan",
    "Amina",
    "Juha",
)
_LETTERS = string.ascii_lowercase


def _letters(number: int) -> str:
    """0 -> 'a', 25 -> 'z', 26 -> 'ba': names are written with letters only, as the registry asks."""
    out = ""
    while True:
        number, digit = divmod(number, len(_LETTERS))
        out = _LETTERS[digit] + out
        if number == 0:
            return out


class Residents:
    """Makes up a new resident per register operation and remembers those the registry acknowledged.

    Each lookup probe walks the residents its ``of`` probe registered, in order, and starts over
    once it has looked up every one: each name is looked up about once per lookup probe, far under
    the registry's per-name limit.
    """

    def __init__(self, run_tag: str | None = None) -> None:
        # A tag per run: residents of two runs on the same island never share a name.
        self.run_tag = run_tag or "".join(secrets.choice(_LETTERS) for _ in range(6))
        self._phone_base = secrets.randbelow(10**7)
        self._made = 0
        self.registered: dict[str, list[Person]] = {}  # register probe -> acknowledged residents
        self._next: dict[str, int] = {}  # lookup probe -> index of the next resident it looks up
        self._plain: dict[str, Operation] = {}  # probe -> its operation, for probes without a resident

    def _new_person(self) -> Person:
        n = self._made
        self._made += 1
        digits = (self._phone_base + n) % 10**7
        return Person(
            name=f"{_FIRST_NAMES[n % len(_FIRST_NAMES)]} {self.run_tag.capitalize()} {_letters(n).capitalize()}",
            identifier=f"070-{digits:07d}",
            wrong_identifier=f"070-{(digits + 5_000_000) % 10**7:07d}",
            message=f"Provmeddelande {self.run_tag}-{n}: vi är OK.",
        )

    def operation(self, probe: Probe) -> Operation | None:
        """The operation to run now for `probe`; None when a lookup has nobody registered yet to look up."""
        check = probe.registry
        if check is None:
            if probe.name not in self._plain:  # the same every time: converted once
                self._plain[probe.name] = probe.operation()
            return self._plain[probe.name]
        if check.action == "register":
            person = self._new_person()
        else:
            people = self.registered.get(check.of or "", [])
            if not people:
                return None
            index = self._next.get(probe.name, 0)
            if index >= len(people):
                index = 0
            self._next[probe.name] = index + 1
            person = people[index]
        return probe.operation(person)

    def settle(self, operation: Operation, outcome: Outcome) -> None:
        """An acknowledged registration can be looked up from now on; a failed or unknown one cannot."""
        check = operation.registry
        if check is not None and check.action == "register" and outcome.status == "ok":
            self.registered.setdefault(operation.name, []).append(check.person)
