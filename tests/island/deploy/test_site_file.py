"""The site file: the shipped example is valid, and every mistake names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from island.deploy.site import SiteFileError, load_site

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "island.site.yaml"


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "island.site.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(
        i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line
    )


def test_the_example_site_is_valid() -> None:
    site = load_site(EXAMPLE)
    assert site.crisis_name == "krisinfo.kommun.example"
    assert [t.id for t in site.trygghetspunkter] == ["biblioteket", "norrbyskolan"]
    assert site.portal_api == "https://krisinfo.kommun.example/api/captive"


@pytest.mark.parametrize(
    ("old", "new", "needle", "field", "message"),
    [
        (
            "network: 10.44.0.0/22",
            "network: 10.44.0.0/33",
            "10.44.0.0/33",
            "trygghetspunkter[0].wifi.network",
            "not an IPv4 network",
        ),
        (
            "dhcp_first: 10.44.0.100",
            "dhcp_first: 10.45.0.100",
            "10.45.0.100",
            "trygghetspunkter[0].wifi",
            "not a host address",
        ),
        (
            "    water: true\n    heat: true\n    toilets: true\n    charging: true\n    phone_112: true",
            "    water: true\n    heat: true\n    toilets: true\n    charging: true\n    phone_112: true\n    colour: red",
            "colour: red",
            "trygghetspunkter[0].colour",
            "unknown field",
        ),
        (
            "  - id: norrbyskolan",
            "  - id: Norrby Skolan",
            "Norrby Skolan",
            "trygghetspunkter[1].id",
            "lower-case",
        ),
        (
            "upstreams: [192.0.2.53, 198.51.100.53]",
            "upstreams: [192.0.2.53, resolver.example]",
            "resolver.example",
            "resolver.upstreams",
            "not an IP address",
        ),
        (
            "  hub: nats-hub.kommun.example:7422",
            "  hub: nats-hub.kommun.example",
            "hub: nats-hub",
            "region.hub",
            "host:port",
        ),
    ],
)
def test_a_mistake_names_file_line_and_field(
    tmp_path: Path, old: str, new: str, needle: str, field: str, message: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(SiteFileError) as caught:
        load_site(path)
    text = str(caught.value)
    assert f"{path}:" in text
    assert field in text and message in text, text
    line = _line_of(path, needle)
    # The error points at the offending line, or at its parent mapping for a whole-object rule.
    reported = int(text.split(":")[1])
    assert reported <= line and line - reported <= 12, (reported, line, text)


def test_the_crisis_name_must_be_in_the_municipalitys_domain(tmp_path: Path) -> None:
    path = _broken(tmp_path, "crisis_name: krisinfo.kommun.example", "crisis_name: krisinfo.example.org")
    with pytest.raises(SiteFileError, match="HSTS"):
        load_site(path)


def test_overlapping_wifi_networks_are_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "network: 10.44.4.0/22", "network: 10.44.0.0/21")
    with pytest.raises(SiteFileError, match="overlap"):
        load_site(path)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    path = _broken(tmp_path, "resolver:\n  upstreams: [192.0.2.53, 198.51.100.53]", "")
    with pytest.raises(SiteFileError, match=r":\?*\d*: resolver: Field required"):
        load_site(path)


def test_not_yaml_is_said_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("municipality:\n  name: [unclosed\n", encoding="utf-8")
    with pytest.raises(SiteFileError, match=r"bad.yaml:\d+: not valid YAML"):
        load_site(path)


def test_a_line_break_in_a_name_cannot_reach_the_rendered_configuration(tmp_path: Path) -> None:
    """The SSID and the place's name are written into dnsmasq's file: a line break there would end the
    comment and add a directive (run as root by a box's dnsmasq)."""
    path = _broken(tmp_path, "ssid: Krisinfo-Sjobacka", 'ssid: "Krisinfo\\ndhcp-script=/tmp/x"')
    with pytest.raises(SiteFileError, match="without control characters") as caught:
        load_site(path)
    assert "ssid" in str(caught.value)
    assert load_site(EXAMPLE).standing_notice.text  # the notice's own text keeps its line breaks allowed
