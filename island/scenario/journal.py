"""The journal: every probe operation and every fault event of one run, as it happened."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..contract import Status


@dataclass(frozen=True)
class Operation:
    t: float  # seconds since the run started, when the operation began
    phase: str
    probe: str
    status: Status
    latency_ms: float
    detail: str = ""
    # A phone that joined the Wi-Fi with real DHCP: its address, DNS, router, option 114, join_ms.
    lease: dict[str, Any] | None = None


@dataclass(frozen=True)
class Event:
    t: float
    kind: str  # phase-start | phase-end | fault-on | fault-off | flap-down | flap-up | rollback | error
    phase: str
    detail: str = ""


@dataclass
class Journal:
    scenario: str
    title: str
    backend: str
    started_at: str
    topology: dict[str, Any]
    definition: dict[str, Any]
    operations: list[Operation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    finished_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for operation in data["operations"]:  # only the operations that joined a Wi-Fi carry a lease
            if operation["lease"] is None:
                del operation["lease"]
        return data

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> Journal:
        data = json.loads(path.read_text(encoding="utf-8"))
        # Journals written before "unknown" existed called it "timeout".
        data["operations"] = [
            Operation(**{**o, "status": "unknown" if o["status"] == "timeout" else o["status"]})
            for o in data["operations"]
        ]
        data["events"] = [Event(**e) for e in data["events"]]
        return cls(**data)
