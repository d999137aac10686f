"""The simulated internet beyond the uplink: outside DNS, the municipality's central site, phones' checks."""

from .config import ConfigError, UpstreamConfig, load_config
from .dns import AuthoritativeDNS
from .server import create_upstream_app
from .web import CONNECTIVITY_CHECKS, create_app

__all__ = [
    "AuthoritativeDNS",
    "CONNECTIVITY_CHECKS",
    "ConfigError",
    "UpstreamConfig",
    "create_app",
    "create_upstream_app",
    "load_config",
]
