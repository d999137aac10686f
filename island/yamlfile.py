"""YAML files validated by a pydantic model, with errors that name the file, the line and the field.

Scenario files and site files are written by people, not programs: every problem is reported at
once, each as ``file:line: field: message``, so the person can fix them all in one go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[str | int, ...]
ModelT = TypeVar("ModelT", bound=BaseModel)


class YamlFileError(ValueError):
    """A file that cannot be used; str() lists every problem as file:line: field: message."""

    def __init__(self, path: Path, problems: list[tuple[int | None, str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [
            f"{path}:{line if line is not None else '?'}: {field + ': ' if field else ''}{message}"
            for line, field, message in problems
        ]
        super().__init__("\n".join(lines))


def _line_map(node: yaml.Node, path: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            lines[child] = key.start_mark.line + 1
            _line_map(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), lines)


def field_name(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _locate(loc: tuple[Any, ...], lines: dict[Loc, int]) -> tuple[int | None, str]:
    """Map pydantic's error location onto the file, skipping parts that are not in the data (union tags)."""
    path: Loc = ()
    for part in loc:
        candidate = (*path, part)
        if candidate in lines:
            path = candidate
        elif isinstance(part, str) and part not in ("__root__",) and (*path,) in lines and loc[-1] == part:
            # A missing field: point at its parent, name the field.
            return lines.get(path), field_name((*path, part))
    return lines.get(path), field_name(path)


def parse_model(
    text: str,
    path: Path,
    model: type[ModelT],
    *,
    error: type[YamlFileError] = YamlFileError,
    what: str = "a mapping",
    context: dict[str, Any] | None = None,
) -> ModelT:
    """Parse ``text`` (read from ``path``) as YAML and validate it as ``model``."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise error(path, [(line, "", f"not valid YAML: {exc.problem or exc}")]) from exc
    if not isinstance(data, dict):
        raise error(path, [(1, "", f"the file must be {what}")])
    lines: dict[Loc, int] = {}
    if node is not None:
        _line_map(node, (), lines)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = []
        for problem in exc.errors():
            line, field = _locate(problem["loc"], lines)
            message = problem["msg"]
            if problem["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append((line, field, message))
        raise error(path, problems) from exc


def load_model(
    path: str | Path,
    model: type[ModelT],
    *,
    error: type[YamlFileError] = YamlFileError,
    what: str = "a mapping",
    context: dict[str, Any] | None = None,
) -> ModelT:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(path, [(None, "", f"cannot read the file: {exc.strerror}")]) from exc
    return parse_model(text, path, model, error=error, what=what, context=context)
