"""DHCP on the netns backend: a dnsmasq for each trygghetspunkt's Wi-Fi, and phones that join it.

The router stands where a trygghetspunkt's access point would: dnsmasq runs in the router's
namespace on its cable to the place's network, with the configuration ``island deploy render``
writes for a real box (:func:`island.deploy.render.dhcp_config`), filled in with the simulator's
addresses. A phone that joins is a new namespace on that network (a macvlan beside the place's
phone on the same cable: one more phone on the same Wi-Fi); busybox ``udhcpc`` asks for an address
there and :data:`APPLY_LEASE` applies it as a phone's OS would (address, default route, the
namespace's own resolv.conf) and writes down what it got, option 114 included. The phone then runs
its OS's check from there, through the DNS server the lease named, and leaves (releasing its lease).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from services.crisis_site.routes.captive import api_url
from services.upstream.pebble import public_ca

from ..contract import Lease, Operation, Outcome
from ..deploy.render import DhcpPlan, dhcp_config
from ..probes import Place, Prober
from ..service_specs import ServiceSpec
from ..topology.netns import LEAF_INTERFACE
from . import _netns

if TYPE_CHECKING:
    from .netns import NetnsBackend

# The pool on each Wi-Fi's /24: clear of the router (.1) and the place's own phone (.10).
POOL_FIRST, POOL_LAST = 100, 199
LEASE_MINUTES = 10
DHCP_SERVER_PORT = "0043"  # 67, as /proc/net/udp writes it
OPTION_CAPTIVE_PORTAL = 114  # RFC 8910
# The udhcpc script: what a phone's OS does with a lease, then a note of it for the backend.
# busybox passes option 114, which it has no name for, as hex in $opt114.
APPLY_LEASE = """#!/bin/sh
# udhcpc runs this on each DHCP event ($1) in the joining phone's namespace.
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    set -- $router
    ip route replace default via "$1" dev "$interface"
    : > "/etc/netns/$ODRIFT_NETNS/resolv.conf"
    for server in $dns; do echo "nameserver $server" >> "/etc/netns/$ODRIFT_NETNS/resolv.conf"; done
    printf 'address=%s\\nrouter=%s\\ndns=%s\\noption114=%s\\n' "$ip" "$1" "$dns" "$opt114" > "$ODRIFT_LEASE.new"
    mv "$ODRIFT_LEASE.new" "$ODRIFT_LEASE"
    ;;
esac
"""

SERVICE_PREFIX = "dhcp-"
_joins = itertools.count(1)


def wifi_places(backend: NetnsBackend) -> list[str]:
    """The places with the island's Wi-Fi: every trygghetspunkt (a home on the stadsnät has its own router)."""
    return [p.name for p in backend.plan.topology.places if p.name.startswith("trygghetspunkt")]


def dhcp_plan(backend: NetnsBackend, place: str) -> DhcpPlan:
    plan = backend.plan
    t = plan.topology
    network = t.network(t.place(place).host)
    addresses = plan.addresses(t.place(place).island, backend.addresses.crisis_name)
    prefix = f"10.{network.number}.0."
    return DhcpPlan(
        ssid=f"Ödrift {place}",
        place=place,
        network=f"{prefix}0/24",
        interface=plan.router_interface(t.place(place).host),
        first=f"{prefix}{POOL_FIRST}",
        last=f"{prefix}{POOL_LAST}",
        lease_minutes=LEASE_MINUTES,
        router=plan.router_address(network.name),
        dns=addresses.resolver_address,
        domain="kommun.example",
        captive_api=api_url(addresses.crisis_name),
        lease_file=str(backend.state.file_for(f"dhcp-{place}.leases")),
    )


def dhcp_specs(backend: NetnsBackend) -> list[ServiceSpec]:
    """One dnsmasq per Wi-Fi, in the router. From a site file (``island up --site``): the rendered
    configuration file as it is; otherwise one written beside the other state with the simulator's addresses."""
    if backend.site is not None:
        site = backend.site
        where = f"{site.lan_interface} in the router, the Wi-Fi {site.network}, as rendered"
        return [_dnsmasq(site.place, site.dhcp_config, where)]
    specs = []
    for place in wifi_places(backend):
        plan = dhcp_plan(backend, place)
        conf = backend.state.file_for(f"{SERVICE_PREFIX}{place}.conf")
        conf.write_text(dhcp_config(plan), encoding="utf-8")
        where = f"{plan.interface} in the router, {plan.first}-{plan.last}, option 114 {plan.captive_api}"
        specs.append(_dnsmasq(place, conf, where))
    return specs


def _dnsmasq(place: str, conf: Path, where: str) -> ServiceSpec:
    return ServiceSpec(
        name=f"{SERVICE_PREFIX}{place}",
        title=f"DHCP server for {place}'s Wi-Fi (dnsmasq)",
        module=str(conf),  # what identifies this dnsmasq among others
        config=None,
        args=(
            "--keep-in-foreground",
            f"--conf-file={conf}",
            "--user=root",  # no dnsmasq user in a bare Debian; the namespace is its jail
            "--pid-file",  # none: the supervisor keeps the pid
            "--log-facility=-",
        ),
        ports=(),
        where=where,
        health=_serves_dhcp,
        program="dnsmasq",
    )


