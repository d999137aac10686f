"""A certificate is checked before it is served: the name, the dates, the key and the chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.tls.certificate import CertificateProblem, check, read_chain, write_pair
from services.tls.small_ca import SmallCA

NAME = "krisinfo.kommun.example"


@pytest.fixture()
def ca(tmp_path: Path) -> tuple[SmallCA, Path]:
    authority = SmallCA.make()
    return authority, authority.write_root(tmp_path / "roots.pem")


def test_a_good_certificate_passes_and_says_its_facts(tmp_path: Path, ca: tuple[SmallCA, Path]) -> None:
    authority, roots = ca
    cert, key = authority.issue(tmp_path, [NAME, "kommun.example"])
    facts = check(cert, key, NAME, roots)
    assert facts.names == (NAME, "kommun.example")
    assert facts.issuer == "Test Root CA"
    assert 88 <= facts.days_left() <= 90


def test_a_wildcard_covers_the_crisis_name(tmp_path: Path, ca: tuple[SmallCA, Path]) -> None:
    authority, roots = ca
    cert, key = authority.issue(tmp_path, ["*.kommun.example"])
    assert check(cert, key, NAME, roots).names == ("*.kommun.example",)


def test_another_name_is_refused_naming_the_file_and_the_names(
    tmp_path: Path, ca: tuple[SmallCA, Path]
) -> None:
    authority, roots = ca
    cert, key = authority.issue(tmp_path, ["www.kommun.example"])
    with pytest.raises(CertificateProblem) as refused:
        check(cert, key, NAME, roots)
    assert str(refused.value) == f"{cert}: does not cover {NAME} (it covers www.kommun.example)"


def test_an_expired_certificate_is_refused(tmp_path: Path, ca: tuple[SmallCA, Path]) -> None:
    authority, roots = ca
    now = datetime.now(UTC)
    cert, key = authority.issue(
        tmp_path, [NAME], not_before=now - timedelta(days=100), not_after=now - timedelta(days=10)
    )
    with pytest.raises(CertificateProblem, match=rf"^{cert}: expired on "):
        check(cert, key, NAME, roots)


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path, ca: tuple[SmallCA, Path]) -> None:
    authority, roots = ca
    cert, _ = authority.issue(tmp_path / "a", [NAME])
    _, other_key = authority.issue(tmp_path / "b", [NAME])
    with pytest.raises(CertificateProblem) as refused:
        check(cert, other_key, NAME, roots)
    assert str(refused.value) == f"{other_key}: is not the key of {cert} (they do not match)"


def test_a_chain_to_another_root_is_refused(tmp_path: Path, ca: tuple[SmallCA, Path]) -> None:
    _, roots = ca
    stranger = SmallCA.make("Somebody Else's CA")
    cert, key = stranger.issue(tmp_path, [NAME])
    with pytest.raises(CertificateProblem, match=rf"^{cert}: does not chain to a trusted root in {roots}"):
        check(cert, key, NAME, roots)


def test_not_a_certificate_is_said_so(tmp_path: Path, ca: tuple[SmallCA, Path]) -> None:
    _, roots = ca
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    with pytest.raises(CertificateProblem, match=rf"^{junk}: not a PEM certificate$"):
        check(junk, junk, NAME, roots)


def test_key_and_chain_are_kept_as_one_file_that_passes_the_same_checks(
    tmp_path: Path, ca: tuple[SmallCA, Path]
) -> None:
    authority, roots = ca
    cert, key = authority.issue(tmp_path, [NAME])
    pair = write_pair(tmp_path / "tls", cert.read_bytes(), key.read_bytes())
    assert pair.stat().st_mode & 0o777 == 0o600
    assert check(pair, pair, NAME, roots).names == (NAME,)
    assert len(read_chain(pair)) == 1
