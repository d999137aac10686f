"""Zone data answered as an authoritative server would: data, NODATA, NXDOMAIN, SOA in negatives."""

from __future__ import annotations

import pytest
from dnslib import QTYPE, RCODE, DNSLabel

from services.dns import Zone, ZoneError, Zones

KOMMUN = """\
@        3600 IN SOA ns1 hostmaster 2026112301 3600 600 86400 60
@        IN NS  ns1
ns1      IN A   10.20.0.2
@        IN A   10.20.0.10
krisinfo 30   IN A   10.20.0.10
www      IN CNAME krisinfo
extern   IN CNAME www.bank.example.
a.b.c    IN A   10.20.0.99
@        IN TXT "v=spf1 -all"
"""


def zone() -> Zone:
    return Zone.from_text("kommun.example", KOMMUN)


def test_data_answer_with_configured_ttl() -> None:
    found = zone().lookup("krisinfo.kommun.example", QTYPE.A)
    assert found.rcode == RCODE.NOERROR
    assert [(str(rr.rname), rr.rtype, str(rr.rdata), rr.ttl) for rr in found.answer] == [
        ("krisinfo.kommun.example.", QTYPE.A, "10.20.0.10", 30)
    ]
    assert found.authority == []


def test_records_without_ttl_get_the_default_ttl() -> None:
    found = Zone.from_text("kommun.example", "x IN A 10.0.0.1", default_ttl=123).lookup(
        "x.kommun.example", QTYPE.A
    )
    assert [rr.ttl for rr in found.answer] == [123]


def test_nodata_for_existing_name_with_other_type() -> None:
    found = zone().lookup("krisinfo.kommun.example", QTYPE.AAAA)
    assert found.rcode == RCODE.NOERROR
    assert found.answer == []
    assert [(str(rr.rname), rr.rtype) for rr in found.authority] == [("kommun.example.", QTYPE.SOA)]


def test_nxdomain_with_soa_for_missing_name() -> None:
    found = zone().lookup("nosuch.kommun.example", QTYPE.A)
    assert found.rcode == RCODE.NXDOMAIN
    assert found.answer == []
    assert [(str(rr.rname), rr.rtype) for rr in found.authority] == [("kommun.example.", QTYPE.SOA)]
    assert str(found.authority[0].rdata.mname) == "ns1.kommun.example."


def test_nxdomain_below_an_existing_name() -> None:
    found = zone().lookup("deeper.krisinfo.kommun.example", QTYPE.A)
    assert found.rcode == RCODE.NXDOMAIN


@pytest.mark.parametrize("name", ["b.c.kommun.example", "c.kommun.example"])
def test_empty_non_terminal_is_nodata(name: str) -> None:
    found = zone().lookup(name, QTYPE.A)
    assert found.rcode == RCODE.NOERROR
    assert found.answer == []
    assert [rr.rtype for rr in found.authority] == [QTYPE.SOA]


def test_negative_ttl_is_min_of_soa_ttl_and_minimum() -> None:
    # SOA TTL 3600, MINIMUM 60 -> 60
    assert zone().lookup("nosuch.kommun.example", QTYPE.A).authority[0].ttl == 60
    # SOA TTL 20, MINIMUM 600 -> 20
    low_ttl = Zone.from_text("x.example", "@ 20 IN SOA ns hm 1 3600 600 86400 600\nwww IN A 10.0.0.1")
    assert low_ttl.lookup("nosuch.x.example", QTYPE.A).authority[0].ttl == 20
    assert low_ttl.lookup("www.x.example", QTYPE.MX).authority[0].ttl == 20


def test_soa_query_answers_the_full_ttl() -> None:
    found = zone().lookup("kommun.example", QTYPE.SOA)
    assert [(rr.rtype, rr.ttl) for rr in found.answer] == [(QTYPE.SOA, 3600)]


def test_synthesized_soa_when_zone_has_none() -> None:
    z = Zone.from_text("island.example", "crisis IN A 10.20.0.10")
    assert str(z.soa.rname) == "island.example."
    found = z.lookup("nosuch.island.example", QTYPE.A)
    assert found.rcode == RCODE.NXDOMAIN
    [soa] = found.authority
    assert soa.rtype == QTYPE.SOA
    assert str(soa.rname) == "island.example."
    assert soa.ttl == min(3600, soa.rdata.times[-1])
    # the apex answers its synthesized SOA
    assert [rr.rtype for rr in z.lookup("island.example", QTYPE.SOA).answer] == [QTYPE.SOA]


