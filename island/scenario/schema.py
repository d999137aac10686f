"""The scenario format as JSON Schema, generated from the models (docs/scenario.schema.json is this text)."""

from __future__ import annotations

import json
from typing import Any

from .model import Scenario

SCHEMA_ID = "https://odrift.example/scenario.schema.json"


def schema() -> dict[str, Any]:
    generated = Scenario.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **generated}


def schema_text() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
