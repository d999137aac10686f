"""The server name read from real ClientHellos, as OpenSSL writes them (TLS 1.2 and 1.3)."""

from __future__ import annotations

import ssl

import pytest

from services.tls.client_hello import read_hello


def client_hello(server_name: str | None, version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.maximum_version = version
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_the_name_a_client_asks_for_is_read_lower_case(version: ssl.TLSVersion) -> None:
    hello = read_hello(client_hello("WWW.Google.com", version))
    assert hello.complete and hello.known and hello.name == "www.google.com"


def test_a_hello_without_a_name_is_known_to_have_none() -> None:
    hello = read_hello(client_hello(None))
    assert hello.complete and hello.known and hello.name is None


def test_part_of_a_record_is_not_complete_and_other_bytes_are_not_known() -> None:
    whole = client_hello("captive.apple.com")
    assert not read_hello(whole[:4]).complete
    assert not read_hello(whole[:-1]).complete
    plain = read_hello(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"x" * 30000)
    assert plain.complete and not plain.known and plain.name is None
