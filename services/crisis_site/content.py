"""Crisis content: the data model (shaped after CAP 1.2) and the YAML seed loader.

The models are the single source of truth for what the page, the JSON API and the
feeds show. The store (SQLite) and the sync (CAP / JSON feeds) both produce them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

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
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:@-]{1,120}$")]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]

# CAP 1.2 code lists, as the standard spells them.
Status = Literal["Actual", "Exercise", "System", "Test", "Draft"]
MsgType = Literal["Alert", "Update", "Cancel"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
Origin = Literal["central", "island"]

SEVERITY_RANK = {"Extreme": 4, "Severe": 3, "Moderate": 2, "Minor": 1, "Unknown": 0}


class _Model(BaseModel):
    # Unknown keys are almost always typos; silently dropping them would hide content.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Info(_Model):
    """One language's text of a message (CAP <info>)."""

    language: LanguageTag = "sv"
    headline: ShortText
    description: Text
    instruction: Text | None = Field(default=None, description="What to do; one instruction per line.")

    @property
    def instructions(self) -> list[str]:
        return [line.strip() for line in (self.instruction or "").splitlines() if line.strip()]


class Message(_Model):
    """A CAP 1.2 alert, flattened: one area, its texts per language."""

    identifier: Identifier
    sender: ShortText
    sent: AwareDatetime
    status: Status = "Actual"
    msg_type: MsgType = Field(default="Alert", alias="msgType")
    severity: Severity = "Unknown"
    urgency: Urgency = "Unknown"
    certainty: Certainty = "Unknown"
    effective: AwareDatetime | None = None
    expires: AwareDatetime | None = None
    area: ShortText
    references: Identifier | None = Field(
        default=None, description="The message an Update or Cancel refers to."
    )
    info: list[Info] = Field(min_length=1, max_length=10)
    origin: Origin = Field(
        default="central", description="Synced from the municipality, or written on the island."
    )
    cancelled: StrictBool = False

    def text(self, language: str) -> tuple[Info, bool]:
        """The text in `language` (or its base language), else Swedish; the flag says whether it matched."""
        base = language.split("-")[0]
        for wanted in (language, base):
            for info in self.info:
                if info.language == wanted:
                    return info, True
        for info in self.info:
            if info.language == "sv":
                return info, False
        return self.info[0], False

    def is_active(self, now: datetime) -> bool:
        if self.cancelled or self.msg_type == "Cancel" or self.status in ("Draft", "System"):
            return False
        if self.effective is not None and self.effective > now:
            return False
        return self.expires is None or self.expires > now


class Trygghetspunkt(_Model):
    """A safety point: a staffed public place with water, heat and information."""

    name: ShortText
    address: ShortText
    opening_hours: ShortText
    # Strict booleans: "ibland" or "1" must not silently become yes.
    water: StrictBool
    heat: StrictBool
    toilets: StrictBool
    charging: StrictBool
    phone_112: StrictBool = Field(description="A phone residents can use to call 112.")
    status: ShortText = Field(description="Short current status, e.g. 'Öppen. Reservkraft i drift.'")


class Advice(_Model):
    """Standing advice that holds in every Swedish crisis."""

    emergency_number: ShortText = "112"
    information_number: ShortText = "113 13"
    radio: ShortText = "Sveriges Radio P4"


class Seed(_Model):
    """What an island starts with before it has heard from the municipality (the YAML file)."""

    municipality: ShortText
    sender: ShortText = Field(description="Who publishes, e.g. 'Sjöbacka kommun, krisledningen'.")
    updated: AwareDatetime
    next_update: ShortText | None = Field(default=None, description="When the next update is expected.")
    actions: list[Text] = Field(
        default_factory=list, description="What the municipality and others are doing."
    )
    messages: list[Message] = Field(default_factory=list)
    trygghetspunkter: list[Trygghetspunkt] = Field(default_factory=list)
    advice: Advice = Field(default_factory=Advice)


class SyncStatus(_Model):
    """What the island knows about its contact with the municipality's central feed."""

    feed: str | None = Field(default=None, description="The feed URL, or None when the island does not sync.")
    last_heard: AwareDatetime | None = Field(
        default=None, description="Last time the feed answered with good data."
    )
    reachable: bool | None = Field(
        default=None, description="Whether the last poll succeeded (None: not yet polled)."
    )
    last_error: str | None = None


class Content(_Model):
    """Everything the page shows, as the JSON API returns it."""

    municipality: str
    sender: str
    updated: AwareDatetime
    next_update: str | None = None
    actions: list[str] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list, description="Active messages, most severe first.")
    trygghetspunkter: list[Trygghetspunkt] = Field(default_factory=list)
    advice: Advice = Field(default_factory=Advice)
    sync: SyncStatus = Field(default_factory=SyncStatus)

    @property
    def banner(self) -> Message | None:
        """The VMA banner: the most severe active real message, when it is Severe or Extreme."""
        for message in self.messages:
            if message.status == "Actual" and SEVERITY_RANK[message.severity] >= SEVERITY_RANK["Severe"]:
                return message
        return None


class ContentError(ValueError):
    """Content that cannot be used; the message names the source and what is wrong."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        if len(problems) == 1:
            message = f"{path}: {problems[0]}"
        else:
            message = f"{path}: {len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)
        super().__init__(message)


def field_path(loc: tuple[int | str, ...]) -> str:
    """('trygghetspunkter', 0, 'water') -> 'trygghetspunkter[0].water'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_errors(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        where = field_path(tuple(error["loc"]))
        if error["type"] in ("missing", "extra_forbidden"):
            problems.append(f"{where}: {error['msg']}")
        else:
            shown = repr(error["input"])
            problems.append(f"{where}: {error['msg']} (got {shown[:80]})")
    return problems


def parse_seed(data: Any, path: Path | str) -> Seed:
    """Validate already-parsed data; `path` is only used in error messages."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ContentError(path, [f"expected a mapping at the top level, the file is {kind}"])
    try:
        return Seed.model_validate(data)
    except ValidationError as exc:
        raise ContentError(path, describe_errors(exc)) from exc


def load_seed(path: str | Path) -> Seed:
    """Read and validate a YAML seed file; raise ContentError on any problem."""
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
    return parse_seed(data, path)
