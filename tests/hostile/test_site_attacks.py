"""The crisis site under the HTTP attacks of issue 13, each from the project's own scripts: a real site
process on a loopback address of this test's own, attackers on other loopback addresses.

Each attack is bounded in count and time. While it runs, a resident fetches the crisis page every
100 ms and must get it within 1 s every time, and another resident keeps registering in the
safe-and-well registry; afterwards every registration that was acknowledged must be in the file.
The page's p50/p99 at rest and under each attack are printed (pytest -s) for docs/security.md.
"""

from __future__ import annotations

import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tiers import loopback_network_reason, require_tier

from bench.hostile.attacks_http import dripping_answers, guess_passwords, oversized_answers
from services.crisis_site.accounts import add_editor
from services.crisis_site.registry import Registry
from services.crisis_site.store import Store

pytestmark = [pytest.mark.e2e, pytest.mark.hostile]

ROOT = Path(__file__).resolve().parents[2]
NET = f"127.{int(os.environ.get('ISLAND_TEST_NET_BASE', '43'))}.250"
SITE = f"{NET}.1"
RESIDENT = f"{NET}.10"
REGISTERING = f"{NET}.11"
RELATIVE = f"{NET}.12"
EDITOR = f"{NET}.13"
PASSWORD = "trygghetspunkt-2025"
HEAD_TIMEOUT = 2.0  # short, so the dripping attack ends within the test's time


def attacker(n: int) -> str:
    return f"{NET}.{100 + n}"


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Site:
    base: str
    host: str
    port: int
    database: Path
    pid: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_tier("e2e", loopback_network_reason(NET.rsplit(".", 1)[0]))
    port = free_port(SITE)
    database = tmp_path_factory.mktemp("hostile-site") / "site.sqlite3"
    add_editor(Store(database), "anna", PASSWORD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = (database.parent / "site.log").open("w+")  # a file: a pipe nobody reads would stall the site
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.crisis_site", "--host", SITE, "--port", str(port),
         "--db", str(database), "--head-timeout", str(HEAD_TIMEOUT)],
        cwd=ROOT, env=env, stdout=log, stderr=log, text=True,
    )  # fmt: skip
    base = f"http://{SITE}:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (database.parent / "site.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the site did not start"
            time.sleep(0.1)
        yield Site(base, SITE, port, database, proc.pid)
    finally:
        alive = proc.poll() is None
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        err = (database.parent / "site.log").read_text()
        assert alive, f"the site died during the attacks: {err[-3000:]}"
        assert "Traceback" not in err, err


def client(source: str, timeout: float = 5.0) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=timeout)


