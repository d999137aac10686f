"""``island up --site SITE``: rehearse the island a site file describes, from the files it deploys.

The site file is rendered with :func:`~island.deploy.render.write_island`, the very function behind
``island deploy render``, into the island's data folder (``<data>/site/<trygghetspunkt>/``, laid
out like the box's own file system). The rendered files' paths carry that folder as their root, so
they differ from ``island deploy render``'s only in that prefix. A backend then maps the site onto
the simulated network as far as it can and says what it mapped (:meth:`Rehearsal.mapping`): the
netns backend runs the rendered resolver and site as they are, on the site file's own addresses;
the local backend has only loopback addresses, so there the site file gives the crisis name and
the first page, and the simulator's addresses stand in for the rest.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from services.ports import Port

from ..service_specs import HealthCheck, ServiceSpec, dns_ok, http_ok, sees_upstream, tcp_open
from .render import HTTPS_PORT, METRICS_PORT, BoxPaths, resolver_args, site_args, site_database, write_island
from .site import SiteFile, Trygghetspunkt

SITE_FOLDER = "site"  # in the island's data folder: the rendered files, and the box's data under them


@dataclass(frozen=True)
class Rehearsal:
    """One trygghetspunkt's island of a site file, rendered for the simulator. Plain data: kept in state.json."""

    file: str  # the site file
    place: str  # the trygghetspunkt's id: its island is the one rehearsed
    place_name: str
    root: str  # the rendered files' root (``etc/odrift/...``, ``var/lib/odrift/...`` under it)
    crisis_name: str
    municipality: str
    island_address: str  # the box's address on the Wi-Fi: its resolver, its site, the phones' gateway
    network: str  # the trygghetspunkt's Wi-Fi network
    phone_address: (
        str  # the simulated resident's phone: fixed, just below the DHCP pool (joining phones lease)
    )
    upstreams: tuple[str, ...]  # the stadsnät's resolvers
    lan_interface: str  # the box's interface towards the access points (the rendered DHCP server's)
    editors: tuple[str, ...]
    others: tuple[
        str, ...
    ]  # the site file's other trygghetspunkter (islands of their own, not rehearsed here)
    # What the rendered units run after ``python -m MODULE``: the same arguments, the same files.
    resolver_args: tuple[str, ...]
    site_args: tuple[str, ...]
    certificate: str = "none"  # the site file's certificate source: central, manual or none

    @property
    def https(self) -> bool:
        """Whether the rendered site serves HTTPS (the site file names a certificate source)."""
        return self.certificate != "none"

    @property
    def paths(self) -> BoxPaths:
        return BoxPaths(self.root)

    @property
    def resolver_config(self) -> Path:
        return Path(self.paths.config_dir) / "resolver.yaml"

    @property
    def site_config(self) -> Path:
        return Path(self.paths.config_dir) / "site.json"

    @property
    def content(self) -> Path:
        """The first page, before the municipality's feed is heard (the crisis site's seed)."""
        return Path(self.paths.config_dir) / "content.yaml"

    @property
    def database(self) -> Path:
        """Where the rendered site.json keeps the site's database (under the root, in the data folder)."""
        return Path(site_database(self.paths))

    @property
    def dhcp_config(self) -> Path:
        """The rendered dnsmasq configuration (DHCP only, option 114), for a backend that runs a DHCP server.

        On netns it runs unchanged in the router namespace: the router's leg on the Wi-Fi has the
        box's name for it (``lan_interface``) and an address on the Wi-Fi network."""
        return Path(self.root) / "etc/dnsmasq.d/odrift.conf"

    @property
    def credential(self) -> Path:
        """The island's credential for the municipality's certificate service, where site.json names it."""
        return Path(self.paths.credential)

    @property
    def certificate_file(self) -> Path:
        return Path(self.paths.certificate)

    def trust(self, public_ca: Path) -> None:
        """Make the simulated public CA the rehearsed box's trust store (what a box's ca-certificates is).

        A link, since the simulated internet writes the CA file when Pebble has started, after rendering.
        """
        store = Path(self.paths.trust_store)
        store.parent.mkdir(parents=True, exist_ok=True)
        store.unlink(missing_ok=True)
        store.symlink_to(public_ca)

    def router_address(self) -> str:
        """A free host address on the Wi-Fi network for the simulator's router: neither the box nor a lease."""
        net = ipaddress.IPv4Network(self.network)
        taken = {ipaddress.IPv4Address(self.island_address)}
        first = ipaddress.IPv4Address(self.phone_address)
        for host in net.hosts():
            if host not in taken and host < first:
                return str(host)
        return str(list(net.hosts())[-1])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rehearsal:
        return cls(
            **{
                **data,
                "upstreams": tuple(data["upstreams"]),
                "editors": tuple(data["editors"]),
                "others": tuple(data["others"]),
                "resolver_args": tuple(data["resolver_args"]),
                "site_args": tuple(data["site_args"]),
            }
        )


