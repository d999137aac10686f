"""NATS user nkeys: an Ed25519 key pair in NATS's text form (base32 with a prefix byte and a CRC16).

Each island gets its own user nkey; the hub's configuration holds only the public key, so a leaked
hub configuration lets no one pose as an island. Made with `cryptography` (the region CA uses it
too) rather than the `nkeys` package, which would bring PyNaCl for the same curve.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

_PREFIX_SEED = 18 << 3  # "S"
_PREFIX_USER = 20 << 3  # "U"


def _crc16(data: bytes) -> int:
    """CRC-16/XMODEM, as NATS checksums its keys."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _encode(raw: bytes) -> str:
    raw += struct.pack("<H", _crc16(raw))
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 8)
    raw = base64.b32decode(padded)
    body, checksum = raw[:-2], struct.unpack("<H", raw[-2:])[0]
    if _crc16(body) != checksum:
        raise ValueError("nkey checksum does not match")
    return body


@dataclass(frozen=True)
class UserKey:
    seed: str  # secret: "SU…", stays on the island
    public: str  # "U…", goes into the hub's configuration


def user_from_seed(seed: str) -> UserKey:
    body = _decode(seed)
    if (
        len(body) != 34
        or body[0] != _PREFIX_SEED | (_PREFIX_USER >> 5)
        or body[1] != (_PREFIX_USER & 31) << 3
    ):
        raise ValueError("not a user nkey seed")
    private = Ed25519PrivateKey.from_private_bytes(body[2:])
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return UserKey(seed, _encode(bytes([_PREFIX_USER]) + public))


def new_user() -> UserKey:
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    prefix = bytes([_PREFIX_SEED | (_PREFIX_USER >> 5), (_PREFIX_USER & 31) << 3])
    return user_from_seed(_encode(prefix + raw))
