"""The small CA: its chains pass the same checks as a public CA's, for names and for IP addresses."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509

from services.tls.certificate import check
from services.tls.small_ca import SmallCA

NAME = "krisinfo.kommun.example"


def test_a_leaf_for_a_name_passes_the_web_pki_checks(tmp_path: Path) -> None:
    ca = SmallCA.make("A small CA")
    cert, key = ca.issue(tmp_path, [NAME])
    facts = check(cert, key, NAME, ca.write_root(tmp_path / "roots.pem"))
    assert facts.names == (NAME,) and "A small CA" in facts.issuer
    assert ca.name == "A small CA"


def test_a_leaf_for_an_ip_address_is_trusted_by_a_tls_client_of_the_ca(tmp_path: Path) -> None:
    """As Pebble's own port and the region hub are reached: by address, trusting only this CA."""
    made = SmallCA.make()
    ca = SmallCA.load(made.cert_pem, made.key_pem)  # as the region's CA: kept on disk, loaded again
    cert, key = ca.leaf(["127.0.0.1"], days=1).write(tmp_path, "listener")
    san = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert san.value.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def accept() -> None:
            conn, _ = listener.accept()
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")

        thread = threading.Thread(target=accept)
        thread.start()
        client = ssl.create_default_context(cafile=str(ca.write_root(tmp_path / "ca.pem")))
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                assert tls.recv(2) == b"ok"
        thread.join(5)