def test_empty_zone_text_is_a_zone_with_only_its_soa() -> None:
    z = Zone.from_text("empty.example", "")
    assert z.lookup("empty.example", QTYPE.A).rcode == RCODE.NOERROR
    assert z.lookup("www.empty.example", QTYPE.A).rcode == RCODE.NXDOMAIN


def test_record_outside_the_zone_is_a_zone_error() -> None:
    with pytest.raises(ZoneError) as err:
        Zone.from_text("kommun.example", "www.bank.example. IN A 10.0.0.1")
    assert "kommun.example." in str(err.value)
    assert "www.bank.example." in str(err.value)


def test_unparseable_zone_text_is_a_zone_error_naming_the_zone() -> None:
    with pytest.raises(ZoneError, match="kommun.example"):
        Zone.from_text("kommun.example", "krisinfo IN A not-an-address")


def test_cname_followed_within_the_zone() -> None:
    found = zone().lookup("www.kommun.example", QTYPE.A)
    assert found.rcode == RCODE.NOERROR
    assert [(str(rr.rname), QTYPE[rr.rtype], str(rr.rdata)) for rr in found.answer] == [
        ("www.kommun.example.", "CNAME", "krisinfo.kommun.example."),
        ("krisinfo.kommun.example.", "A", "10.20.0.10"),
    ]


def test_cname_query_for_cname_returns_only_the_cname() -> None:
    found = zone().lookup("www.kommun.example", QTYPE.CNAME)
    assert [QTYPE[rr.rtype] for rr in found.answer] == ["CNAME"]


def test_cname_to_name_outside_zone_returns_just_the_cname() -> None:
    found = zone().lookup("extern.kommun.example", QTYPE.A)
    assert found.rcode == RCODE.NOERROR
    assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in found.answer] == [("CNAME", "www.bank.example.")]


def test_cname_to_missing_name_in_zone_is_nxdomain_with_the_cname() -> None:
    z = Zone.from_text("x.example", "alias IN CNAME gone")
    found = z.lookup("alias.x.example", QTYPE.A)
    assert found.rcode == RCODE.NXDOMAIN
    assert [QTYPE[rr.rtype] for rr in found.answer] == ["CNAME"]
    assert [rr.rtype for rr in found.authority] == [QTYPE.SOA]


def test_cname_loop_does_not_crash_the_lookup() -> None:
    z = Zone.from_text("x.example", "a IN CNAME b\nb IN CNAME a")
    found = z.lookup("a.x.example", QTYPE.A)
    assert found.rcode == RCODE.NOERROR
    assert {QTYPE[rr.rtype] for rr in found.answer} == {"CNAME"}


def test_names_are_case_insensitive() -> None:
    z = Zone.from_text("Kommun.Example", "KrisInfo IN A 10.20.0.10")
    found = z.lookup("KRISINFO.kommun.EXAMPLE", QTYPE.A)
    assert found.rcode == RCODE.NOERROR
    assert [str(rr.rdata) for rr in found.answer] == ["10.20.0.10"]
    assert z.contains(DNSLabel("x.KOMMUN.example"))


def test_any_returns_every_record_of_the_name() -> None:
    found = zone().lookup("kommun.example", QTYPE.ANY)
    assert {QTYPE[rr.rtype] for rr in found.answer} == {"SOA", "NS", "A", "TXT"}


def test_most_specific_zone_wins() -> None:
    parent = Zone.from_text("kommun.example", "www IN A 192.0.2.1")
    child = Zone.from_text("krisinfo.kommun.example", "@ IN A 10.20.0.10")
    other = Zone.from_text("bank.example", "")
    for order in ([parent, child, other], [child, other, parent]):
        zones = Zones(order)
        assert zones.find(DNSLabel("krisinfo.kommun.example")) is child
        assert zones.find(DNSLabel("a.b.KRISINFO.kommun.example")) is child
        assert zones.find(DNSLabel("www.kommun.example")) is parent
        assert zones.find(DNSLabel("kommun.example")) is parent
        assert zones.find(DNSLabel("www.bank.example")) is other
        assert zones.find(DNSLabel("example")) is None
        assert zones.find(DNSLabel("xkommun.example")) is None
        assert zones.find(DNSLabel("www.example.org")) is None
    assert len(Zones([parent, child])) == 2
    assert len(Zones()) == 0
