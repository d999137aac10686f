"""The island's DNS resolver: local zones answered at once, the rest forwarded upstream."""

from .config import ConfigError, Endpoint, LocalZone, ResolverConfig, load_config
from .resolver import IslandResolver, serve

__all__ = ["ConfigError", "Endpoint", "IslandResolver", "LocalZone", "ResolverConfig", "load_config", "serve"]
