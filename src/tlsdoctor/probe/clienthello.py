"""Our own ClientHello, byte for byte: the probe must control exactly what it offers.

Theory of operation. ``ClientHelloSpec`` says what to offer (versions, SNI or none, suites, groups,
key shares, signature algorithms, ALPN, a size to pad to); ``encode_client_hello`` turns a spec plus
the random parts (client random, session id, key-share public keys) into the handshake message, and
``client_hello_records`` frames it into TLS records. Both are pure: the same inputs give the same
bytes, so tests compare bytes. ``fresh_randoms`` makes the random parts with ``os.urandom`` and real
X25519 / P-256 / P-384 public keys from ``cryptography``: a server that computes the shared secret
(every TLS 1.3 server does, before it answers) must get a valid point.

Layout (RFC 8446 section 4.1.2; RFC 5246 section 7.4.1.2 for TLS 1.0-1.2):

    legacy_version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
    compression_methods<1..2^8-1> extensions<8..2^16-1>

TLS 1.3 is offered only through supported_versions (RFC 8446 section 4.2.1) with legacy_version
0x0303; an offer of TLS 1.2 or below alone sends no supported_versions and puts the version in
legacy_version, as pre-1.3 clients do, so that old servers see what they expect.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from tlsdoctor.tls.registry import ExtensionType, NamedGroup

TLS10: Final = 0x0301
TLS11: Final = 0x0302
TLS12: Final = 0x0303
TLS13: Final = 0x0304

MAX_FRAGMENT: Final = 16384
"""Largest record plaintext (RFC 8446 section 5.1); a longer ClientHello is split over records."""

F5_PAD_LOW: Final = 256
F5_PAD_TARGET: Final = 512
"""ClientHellos of 256-511 bytes hang some F5 load balancers; clients pad them to 512 (RFC 7685 section 1)."""

LARGE_CLIENT_HELLO: Final = 1800
"""About the size of a ClientHello with an X25519MLKEM768 key share (1216 + 32 bytes): two TCP segments."""

# --- offers (IANA code points; names in tlsdoctor.tls.registry) -----------------------------------

SUITES_TLS13: Final = (0x1301, 0x1302, 0x1303)
SUITES_ECDSA_TLS12: Final = (0xC02B, 0xC02C, 0xCCA9, 0xC009, 0xC00A)
SUITES_RSA_TLS12: Final = (0xC02F, 0xC030, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035)
SUITES_LEGACY: Final = (0xC009, 0xC00A, 0xC013, 0xC014, 0x002F, 0x0035, 0x000A)
"""CBC-SHA suites: all that TLS 1.0 and 1.1 can negotiate."""
RENEGOTIATION_SCSV: Final = 0x00FF
"""TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 section 3.3): we support secure renegotiation."""

SIGALGS_ECDSA: Final = (0x0403, 0x0503, 0x0603, 0x0203)
SIGALGS_RSA: Final = (0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201)
SIGALGS_ALL: Final = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807, 0x0203, 0x0201)

GROUPS_DEFAULT: Final = (int(NamedGroup.X25519), int(NamedGroup.SECP256R1), int(NamedGroup.SECP384R1))
KEY_SHARE_GROUPS: Final = frozenset(GROUPS_DEFAULT)
"""Groups for which ``fresh_randoms`` can make a real public key."""


@dataclass(frozen=True, slots=True)
class ClientHelloSpec:
    """What one probe offers."""

    versions: tuple[int, ...] = (TLS13, TLS12)
    """Offered versions, most preferred first. With TLS 1.3 among them, supported_versions carries them all."""
    server_name: str | None = None
    """The SNI host_name (RFC 6066 section 3), or None to send no server_name extension."""
    cipher_suites: tuple[int, ...] = SUITES_TLS13 + SUITES_ECDSA_TLS12[:3] + SUITES_RSA_TLS12
    groups: tuple[int, ...] = GROUPS_DEFAULT
    key_share_groups: tuple[int, ...] = (int(NamedGroup.X25519),)
    """Groups that get a key share (TLS 1.3 only); each must be in ``groups``."""
    signature_algorithms: tuple[int, ...] = SIGALGS_ALL
    alpn: tuple[str, ...] = ("h2", "http/1.1")
    pad_to: int | None = None
    """Pad the handshake message (header included) to this many bytes with the padding extension
    (RFC 7685). None: pad only out of the F5 range 256-511, as browsers do."""
    extra_extensions: tuple[tuple[int, bytes], ...] = field(default=())
    """Appended before padding, as given (for tests and experiments)."""

    @property
    def offers_tls13(self) -> bool:
        return TLS13 in self.versions

    @property
    def legacy_version(self) -> int:
        """0x0303 when TLS 1.3 is offered (RFC 8446 section 4.1.2), else the highest version offered."""
        return TLS12 if self.offers_tls13 else max(self.versions)


@dataclass(frozen=True, slots=True)
class HelloRandoms:
    """The parts of a ClientHello that must be fresh on the wire; fixed in tests for exact bytes."""

    random: bytes
    session_id: bytes
    key_shares: Mapping[int, bytes]
    """Group -> public key as sent in KeyShareEntry.key_exchange (RFC 8446 section 4.2.8.2)."""


def fresh_randoms(spec: ClientHelloSpec) -> HelloRandoms:
    """Random, a 32-byte session id (TLS 1.3 middlebox compatibility, RFC 8446 appendix D.4) and
    real public keys for ``spec.key_share_groups``. The private keys are dropped: the probe reads only
    the ServerHello, so it never needs the shared secret."""
    from cryptography.hazmat.primitives.asymmetric import ec, x25519
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    shares: dict[int, bytes] = {}
    if spec.offers_tls13:
        for group in spec.key_share_groups:
            if group == NamedGroup.X25519:
                shares[group] = x25519.X25519PrivateKey.generate().public_key().public_bytes(
                    Encoding.Raw, PublicFormat.Raw)
            elif group in (NamedGroup.SECP256R1, NamedGroup.SECP384R1):
                curve: ec.EllipticCurve = ec.SECP256R1() if group == NamedGroup.SECP256R1 else ec.SECP384R1()
                shares[group] = ec.generate_private_key(curve).public_key().public_bytes(
                    Encoding.X962, PublicFormat.UncompressedPoint)
            else:
                raise ValueError(f"no key-share generator for group {group:#06x}")
    return HelloRandoms(os.urandom(32), os.urandom(32), shares)


# --- encoding ------------------------------------------------------------------------------------

def _u8(b: bytes) -> bytes:
    if len(b) > 0xFF:
        raise ValueError("vector longer than 2^8-1")
    return bytes((len(b),)) + b


def _u16(b: bytes) -> bytes:
    if len(b) > 0xFFFF:
        raise ValueError("vector longer than 2^16-1")
    return struct.pack(">H", len(b)) + b


def _u16_list(values: tuple[int, ...]) -> bytes:
    return _u16(b"".join(struct.pack(">H", v) for v in values))


def _ext(ext_type: int, data: bytes) -> bytes:
    return struct.pack(">H", ext_type) + _u16(data)


def _server_name(host: str) -> bytes:
    # RFC 6066 section 3: ServerNameList of (name_type 0 = host_name, HostName<1..2^16-1>), ASCII, no dot at the end.
    name = host.rstrip(".").encode("idna") if not host.isascii() else host.rstrip(".").encode("ascii")
    return _u16(b"\x00" + _u16(name))


def extensions_for(spec: ClientHelloSpec, randoms: HelloRandoms) -> list[tuple[int, bytes]]:
    """The extensions in the order sent (a common browser order; servers must not depend on it)."""
    exts: list[tuple[int, bytes]] = []
    if spec.server_name is not None:
        exts.append((ExtensionType.SERVER_NAME, _server_name(spec.server_name)))
    exts.append((ExtensionType.EXTENDED_MASTER_SECRET, b""))  # RFC 7627
    exts.append((0xFF01, b"\x00"))  # renegotiation_info, empty (RFC 5746 section 3.2)
    exts.append((ExtensionType.SUPPORTED_GROUPS, _u16_list(spec.groups)))
    exts.append((ExtensionType.EC_POINT_FORMATS, b"\x01\x00"))  # uncompressed only (RFC 8422 section 5.1.2)
    exts.append((ExtensionType.SESSION_TICKET, b""))
    if spec.alpn:
        exts.append((ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION,
                     _u16(b"".join(_u8(p.encode("ascii")) for p in spec.alpn))))
    exts.append((ExtensionType.STATUS_REQUEST, b"\x01\x00\x00\x00\x00"))  # OCSP, no responder ids, no extensions
    exts.append((ExtensionType.SIGNATURE_ALGORITHMS, _u16_list(spec.signature_algorithms)))
    if spec.offers_tls13:
        entries = b"".join(struct.pack(">H", g) + _u16(randoms.key_shares[g])
                           for g in spec.key_share_groups if g in randoms.key_shares)
        exts.append((ExtensionType.KEY_SHARE, _u16(entries)))
        exts.append((ExtensionType.PSK_KEY_EXCHANGE_MODES, b"\x01\x01"))  # psk_dhe_ke
        exts.append((ExtensionType.SUPPORTED_VERSIONS,
                     _u8(b"".join(struct.pack(">H", v) for v in spec.versions))))
    exts.extend(spec.extra_extensions)
    return exts


def encode_client_hello(spec: ClientHelloSpec, randoms: HelloRandoms) -> bytes:
    """The ClientHello handshake message: msg_type 1, uint24 length, body (RFC 8446 section 4)."""
    if len(randoms.random) != 32 or len(randoms.session_id) > 32:
        raise ValueError("random must be 32 bytes and session_id at most 32")
    if not spec.versions or not spec.cipher_suites:
        raise ValueError("a ClientHello offers at least one version and one cipher suite")
    head = (struct.pack(">H", spec.legacy_version) + randoms.random + _u8(randoms.session_id)
            + _u16_list(spec.cipher_suites) + b"\x01\x00")
    ext_bytes = b"".join(_ext(t, d) for t, d in extensions_for(spec, randoms))
    # Length of the whole message with an empty extensions block; padding adds 4 + n bytes.
    length = 4 + len(head) + 2 + len(ext_bytes)
    target = spec.pad_to
    if target is None and F5_PAD_LOW <= length < F5_PAD_TARGET:
        target = F5_PAD_TARGET
    if target is not None and target >= length + 4:
        ext_bytes += _ext(ExtensionType.PADDING, bytes(target - length - 4))
    body = head + _u16(ext_bytes)
    return b"\x01" + len(body).to_bytes(3, "big") + body


def client_hello_records(message: bytes, record_version: int = TLS10) -> bytes:
    """Frame a handshake message into handshake records (content type 22) of at most 2^14 bytes.

    The record version of a first ClientHello is 0x0301 for compatibility with old servers
    (RFC 8446 section 5.1: "MUST be set to 0x0303 for all records ... other than an initial ClientHello").
    """
    out = bytearray()
    for start in range(0, len(message), MAX_FRAGMENT):
        fragment = message[start:start + MAX_FRAGMENT]
        out += struct.pack(">BHH", 22, record_version, len(fragment)) + fragment
    return bytes(out)


def build(spec: ClientHelloSpec, randoms: HelloRandoms | None = None) -> bytes:
    """The bytes to write on a fresh TCP connection: the ClientHello in its record(s)."""
    return client_hello_records(encode_client_hello(spec, randoms or fresh_randoms(spec)))
