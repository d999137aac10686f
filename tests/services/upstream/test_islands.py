"""The certificate service's islands: a credential each, made once, and only their own names."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.upstream.islands import Island, IslandCredentials, Refused, issue_credential

NAME = "krisinfo.kommun.example"


def test_a_credential_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "tls" / "certificate-service.token"
    token = issue_credential(path)
    assert len(token) >= 40 and path.stat().st_mode & 0o777 == 0o600
    assert issue_credential(path) == token, "a restarted service keeps the credential it gave"
    assert issue_credential(tmp_path / "other.token") != token


def _service(tmp_path: Path) -> tuple[IslandCredentials, str]:
    credentials = IslandCredentials()
    token = issue_credential(tmp_path / "a.token")
    credentials.add(token, Island("the island at 10.0.3.2", (NAME,)))
    credentials.add(issue_credential(tmp_path / "b.token"), Island("the island at 10.1.3.2", (NAME,)))
    return credentials, token


@pytest.mark.parametrize(
    ("header", "status", "message"),
    [
        (None, 401, "no island credential; send the island's token"),
        ("Basic dXNlcjpwdw==", 401, "no island credential"),
        ("Bearer ", 401, "no island credential"),
        ("Bearer made-up", 403, "the credential is not one this service gave to an island"),
    ],
)
def test_a_caller_without_an_islands_credential_is_refused(
    tmp_path: Path, header: str | None, status: int, message: str
) -> None:
    credentials, _ = _service(tmp_path)
    with pytest.raises(Refused, match=message) as refused:
        credentials.authenticate(header)
    assert refused.value.status == status


def test_an_island_gets_its_own_name_and_no_other(tmp_path: Path) -> None:
    credentials, token = _service(tmp_path)
    island = credentials.authenticate(f"Bearer {token}")
    assert island.label == "the island at 10.0.3.2"
    credentials.allow(island, [NAME, NAME.upper() + "."])
    with pytest.raises(Refused) as refused:
        credentials.allow(island, [NAME, "www.kommun.example"])
    assert refused.value.status == 403
    assert str(refused.value) == (
        f"the island at 10.0.3.2 may have a certificate for {NAME} only, not www.kommun.example"
    )


def test_a_credential_others_could_read_is_made_owner_only_again(tmp_path: Path) -> None:
    path = tmp_path / "tls" / "certificate-service.token"
    token = issue_credential(path)
    path.chmod(0o644)
    stale = path.with_name(path.name + ".tmp")
    assert issue_credential(path) == token and path.stat().st_mode & 0o777 == 0o600
    stale.write_text("old\n")
    stale.chmod(0o644)
    path.unlink()
    fresh = issue_credential(path)
    assert fresh != token and path.stat().st_mode & 0o777 == 0o600