@dataclass
class Residents:
    """A resident reading the crisis page and another registering, in the background."""

    site: Site
    page_times: list[float] = field(default_factory=list)
    page_failures: list[str] = field(default_factory=list)
    acknowledged: list[tuple[str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def read_page(self) -> None:
        with client(RESIDENT) as c:
            while not self.stop.is_set():
                start = time.monotonic()
                try:
                    r = c.get(f"{self.site.base}/")
                    took = time.monotonic() - start
                    if r.status_code != 200 or "</html>" not in r.text:
                        self.page_failures.append(f"HTTP {r.status_code}")
                    self.page_times.append(took)
                except httpx.HTTPError as exc:
                    self.page_failures.append(repr(exc))
                self.stop.wait(0.1)

    def register(self) -> None:
        with client(REGISTERING) as c:
            n = 0
            while not self.stop.is_set() and n < 40:
                n += 1
                person = (f"Hostile Testperson {len(self.acknowledged)}-{n}", f"070-555 {n:02} {n:02}")
                form = {"name": person[0], "identifier": person[1], "presets": "safe", "lang": "sv"}
                try:
                    r = c.post(f"{self.site.base}/anhoriga/registrera", data=form)
                except httpx.HTTPError:
                    continue
                if r.status_code == 200 and 'data-registry="registered"' in r.text:
                    self.acknowledged.append(person)
                self.stop.wait(0.3)


def under_attack(site: Site, attack: Callable[[], None], seconds: float) -> Residents:
    """Run the attack (bounded by itself) with the residents around it; the residents' record."""
    residents = Residents(site)
    threads = [threading.Thread(target=residents.read_page), threading.Thread(target=residents.register)]
    for t in threads:
        t.start()
    try:
        while not residents.page_times and not residents.page_failures:  # the residents are there first
            time.sleep(0.05)
        done = threading.Thread(target=attack, daemon=True)
        done.start()
        done.join(seconds)
        assert not done.is_alive(), f"the attack did not end within {seconds} s"
        time.sleep(0.5)  # and a little after it
    finally:
        residents.stop.set()
        for t in threads:
            t.join(10)
    return residents


def p(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1] if len(times) > 2 else max(times)


TABLE: dict[str, tuple[float, float, int]] = {}


def check(site: Site, name: str, residents: Residents) -> None:
    times = residents.page_times
    TABLE[name] = (p(times, 50), p(times, 99), len(times))
    print(
        f"\n{name:<34} crisis page p50 {p(times, 50) * 1000:6.1f} ms  p99 {p(times, 99) * 1000:6.1f} ms  ({len(times)} fetches)"
    )
    assert not residents.page_failures, residents.page_failures[:5]
    assert times and max(times) < 1.0, f"slowest crisis page {max(times):.2f} s under {name}"
    registry = Registry(site.database)
    try:
        lost = [name for name, ident in residents.acknowledged if not registry.lookup(name, ident)]
    finally:
        registry.close()
    assert residents.acknowledged and not lost, f"acknowledged registrations lost: {lost}"


@dataclass(frozen=True)
class Attackers:
    """Where the attacks of bench/hostile/attacks_http.py go, and the addresses they come from."""

    site_host: str
    site_port: int
    first: int = 0  # attacker(first) is the attack's address 0

    def attacker_address(self, index: int) -> str:
        return attacker(self.first + index)


def test_at_rest(site: Site) -> None:
    check(site, "at rest", under_attack(site, lambda: time.sleep(4), 10))


def test_password_guessing_from_eight_addresses(site: Site) -> None:
    statuses: list[int] = []
    target = Attackers(site.host, site.port)
    stop = threading.Event()
    started = time.monotonic()
    check(
        site,
        "8 password guessers",
        under_attack(site, lambda: statuses.extend(guess_passwords(target, stop, 12)), 60),
    )
    seconds = time.monotonic() - started
    assert len(statuses) == 96 and set(statuses) <= {401, 429, 503}, sorted(set(statuses))
    # The site's hashing budget (8 in any 4 s) bounds the passwords checked, whatever the guessers do;
    # the rest were refused before any hash.
    assert statuses.count(401) <= 8 + 2 * math.ceil(seconds), (statuses.count(401), seconds)
    assert statuses.count(429) + statuses.count(503) >= 96 - 8 - 2 * math.ceil(seconds)
    with client(attacker(0)) as c:  # one guesser goes on, as fast as the site lets it, until limited
        for _ in range(40):
            r = c.post(
                f"{site.base}/redaktion/logga-in",
                data={"csrf": login_token(c, site), "username": "anna", "password": "gissning"},
            )
            if r.status_code == 429:
                break
            time.sleep(int(r.headers.get("retry-after", "0")))
        assert r.status_code == 429, r.status_code
        form = c.get(f"{site.base}/redaktion/logga-in")  # no form to fill in for minutes, and it says so
        assert form.status_code == 429 and "minuter" in form.text
        right = c.post(  # the right password from a guesser's address is still limited
            f"{site.base}/redaktion/logga-in", data={"csrf": "x", "username": "anna", "password": PASSWORD}
        )
        assert right.status_code == 429 and "retry-after" in right.headers


def test_an_editor_logs_in_while_eight_guessers_go_on(site: Site) -> None:
    """Eight addresses of their own guess the editor Dora's password without pause; Cecilia, from her
    own address, logs in all the same, waiting out "upptagen" as the page asks. Her password may wait
    behind the guessers' hashes already admitted (the budget's 8, about 25 ms each on an idle core,
    seconds on a busy one): she waits as long as a browser would."""
    store = Store(site.database)
    add_editor(store, "dora", PASSWORD)
    add_editor(store, "cecilia", PASSWORD)
    statuses: list[int] = []
    stop = threading.Event()
    guessers = threading.Thread(
        target=lambda: statuses.extend(
            guess_passwords(Attackers(site.host, site.port, first=100), stop, account="dora")
        )
    )
    answers: list[int] = []
    took: list[float] = []

    def attack() -> None:
        guessers.start()
        try:
            time.sleep(1)  # the guessers are at it, and have had the hashing budget to themselves
            started = time.monotonic()
            with client(EDITOR, timeout=30) as c:
                while time.monotonic() - started < 30:
                    r = c.post(
                        f"{site.base}/redaktion/logga-in",
                        data={"csrf": login_token(c, site), "username": "cecilia", "password": PASSWORD},
                    )
                    answers.append(r.status_code)
                    if r.status_code != 503:
                        break
                    time.sleep(int(r.headers["retry-after"]))
            took.append(time.monotonic() - started)
            assert guessers.is_alive(), "the guessers stopped before the editor tried"
        finally:
            stop.set()
            guessers.join(30)

    check(site, "an editor among 8 guessers", under_attack(site, attack, 90))
    assert answers and answers[-1] == 303 and set(answers[:-1]) <= {503}, answers
    print(f"the editor was in after {took[0]:.1f} s ({len(answers) - 1} times upptagen)")
    assert took[0] < 30, took
    # The guessers kept at it and were refused; whether any of their few admitted guesses is answered (401)
    # before the guesser's own 5 s timeout depends on how busy the machine is, so that is not asserted.
    assert set(statuses) <= {401, 429, 503} and len(statuses) > 80, (len(statuses), sorted(set(statuses)))


def login_token(c: httpx.Client, site: Site) -> str:
    """The login form's CSRF token (its cookie is kept by the client), or "" when the form is refused."""
    form = c.get(f"{site.base}/redaktion/logga-in")
    return form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0] if form.status_code == 200 else ""


def test_oversized_heads(site: Site) -> None:
    answers: list[bytes] = []
    target = Attackers(site.host, site.port)
    attack = lambda: answers.extend(oversized_answers(target, threading.Event(), rounds=30))  # noqa: E731
    check(site, "oversized URL and headers", under_attack(site, attack, 60))
    expected = [b"HTTP/1.1 414", b"HTTP/1.1 431", b"HTTP/1.1 431", b"HTTP/1.1 431"] * 30
    assert [a[:12] for a in answers] == expected


def test_header_dripping_and_held_connections(site: Site) -> None:
    answers: list[bytes] = []
    target = Attackers(site.host, site.port)
    attack = lambda: answers.extend(dripping_answers(target, threading.Event(), HEAD_TIMEOUT))  # noqa: E731
    check(site, "600 dripping connections", under_attack(site, attack, 30))
    assert len(answers) == 600 and all(a.startswith((b"HTTP/1.1 408", b"HTTP/1.1 503")) for a in answers)
    # One address past its 32 connections is refused at once; the others wait out the head timeout.
    assert sum(a.startswith(b"HTTP/1.1 503") for a in answers) >= 300 - 32


def test_a_stranger_cannot_lock_a_relative_out_of_the_registry(site: Site) -> None:
    with client(REGISTERING) as c:
        r = c.post(
            f"{site.base}/anhoriga/registrera",
            data={"name": "Rut Relativ", "identifier": "070-444 33 22", "presets": "safe"},
        )
        assert 'data-registry="registered"' in r.text
    limited: list[int] = []

    def attack() -> None:
        with client(attacker(40)) as c:
            for i in range(30):  # guessing numbers, with invisible characters in the name
                name = ("\u200b" * (i % 3)) + "Rut Relativ"
                r = c.post(
                    f"{site.base}/anhoriga/sok", data={"name": name, "identifier": f"070-000 00 {i:02}"}
                )
                limited.append(r.status_code)

    check(site, "registry guessing", under_attack(site, attack, 30))
    assert limited[:10] == [200] * 10 and limited[10:] == [429] * 20, limited
    with client(RELATIVE) as c:
        r = c.post(f"{site.base}/anhoriga/sok", data={"name": "Rut Relativ", "identifier": "0704443322"})
        assert r.status_code == 200 and 'data-registry="found"' in r.text


def test_the_whole_site_hashes_at_most_its_budget_and_refuses_the_rest_at_once(site: Site) -> None:
    """Sixteen addresses log in at the same moment, each as another name, so neither per-address nor
    per-account limits apply: at most 8 passwords are hashed (the site's budget, 8 in any 4 s), the
    rest are answered 503 with Retry-After without waiting behind the hashes, and an editor gets in
    once the budget has refilled."""
    add_editor(Store(site.database), "bertil", PASSWORD)
    at_once = threading.Barrier(16)
    answers: list[tuple[int, float, str, str]] = []

    def log_in(n: int) -> None:
        with client(attacker(60 + n), timeout=30) as c:
            token = login_token(c, site)
            at_once.wait(10)
            start = time.monotonic()
            r = c.post(
                f"{site.base}/redaktion/logga-in",
                data={"csrf": token, "username": f"gast{n}", "password": "fel lösenord"},
            )
            answers.append(
                (r.status_code, time.monotonic() - start, r.headers.get("retry-after", ""), r.text)
            )

    def attack() -> None:
        threads = [threading.Thread(target=log_in, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

    check(site, "16 logins at once, 16 addresses", under_attack(site, attack, 40))
    hashed = [took for status, took, _, _ in answers if status == 401]
    busy = [(took, retry, text) for status, took, retry, text in answers if status == 503]
    assert len(answers) == 16 and len(hashed) + len(busy) == 16, sorted(a[0] for a in answers)
    assert len(hashed) <= 8 and len(busy) >= 8
    assert all(int(retry) >= 1 and "Inloggningen är upptagen" in text for _, retry, text in busy)
    slowest_refusal = max(took for took, _, _ in busy)
    assert slowest_refusal < 1.0 and (not hashed or slowest_refusal < max(hashed)), (busy, hashed)
    time.sleep(max(int(retry) for _, retry, _ in busy))
    with client(attacker(80)) as c:  # an editor, once the budget has refilled
        form = c.get(f"{site.base}/redaktion/logga-in")
        token = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        r = c.post(
            f"{site.base}/redaktion/logga-in",
            data={"csrf": token, "username": "bertil", "password": PASSWORD},
        )
        assert r.status_code == 303, r.status_code
