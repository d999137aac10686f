"""A region of islands as processes: the hub and N islands, on loopback (local) or in namespaces (netns).

``island up --islands N`` (N > 1) starts, besides the simulated internet and its uplink relay
(shared: one internet for all), for each island of ``standard(islands=N)`` its resolver, its
crisis site, its own nats-server (its own JetStream domain) and its replicator, and for the hub
(on the stadsnät network) a nats-server with the leaf-node listener, the hub's crisis site and
its replicator. ``--hub-nodes 3`` makes the hub's nats-server a cluster of three nodes, each on an
address of its own (``nats-hub-n1`` .. ``nats-hub-n3``); every island's leaf node lists all three
and moves to another when the one it uses goes down. On loopback each island reaches the hub's
leaf-node ports through a link relay of its own (the uplink relay's program, one TCP port per hub
node in, that node's leaf port out): cutting one island's link is setting that relay to
``reject``. In namespaces the link goes through the router, where the netns backend cuts it with
nft rules. Every one is a service under the ProcessSupervisor, so the watchdog starts a crashed
one again.

Ports are fixed (every place has its own address): NATS 4222 (clients), 6222 (a hub cluster's
routes), 7422 (leaf nodes), 8222 (monitoring), the replicator's /state and /metrics 9472; island
i's link relay listens on hub node k's address (k = 0, 1, 2), port 7431 + i + 20 k.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from services.crisis_site.store import Store
from services.region import plan
from services.region.outbox import Outbox
from services.region.server import binary
from services.region.subjects import HUB

from ..service_specs import ServiceSpec, certificate_client, http_ok, island_services, tcp_open, web_url
from ..state import StateDir
from ..topology import Addresses, Topology, standard
from ..topology.local import hub_node_addresses, local_addresses, net_from_env
from ..topology.netns import NetnsPlan
from .base import BackendError
from .local_uplink import control

CLIENT_PORT = 4222
LEAF_PORT = 7422
CLUSTER_PORT = 6222
MONITOR_PORT = 8222
REPLICATOR_PORT = 9472
LINK_PORT_BASE = 7431
LINK_PORTS_PER_NODE = 20  # one per island (at most 20): a hub node's link ports follow the previous one's
REGION_FOLDER = "region"  # in the data folder: credentials, server configurations, JetStream stores


class RegionLayout:
    """Where every part of a region is, as one backend's code reaches it: the hub on the stadsnät,
    each island's services at its island's addresses (a builder of the topology says which)."""

    islands: int
    hub_nodes: int  # the hub's nats-server: one node, or a cluster of three
    # Each island's leaf node reaches the hub through a link relay of its own (local: no router to
    # cut a link in), or straight through the router (netns, whose faults cut the link there).
    relayed: bool = False

    @property
    def topology(self) -> Topology:
        return standard(islands=self.islands, hub_nodes=self.hub_nodes)

    def names(self) -> list[str]:
        return [i.name for i in self.topology.islands]

    def addresses(self, island: str) -> Addresses:
        raise NotImplementedError

    def hub_hosts(self) -> list[str]:
        """Each of the hub's nats-server nodes, in node order (n1, n2, n3)."""
        raise NotImplementedError

    @property
    def hub_host(self) -> str:
        """The hub's crisis site, its replicator and its first nats-server node."""
        return self.hub_hosts()[0]

    def hub_node_names(self) -> list[str]:
        return list(self.topology.hub_nodes)

    def nats_service(self, place: str, node: str = "n1") -> str:
        """`nats-a` for an island, `nats-hub` for a hub of one node, `nats-hub-n2` in a cluster."""
        return f"nats-{place}-{node}" if place == HUB and self.hub_nodes > 1 else f"nats-{place}"

    def hub_services(self) -> list[str]:
        return [self.nats_service(HUB, node) for node in self.hub_node_names()]

    def hub_addresses(self) -> Addresses:
        """The hub's crisis site stands on the stadsnät; it reaches the internet as the islands do."""
        first = self.addresses(self.names()[0])
        return replace(first, resolver_address=self.hub_host, site_address=self.hub_host)

    def host_of(self, place: str) -> str:
        """Where a place's nats-server and replicator run: the hub's host, an island's resolver address."""
        return self.hub_host if place == HUB else self.addresses(place).resolver_address

    def plan(self) -> plan.Region:
        hub = tuple(
            plan.HubNode(name, host, CLIENT_PORT, LEAF_PORT, CLUSTER_PORT, MONITOR_PORT)
            for name, host in zip(self.hub_node_names(), self.hub_hosts(), strict=True)
        )
        islands = tuple(
            plan.IslandNode(name, f"Ö {name.upper()}", self.host_of(name), CLIENT_PORT, MONITOR_PORT)
            for name in self.names()
        )
        return plan.Region("odrift", hub, islands)

    def link_port(self, island: str, node: int = 0) -> int:
        """Where island's link relay listens for hub node number ``node`` (0, 1, 2), on that node's address."""
        return LINK_PORT_BASE + self.names().index(island) + LINK_PORTS_PER_NODE * node

    def replicator_url(self, place: str, path: str = "/state") -> str:
        return web_url(self.host_of(place), REPLICATOR_PORT, path)

    def places(self) -> list[str]:
        return [HUB, *self.names()]

    def sites(self) -> dict[str, str]:
        """Each place's crisis site (the hub's, then each island's), for region probes."""
        return {HUB: self.hub_host, **{n: self.addresses(n).site_address for n in self.names()}}

    def describe(self) -> str:
        """`the hub and 3 islands (a, b, c)`; a cluster: `the hub (3 nodes: n1, n2, n3) and ...`."""
        nodes = f" ({self.hub_nodes} nodes: {', '.join(self.hub_node_names())})" if self.hub_nodes > 1 else ""
        return f"the hub{nodes} and {self.islands} islands ({', '.join(self.names())})"

    def recorded(self) -> dict[str, int]:
        """What the state file keeps so that later commands open the same region."""
        return {"islands": self.islands, "hub_nodes": self.hub_nodes}

    def place_of(self, service: str) -> str:
        """The place a region service belongs to: `nats-hub` and `nats-hub-n2` -> hub, `site-b` -> b."""
        return service.split("-")[1]

    def features(self) -> set[str]:
        """What a region offers a scenario besides its faults: its size, and a hub cluster's nodes."""
        return {f"islands:{self.islands}", f"hub-nodes:{self.hub_nodes}"}

    def site_database(self, data_dir: Path) -> Path:
        """The hub's site's database: the hub's editors publish to every island."""
        return database(data_dir, HUB)

    async def replication(self, state: StateDir) -> dict[str, dict[str, object]]:
        """Each place's replication state as its replicator last wrote it (every second), and for an
        island whether its link to the hub is up (its link relay's mode)."""
        places: dict[str, dict[str, object]] = {}
        for place in self.places():
            try:
                written = json.loads((state.path / f"region-{place}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                written = {"place": place, "connected": False, "lag": None, "last_exchange": None}
            if place != HUB and self.relayed:
                try:
                    reply = await control(link_socket(state, place), {}, timeout=1.0)
                    written["link"] = "up" if reply.get("mode") == "up" else "cut"
                except (OSError, ValueError, TimeoutError):
                    written["link"] = "unknown"
            places[place] = written
        return places


@dataclass(frozen=True)
class LocalRegion(RegionLayout):
    """On loopback: every place its own 127.NET.x address (topology/local.py)."""

    islands: int
    net: str
    privileged: bool
    hub_nodes: int = 1
    relayed: bool = True

    def addresses(self, island: str) -> Addresses:
        return local_addresses(self.topology, island, self.net, self.privileged)

    def hub_hosts(self) -> list[str]:
        return hub_node_addresses(self.topology, self.net)


@dataclass(frozen=True)
class NetnsRegion(RegionLayout):
    """In namespaces: each island's host and the hub (on the stadsnät) as topology/netns.py places them."""

    islands: int
    netns: NetnsPlan
    hub_nodes: int = 1
    relayed: bool = False

    def addresses(self, island: str) -> Addresses:
        return self.netns.addresses(island)

    def hub_hosts(self) -> list[str]:
        return self.netns.host_addresses(self.topology.host(HUB))

    def namespace_of(self, service: str) -> str:
        """The namespace a service runs in: the topology's own services, else the place's host."""
        try:
            return self.netns.service_namespace(service)
        except KeyError:
            place = self.place_of(service)
            return self.netns.namespace(HUB if place == HUB else self.topology.island(place).host)


def local_region(islands: int, privileged: bool, net: str | None = None, hub_nodes: int = 1) -> LocalRegion:
    return LocalRegion(islands, net or net_from_env(), privileged, hub_nodes)


def prepare(layout: RegionLayout, data_dir: Path) -> Path:
    """Credentials, server configurations (with each island's leaf link through its relay), and
    every place's database made before anything starts (the outbox's triggers catch the first
    registration). Kept in the data folder: keys and streams outlive `island down` as records do."""
    # Here, not at the top: the region's command module brings the NATS client, which a command on one
    # island never needs.
    from services.region.__main__ import setup

    folder = data_dir / REGION_FOLDER
    region = layout.plan()
    _same_hub(folder, region)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "region.yaml").write_text(_yaml(region), encoding="utf-8")
    setup(region, folder)
    for place in layout.places():
        _relink(folder, layout, place)
        db = database(data_dir, place)
        db.parent.mkdir(parents=True, exist_ok=True)
        Store(str(db)).close()
        Outbox(str(db)).close()
    return folder


def _same_hub(folder: Path, region: plan.Region) -> None:
    """The hub's streams were made for the hub this data folder had: one node's are not a cluster's."""
    made = folder / "region.yaml"
    if not made.exists():
        return
    before = len(plan.load(made).hub)
    if before != len(region.hub):
        raise BackendError(
            f"this data folder holds a region whose hub has {before} node{'s' if before > 1 else ''}, "
            f"not {len(region.hub)}: start it as it was (--hub-nodes {before}), or delete its data "
            "with `island down --purge` first"
        )


def _yaml(region: plan.Region) -> str:
    return yaml.safe_dump(plan.to_dict(region), sort_keys=False)


def _relink(folder: Path, layout: RegionLayout, place: str) -> None:
    """An island's leaf node reaches each hub node through its own link relay (the node's address, so
    the node's certificate still matches; the island's own port, so one island's link can be cut)."""
    if place == HUB or not layout.relayed:
        return
    conf = folder / place / "nats.conf"
    rendered = json.loads(conf.read_text(encoding="utf-8"))
    relayed = {
        host: f"tls://{host}:{layout.link_port(place, n)}" for n, host in enumerate(layout.hub_hosts())
    }
    remote = rendered["leafnodes"]["remotes"][0]
    remote["urls"] = [relayed[url.removeprefix("tls://").rsplit(":", 1)[0]] for url in remote["urls"]]
    conf.write_text(json.dumps(rendered, indent=2), encoding="utf-8")


def database(data_dir: Path, place: str) -> Path:
    """Each place's site and registry: one SQLite file in a folder of its own."""
    return data_dir / place / "site.sqlite3"


def nats_conf(folder: Path, place: str, node: str = "n1") -> Path:
    return folder / (f"hub-{node}" if place == HUB else place) / "nats.conf"


def link_socket(state: StateDir, island: str) -> str:
    return str(state.path / f"link-{island}.sock")


def certificate_clients(layout: RegionLayout, data_dir: Path) -> list[dict[str, Any]]:
    """Every place's site, each with the credential in its own data folder, for the certificate service."""
    return [certificate_client(layout.hub_addresses(), data_dir / HUB)] + [
        certificate_client(layout.addresses(name), data_dir / name) for name in layout.names()
    ]


def region_specs(layout: RegionLayout, state: StateDir, data_dir: Path) -> list[ServiceSpec]:
    """Every place's own services (not the shared internet and uplink relay), the hub's first."""
    folder = data_dir / REGION_FOLDER
    specs = [
        *(_nats(layout, folder, HUB, node) for node in layout.hub_node_names()),
        _site(layout.hub_addresses(), data_dir, HUB, region_state=str(state.path / f"region-{HUB}.json")),
        _replicator(layout, folder, data_dir, state, HUB),
    ]
    for name in layout.names():
        addresses = layout.addresses(name)
        _, resolver, site = island_services(addresses, data_dir=data_dir / name)
        specs += [
            replace(resolver, name=f"resolver-{name}", title=f"island resolver ({name})"),
            replace(
                site,
                name=f"site-{name}",
                title=f"crisis site ({name})",
                config={**(site.config or {}), "region": True},
            ),
            _nats(layout, folder, name),
            *([_link(layout, state, name)] if layout.relayed else []),
            _replicator(layout, folder, data_dir, state, name),
        ]
    return specs


def _site(addresses: Addresses, data_dir: Path, place: str, region_state: str) -> ServiceSpec:
    """The hub's crisis site: its editors publish to every island and see each island's link."""
    site = island_services(addresses, data_dir=data_dir / place)[2]
    config = {
        **(site.config or {}),
        "resolver_metrics": None,
        "region_state": region_state,
        "region": True,
    }  # no resolver here
    return replace(site, name=f"site-{place}", title=f"crisis site ({place})", config=config, connected=None)


def _nats(layout: RegionLayout, folder: Path, place: str, node: str = "n1") -> ServiceSpec:
    """One place's nats-server; at the hub, one node (a cluster's also listen for their routes)."""
    host = layout.hub_hosts()[layout.hub_node_names().index(node)] if place == HUB else layout.host_of(place)
    ports = [CLIENT_PORT, MONITOR_PORT] + ([LEAF_PORT] if place == HUB else [])
    ports += [CLUSTER_PORT] if place == HUB and layout.hub_nodes > 1 else []
    conf = nats_conf(folder, place, node)
    name = layout.nats_service(place, node)
    return ServiceSpec(
        name=name,
        title=f"nats-server ({name.removeprefix('nats-')})",
        module="nats-server",
        config=None,
        args=("-c", str(conf), "-l", str(conf.with_name("nats.log"))),
        ports=tuple((host, port, "tcp") for port in ports),
        where=f"{host}:{CLIENT_PORT}" + (f", leaf nodes {host}:{LEAF_PORT}" if place == HUB else ""),
        health=lambda: http_ok(web_url(host, MONITOR_PORT, "/healthz")),
        program=binary(),
    )


def _link(layout: RegionLayout, state: StateDir, island: str) -> ServiceSpec:
    """One relay per island, listening on every hub node's address (a port each): cut, all go down."""
    hosts = {layout.link_port(island, n): host for n, host in enumerate(layout.hub_hosts())}
    hub, port = layout.hub_host, layout.link_port(island)
    return ServiceSpec(
        name=f"link-{island}",
        title=f"island {island}'s link to the hub (a relay on the stadsnät)",
        module="island.backends.local_uplink",
        config={
            "listen_host": hub,
            "target_host": hub,
            "target_port": LEAF_PORT,
            "udp_ports": [],
            "tcp_ports": list(hosts),
            "hosts": {str(p): host for p, host in hosts.items()},
            "control_socket": link_socket(state, island),
        },
        args=(),
        ports=((hub, port, "tcp"),),
        where=f"{hub}:{port} -> {hub}:{LEAF_PORT}",
        health=lambda: tcp_open(hub, port),
    )


def _replicator(
    layout: RegionLayout, folder: Path, data_dir: Path, state: StateDir, place: str
) -> ServiceSpec:
    db = str(database(data_dir, place))
    url = layout.replicator_url(place)
    host_port = url.removeprefix("http://").removesuffix("/state")
    return ServiceSpec(
        name=f"replicator-{place}",
        title=f"region replicator ({place})",
        module="services.region",
        config=None,
        args=(
            "replicator",
            str(folder / "region.yaml"),
            str(folder),
            "--place",
            place,
            "--registry",
            db,
            "--site",
            db,
            "--state-file",
            str(state.path / f"region-{place}.json"),
            "--metrics",
            host_port,
        ),
        ports=((layout.host_of(place), REPLICATOR_PORT, "tcp"),),
        where=f"{url.removesuffix('/state')}/metrics",
        health=lambda: http_ok(url),
    )
