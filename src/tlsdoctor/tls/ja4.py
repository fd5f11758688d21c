"""JA4, the TLS client fingerprint of FoxIO (BSD 3-Clause), computed from a parsed ClientHello.

Theory of operation. Per FoxIO-LLC/ja4 ``technical_details/JA4.md``, a fingerprint is
``a_b_c``:

* ``a`` = transport (``t`` TCP, ``q`` QUIC, ``d`` DTLS), two version characters (the highest
  non-GREASE supported_versions entry, else the ClientHello's legacy_version; ``13``, ``12``,
  ``11``, ``10``, ``s3``, ``s2``, ``d1``, ``d2``, ``d3``, unknown ``00``), ``d`` when a server_name
  extension is present else ``i``, the number of cipher suites and of extensions (GREASE
  excluded, SNI and ALPN included, two digits, at most 99), and the first and last characters
  of the first ALPN value (``00`` without one; when either end byte is not an ASCII letter or
  digit, the first and last characters of the value's hex instead);
* ``b`` = the first 12 hex characters of SHA-256 over the cipher suites as 4-digit lower-case
  hex, GREASE removed, sorted, comma-separated; ``000000000000`` when there are none;
* ``c`` = the same over the extensions, GREASE, server_name (0000) and ALPN (0010) removed, sorted,
  then, when signature_algorithms is present and non-empty, ``_`` and its values in their original
  order (GREASE removed); ``000000000000`` when that string is empty.

Only JA4 is implemented here. JA4S, JA4H, JA4X and the other JA4+ methods are under the FoxIO
License 1.1, which forbids use in a product: do not add them.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Final

from tlsdoctor.tls.messages import ClientHello
from tlsdoctor.tls.registry import ExtensionType, is_grease

_VERSION_CHARS: Final[dict[int, str]] = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}
_EMPTY_HASH: Final = "000000000000"
_GREASE: Final = frozenset(0x0A0A + 0x1010 * i for i in range(16))
"""The 16 GREASE values (RFC 8701 section 2), the same as ``registry.is_grease``, for set lookups."""
# Plain ints: comparing with an IntEnum member costs an attribute lookup on the enum class each time.
_SERVER_NAME: Final = int(ExtensionType.SERVER_NAME)
_ALPN: Final = int(ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION)
_SUPPORTED_VERSIONS: Final = int(ExtensionType.SUPPORTED_VERSIONS)


_HASHED: Final[dict[str, str]] = {}
"""Text -> its 12 hex characters (emptied when full). A client that shuffles its extensions (Chrome) misses
``_FINGERPRINTS`` below on most connections, but its sorted lists, and so their texts, stay the same."""
_HASHED_MAX: Final = 4096


def _hash12(text: str) -> str:
    if not text:
        return _EMPTY_HASH
    hashed = _HASHED.get(text)
    if hashed is None:
        hashed = hashlib.sha256(text.encode("ascii")).hexdigest()[:12]
        if len(_HASHED) >= _HASHED_MAX:
            _HASHED.clear()
        _HASHED[text] = hashed
    return hashed


def _is_alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def ja4_alpn_chars(first_alpn: bytes | None) -> str:
    """The two ALPN characters of JA4_a (JA4.md "ALPN Extension Value")."""
    if not first_alpn:
        return "00"
    first, last = first_alpn[0], first_alpn[-1]
    if _is_alnum(first) and _is_alnum(last):
        return chr(first) + chr(last)
    hexed = first_alpn.hex()
    return hexed[0] + hexed[-1]


def ja4_version(client_hello: ClientHello) -> str:
    version = client_hello.legacy_version
    if client_hello.has_extension(ExtensionType.SUPPORTED_VERSIONS):
        offered = [v for v in client_hello.supported_versions if not is_grease(v)]
        if offered:
            version = max(offered)
    return _VERSION_CHARS.get(version, "00")


def ja4_raw(client_hello: ClientHello, transport: str = "t") -> str:
    """The unhashed form (``ja4_r``): the same ``a`` and the sorted lists in clear."""
    a, ciphers, extensions = _parts(client_hello, transport)
    return f"{a}_{ciphers}_{extensions}"


_FINGERPRINTS: Final[dict[tuple[object, ...], str]] = {}
"""What a fingerprint depends on -> the fingerprint: clients of one kind send the same lists on every
connection (emptied when full; a client that shuffles its extensions, as Chrome does, only adds keys)."""
_FINGERPRINTS_MAX: Final = 4096


def ja4(client_hello: ClientHello, transport: str = "t") -> str:
    """JA4 of a ClientHello; ``transport`` is ``t`` (TLS over TCP), ``q`` (QUIC) or ``d`` (DTLS)."""
    ch = client_hello
    key = (transport, ch.legacy_version, ch.cipher_suites, ch.extension_types,
           ch.supported_versions, ch.signature_algorithms, ch.alpn_raw[:1])  # everything _parts reads
    fingerprint = _FINGERPRINTS.get(key)
    if fingerprint is None:
        a, ciphers, extensions = _parts(ch, transport)
        fingerprint = f"{a}_{_hash12(ciphers)}_{_hash12(extensions)}"
        if len(_FINGERPRINTS) >= _FINGERPRINTS_MAX:
            _FINGERPRINTS.clear()
        _FINGERPRINTS[key] = fingerprint
    return fingerprint


_PACK_U16S: Final = tuple(struct.Struct(f">{k}H").pack for k in range(129))
_TWO_DIGITS: Final = tuple(f"{i:02d}" for i in range(100))


def _hex_list(values: Sequence[int]) -> str:
    """``0a0a,1301,...``: each value as 4-digit lower-case hex, comma-separated (one C call when they fit)."""
    try:
        packed = _PACK_U16S[len(values)](*values) if len(values) < 129 else struct.pack(f">{len(values)}H", *values)
    except struct.error:  # a value above 0xffff, only from a hand-built ClientHello
        return ",".join(f"{v:04x}" for v in values)
    return packed.hex(",", 2)


def _parts(ch: ClientHello, transport: str) -> tuple[str, str, str]:
    if transport not in ("t", "q", "d"):
        raise ValueError(f"JA4 transport must be 't', 'q' or 'd', not {transport!r}")
    grease = _GREASE
    suites = ch.cipher_suites
    ciphers = sorted(suites) if grease.isdisjoint(suites) else sorted(c for c in suites if c not in grease)
    ext_types = list(ch.extension_types)
    if not grease.isdisjoint(ext_types):
        ext_types = [t for t in ext_types if t not in grease]
    version = ch.legacy_version  # ja4_version, on the list at hand
    if _SUPPORTED_VERSIONS in ext_types:
        offered = [v for v in ch.supported_versions if v not in grease]
        if offered:
            version = max(offered)
    a = "".join((transport, _VERSION_CHARS.get(version, "00"), "d" if _SERVER_NAME in ext_types else "i",
                 _TWO_DIGITS[min(len(ciphers), 99)], _TWO_DIGITS[min(len(ext_types), 99)],
                 ja4_alpn_chars(ch.alpn_raw[0] if ch.alpn_raw else None)))
    hashed_exts = [t for t in ext_types if t != _SERVER_NAME and t != _ALPN]
    hashed_exts.sort()
    ext_text = _hex_list(hashed_exts)
    sigs = ch.signature_algorithms
    if not grease.isdisjoint(sigs):
        sigs = tuple(s for s in sigs if s not in grease)
    if sigs:
        ext_text += "_" + _hex_list(sigs)
    return a, _hex_list(ciphers), ext_text
