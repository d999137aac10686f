"""TLS for the simulated internet and the island: contexts, certificate checks, a TLS port beside HTTP."""

from __future__ import annotations


def https_port(http_port: int) -> int:
    """The HTTPS port that goes with an HTTP port: 443 beside 80 (root), 8443 beside anything else."""
    return 443 if http_port == 80 else 8443
