"""An upgrade of the installed package keeps every record: the previous release writes, the new one reads.

Real wheels in a real virtual environment, the previous release's own site process writing over
HTTP into its data folder, then `pip install` of this tree's wheel on top, as an operator would.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tiers import require_tier

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# The last release before this one (version 0.1.0 in its pyproject.toml).
PREVIOUS_RELEASE = "61e6ab9"
PEOPLE = 20


def _run(*argv: str | Path, cwd: Path | None = None, stdin: str | None = None, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, input=stdin, timeout=timeout
    )
    assert done.returncode == 0, f"{' '.join(map(str, argv))}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def _previous_source(dest: Path) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        require_tier("e2e", "no git history here to build the previous release from")
    has = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"], capture_output=True
    )
    if has.returncode != 0:
        require_tier(
            "e2e",
            f"the previous release {PREVIOUS_RELEASE} is not in this clone's history (a shallow clone?)",
        )
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _current_source(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(
        ".venv",
        ".git",
        "build",
        "out",
        "test-output",
        "*.egg-info",
        "__pycache__",
        "node_modules",
        "wheelhouse",
    )
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(venv: Path, db: Path) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(venv / "bin/python"),
            "-m",
            "services.crisis_site",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(db),
        ],
        cwd=db.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the site did not start"
        time.sleep(0.2)


def test_upgrading_the_package_keeps_content_accounts_and_the_register(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    old_src = _previous_source(tmp_path / "old-src")
    new_src = _current_source(tmp_path / "new-src")
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, old_src)
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, new_src)
    old_wheel = next(dist.glob("odrift_island-0.1.0-*.whl"))
    new_wheel = next(w for w in dist.glob("odrift_island-*.whl") if w != old_wheel)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin/pip", "install", "--quiet", old_wheel)
    data = tmp_path / "data"  # as /var/lib/odrift on a box: outside the package, never deleted by it
    data.mkdir()
    db = data / "site.sqlite3"

    proc, base = _serve(venv, db)
    people = [(f"Person Uppgradering {i}", f"070-55{i:05d}") for i in range(PEOPLE)]
    try:
        with httpx.Client(base_url=base, timeout=10, headers={"Origin": base}) as client:
            for name, phone in people:
                answer = client.post(
                    "/anhoriga/registrera", data={"name": name, "identifier": phone, "presets": "safe"}
                )
                assert answer.status_code == 200 and re.search(r'id="kod">[A-Z0-9-]+<', answer.text), (
                    answer.text[:500]
                )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    _run(
        venv / "bin/island",
        "site",
        "add-editor",
        "anna",
        "--db",
        db,
        "--password-stdin",
        stdin="ett långt lösenord för anna 2026\n",
    )

    _run(venv / "bin/pip", "install", "--quiet", new_wheel)  # the upgrade, as an operator runs it
    version = _run(
        venv / "bin/python", "-c", "import importlib.metadata as m; print(m.version('odrift-island'))"
    ).strip()
    assert version != "0.1.0"

    proc, base = _serve(venv, db)  # the new release on the old data folder
    proc.terminate()
    proc.wait(timeout=10)
    check = f"""
from services.crisis_site.registry import Registry
from services.crisis_site.store import Store
from services.crisis_site.accounts import verify
registry = Registry({str(db)!r})
people = {people!r}
print(registry.count(), sum(bool(registry.lookup(n, p)) for n, p in people))
registry.close()
store = Store({str(db)!r})
print(verify(store, "anna", "ett långt lösenord för anna 2026"))
store.close()
"""
    out = _run(venv / "bin/python", "-c", check, cwd=tmp_path).split()
    assert out == [str(PEOPLE), str(PEOPLE), "True"], out
