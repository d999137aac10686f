"""The Ödrift island simulator: topology, backends, faults, scenario engine and CLI."""

from .topology import Topology

__version__ = "0.1.0"
__all__ = ["Topology", "__version__"]
