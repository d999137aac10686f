"""Who may use the resolver: the island's own client networks, nobody else (no open resolver)."""

from __future__ import annotations

import ipaddress

_MAX_REMEMBERED = 4096


class AccessList:
    """Allowed client networks (Unbound: access-control ... allow; everything else refused)."""

    def __init__(self, networks: list[str]) -> None:
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        # Decisions per address, so the fast path pays one dict lookup per query (it reads them directly).
        self.decisions: dict[str, bool] = {}

    def allows(self, address: str) -> bool:
        decided = self.decisions.get(address)
        if decided is None:
            decided = self._decide(address)
            if len(self.decisions) >= _MAX_REMEMBERED:
                self.decisions.clear()
            self.decisions[address] = decided
        return decided

    def _decide(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self._networks)
