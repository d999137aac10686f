"""Loading the seed file: the demo is valid, bad files fail with a clear ContentError."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.crisis_site import ContentError, create_app, load_seed
from services.crisis_site.app import DEMO_CONTENT

DEMO_TEXT = DEMO_CONTENT.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "content.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_content_loads() -> None:
    c = load_seed(DEMO_CONTENT)
    assert c.municipality == "Sjöbacka kommun"
    assert c.updated.tzinfo is not None
    assert len(c.trygghetspunkter) == 3
    assert [m.identifier for m in c.messages] == ["sjobacka-2025-0001", "sjobacka-2025-0002"]
    assert c.messages[0].msg_type == "Alert" and c.messages[0].severity == "Severe"
    assert c.advice.emergency_number == "112"


def test_wrong_type_in_trygghetspunkt(tmp_path: Path) -> None:
    # The second point's "water: true" becomes a non-boolean word.
    text = DEMO_TEXT.replace("    water: true\n", "    water: ibland\n", 2).replace(
        "    water: ibland\n", "    water: true\n", 1
    )
    path = write(tmp_path, text)
    with pytest.raises(ContentError) as info:
        load_seed(path)
    assert str(path) in str(info.value)
    assert "trygghetspunkter[1].water" in str(info.value)


def test_cap_code_outside_the_standard_list(tmp_path: Path) -> None:
    path = write(tmp_path, DEMO_TEXT.replace("severity: Severe", "severity: Terrible", 1))
    with pytest.raises(ContentError) as info:
        load_seed(path)
    assert "messages[0].severity" in str(info.value) and "'Terrible'" in str(info.value)


def test_unknown_field(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace(
        "    opening_hours: Öppet dygnet runt\n", "    opening_hours: Öppet dygnet runt\n    parking: true\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(ContentError) as info:
        load_seed(path)
    assert "trygghetspunkter[0].parking" in str(info.value)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "municipality: Sjöbacka kommun\nsender: Krisledningen\n  updated: x\n")
    with pytest.raises(ContentError) as info:
        load_seed(path)
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_naive_datetime_rejected(tmp_path: Path) -> None:
    text = DEMO_TEXT.replace("updated: 2025-01-14T08:00:00+01:00", "updated: 2025-01-14T08:00:00")
    with pytest.raises(ContentError, match=r"updated"):
        load_seed(write(tmp_path, text))


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="nope.yaml"):
        load_seed(tmp_path / "nope.yaml")
    with pytest.raises(ContentError, match="top level"):
        load_seed(write(tmp_path, ""))


def test_create_app_fails_fast_on_bad_content(tmp_path: Path) -> None:
    with pytest.raises(ContentError):
        create_app(write(tmp_path, "municipality: [\n"))
