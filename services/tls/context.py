"""TLS settings, one place: TLS 1.2 and 1.3 with forward-secret AEAD ciphers only (Mozilla's "intermediate")."""

from __future__ import annotations

import ssl
from pathlib import Path

# TLS 1.2 suites; TLS 1.3's are OpenSSL's defaults (all AEAD). No CBC, no RSA key exchange.
TLS12_CIPHERS = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"


def server_context(pem: Path, key: Path | None = None) -> ssl.SSLContext:
    """A server context holding ``pem`` (the chain, and the key unless ``key`` names it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(str(pem), str(key) if key else None)
    return context


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A client context trusting only ``ca_file`` (the simulated public CA), names checked."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
