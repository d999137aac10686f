"""Every command in the guide (docs/guide/{sv,en}) works as written.

The `island ...` lines run for real, in order, in a folder of their own with a real island on this
test's loopback network. The lines that install onto a box (`sudo ...`) cannot run on a test
machine as they are; each is one of the known install steps below, and the test checks it against
the rendered files instead (copied into a scratch root, nftables' own syntax check).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from island_test_helpers import island_cli, island_net
from tiers import require_tier, required

from island.backends import _netns
from island.deploy.render import BOX_COMMANDS

ROOT = Path(__file__).resolve().parents[3]
GUIDES = {"en": ROOT / "docs/guide/en/README.md", "sv": ROOT / "docs/guide/sv/README.md"}
BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
# The install steps a guide may name, each checked against the rendered files by `_check_install`.
INSTALL_STEPS = (
    re.compile(r"^sudo apt-get install (?P<packages>[a-z0-9 -]+)$"),
    re.compile(r"^sudo cp -r out/rendered/(?P<place>[a-z0-9-]+)/etc/\. /etc/$"),
    re.compile(r"^sudo systemctl daemon-reload$"),
    re.compile(r"^sudo systemctl enable --now (?P<units>[a-z0-9 -]+)$"),
    re.compile(r"^sudo nft -f /etc/nftables\.d/odrift\.nft$"),
    re.compile(
        r"^sudo install -m 0600 -o odrift -g odrift certificate-service\.token (?P<credential>/var/lib/odrift/\S+)$"
    ),
)


def commands(guide: Path) -> list[str]:
    return [
        line.strip()
        for block in BLOCK.findall(guide.read_text(encoding="utf-8"))
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def test_the_guides_name_the_same_commands() -> None:
    assert commands(GUIDES["sv"]) == commands(GUIDES["en"])
    assert any(c.startswith("island deploy render") for c in commands(GUIDES["en"]))
    assert any(c.startswith("sudo apt-get install ") for c in commands(GUIDES["en"])), "the box's packages"


def test_the_guides_link_what_they_show() -> None:
    for guide in GUIDES.values():
        text = guide.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            assert (guide.parent / target).exists(), f"{guide}: {target} does not exist"


def _check_install(line: str, work: Path, scratch_root: Path) -> None:
    match = next((m for p in INSTALL_STEPS if (m := p.match(line))), None)
    assert match is not None, f"the guide names an install step no test checks: {line}"
    groups = match.groupdict()
    if "place" in groups and groups["place"]:
        source = work / "out/rendered" / groups["place"] / "etc"
        assert source.is_dir(), line
        shutil.copytree(source, scratch_root / "etc", dirs_exist_ok=True)
    elif groups.get("units"):
        for unit in groups["units"].split():
            if unit == "dnsmasq":  # Debian's own unit; the rendered configuration is for it
                assert (scratch_root / "etc/dnsmasq.d/odrift.conf").exists()
            else:
                assert (scratch_root / f"etc/systemd/system/{unit}.service").exists(), unit
    elif groups.get("packages"):
        # The Debian packages with the commands the units call (what `island deploy check` looks for).
        assert sorted(groups["packages"].split()) == sorted(c.package for c in BOX_COMMANDS.values()), line
    elif groups.get("credential"):
        # Where the rendered site.json looks for the island's credential (certificate.source: central).
        settings = json.loads((scratch_root / "etc/odrift/site.json").read_text(encoding="utf-8"))
        assert settings["tls"]["credential_file"] == groups["credential"], line
    elif "nft" in line:
        nft = shutil.which("nft") or "/usr/sbin/nft"
        if not Path(nft).exists() or os.geteuid() != 0:
            require_tier("netns", "nft is missing, or not root")
        checked = subprocess.run(
            [nft, "-c", "-f", str(scratch_root / "etc/nftables.d/odrift.nft")], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr


@pytest.mark.e2e
def test_every_command_in_the_guide_works_as_written(tmp_path: Path) -> None:
    # The Swedish guide names the very same commands (test_the_guides_name_the_same_commands).
    language = "en"
    cli = island_cli(tmp_path, island_net(30))
    work = tmp_path / "work"
    (work / "examples").mkdir(parents=True)
    shutil.copy(ROOT / "examples/island.site.yaml", work / "examples")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "island"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m island "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    env = {**cli.env(), "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    scratch_root = tmp_path / "box"
    try:
        for line in commands(GUIDES[language]):
            if line.startswith("sudo "):
                _check_install(line, work, scratch_root)
                continue
            if "--backend netns" in line and (reason := _netns.unavailable_reason()):
                # Root and network namespaces: a rehearsal of the box itself. Skipped here only (its
                # own test is tests/island/deploy/test_rehearsal.py); required where CI requires netns.
                assert not required("netns"), f"`{line}` needs the netns tier: {reason}"
                continue
            done = subprocess.run(
                ["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=300
            )
            words = shlex.split(line)
            if words[:3] == ["island", "deploy", "check"]:
                # Off the box every check that needs the box fails, and says what to do next.
                assert done.returncode in (0, 1), done.stderr
                report = json.loads(done.stdout)
                assert all(c["status"] == "ok" or c["next_step"] for c in report["checks"]), report
                continue
            assert done.returncode == 0, f"`{line}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        assert (work / "out/posters/poster-biblioteket.svg").exists()
        assert list((work / "out/backups").glob("odrift-backup-*.tar.gz"))
    finally:
        cli.run("down")
