"""docker/ci-engine.sh takes debootstrap's Debian mirror from the machine's own apt sources."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docker" / "ci-engine.sh"


def _mirror(apt_root: Path) -> str:
    # Only the function, not the script: nothing is installed or started by this test.
    function = subprocess.run(
        ["sed", "-n", "/^apt_mirror()/,/^}/p", str(SCRIPT)], capture_output=True, text=True, check=True
    ).stdout
    done = subprocess.run(
        ["bash", "-c", f"{function}\napt_mirror"],
        capture_output=True,
        text=True,
        env={"APT_ROOT": str(apt_root), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return done.stdout.strip()


def test_a_deb822_sources_file_names_the_mirror(tmp_path: Path) -> None:
    folder = tmp_path / "etc/apt/sources.list.d"
    folder.mkdir(parents=True)
    (folder / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example.se/debian/\nSuites: bookworm\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example.se/debian-security\nSuites: bookworm-security\n",
        encoding="utf-8",
    )
    assert _mirror(tmp_path) == "http://mirror.example.se/debian"


def test_a_one_line_list_names_the_mirror(tmp_path: Path) -> None:
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    (tmp_path / "etc/apt/sources.list").write_text(
        "deb [arch=amd64] https://ftp.example.org/debian bookworm main\n", encoding="utf-8"
    )
    assert _mirror(tmp_path) == "https://ftp.example.org/debian"


def test_no_mirror_is_empty_so_the_script_says_what_to_set(tmp_path: Path) -> None:
    assert _mirror(tmp_path) == ""
    assert "set DEBIAN_MIRROR=URL" in SCRIPT.read_text(encoding="utf-8")
