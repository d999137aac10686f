"""Crisis content: the data model and the YAML loader.

The models are the single source of truth for what the page and the JSON API show.
Later sources (SQLite, CAP feeds) only need to produce a `Content`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
)

# Non-empty text with surrounding whitespace removed: an empty headline is an authoring error.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Model(BaseModel):
    # Unknown keys are almost always typos; silently dropping them would hide content.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Situation(_Model):
    headline: Text
    what_happened: Text
    started: AwareDatetime = Field(description="When the event began.")
    what_is_being_done: list[Text] = Field(
        default_factory=list, description="What the municipality and others are doing."
    )


class Trygghetspunkt(_Model):
    """A safety point: a staffed public place with water, heat and information."""

    name: Text
    address: Text
    opening_hours: Text
    # Strict booleans: "ibland" or "1" must not silently become yes.
    water: StrictBool
    heat: StrictBool
    toilets: StrictBool
    charging: StrictBool
    phone_112: StrictBool = Field(description="A phone residents can use to call 112.")
    status: Text = Field(description="Short current status, e.g. 'Öppen. Reservkraft i drift.'")


class Advice(_Model):
    """Standing advice that holds in every Swedish crisis."""

    emergency_number: Text = "112"
    emergency_text: Text = "Ring 112 vid nödsituation, när det är fara för liv, hälsa, egendom eller miljö."
    information_number: Text = "113 13"
    information_text: Text = (
        "Ring 113 13 för information om allvarliga olyckor och kriser. Ring inte 112 för frågor."
    )
    radio: Text = "Sveriges Radio P4"
    radio_text: Text = (
        "Lyssna på Sveriges Radio P4. Vid strömavbrott fungerar en batteriradio eller bilradion."
    )


class Content(_Model):
    municipality: Text
    sender: Text = Field(description="Who publishes, e.g. 'Sjöbacka kommun, krisledningen'.")
    updated: AwareDatetime
    next_update: Text | None = Field(default=None, description="When the next update is expected.")
    situation: Situation
    instructions: list[Text] = Field(min_length=1)
    trygghetspunkter: list[Trygghetspunkt] = Field(default_factory=list)
    advice: Advice = Field(default_factory=Advice)


class ContentError(ValueError):
    """A content file that cannot be used; the message names the file and what is wrong."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        if len(problems) == 1:
            message = f"{path}: {problems[0]}"
        else:
            message = f"{path}: {len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)
        super().__init__(message)


def _field_path(loc: tuple[int | str, ...]) -> str:
    """('trygghetspunkter', 0, 'water') -> 'trygghetspunkter[0].water'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    where = _field_path(tuple(error["loc"]))
    if error["type"] in ("missing", "extra_forbidden"):
        return f"{where}: {error['msg']}"
    return f"{where}: {error['msg']} (got {error['input']!r})"


def parse_content(data: Any, path: Path) -> Content:
    """Validate already-parsed data; `path` is only used in error messages."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ContentError(path, [f"expected a mapping at the top level, the file is {kind}"])
    try:
        return Content.model_validate(data)
    except ValidationError as exc:
        raise ContentError(path, [_describe(e) for e in exc.errors()]) from exc


def load_content(path: str | Path) -> Content:
    """Read and validate a YAML content file; raise ContentError on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(path, [f"cannot read file: {exc}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ContentError(path, [f"YAML syntax error: {where}{problem}"]) from exc
    return parse_content(data, path)
