"""The central issuer signs only what it checked: every identifier the ACME order would carry."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.upstream.acme_issuer import CentralIssuer, ChallengeRecords, IssueRefused

NAME = "krisinfo.kommun.example"


def _csr(common_name: str | None, sans: list[x509.GeneralName]) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    csr = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def _issuer(tmp_path: Path) -> CentralIssuer:
    # Nothing is contacted until a certificate is issued: the checks come first.
    return CentralIssuer("https://127.0.0.1:1/dir", tmp_path / "ca.pem", "kommun.example", ChallengeRecords())


def test_the_names_of_a_plain_request_are_its_dns_names(tmp_path: Path) -> None:
    assert _issuer(tmp_path).names_of(_csr(NAME, [x509.DNSName(NAME)])) == [NAME]


def test_a_common_name_beside_the_island_s_name_is_checked_too(tmp_path: Path) -> None:
    """The ACME order carries the subject's CN: an island asking for its own name in the SAN and
    another in the CN must be answered with both names, so the island's allowance refuses it."""
    names = _issuer(tmp_path).names_of(_csr("www.kommun.example", [x509.DNSName(NAME)]))
    assert sorted(names) == sorted([NAME, "www.kommun.example"])


def test_a_name_outside_the_zone_in_the_common_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IssueRefused, match="only names under kommun.example"):
        _issuer(tmp_path).names_of(_csr("bank.example", [x509.DNSName(NAME)]))


def test_an_ip_address_is_refused(tmp_path: Path) -> None:
    sans: list[x509.GeneralName] = [x509.DNSName(NAME), x509.IPAddress(ipaddress.ip_address("10.0.3.2"))]
    with pytest.raises(IssueRefused, match="only DNS names"):
        _issuer(tmp_path).names_of(_csr(None, sans))
