"""The simulated upstream's configuration."""

from __future__ import annotations

from pathlib import Path
from string import Template

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.dns import Zone, Zones

_BUNDLED_ZONES = Path(__file__).parent / "data" / "internet.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Listen(_Model):
    host: str
    port: int = Field(ge=1, le=65535)


class IslandAccess(_Model):
    """An island the certificate service signs for: the names it may have, and its credential."""

    label: str
    names: list[str]
    # The island's credential, made at the service's first start when missing (the installer's part).
    credential_file: Path


class ACME(_Model):
    # Pebble's ACME directory and the CA file its HTTPS port is checked against.
    directory: str
    ca_bundle: Path
    # Where the municipality's own sites keep their key and certificate.
    certificate_file: Path = Path("upstream-site.pem")
    # Run Pebble here, validating against this DNS server (host:port); None: an ACME CA runs elsewhere.
    pebble_dns: str | None = None
    # Where Pebble's root (the public CA file) is published for phones and islands to trust;
    # beside the configuration when left out (the compose stack: a volume they mount read-only).
    public_ca_folder: Path | None = None
    # The islands that may ask for certificates; any other caller is refused.
    islands: list[IslandAccess] = []


class UpstreamConfig(_Model):
    dns: Listen
    http: Listen
    # HTTPS for the municipality's sites, with certificates from the public CA by ACME; off when left out.
    https: Listen | None = None
    acme: ACME | None = None
    # Where outside names point: the internet's web servers as the island reaches them.
    web_address: str
    # Zone origin -> zone data; the bundled simulated internet when left out.
    zones: dict[str, str] | None = None

    def build_zones(self) -> Zones:
        raw = self.zones
        if raw is None:
            raw = yaml.safe_load(_BUNDLED_ZONES.read_text(encoding="utf-8"))
        return Zones(
            [
                Zone.from_text(origin, Template(data).substitute(web=self.web_address))
                for origin, data in raw.items()
            ]
        )


class ConfigError(ValueError):
    pass


def load_config(path: str | Path) -> UpstreamConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        config = UpstreamConfig.model_validate(raw)
        if config.acme is not None and not config.acme.ca_bundle.is_absolute():
            config.acme.ca_bundle = path.parent / config.acme.ca_bundle
        if config.acme is not None and not config.acme.certificate_file.is_absolute():
            config.acme.certificate_file = path.parent / config.acme.certificate_file
        for island in config.acme.islands if config.acme is not None else []:
            island.credential_file = path.parent / island.credential_file
        return config
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read upstream configuration: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc
