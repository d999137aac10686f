"""Exporting and importing registry records with the command line, on real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.crisis_site.registry import Registry

ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.crisis_site.registry_cli", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


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
    proc = subprocess.run([sys.executable, "-m", "services.crisis_site", "--registry-days", "0"], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=30)
    assert proc.returncode == 2 and "--registry-days must be more than 0 days" in proc.stderr