def prepare(file: str | Path, site: SiteFile, data_dir: Path) -> Rehearsal:
    """Render the site's first trygghetspunkt into ``data_dir`` and describe its island for a backend."""
    place: Trygghetspunkt = site.trygghetspunkter[0]
    folder = (data_dir / SITE_FOLDER / place.id).resolve()
    paths = BoxPaths(str(folder))
    write_island(site, place, folder, paths)
    # What systemd's StateDirectory= makes on a box: the data folder the site's database lives in.
    Path(paths.data_dir).mkdir(parents=True, exist_ok=True)
    return Rehearsal(
        file=str(Path(file).resolve()),
        place=place.id,
        place_name=place.name,
        root=str(folder),
        crisis_name=site.crisis_name,
        municipality=site.municipality.name,
        island_address=place.wifi.island_address,
        network=place.wifi.network,
        phone_address=_fixed_phone(place),
        upstreams=tuple(site.resolver.upstreams),
        lan_interface=site.uplink.lan_interface,
        editors=tuple(e.name for e in site.editors),
        others=tuple(p.id for p in site.trygghetspunkter[1:]),
        resolver_args=tuple(resolver_args(paths)),
        site_args=tuple(site_args(site, paths)),
        certificate=site.certificate.source,
    )


def _fixed_phone(place: Trygghetspunkt) -> str:
    """An address on the Wi-Fi outside the DHCP pool, so a phone that joins never gets the resident's."""
    net = ipaddress.IPv4Network(place.wifi.network)
    box = ipaddress.IPv4Address(place.wifi.island_address)
    below, above = (
        ipaddress.IPv4Address(place.wifi.dhcp_first) - 1,
        ipaddress.IPv4Address(place.wifi.dhcp_last) + 1,
    )
    for candidate in (below, above):
        if candidate in net and candidate not in (box, net.network_address, net.broadcast_address):
            return str(candidate)
    raise ValueError(
        f"trygghetspunkt {place.id}: wifi: the DHCP pool leaves no address for the rehearsal's own phone; "
        "start the pool one address later"
    )


def rendered_services(rehearsal: Rehearsal) -> list[ServiceSpec]:
    """The island's resolver and site as the rendered units start them: the same arguments, the same files.

    Each binds every address of its host (``0.0.0.0``), so the health checks ask from the host
    itself, as ``island deploy check`` does on a box: the resolver's metrics are on 127.0.0.1 only.
    """
    r = rehearsal
    metrics = f"http://127.0.0.1:{METRICS_PORT}/metrics"
    https = ((r.island_address, HTTPS_PORT, "tcp"),) if r.https else ()
    return [
        _rendered(
            "resolver",
            "island resolver",
            "services.resolver",
            r.resolver_args,
            r.resolver_config,
            ports=((r.island_address, 53, "udp"), (r.island_address, 53, "tcp")),
            serves=f"{r.island_address}:53 (UDP and TCP)",
            health=lambda: dns_ok(r.crisis_name, "127.0.0.1", 53),
            connected=lambda: sees_upstream(metrics),
        ),
        _rendered(
            "site",
            "crisis site",
            "services.crisis_site",
            r.site_args,
            r.site_config,
            ports=((r.island_address, 80, "tcp"), *https),
            serves=f"http://{r.island_address}/{f' and https://{r.crisis_name}/' if r.https else ''}",
            health=lambda: http_ok("http://127.0.0.1:80/healthz"),
            # From the municipality's certificate service: up once the island has its certificate.
            connected=(lambda: tcp_open("127.0.0.1", HTTPS_PORT)) if r.certificate == "central" else None,
        ),
    ]


def _rendered(
    name: str,
    title: str,
    module: str,
    args: tuple[str, ...],
    config: Path,
    *,
    ports: tuple[Port, ...],
    serves: str,
    health: HealthCheck,
    connected: HealthCheck | None,
) -> ServiceSpec:
    """One service of the box run as its unit runs it: ``module`` with the unit's arguments, which name
    the rendered ``config``."""
    return ServiceSpec(
        name=name,
        title=f"{title} (rendered from the site file)",
        module=module,
        config=None,
        args=args,
        ports=ports,
        where=f"{serves}, configured by {config}",
        health=health,
        connected=connected,
    )
