"""The Ödrift island simulator: topology, backends, faults, scenario engine and CLI."""

from .topology import Addresses, Topology

__version__ = "0.1.0"
__all__ = ["Addresses", "Topology", "__version__"]
