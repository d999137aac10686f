"""Exporting and importing registry records with the command line, on real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.crisis_site.registry import Registry

ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.crisis_site.registry_cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_export_then_import_twice(tmp_path: Path) -> None:
    source = Registry(tmp_path / "a.sqlite3")
    source.register("Åsa Öberg", "070-123 45 67", ["safe"])
    source.close()
    out = cli("export", "--db", str(tmp_path / "a.sqlite3"))
    assert out.returncode == 0 and "exported 1 records" in out.stderr and len(out.stdout.splitlines()) == 1
    first = cli("import", "--db", str(tmp_path / "b.sqlite3"), stdin=out.stdout)
    again = cli("import", "--db", str(tmp_path / "b.sqlite3"), stdin=out.stdout)
    assert "imported 1 new messages" in first.stderr and "imported 0 new messages" in again.stderr
    target = Registry(tmp_path / "b.sqlite3")
    assert [f.name for f in target.lookup("asa oberg", "0701234567")] == ["Åsa Öberg"]
    target.close()
    bad = cli("import", "--db", str(tmp_path / "b.sqlite3"), stdin="{oops\n")
    assert bad.returncode == 2 and "import refused, nothing stored: line 1" in bad.stderr


def test_site_refuses_a_nonsense_expiry() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "services.crisis_site", "--registry-days", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    assert proc.returncode == 2 and "--registry-days must be more than 0 days" in proc.stderr


def cli_bytes(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "services.crisis_site.registry_cli", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_pfif_export_then_import_twice_found_by_content(tmp_path: Path) -> None:
    source = Registry(tmp_path / "a.sqlite3")
    source.register("Åsa Öberg", "070-123 45 67", ["safe"], "Hej")
    source.close()
    no_domain = cli_bytes("export", "--db", str(tmp_path / "a.sqlite3"), "--format", "pfif")
    assert no_domain.returncode == 2 and b"needs --domain" in no_domain.stderr and no_domain.stdout == b""
    out = cli_bytes(
        "export", "--db", str(tmp_path / "a.sqlite3"), "--format", "pfif", "--domain", "odsbyn.odrift.se"
    )
    assert out.returncode == 0 and b"exported 1 records as PFIF 1.4" in out.stderr
    assert out.stdout.startswith(b"<?xml") and b"0701234567" not in out.stdout
    first = cli_bytes("import", "--db", str(tmp_path / "b.sqlite3"), stdin=out.stdout)
    again = cli_bytes("import", "--db", str(tmp_path / "b.sqlite3"), stdin=out.stdout)
    assert b"imported 1 new messages" in first.stderr and b"imported 0 new messages" in again.stderr
    target = Registry(tmp_path / "b.sqlite3")
    assert [f.name for f in target.lookup("asa oberg", "+46 70 123 45 67")] == ["Åsa Öberg"]
    target.close()
    for_pf = cli_bytes(
        "export",
        "--db",
        str(tmp_path / "b.sqlite3"),
        "--format",
        "pfif",
        "--domain",
        "annat.odrift.se",
        "--for-person-finder",
    )
    assert (
        for_pf.returncode == 0
        and b"odsbyn.odrift.se/person." in for_pf.stdout
        and b"lookup_key" not in for_pf.stdout
    )
    bad = cli_bytes(
        "import",
        "--db",
        str(tmp_path / "b.sqlite3"),
        stdin=out.stdout.replace(b"<pfif:full_name>", b"<pfif:full_nam>"),
    )
    assert bad.returncode == 2 and b"import refused, nothing stored: " in bad.stderr and b"line" in bad.stderr


def test_pfif_import_reports_skipped_records_by_id(tmp_path: Path) -> None:
    doc = (
        b'<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person>'
        b"<pfif:person_record_id>google.org/person.9</pfif:person_record_id>"
        b"<pfif:source_date>2027-01-15T08:00:00Z</pfif:source_date><pfif:full_name>Hemlig Person</pfif:full_name>"
        b"</pfif:person></pfif:pfif>"
    )
    out = cli_bytes("import", "--db", str(tmp_path / "c.sqlite3"), "--format", "pfif", stdin=doc)
    assert out.returncode == 0 and b"imported 0 new messages" in out.stderr
    assert b"skipped 1 records" in out.stderr and b"google.org/person.9: no note says" in out.stderr
    assert b"Hemlig" not in out.stderr  # the report names ids, never people
