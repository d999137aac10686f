"""The island resolver's configuration: where it listens, its local zones, its upstreams."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Endpoint(_Model):
    host: str
    port: int = Field(53, ge=1, le=65535)


class LocalZone(_Model):
    """Like Unbound's local-zone with its local-data.

    static: the island answers every name in the zone itself (data, NODATA or NXDOMAIN);
    transparent: the island answers names it has data for and forwards the rest.
    """

    name: str
    type: Literal["static", "transparent"] = "static"
    data: str = Field("", description="records in zone-file syntax, names relative to the zone")


class ResolverConfig(_Model):
    listen: Endpoint
    local_zones: list[LocalZone] = []
    upstreams: list[Endpoint] = []
    # Total time a client waits on the upstreams before it gets SERVFAIL; below the
    # 1.8 s client response timer of RFC 8767 so stub resolvers do not retry first.
    forward_timeout: float = Field(1.5, gt=0, le=10)


class ConfigError(ValueError):
    pass


def load_config(path: str | Path) -> ResolverConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read resolver configuration: {exc}") from exc
    try:
        return ResolverConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc
