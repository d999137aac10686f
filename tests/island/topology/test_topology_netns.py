"""The netns builder: the namespaces, veths, routes and resolv.conf files, as the command list it returns."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from island_test_helpers import NET_BASE
from tiers import require_tier

from island.backends import _netns
from island.backends._netns import NamespaceLoop
from island.topology import standard
from island.topology.netns import Command, NetnsPlan, RealAddresses

PREFIX = "odrabc123-"


def argv_lines(plan: NetnsPlan) -> list[str]:
    return [" ".join(c.argv) for c in plan.commands()]


def test_todays_island_as_commands() -> None:
    plan = NetnsPlan(PREFIX)
    lines = argv_lines(plan)
    names = [f"{PREFIX}{s}" for s in ("rt", "up", "isl", "tpa", "tpb", "home")]
    assert plan.namespaces() == names
    assert lines[:2] == [f"ip netns add {PREFIX}rt", f"ip -n {PREFIX}rt link set lo up"]
    # Every namespace exists before the first veth joins two of them.
    first_veth = next(i for i, line in enumerate(lines) if "type veth" in line)
    assert {line.split()[-1] for line in lines[:first_veth] if line.startswith("ip netns add")} == set(names)
    assert lines[first_veth : first_veth + 7] == [
        f"ip -n {PREFIX}rt link add r-up type veth peer name eth0 netns {PREFIX}up",
        f"ip -n {PREFIX}rt addr add 10.1.0.1/24 dev r-up",
        f"ip -n {PREFIX}rt link set r-up up",
        f"ip -n {PREFIX}up addr add 10.1.0.2/24 dev eth0",
        f"ip -n {PREFIX}up link set eth0 up",
        f"ip -n {PREFIX}up route add default via 10.1.0.1",
        f"ip -n {PREFIX}rt link add r-isl type veth peer name eth0 netns {PREFIX}isl",
    ]
    assert f"ip -n {PREFIX}isl addr add 10.3.0.10/24 dev eth0" in lines
    assert f"ip -n {PREFIX}isl addr add 10.3.0.11/24 dev eth0" in lines
    assert f"ip -n {PREFIX}home route add default via 10.6.0.1" in lines
    assert Command(
        (*"ip netns exec".split(), f"{PREFIX}rt", "tee", "/proc/sys/net/ipv4/ip_forward"), "1\n"
    ) in (plan.commands())
    assert not any("sh" in c.argv[:1] or "-c" in c.argv for c in plan.commands()), (
        "no shell: each is run as it is"
    )


def test_each_phone_is_given_the_island_resolver() -> None:
    plan = NetnsPlan(PREFIX)
    writes = {
        c.argv[1]: c.input for c in plan.commands() if c.argv[0] == "tee" and c.argv[1].startswith("/etc")
    }
    assert set(writes) == {f"/etc/netns/{PREFIX}{s}/resolv.conf" for s in ("tpa", "tpb", "home")}
    assert all(text is not None and text.endswith("nameserver 10.3.0.10\n") for text in writes.values())
    mkdir = f"mkdir -p /etc/netns/{PREFIX}tpa"
    write = f"tee /etc/netns/{PREFIX}tpa/resolv.conf"
    assert argv_lines(plan).index(mkdir) < argv_lines(plan).index(write)


def test_the_faults_have_their_tables_and_names() -> None:
    plan = NetnsPlan(PREFIX)
    nft = [c for c in plan.commands() if c.argv[-3:] == ("nft", "-f", "-")]
    assert len(nft) == 1 and nft[0].argv[3] == f"{PREFIX}rt"
    assert nft[0].input == "add table inet odrift\nadd table ip odrift_nat\n"
    assert [plan.router_interface(link) for link in ("uplink", "island", "trygghetspunkt-b", "home")] == [
        "r-up",
        "r-isl",
        "r-tpb",
        "r-home",
    ]
    assert plan.service_namespace("uplink") == f"{PREFIX}rt", "the relay runs in the router"
    assert plan.service_namespace("site") == plan.place_namespace("trygghetspunkt-a").replace("tpa", "isl")


def test_the_addresses_the_services_and_probes_use() -> None:
    a = NetnsPlan(PREFIX).addresses(crisis_name="krisinfo.kommun.example")
    assert (a.upstream_address, a.internet_address, a.relay_address) == ("10.1.0.2", "10.1.0.2", "10.1.0.1")
    assert (a.resolver_address, a.site_address, a.dns_port, a.http_port) == ("10.3.0.10", "10.3.0.11", 53, 80)
    assert a.places == {"trygghetspunkt-a": "10.4.0.10", "trygghetspunkt-b": "10.5.0.10", "home": "10.6.0.10"}


SITE = RealAddresses(
    island_address="10.44.0.1",
    place="trygghetspunkt-a",
    network="10.44.0.0/22",
    phone_address="10.44.0.100",
    router_address="10.44.0.2",
    upstreams=("192.0.2.53", "198.51.100.53"),
)


def test_a_site_files_addresses_inside_the_namespaces() -> None:
    plan = NetnsPlan(PREFIX, real=SITE)
    lines = argv_lines(plan)
    # The box alone on its address, behind the router; the phone on the Wi-Fi, which the router shares.
    assert f"ip -n {PREFIX}isl addr add 10.44.0.1/32 dev eth0" in lines
    assert f"ip -n {PREFIX}rt route add 10.44.0.1/32 dev r-isl" in lines
    assert f"ip -n {PREFIX}tpa addr add 10.44.0.100/22 dev eth0" in lines
    # The router's leg on the Wi-Fi has the box's name for it: the rendered DHCP configuration runs there.
    assert f"ip -n {PREFIX}rt link add eth1 type veth peer name eth0 netns {PREFIX}tpa" in lines
    assert f"ip -n {PREFIX}rt addr add 10.44.0.2/22 dev eth1" in lines
    assert f"ip netns exec {PREFIX}rt tee /proc/sys/net/ipv4/conf/eth1/proxy_arp" in lines
    assert f"ip netns exec {PREFIX}rt tee /proc/sys/net/ipv4/neigh/eth1/proxy_delay" in lines
    (dnat,) = [c.input for c in plan.commands() if c.input and "odrift_site" in c.input]
    assert "ip daddr { 192.0.2.53, 198.51.100.53 } dnat to 10.1.0.2" in dnat
    a = plan.addresses(crisis_name="krisinfo.kommun.example")
    assert (a.resolver_address, a.site_address, a.resident_address) == (
        "10.44.0.1",
        "10.44.0.1",
        "10.44.0.100",
    )
    assert plan.resolv_confs()[f"{PREFIX}tpa"] == "10.44.0.1"
    # The other places keep the simulator's networks.
    assert a.places["home"] == "10.6.0.10"


def test_a_site_file_whose_addresses_the_simulator_uses_is_named() -> None:
    assert NetnsPlan(PREFIX, real=SITE).real_conflicts() == []
    clash = replace(
        SITE, network="10.0.0.0/14", island_address="10.0.0.1", upstreams=("10.1.0.53", "2001:db8::53")
    )
    problems = NetnsPlan(PREFIX, real=clash).real_conflicts()
    assert "the Wi-Fi network 10.0.0.0/14 overlaps the simulator's internet network 10.1.0.0/24" in problems
    assert "the upstream 10.1.0.53 is in the simulator's internet network 10.1.0.0/24" in problems
    assert "the upstream 2001:db8::53 is IPv6; the simulated stadsnät has IPv4 only" in problems


def test_a_region_links_each_island_and_the_hub_to_the_router() -> None:
    plan = NetnsPlan(PREFIX, standard(3))
    lines = argv_lines(plan)
    assert f"ip -n {PREFIX}rt link add r-hub type veth peer name eth0 netns {PREFIX}hub" in lines
    assert f"ip -n {PREFIX}hub addr add 10.9.0.10/24 dev eth0" in lines
    assert f"ip -n {PREFIX}islb addr add 10.13.0.11/24 dev eth0" in lines
    assert plan.resolv_confs() == {
        f"{PREFIX}tpa": "10.3.0.10",
        f"{PREFIX}tpb": "10.13.0.10",
        f"{PREFIX}tpc": "10.23.0.10",
    }
    assert plan.router_interface("stadsnät") == "r-hub"


def test_a_hub_cluster_has_an_address_per_node_in_the_hubs_namespace() -> None:
    plan = NetnsPlan(PREFIX, standard(3, hub_nodes=3))
    lines = argv_lines(plan)
    for address in ("10.9.0.10", "10.9.0.11", "10.9.0.12"):
        assert f"ip -n {PREFIX}hub addr add {address}/24 dev eth0" in lines
    assert plan.host_addresses(plan.topology.host("hub")) == ["10.9.0.10", "10.9.0.11", "10.9.0.12"]


def test_interface_names_fit_the_kernels_limit_in_the_largest_region() -> None:
    plan = NetnsPlan(PREFIX, standard(20))
    assert max(len(plan.router_interface(link.name)) for link in plan.topology.links) <= 15


def _connect(loop: NamespaceLoop, host: str) -> str:
    """What a TCP connection to port 7 from inside the namespace meets: a reset is an answer."""

    async def attempt() -> str:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, 7), 2.0)
        except ConnectionRefusedError:
            return "answered"
        except (OSError, TimeoutError) as exc:
            return f"unreachable ({exc})"
        writer.close()
        return "answered"

    return asyncio.run(loop.run(attempt))


def test_the_commands_build_a_region_whose_links_cut_apart() -> None:
    require_tier("netns", _netns.unavailable_reason())
    plan = NetnsPlan(f"odrtopo{NET_BASE}-", standard(3))
    for leftover in _netns.existing(plan.prefix):
        _netns.remove(leftover)
    loop = None
    try:
        for command in plan.commands():
            _netns.run(*command.argv, input=command.input)
        loop = NamespaceLoop(plan.place_namespace("trygghetspunkt-b"))
        b = plan.addresses("b")
        resolv = Path(f"/etc/netns/{plan.place_namespace('trygghetspunkt-b')}/resolv.conf")
        assert resolv.read_text(encoding="utf-8").endswith(f"nameserver {b.resolver_address}\n")
        hub = plan.host_addresses(plan.topology.host("hub"))[0]
        assert _connect(loop, b.resolver_address) == "answered"
        assert _connect(loop, hub) == "answered"
        assert _connect(loop, b.upstream_address) == "answered"
        # The internet uplink pulled: the hub is still there, the internet is not.
        _netns.run(
            "ip", "-n", plan.namespace("router"), "link", "set", plan.router_interface("uplink"), "down"
        )
        assert _connect(loop, hub) == "answered"
        assert _connect(loop, b.upstream_address).startswith("unreachable")
    finally:
        if loop is not None:
            loop.close()
        for namespace in _netns.existing(plan.prefix):
            _netns.remove(namespace)
    assert _netns.existing(plan.prefix) == []