async def _serves_dhcp() -> None:
    """Something listens on the DHCP server port in this thread's namespace (health runs in the router)."""
    table = await asyncio.to_thread(Path("/proc/thread-self/net/udp").read_text)
    if not any(line.split()[1].endswith(f":{DHCP_SERVER_PORT}") for line in table.splitlines()[1:]):
        raise RuntimeError("nothing listens on UDP port 67 yet")


async def join_and_check(backend: NetnsBackend, operation: Operation) -> Outcome:
    """A phone joins the place's Wi-Fi with DHCP, runs its OS's check from there, and leaves."""
    assert operation.phone is not None
    started = time.perf_counter()
    namespace = f"{backend.prefix}ph{next(_joins)}-{os.getpid() % 10000}"
    lease_file = backend.state.file_for(f"{namespace}.lease")
    client: asyncio.subprocess.Process | None = None
    loop: _netns.NamespaceLoop | None = None
    try:
        await asyncio.to_thread(_arrive, backend, operation.place, namespace)
        script = backend.state.file_for("apply-lease.sh")
        if not script.exists():
            script.write_text(APPLY_LEASE, encoding="utf-8")
            script.chmod(0o755)
        lease_file.unlink(missing_ok=True)
        asked = time.perf_counter()
        # -R: release the lease on leaving (the pool is not used up by a rehearsal's many phones).
        client = await asyncio.create_subprocess_exec(
            *("ip", "netns", "exec", namespace, "busybox", "udhcpc", "-f", "-R", "-i", LEAF_INTERFACE),
            *("-s", str(script), "-O", str(OPTION_CAPTIVE_PORTAL), "-t", "10", "-T", "1"),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "ODRIFT_NETNS": namespace, "ODRIFT_LEASE": str(lease_file)},
            start_new_session=True,
        )
        lease = await _wait_for_lease(lease_file, client, asked, started + operation.timeout)
        if lease is None:
            return Outcome(
                "fail",
                (time.perf_counter() - started) * 1000,
                f"no-internet (no address from DHCP within {operation.timeout:g} s)",
            )
        loop = _netns.NamespaceLoop(namespace)
        t = backend.addresses
        # The phone asks the DNS server its lease named, and trusts what any phone trusts.
        place = Place(lease.dns, t.dns_port, t.http_port, ca_file=public_ca(backend.state.path))
        check = operation.model_copy(
            update={
                "phone": operation.phone.model_copy(update={"join": False}),
                "timeout": max(0.1, operation.timeout - (time.perf_counter() - started)),
            }
        )
        prober = Prober(place, t.crisis_name)
        outcome = await loop.run(lambda: prober.run(check))
        detail = (
            f"{outcome.detail} · joined in {lease.join_ms:.0f} ms: {lease.address}, DNS {lease.dns}, "
            f"option 114 {lease.captive_api or '(none)'}"
        )
        return replace(outcome, latency_ms=(time.perf_counter() - started) * 1000, detail=detail, lease=lease)
    finally:
        if loop is not None:
            loop.close()
        if client is not None:
            await _leave(client)
        lease_file.unlink(missing_ok=True)
        await asyncio.to_thread(_netns.remove, namespace)


def _arrive(backend: NetnsBackend, place: str, namespace: str) -> None:
    """A new namespace whose eth0 is on the place's network, beside the place's own phone."""
    host_ns = backend.plan.place_namespace(place)
    link = f"j{namespace.rsplit('ph', 1)[1]}"[:15]
    Path(_netns.NETNS_ETC / namespace).mkdir(parents=True, exist_ok=True)
    (_netns.NETNS_ETC / namespace / "resolv.conf").write_text("# no lease yet\n", encoding="utf-8")
    for argv in (
        ("ip", "netns", "add", namespace),
        ("ip", "-n", namespace, "link", "set", "lo", "up"),
        ("ip", "-n", host_ns, "link", "add", "link", LEAF_INTERFACE, "name", link)
        + ("type", "macvlan", "mode", "bridge"),
        ("ip", "-n", host_ns, "link", "set", link, "netns", namespace),
        ("ip", "-n", namespace, "link", "set", link, "name", LEAF_INTERFACE),
        ("ip", "-n", namespace, "link", "set", LEAF_INTERFACE, "up"),
    ):
        _netns.run(*argv)


async def _wait_for_lease(
    path: Path, client: asyncio.subprocess.Process, asked: float, deadline: float
) -> Lease | None:
    """The lease the script wrote down, timed from the DHCP client's start; None if none by the deadline."""
    while time.perf_counter() < deadline and client.returncode is None:
        if path.exists():
            joined = (time.perf_counter() - asked) * 1000
            fields = dict(
                line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line
            )
            return Lease(
                address=fields["address"],
                dns=fields["dns"].split()[0] if fields["dns"] else "",
                router=fields["router"],
                captive_api=_option_text(fields.get("option114", "")),
                join_ms=round(joined, 1),
            )
        await asyncio.sleep(0.005)
    return None


def _option_text(value: str) -> str:
    """Option 114 as udhcpc gives it: hex when it has no name for the option, text otherwise."""
    try:
        return bytes.fromhex(value).decode()
    except ValueError:
        return value


async def _leave(client: asyncio.subprocess.Process) -> None:
    """The phone leaves the Wi-Fi: udhcpc releases its lease on SIGTERM (-R)."""
    if client.returncode is None:
        try:
            os.killpg(client.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(client.wait(), 2.0)
        except TimeoutError:
            os.killpg(client.pid, signal.SIGKILL)
            await client.wait()


__all__ = ["dhcp_specs", "join_and_check", "wifi_places"]
