"""Handshake messages: the bytes of one message in, a frozen typed value out.

Theory of operation. A handshake message is ``msg_type(1) length(3) body`` (RFC 8446 section 4,
RFC 5246 section 7.4). ``parse_handshake(data, context)`` looks at the start of ``data`` and has
exactly three outcomes, as h11's readers do:

* ``ParsedHandshake`` — the message was complete and decoded (``consumed`` bytes used);
* ``NeedMoreData`` — ``data`` is a prefix of a message; nothing is guessed from a prefix;
* ``ProtocolError`` — the bytes cannot be a valid message; the raw bytes travel with the error.

Inside a complete message every vector length is checked against what is left of its enclosing
vector, never against the end of the buffer: a length that runs past its container is a protocol
error, not a silent truncation. Extensions are kept in their original order as raw
``Extension(type, data)`` and the ones a diagnosis needs are decoded into fields. A malformed
*extension* inside a well-framed message does not lose the message: the message is returned and
``decode_errors`` says what could not be decoded (the stream turns each into an anomaly).

The SSLv2-compatible ClientHello (RFC 5246 appendix E.2) is converted by
``parse_sslv2_client_hello`` into the same ``ClientHello`` with ``from_sslv2=True``.

Messages that depend on the negotiated version or key exchange (Certificate, CertificateRequest,
ServerKeyExchange, NewSessionTicket) take it from ``HandshakeContext``, which the stream fills from
the hellos it has seen.

Speed. The parsers of the messages on every connection's path (ClientHello, ServerHello,
Certificate, ServerKeyExchange) have a fast path that reads the well-formed case with local offsets,
``struct`` and plain ints, and builds the frozen values through a mutable twin
(``_fast_builder``). It never composes an error: at the first irregularity it hands the body to the
``_..._reference`` decoder, written with the checked ``_Reader`` cursor, whose values and error
texts define the behaviour (tests/unit/test_tls_speedpath.py compares the two on mutated and
synthesized messages). Decoded ClientHello extensions that a client repeats on every connection
(groups, signature algorithms, ALPN, server name, ...) are cached by their bytes, per type, bounded.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any, Final, NamedTuple

from tlsdoctor.pickling import pickle_by_fields
from tlsdoctor.tls.certificates import CertificateFacts, certificate_facts
from tlsdoctor.tls.registry import (
    CIPHER_SUITES,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    TLS_FALLBACK_SCSV,
    ExtensionType,
    extension_name,
    is_grease,
)

RAW_KEPT: Final = 512
"""Bytes of a message body kept on a ``ProtocolError`` or a ``RawHandshake`` (the length is always kept)."""

MAX_CERTIFICATES: Final = 16
"""Certificates decoded from one Certificate message; the rest are counted (``certificates_omitted``)."""

MAX_CA_NAMES: Final = 32
"""Distinguished names kept from a CertificateRequest's certificate_authorities; the rest are counted."""

HELLO_RETRY_REQUEST_RANDOM: Final = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
"""SHA-256("HelloRetryRequest"): a ServerHello with this random is a HelloRetryRequest (RFC 8446 section 4.1.3)."""

DOWNGRADE_TLS12: Final = b"DOWNGRD\x01"
DOWNGRADE_TLS11: Final = b"DOWNGRD\x00"
"""Last 8 bytes of a TLS 1.3 server's random when it negotiates TLS 1.2 / 1.1 or below (RFC 8446 section 4.1.3)."""


# --- the three outcomes -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NeedMoreData:
    """The bytes are a prefix of a message; at least ``needed`` more bytes are required."""

    needed: int


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The bytes cannot be a valid message. ``raw`` is the offending message (capped at ``RAW_KEPT``)."""

    reason: str
    raw: bytes
    offset: int = 0
    """Offset in ``raw`` where decoding failed."""


class _DecodeError(Exception):
    """Internal: a vector overran its container. Always turned into ``ProtocolError`` or a decode_error."""

    def __init__(self, what: str, offset: int) -> None:
        super().__init__(what)
        self.what = what
        self.offset = offset


class _Reader:
    """A cursor over ``data[pos:end]`` whose reads never cross ``end`` (RFC 8446 section 3.4 vectors)."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def left(self) -> int:
        return self.end - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise _DecodeError(f"{what}: needs {n} bytes, {self.end - self.pos} left", self.pos)
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self, what: str) -> int:
        if self.pos + 1 > self.end:
            raise _DecodeError(f"{what}: needs 1 byte, none left", self.pos)
        v = self.data[self.pos]
        self.pos += 1
        return v

    def u16(self, what: str) -> int:
        if self.pos + 2 > self.end:
            raise _DecodeError(f"{what}: needs 2 bytes, {self.end - self.pos} left", self.pos)
        v = (self.data[self.pos] << 8) | self.data[self.pos + 1]
        self.pos += 2
        return v

    def u24(self, what: str) -> int:
        if self.pos + 3 > self.end:
            raise _DecodeError(f"{what}: needs 3 bytes, {self.end - self.pos} left", self.pos)
        d = self.data
        v = (d[self.pos] << 16) | (d[self.pos + 1] << 8) | d[self.pos + 2]
        self.pos += 3
        return v

    def u32(self, what: str) -> int:
        return (self.u16(what) << 16) | self.u16(what)

    def vector(self, length_bytes: int, what: str) -> _Reader:
        """A sub-reader over a vector with a ``length_bytes``-byte length prefix; skips it here."""
        start = self.pos
        n = self.u8(what) if length_bytes == 1 else self.u16(what) if length_bytes == 2 else self.u24(what)
        if n > self.end - self.pos:
            raise _DecodeError(f"{what}: length {n} runs past its container ({self.end - self.pos} bytes left)",
                               start)
        sub = _Reader(self.data, self.pos, self.pos + n)
        self.pos += n
        return sub

    def opaque(self, length_bytes: int, what: str) -> bytes:
        sub = self.vector(length_bytes, what)
        return self.data[sub.pos:sub.end]

    def u16_list(self, what: str) -> tuple[int, ...]:
        """The rest of this reader as a list of uint16 (an odd length is a decode error)."""
        if self.left % 2:
            raise _DecodeError(f"{what}: odd length {self.left} for a list of 2-byte values", self.pos)
        d, p = self.data, self.pos
        out = tuple((d[i] << 8) | d[i + 1] for i in range(p, self.end, 2))
        self.pos = self.end
        return out

    def expect_end(self, what: str) -> None:
        if self.pos != self.end:
            raise _DecodeError(f"{what}: {self.end - self.pos} unexpected trailing bytes", self.pos)


# --- shared pieces ------------------------------------------------------------------------------

_type_of: Final = itemgetter(0)
"""An Extension's type (its first item), for map() over a tuple of extensions."""

class Extension(NamedTuple):
    """One extension as sent (RFC 8446 section 4.2): its type and its raw extension_data.
    A NamedTuple rather than a frozen dataclass: a hello has a dozen of them and this is the hot path."""

    type: int
    data: bytes

    @property
    def name(self) -> str:
        return extension_name(self.type)


@dataclass(frozen=True, slots=True)
class KeyShareEntry:
    """A client key share (RFC 8446 section 4.2.8): the group and the length of its key_exchange."""

    group: int
    key_length: int


def _extensions(r: _Reader, what: str) -> tuple[Extension, ...]:
    """An extensions block: ``Extension extensions<0..2^16-1>`` (RFC 8446 section 4.1.2).

    Written out by hand rather than with ``_Reader`` calls: it runs for every hello, and the error
    texts (built only on error) are the ones the reader would give."""
    d, p, end = r.data, r.pos, r.end
    if p + 2 > end:
        raise _DecodeError(f"{what} extensions: needs 2 bytes, {end - p} left", p)
    n = (d[p] << 8) | d[p + 1]
    if n > end - p - 2:
        raise _DecodeError(f"{what} extensions: length {n} runs past its container ({end - p - 2} bytes left)", p)
    p += 2
    stop = p + n
    out: list[Extension] = []
    append = out.append
    while p < stop:
        if p + 2 > stop:
            raise _DecodeError(f"{what} extension type: needs 2 bytes, {stop - p} left", p)
        etype = (d[p] << 8) | d[p + 1]
        if p + 4 > stop:
            raise _DecodeError(f"{what} extension {extension_name(etype)}: needs 2 bytes, {stop - p - 2} left", p + 2)
        elen = (d[p + 2] << 8) | d[p + 3]
        if elen > stop - p - 4:
            raise _DecodeError(f"{what} extension {extension_name(etype)}: length {elen} runs past its container "
                               f"({stop - p - 4} bytes left)", p + 2)
        append(Extension(etype, d[p + 4 : p + 4 + elen]))
        p += 4 + elen
    r.pos = stop
    return tuple(out)


def _ascii(b: bytes) -> str:
    return b.decode("ascii", errors="backslashreplace")


def _duplicates(exts: tuple[Extension, ...]) -> list[str]:
    seen: set[int] = set()
    errors: list[str] = []
    for e in exts:
        if e.type in seen:
            # RFC 8446 section 4.2: "There MUST NOT be more than one extension of the same type".
            errors.append(f"extension {e.name} appears more than once")
        seen.add(e.type)
    return errors


# --- the fast path's tools -----------------------------------------------------------------------
#
# The public parsers below read the well-formed case straight off the body with local offsets,
# ``struct`` and plain ints. They never build an error themselves: at the first irregularity (a
# length that overruns its container, trailing bytes, a malformed extension) they hand the whole
# body to the ``_..._reference`` decoder, written with ``_Reader``, whose value, decode_errors and
# ProtocolError texts are the defined behaviour. A fast path therefore only ever returns what the
# reference would (tests/unit/test_tls_speedpath.py checks it on mutated real hellos).

_U16_STRUCTS: Final = tuple(struct.Struct(f">{k}H") for k in range(129))
_HH: Final = struct.Struct(">HH").unpack_from
_tuple_new: Final = tuple.__new__


def _u16s(d: bytes, p: int, k: int) -> tuple[int, ...]:
    """``k`` big-endian uint16 at ``d[p:]``; the caller has checked the bounds."""
    if k < 129:
        return _U16_STRUCTS[k].unpack_from(d, p)
    return struct.unpack_from(f">{k}H", d, p)


def _fast_extensions(d: bytes, p: int) -> tuple[tuple[Extension, ...], list[int]] | None:
    """The extensions in ``d[p:]`` and their types, or None when they do not tile it exactly."""
    types: list[int] = []
    datas: list[bytes] = []
    hh = _HH
    try:
        while p < len(d):
            t, m = hh(d, p)  # struct.error when fewer than 4 bytes are left
            p += 4
            types.append(t)
            datas.append(d[p:p + m])
            p += m
    except struct.error:
        return None
    if p != len(d):  # the last extension ran past the end
        return None
    # Extension(t, data) for each, built in C rather than by the NamedTuple's Python-level __new__.
    return tuple(map(_tuple_new, repeat(Extension, len(types)), zip(types, datas, strict=True))), types


def _fast_builder(cls: type) -> Any:
    """A faster way to build the frozen, slotted dataclass ``cls``, with the same positional and
    keyword arguments as ``cls(...)``.

    A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__`` (some 0.14 µs per
    field: 4 µs for a ClientHello). The builder fills a mutable twin (a plain slotted dataclass with
    the same fields, hence the same ``__slots__`` and layout), then ``obj.__class__ = cls`` makes the
    instance a ``cls``, which CPython allows between types of identical layout. The result is an
    ordinary frozen ``cls`` (equality, hash, immutability).

    When this module is compiled (mypyc, ``docs/design.md``), ``cls`` is a native class without
    ``__slots__`` whose constructor is already fast: the builder is ``cls`` itself.
    """
    if not hasattr(cls, "__slots__"):
        return cls
    fields = dataclasses.fields(cls)
    twin = dataclasses.make_dataclass(
        f"_{cls.__name__}Twin",
        [(f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory)) for f in fields],
        slots=True)
    if twin.__slots__ != cls.__slots__:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}: the mutable twin's slots differ")

    def build(*args: Any, **kwargs: Any) -> Any:
        obj = twin(*args, **kwargs)
        obj.__class__ = cls
        return obj

    return build


# --- ClientHello, RFC 8446 section 4.1.2 / RFC 5246 section 7.4.1.2 ------------------------------

@dataclass(frozen=True, slots=True)
class ClientHello:
    legacy_version: int
    """``client_version`` (TLS 1.2) / ``legacy_version`` (TLS 1.3, always 0x0303)."""
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    extensions: tuple[Extension, ...]
    """Every extension, in the order sent, GREASE included."""
    server_names: tuple[str, ...] = ()
    """host_name entries of server_name (RFC 6066 section 3)."""
    supported_versions: tuple[int, ...] = ()
    """As sent, GREASE included (RFC 8446 section 4.2.1); empty when the extension is absent."""
    supported_groups: tuple[int, ...] = ()
    key_shares: tuple[KeyShareEntry, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    signature_algorithms_cert: tuple[int, ...] = ()
    alpn: tuple[str, ...] = ()
    """ALPN protocol names (RFC 7301 section 3.1), ASCII with any other byte backslash-escaped."""
    alpn_raw: tuple[bytes, ...] = ()
    ec_point_formats: tuple[int, ...] = ()
    psk_key_exchange_modes: tuple[int, ...] = ()
    ech_present: bool = False
    """An encrypted_client_hello extension (0xfe0d) is present."""
    ech_type: int | None = None
    """0 = outer (the ECH offer), 1 = inner (draft-ietf-tls-esni section 5)."""
    padding_length: int | None = None
    """Length of the padding extension's data (RFC 7685), None when absent."""
    psk_present: bool = False
    """A pre_shared_key extension (resumption or external PSK, RFC 8446 section 4.2.11)."""
    psk_identities: int = 0
    early_data: bool = False
    session_ticket_length: int | None = None
    """Length of the session_ticket extension (RFC 5077); 0 means "I support tickets, have none"."""
    status_request: bool = False
    record_size_limit: int | None = None
    compress_certificate_algorithms: tuple[int, ...] = ()
    cookie_present: bool = False
    from_sslv2: bool = False
    """Sent in the SSLv2-compatible format (RFC 5246 appendix E.2); converted to this shape."""
    sslv2_cipher_specs: tuple[int, ...] = ()
    """SSLv2-only cipher kinds (3-byte specs not of the form 0x00XXXX) of an SSLv2-format hello."""
    decode_errors: tuple[str, ...] = field(default=())
    """Extensions that could not be decoded (the message itself was well framed)."""

    @property
    def server_name(self) -> str | None:
        """The first host name of server_name, or None (there is only one in practice)."""
        return self.server_names[0] if self.server_names else None

    @property
    def has_server_name_extension(self) -> bool:
        return self.has_extension(0x0000)  # ExtensionType.SERVER_NAME

    @property
    def offered_versions(self) -> tuple[int, ...]:
        """supported_versions without GREASE, or ``(legacy_version,)`` when the extension is absent."""
        if self.has_extension(0x002B):  # ExtensionType.SUPPORTED_VERSIONS
            return tuple(v for v in self.supported_versions if not is_grease(v))
        return (self.legacy_version,)

    @property
    def max_version(self) -> int:
        offered = self.offered_versions
        return max(offered) if offered else self.legacy_version

    @property
    def extension_types(self) -> tuple[int, ...]:
        return tuple(map(_type_of, self.extensions))

    def has_extension(self, etype: int) -> bool:
        return etype in map(_type_of, self.extensions)

    def extension(self, etype: int) -> Extension | None:
        for e in self.extensions:
            if e.type == etype:
                return e
        return None

    @property
    def key_share_groups(self) -> tuple[int, ...]:
        return tuple(k.group for k in self.key_shares)

    @property
    def renegotiation_scsv(self) -> bool:
        """TLS_EMPTY_RENEGOTIATION_INFO_SCSV offered (RFC 5746 section 3.3)."""
        return TLS_EMPTY_RENEGOTIATION_INFO_SCSV in self.cipher_suites

    @property
    def fallback_scsv(self) -> bool:
        """TLS_FALLBACK_SCSV offered: a client retrying with a lower version (RFC 7507 section 2)."""
        return TLS_FALLBACK_SCSV in self.cipher_suites

    @property
    def unknown_cipher_suites(self) -> tuple[int, ...]:
        return tuple(c for c in self.cipher_suites if c not in CIPHER_SUITES and not is_grease(c))


def _decode_client_extensions(exts: tuple[Extension, ...]) -> dict[str, object]:
    """Decode the ClientHello extensions a diagnosis needs; each failure is one decode_errors entry."""
    out: dict[str, object] = {}
    errors = _duplicates(exts)
    for ext in exts:
        r = _Reader(ext.data)
        t = ext.type
        try:
            if t == ExtensionType.SERVER_NAME:
                # RFC 6066 section 3: ServerNameList; name_type 0 = host_name. An empty
                # extension is what a server sends back, not a client.
                names: list[str] = []
                lst = r.vector(2, "server_name list")
                while lst.left:
                    name_type = lst.u8("server_name name_type")
                    name = lst.opaque(2, "server_name host_name")
                    if name_type == 0:
                        names.append(_ascii(name))
                r.expect_end("server_name")
                out["server_names"] = tuple(names)
            elif t == ExtensionType.SUPPORTED_VERSIONS:
                out["supported_versions"] = r.vector(1, "supported_versions").u16_list("supported_versions")
                r.expect_end("supported_versions")
            elif t == ExtensionType.SUPPORTED_GROUPS:
                out["supported_groups"] = r.vector(2, "supported_groups").u16_list("supported_groups")
                r.expect_end("supported_groups")
            elif t == ExtensionType.KEY_SHARE:
                shares: list[KeyShareEntry] = []
                lst = r.vector(2, "key_share client_shares")
                while lst.left:
                    group = lst.u16("key_share group")
                    key = lst.vector(2, "key_share key_exchange")
                    shares.append(KeyShareEntry(group, key.left))
                r.expect_end("key_share")
                out["key_shares"] = tuple(shares)
            elif t == ExtensionType.SIGNATURE_ALGORITHMS:
                out["signature_algorithms"] = r.vector(2, "signature_algorithms").u16_list("signature_algorithms")
                r.expect_end("signature_algorithms")
            elif t == ExtensionType.SIGNATURE_ALGORITHMS_CERT:
                out["signature_algorithms_cert"] = r.vector(2, "signature_algorithms_cert").u16_list(
                    "signature_algorithms_cert")
                r.expect_end("signature_algorithms_cert")
            elif t == ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION:
                # RFC 7301 section 3.1: ProtocolName protocol_name_list<2..2^16-1>, each <1..2^8-1>.
                protos: list[bytes] = []
                lst = r.vector(2, "alpn protocol_name_list")
                while lst.left:
                    protos.append(lst.opaque(1, "alpn protocol_name"))
                r.expect_end("alpn")
                out["alpn_raw"] = tuple(protos)
                out["alpn"] = tuple(_ascii(p) for p in protos)
            elif t == ExtensionType.EC_POINT_FORMATS:
                out["ec_point_formats"] = tuple(r.opaque(1, "ec_point_formats"))
                r.expect_end("ec_point_formats")
            elif t == ExtensionType.PSK_KEY_EXCHANGE_MODES:
                out["psk_key_exchange_modes"] = tuple(r.opaque(1, "psk_key_exchange_modes"))
                r.expect_end("psk_key_exchange_modes")
            elif t == ExtensionType.ENCRYPTED_CLIENT_HELLO:
                out["ech_present"] = True
                out["ech_type"] = r.u8("encrypted_client_hello type")
            elif t == ExtensionType.PADDING:
                out["padding_length"] = len(ext.data)
            elif t == ExtensionType.PRE_SHARED_KEY:
                out["psk_present"] = True
                ids = r.vector(2, "pre_shared_key identities")
                n = 0
                while ids.left:
                    ids.opaque(2, "pre_shared_key identity")
                    ids.u32("pre_shared_key obfuscated_ticket_age")
                    n += 1
                out["psk_identities"] = n
                r.vector(2, "pre_shared_key binders")
                r.expect_end("pre_shared_key")
            elif t == ExtensionType.EARLY_DATA:
                out["early_data"] = True
            elif t == ExtensionType.SESSION_TICKET:
                out["session_ticket_length"] = len(ext.data)
            elif t == ExtensionType.STATUS_REQUEST:
                out["status_request"] = True
            elif t == ExtensionType.RECORD_SIZE_LIMIT:
                out["record_size_limit"] = r.u16("record_size_limit")
                r.expect_end("record_size_limit")
            elif t == ExtensionType.COMPRESS_CERTIFICATE:
                out["compress_certificate_algorithms"] = r.vector(1, "compress_certificate").u16_list(
                    "compress_certificate")
                r.expect_end("compress_certificate")
            elif t == ExtensionType.COOKIE:
                out["cookie_present"] = True
        except _DecodeError as exc:
            errors.append(f"{extension_name(t)}: {exc.what}")
    out["decode_errors"] = tuple(errors)
    return out


def _parse_client_hello_reference(body: bytes) -> ClientHello | ProtocolError:
    """The reference decoder of a ClientHello body: every input the fast path finds irregular comes here."""
    r = _Reader(body)
    try:
        legacy_version = r.u16("legacy_version")
        random = r.take(32, "random")
        session_id = r.opaque(1, "legacy_session_id")
        if len(session_id) > 32:
            raise _DecodeError(f"legacy_session_id: length {len(session_id)} > 32", 34)
        suites = r.vector(2, "cipher_suites").u16_list("cipher_suites")
        compression = tuple(r.opaque(1, "legacy_compression_methods"))
        # RFC 5246 section 7.4.1.2: the extensions block may be absent altogether (pre-TLS 1.2 clients).
        exts = _extensions(r, "ClientHello") if r.left else ()
        r.expect_end("ClientHello")
    except _DecodeError as exc:
        return ProtocolError(f"ClientHello {exc.what}", body[:RAW_KEPT], exc.offset)
    decoded = _decode_client_extensions(exts)
    return ClientHello(legacy_version, random, session_id, suites, compression, exts, **decoded)  # type: ignore[arg-type]


# Fast decoders of the ClientHello extensions that fill fields: extension_data in, the fields to
# set out (as ``_decode_client_extensions`` sets them), or None when the data is not well formed.
_Fields = tuple[tuple[str, object], ...]
_U16S_AT_1: Final = tuple(struct.Struct(f">x{k}H").unpack_from for k in range(129))
_U16S_AT_2: Final = tuple(struct.Struct(f">2x{k}H").unpack_from for k in range(129))


def _fd_supported_versions(x: bytes) -> _Fields | None:
    n = len(x)
    if not n & 1 or x[0] != n - 1:
        return None
    return (("supported_versions", _U16S_AT_1[n >> 1](x) if n < 258 else _u16s(x, 1, n >> 1)),)


def _fd_compress_certificate(x: bytes) -> _Fields | None:
    n = len(x)
    if not n & 1 or x[0] != n - 1:
        return None
    return (("compress_certificate_algorithms", _U16S_AT_1[n >> 1](x) if n < 258 else _u16s(x, 1, n >> 1)),)


def _vector2_u16s(x: bytes) -> tuple[int, ...] | None:
    n = len(x)
    if n < 2 or n & 1 or ((x[0] << 8) | x[1]) != n - 2:
        return None
    return _U16S_AT_2[(n - 2) >> 1](x) if n < 260 else _u16s(x, 2, (n - 2) >> 1)


def _fd_supported_groups(x: bytes) -> _Fields | None:
    v = _vector2_u16s(x)
    return None if v is None else (("supported_groups", v),)


def _fd_signature_algorithms(x: bytes) -> _Fields | None:
    v = _vector2_u16s(x)
    return None if v is None else (("signature_algorithms", v),)


def _fd_signature_algorithms_cert(x: bytes) -> _Fields | None:
    v = _vector2_u16s(x)
    return None if v is None else (("signature_algorithms_cert", v),)


def _fd_ec_point_formats(x: bytes) -> _Fields | None:
    return (("ec_point_formats", tuple(x[1:])),) if x and x[0] == len(x) - 1 else None


def _fd_psk_key_exchange_modes(x: bytes) -> _Fields | None:
    return (("psk_key_exchange_modes", tuple(x[1:])),) if x and x[0] == len(x) - 1 else None


def _fd_record_size_limit(x: bytes) -> _Fields | None:
    return (("record_size_limit", (x[0] << 8) | x[1]),) if len(x) == 2 else None


def _fd_server_name(x: bytes) -> _Fields | None:
    n = len(x)
    if n < 2 or ((x[0] << 8) | x[1]) != n - 2:
        return None
    names: list[str] = []
    p = 2
    while p < n:
        if p + 3 > n:
            return None
        e = p + 3 + ((x[p + 1] << 8) | x[p + 2])
        if e > n:
            return None
        if x[p] == 0:
            names.append(_ascii(x[p + 3:e]))
        p = e
    return (("server_names", tuple(names)),)


def _fd_alpn(x: bytes) -> _Fields | None:
    n = len(x)
    if n < 2 or ((x[0] << 8) | x[1]) != n - 2:
        return None
    protos: list[bytes] = []
    p = 2
    while p < n:
        e = p + 1 + x[p]
        if e > n:
            return None
        protos.append(x[p + 1:e])
        p = e
    return ("alpn_raw", tuple(protos)), ("alpn", tuple(map(_ascii, protos)))


def _fd_key_share(x: bytes) -> _Fields | None:
    n = len(x)
    if n < 2 or ((x[0] << 8) | x[1]) != n - 2:
        return None
    shares: list[KeyShareEntry] = []
    p = 2
    while p < n:
        if p + 4 > n:
            return None
        group, m = _HH(x, p)
        p += 4 + m
        if p > n:
            return None
        shares.append(KeyShareEntry(group, m))
    return (("key_shares", tuple(shares)),)


def _fd_ech(x: bytes) -> _Fields | None:
    return (("ech_present", True), ("ech_type", x[0])) if x else None


def _fd_padding(x: bytes) -> _Fields | None:
    return (("padding_length", len(x)),)


def _fd_session_ticket(x: bytes) -> _Fields | None:
    return (("session_ticket_length", len(x)),)


def _fd_pre_shared_key(x: bytes) -> _Fields | None:
    n = len(x)
    if n < 2:
        return None
    stop = 2 + ((x[0] << 8) | x[1])
    if stop > n:
        return None
    count = 0
    p = 2
    while p < stop:
        if p + 2 > stop:
            return None
        p += 6 + ((x[p] << 8) | x[p + 1])  # identity<1..2^16-1>, obfuscated_ticket_age(4)
        if p > stop:
            return None
        count += 1
    if stop + 2 > n or stop + 2 + ((x[stop] << 8) | x[stop + 1]) != n:
        return None
    return ("psk_present", True), ("psk_identities", count)


_EARLY_DATA: Final[_Fields] = (("early_data", True),)
_STATUS_REQUEST: Final[_Fields] = (("status_request", True),)
_COOKIE: Final[_Fields] = (("cookie_present", True),)

FIELD_CACHE_SIZE = 1024  # not Final: a compiled build reads it at run time, so tests can lower it
"""Decoded extensions kept per extension type, by their bytes; a type's cache is emptied when full."""
_FIELD_CACHE_MAX_DATA: Final = 256
_Cache = dict[bytes, tuple[Extension, _Fields]]
_FIELD_CACHES: Final[tuple[_Cache, ...]] = tuple({} for _ in range(10))
"""One per cached type below: extension_data -> (the Extension, its decoded fields), both immutable."""

_CH_DECODERS: Final[dict[int, tuple[Callable[[bytes], _Fields | None], _Cache | None]]] = {
    # type: (decoder, the cache of its results, for the types a client sends the same on every
    # connection: groups, signature algorithms, ALPN list, ...; key shares, PSKs and padding differ)
    int(ExtensionType.SERVER_NAME): (_fd_server_name, _FIELD_CACHES[0]),
    int(ExtensionType.SUPPORTED_VERSIONS): (_fd_supported_versions, _FIELD_CACHES[1]),
    int(ExtensionType.SUPPORTED_GROUPS): (_fd_supported_groups, _FIELD_CACHES[2]),
    int(ExtensionType.KEY_SHARE): (_fd_key_share, None),
    int(ExtensionType.SIGNATURE_ALGORITHMS): (_fd_signature_algorithms, _FIELD_CACHES[3]),
    int(ExtensionType.SIGNATURE_ALGORITHMS_CERT): (_fd_signature_algorithms_cert, _FIELD_CACHES[4]),
    int(ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION): (_fd_alpn, _FIELD_CACHES[5]),
    int(ExtensionType.EC_POINT_FORMATS): (_fd_ec_point_formats, _FIELD_CACHES[6]),
    int(ExtensionType.PSK_KEY_EXCHANGE_MODES): (_fd_psk_key_exchange_modes, _FIELD_CACHES[7]),
    int(ExtensionType.ENCRYPTED_CLIENT_HELLO): (_fd_ech, None),
    int(ExtensionType.PADDING): (_fd_padding, None),
    int(ExtensionType.PRE_SHARED_KEY): (_fd_pre_shared_key, None),
    int(ExtensionType.EARLY_DATA): (lambda x: _EARLY_DATA, None),
    int(ExtensionType.SESSION_TICKET): (_fd_session_ticket, None),
    int(ExtensionType.STATUS_REQUEST): (lambda x: _STATUS_REQUEST, None),
    int(ExtensionType.RECORD_SIZE_LIMIT): (_fd_record_size_limit, _FIELD_CACHES[8]),
    int(ExtensionType.COMPRESS_CERTIFICATE): (_fd_compress_certificate, _FIELD_CACHES[9]),
    int(ExtensionType.COOKIE): (lambda x: _COOKIE, None),
}
"""The extensions ``_decode_client_extensions`` decodes, by type: a fast decoder and its cache."""


_new_client_hello: Final = _fast_builder(ClientHello)


def parse_client_hello(body: bytes) -> ClientHello | ProtocolError:
    """Decode a ClientHello body (without the 4-byte handshake header).

    The fast path; anything irregular is decoded by ``_parse_client_hello_reference``."""
    n = len(body)
    if n < 35 or type(body) is not bytes:  # a bytearray would make unhashable cache keys
        return _parse_client_hello_reference(body)
    sid_len = body[34]
    p = 35 + sid_len
    if sid_len > 32 or p + 2 > n:
        return _parse_client_hello_reference(body)
    k = (body[p] << 8) | body[p + 1]
    p += 2
    if k & 1 or p + k >= n:  # the compression methods' length byte must follow
        return _parse_client_hello_reference(body)
    suites = _u16s(body, p, k >> 1)
    p += k
    m = body[p]
    p += 1 + m
    if p > n:
        return _parse_client_hello_reference(body)
    compression = tuple(body[p - m:p])
    exts: tuple[Extension, ...] = ()
    fields: dict[str, object] = {}
    if p < n:
        # RFC 5246 section 7.4.1.2: the extensions block may be absent altogether (pre-TLS 1.2 clients).
        if p + 2 > n or ((body[p] << 8) | body[p + 1]) != n - p - 2:
            return _parse_client_hello_reference(body)
        # The extensions, walked and decoded in one loop (as _fast_extensions walks them).
        p += 2
        out: list[Extension] = []
        types: list[int] = []
        decoders = _CH_DECODERS
        hh = _HH
        new = _tuple_new
        try:
            while p < n:
                t, m = hh(body, p)  # struct.error when fewer than 4 bytes are left
                p += 4
                data = body[p:p + m]
                p += m
                types.append(t)
                entry = decoders.get(t)
                if entry is None:
                    out.append(new(Extension, (t, data)))
                    continue
                cache = entry[1]
                if cache is None:
                    decoded = entry[0](data)
                    if decoded is None:
                        return _parse_client_hello_reference(body)
                    out.append(new(Extension, (t, data)))
                    fields.update(decoded)
                    continue
                hit = cache.get(data)
                if hit is None:
                    # A decode depends on the bytes alone, so caching one of an extension that
                    # turns out to overrun the body (p > n below) is harmless.
                    decoded = entry[0](data)
                    if decoded is None:
                        return _parse_client_hello_reference(body)
                    hit = (new(Extension, (t, data)), decoded)
                    if m <= _FIELD_CACHE_MAX_DATA:
                        if len(cache) >= FIELD_CACHE_SIZE:
                            cache.clear()
                        cache[data] = hit
                out.append(hit[0])
                fields.update(hit[1])
        except struct.error:
            return _parse_client_hello_reference(body)
        if p != n:  # the last extension ran past the end
            return _parse_client_hello_reference(body)
        exts = tuple(out)
        if len(set(types)) != len(types):
            fields["decode_errors"] = tuple(_duplicates(exts))
    hello: ClientHello = _new_client_hello((body[0] << 8) | body[1], body[2:34], body[35:35 + sid_len], suites,
                                           compression, exts, **fields)
    return hello


def parse_sslv2_client_hello(record: bytes) -> ClientHello | NeedMoreData | ProtocolError:
    """An SSLv2-format ClientHello record, header included (RFC 5246 appendix E.2).

    ``msg_length(2, high bit set) msg_type(1)=1 version(2) cipher_spec_length(2)
    session_id_length(2) challenge_length(2) cipher_specs session_id challenge``.
    Converted: TLS cipher suites are the specs 0x00XXXX; the challenge is right-aligned in a
    zero-filled 32-byte random, as a server does (appendix E.2).
    """
    if len(record) < 2:
        return NeedMoreData(2 - len(record))
    if not record[0] & 0x80:
        return ProtocolError("SSLv2 header: the 2-byte form must have the high bit set", record[:RAW_KEPT])
    length = ((record[0] & 0x7F) << 8) | record[1]
    if len(record) < 2 + length:
        return NeedMoreData(2 + length - len(record))
    r = _Reader(record, 2, 2 + length)
    try:
        msg_type = r.u8("msg_type")
        if msg_type != 1:
            raise _DecodeError(f"msg_type {msg_type} is not CLIENT-HELLO (1)", 2)
        version = r.u16("version")
        spec_len = r.u16("cipher_spec_length")
        sid_len = r.u16("session_id_length")
        challenge_len = r.u16("challenge_length")
        if spec_len % 3 or spec_len == 0:
            raise _DecodeError(f"cipher_spec_length {spec_len} is not a positive multiple of 3", 5)
        if sid_len not in (0, 16):
            raise _DecodeError(f"session_id_length {sid_len} is neither 0 nor 16", 7)
        if not 16 <= challenge_len <= 32:
            raise _DecodeError(f"challenge_length {challenge_len} is outside 16..32", 9)
        specs_raw = r.take(spec_len, "cipher_specs")
        session_id = r.take(sid_len, "session_id")
        challenge = r.take(challenge_len, "challenge")
        r.expect_end("SSLv2 ClientHello")
    except _DecodeError as exc:
        return ProtocolError(f"SSLv2 ClientHello {exc.what}", record[:RAW_KEPT], exc.offset)
    suites: list[int] = []
    v2_only: list[int] = []
    for i in range(0, spec_len, 3):
        spec = (specs_raw[i] << 16) | (specs_raw[i + 1] << 8) | specs_raw[i + 2]
        if specs_raw[i] == 0:
            suites.append(spec)  # a TLS cipher suite in SSLv2 clothing
        else:
            v2_only.append(spec)
    random = bytes(32 - len(challenge)) + challenge
    return ClientHello(version, random, session_id, tuple(suites), (0,), (), from_sslv2=True,
                       sslv2_cipher_specs=tuple(v2_only))


# --- ServerHello and HelloRetryRequest, RFC 8446 section 4.1.3 / RFC 5246 section 7.4.1.3 -------

@dataclass(frozen=True, slots=True)
class ServerHello:
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[Extension, ...]
    selected_version: int | None = None
    """From supported_versions (RFC 8446 section 4.2.1): 0x0304 for TLS 1.3; None when absent."""
    key_share_group: int | None = None
    """ServerHello: the group of the server's share. HelloRetryRequest: the selected_group asked for."""
    alpn: str | None = None
    """The protocol the server chose (RFC 7301 section 3.1)."""
    alpn_raw: bytes | None = None
    is_hrr: bool = False
    """A HelloRetryRequest: ``random`` is ``HELLO_RETRY_REQUEST_RANDOM`` (RFC 8446 section 4.1.3)."""
    cookie_present: bool = False
    downgrade_sentinel: str | None = None
    """``TLSv1.2`` or ``TLSv1.1-or-below`` when the random ends with a TLS 1.3 downgrade sentinel."""
    decode_errors: tuple[str, ...] = field(default=())

    @property
    def version(self) -> int:
        """The negotiated version: supported_versions when present, else legacy_version."""
        return self.selected_version if self.selected_version is not None else self.legacy_version

    @property
    def extension_types(self) -> tuple[int, ...]:
        return tuple(map(_type_of, self.extensions))

    def has_extension(self, etype: int) -> bool:
        return etype in map(_type_of, self.extensions)


def _parse_server_hello_reference(body: bytes) -> ServerHello | ProtocolError:
    """The reference decoder of a ServerHello body: every input the fast path finds irregular comes here."""
    r = _Reader(body)
    try:
        legacy_version = r.u16("legacy_version")
        random = r.take(32, "random")
        session_id = r.opaque(1, "legacy_session_id_echo")
        if len(session_id) > 32:
            raise _DecodeError(f"legacy_session_id_echo: length {len(session_id)} > 32", 34)
        cipher_suite = r.u16("cipher_suite")
        compression = r.u8("legacy_compression_method")
        exts = _extensions(r, "ServerHello") if r.left else ()
        r.expect_end("ServerHello")
    except _DecodeError as exc:
        return ProtocolError(f"ServerHello {exc.what}", body[:RAW_KEPT], exc.offset)
    is_hrr = random == HELLO_RETRY_REQUEST_RANDOM
    errors = _duplicates(exts)
    selected_version: int | None = None
    key_share_group: int | None = None
    alpn_raw: bytes | None = None
    cookie = False
    for ext in exts:
        r = _Reader(ext.data)
        try:
            if ext.type == ExtensionType.SUPPORTED_VERSIONS:
                selected_version = r.u16("supported_versions selected_version")
                r.expect_end("supported_versions")
            elif ext.type == ExtensionType.KEY_SHARE:
                # HRR: NamedGroup selected_group; ServerHello: KeyShareEntry server_share (RFC 8446 4.2.8).
                key_share_group = r.u16("key_share group")
                if not is_hrr:
                    r.vector(2, "key_share key_exchange")
                r.expect_end("key_share")
            elif ext.type == ExtensionType.APPLICATION_LAYER_PROTOCOL_NEGOTIATION:
                lst = r.vector(2, "alpn protocol_name_list")
                alpn_raw = lst.opaque(1, "alpn protocol_name")
                lst.expect_end("alpn (a server names exactly one protocol)")
                r.expect_end("alpn")
            elif ext.type == ExtensionType.COOKIE:
                cookie = True
        except _DecodeError as exc:
            errors.append(f"{extension_name(ext.type)}: {exc.what}")
    tail = random[24:]
    sentinel = "TLSv1.2" if tail == DOWNGRADE_TLS12 else "TLSv1.1-or-below" if tail == DOWNGRADE_TLS11 else None
    return ServerHello(
        legacy_version, random, session_id, cipher_suite, compression, exts,
        selected_version=selected_version, key_share_group=key_share_group,
        alpn=_ascii(alpn_raw) if alpn_raw is not None else None, alpn_raw=alpn_raw, is_hrr=is_hrr,
        cookie_present=cookie, downgrade_sentinel=sentinel, decode_errors=tuple(errors),
    )


_new_server_hello: Final = _fast_builder(ServerHello)


def parse_server_hello(body: bytes) -> ServerHello | ProtocolError:
    """Decode a ServerHello or HelloRetryRequest body (without the 4-byte handshake header).

    The fast path; anything irregular is decoded by ``_parse_server_hello_reference``."""
    n = len(body)
    if n < 38:
        return _parse_server_hello_reference(body)
    sid_len = body[34]
    p = 35 + sid_len
    if sid_len > 32 or p + 3 > n:
        return _parse_server_hello_reference(body)
    cipher_suite = (body[p] << 8) | body[p + 1]
    compression = body[p + 2]
    p += 3
    exts: tuple[Extension, ...] = ()
    types: list[int] = []
    if p < n:
        parsed = _fast_extensions(body, p + 2) if p + 2 <= n and ((body[p] << 8) | body[p + 1]) == n - p - 2 \
            else None
        if parsed is None:
            return _parse_server_hello_reference(body)
        exts, types = parsed
    random = body[2:34]
    is_hrr = random == HELLO_RETRY_REQUEST_RANDOM
    selected_version: int | None = None
    key_share_group: int | None = None
    alpn_raw: bytes | None = None
    cookie = False
    for t, x in exts:
        if t == 43:  # supported_versions: the selected_version
            if len(x) != 2:
                return _parse_server_hello_reference(body)
            selected_version = (x[0] << 8) | x[1]
        elif t == 51:  # key_share: HRR a NamedGroup, ServerHello a KeyShareEntry (RFC 8446 4.2.8)
            m = len(x)
            if m != 2 if is_hrr else (m < 4 or ((x[2] << 8) | x[3]) != m - 4):
                return _parse_server_hello_reference(body)
            key_share_group = (x[0] << 8) | x[1]
        elif t == 16:  # ALPN: a list of exactly one protocol name
            m = len(x)
            if m < 3 or ((x[0] << 8) | x[1]) != m - 2 or x[2] != m - 3:
                return _parse_server_hello_reference(body)
            alpn_raw = x[3:]
        elif t == 44:  # cookie
            cookie = True
    tail = body[26:34]
    sentinel = "TLSv1.2" if tail == DOWNGRADE_TLS12 else "TLSv1.1-or-below" if tail == DOWNGRADE_TLS11 else None
    # Positional, in field order (much faster than keywords; the speed-path tests compare every field).
    hello: ServerHello = _new_server_hello(
        (body[0] << 8) | body[1], random, body[35:35 + sid_len], cipher_suite, compression, exts, selected_version,
        key_share_group, _ascii(alpn_raw) if alpn_raw is not None else None, alpn_raw, is_hrr, cookie, sentinel,
        tuple(_duplicates(exts)) if len(set(types)) != len(types) else ())
    return hello


# --- Certificate, RFC 5246 section 7.4.2 / RFC 8446 section 4.4.2 -------------------------------

@dataclass(frozen=True, slots=True)
class CertificateMessage:
    """A Certificate message, from the server or the client (an empty list is a client with none)."""

    certificates: tuple[CertificateFacts, ...]
    """In the order sent: the end-entity certificate first."""
    tls13_format: bool = False
    request_context: bytes | None = None
    """TLS 1.3 only: certificate_request_context (empty for a server's certificate)."""
    entry_extensions: tuple[tuple[Extension, ...], ...] = ()
    """TLS 1.3 only: the extensions of each CertificateEntry (OCSP status, SCTs)."""
    certificates_omitted: int = 0
    """Certificates beyond ``MAX_CERTIFICATES`` that were counted but not decoded."""

    @property
    def is_empty(self) -> bool:
        return not self.certificates and not self.certificates_omitted


def _parse_certificate_reference(body: bytes, tls13: bool = False) -> CertificateMessage | ProtocolError:
    """The reference decoder of a Certificate body: every input the fast path finds irregular comes here."""
    r = _Reader(body)
    certs: list[CertificateFacts] = []
    entry_exts: list[tuple[Extension, ...]] = []
    omitted = 0
    context: bytes | None = None
    try:
        if tls13:
            context = r.opaque(1, "certificate_request_context")
        lst = r.vector(3, "certificate_list")
        while lst.left:
            der = lst.opaque(3, "cert_data")
            if not der:
                raise _DecodeError("cert_data: empty certificate (ASN.1Cert<1..2^24-1>)", lst.pos)
            if tls13:
                entry_exts.append(_extensions(lst, "CertificateEntry"))
            if len(certs) < MAX_CERTIFICATES:
                certs.append(certificate_facts(der))
            else:
                omitted += 1
        r.expect_end("Certificate")
    except _DecodeError as exc:
        return ProtocolError(f"Certificate {exc.what}", body[:RAW_KEPT], exc.offset)
    return CertificateMessage(tuple(certs), tls13, context, tuple(entry_exts), omitted)


def parse_certificate(body: bytes, tls13: bool = False) -> CertificateMessage | ProtocolError:
    """Decode a Certificate body; ``tls13`` for the TLS 1.3 format (seen only decrypted).

    The fast path reads a well-formed TLS 1.2 list; anything else is decoded by
    ``_parse_certificate_reference``."""
    n = len(body)
    if tls13 or n < 3 or ((body[0] << 16) | (body[1] << 8) | body[2]) != n - 3:
        return _parse_certificate_reference(body, tls13)
    certs: list[CertificateFacts] = []
    omitted = 0
    p = 3
    while p < n:
        if p + 3 > n:
            return _parse_certificate_reference(body, tls13)
        e = p + 3 + ((body[p] << 16) | (body[p + 1] << 8) | body[p + 2])
        if e > n or e == p + 3:
            return _parse_certificate_reference(body, tls13)
        if len(certs) < MAX_CERTIFICATES:
            certs.append(certificate_facts(body[p + 3:e]))
        else:
            omitted += 1
        p = e
    return CertificateMessage(tuple(certs), False, None, (), omitted)


# --- CertificateRequest, RFC 5246 section 7.4.4 / RFC 8446 section 4.3.2 ------------------------

@dataclass(frozen=True, slots=True)
class CertificateRequest:
    tls13_format: bool
    certificate_types: tuple[int, ...] = ()
    """TLS 1.2 and older: ClientCertificateType list (1 = rsa_sign, 64 = ecdsa_sign, ...)."""
    signature_algorithms: tuple[int, ...] = ()
    """TLS 1.2: supported_signature_algorithms; TLS 1.3: the signature_algorithms extension."""
    certificate_authorities: tuple[bytes, ...] = ()
    """DER DistinguishedNames of acceptable CAs (first ``MAX_CA_NAMES``); empty means any CA."""
    certificate_authorities_count: int = 0
    request_context: bytes | None = None
    extensions: tuple[Extension, ...] = ()


def parse_certificate_request(body: bytes, version: int | None) -> CertificateRequest | ProtocolError:
    """``version`` is the negotiated one; TLS 1.2 added supported_signature_algorithms (RFC 5246 7.4.4)."""
    tls13 = version is not None and version >= 0x0304
    r = _Reader(body)
    try:
        if tls13:
            context = r.opaque(1, "certificate_request_context")
            exts = _extensions(r, "CertificateRequest")
            r.expect_end("CertificateRequest")
            sigs: tuple[int, ...] = ()
            cas: list[bytes] = []
            count = 0
            for ext in exts:
                er = _Reader(ext.data)
                if ext.type == ExtensionType.SIGNATURE_ALGORITHMS:
                    sigs = er.vector(2, "signature_algorithms").u16_list("signature_algorithms")
                elif ext.type == ExtensionType.CERTIFICATE_AUTHORITIES:
                    count = _distinguished_names(er.vector(2, "certificate_authorities"), cas)
            return CertificateRequest(True, (), sigs, tuple(cas), count, context, exts)
        types = tuple(r.opaque(1, "certificate_types"))
        sigs = ()
        if version is None or version >= 0x0303:
            sigs = r.vector(2, "supported_signature_algorithms").u16_list("supported_signature_algorithms")
        cas = []
        count = _distinguished_names(r.vector(2, "certificate_authorities"), cas)
        r.expect_end("CertificateRequest")
    except _DecodeError as exc:
        return ProtocolError(f"CertificateRequest {exc.what}", body[:RAW_KEPT], exc.offset)
    return CertificateRequest(False, types, sigs, tuple(cas), count)


def _distinguished_names(lst: _Reader, kept: list[bytes]) -> int:
    count = 0
    while lst.left:
        dn = lst.opaque(2, "DistinguishedName")
        if len(kept) < MAX_CA_NAMES:
            kept.append(dn)
        count += 1
    return count


# --- ServerKeyExchange, RFC 8422 section 5.4 / RFC 5246 section 7.4.3 ----------------------------

@dataclass(frozen=True, slots=True)
class ServerKeyExchange:
    kind: str
    """``ecdhe``, ``dhe`` or ``unknown`` (then only ``length`` is known)."""
    length: int
    named_group: int | None = None
    """ECDHE with curve_type named_curve (3): the group."""
    curve_type: int | None = None
    public_key_length: int | None = None
    dh_prime_bits: int | None = None
    """DHE: the size of the server's prime p (a weak DH group is a finding of its own)."""
    signature_algorithm: int | None = None
    """TLS 1.2: the SignatureAndHashAlgorithm of the signed parameters."""


def parse_server_key_exchange(body: bytes, cipher_suite: int | None, version: int | None) -> ServerKeyExchange:
    """Decoded when the suite says ECDHE or DHE; anything else (PSK, SRP, malformed) stays ``unknown``.

    Never an error: the message is already framed and its content only informs, so what cannot
    be decoded is reported as ``kind="unknown"`` with its length. The fast path reads the common
    ECDHE named_curve case; everything else is decoded by ``_parse_server_key_exchange_reference``.
    """
    name = CIPHER_SUITES.get(cipher_suite, "") if cipher_suite is not None else ""
    n = len(body)
    if "_ECDHE_" in name and n >= 4 and body[0] == 3 and "_PSK_" not in name and "_SRP_" not in name \
            and "_anon_" not in name:
        e = 4 + body[3]  # curve_type(1)=named_curve, namedcurve(2), ECPoint public<1..2^8-1>
        if e <= n:
            sig = (body[e] << 8) | body[e + 1] if n - e >= 2 and (version is None or version >= 0x0303) else None
            return ServerKeyExchange("ecdhe", n, (body[1] << 8) | body[2], 3, body[3], signature_algorithm=sig)
    return _parse_server_key_exchange_reference(body, cipher_suite, version)


def _parse_server_key_exchange_reference(body: bytes, cipher_suite: int | None, version: int | None
                                         ) -> ServerKeyExchange:
    """The reference decoder of a ServerKeyExchange (see ``parse_server_key_exchange``)."""
    name = CIPHER_SUITES.get(cipher_suite, "") if cipher_suite is not None else ""
    r = _Reader(body)
    signed = version is None or version >= 0x0303
    if "_PSK_" in name or "_SRP_" in name:
        return ServerKeyExchange("unknown", len(body))  # a psk_identity_hint or SRP params come first
    try:
        if "_ECDHE_" in name or "_ECDH_anon_" in name or (not name and body[:1] == b"\x03"):
            curve_type = r.u8("curve_type")
            if curve_type != 3:
                return ServerKeyExchange("ecdhe", len(body), curve_type=curve_type)
            group = r.u16("namedcurve")
            point = r.vector(1, "public")
            sig = r.u16("signature algorithm") if signed and r.left >= 2 and "_anon_" not in name else None
            return ServerKeyExchange("ecdhe", len(body), group, curve_type, point.left, signature_algorithm=sig)
        if "_DHE_" in name or "_DH_anon_" in name:
            p = r.opaque(2, "dh_p")
            r.vector(2, "dh_g")
            ys = r.vector(2, "dh_Ys")
            sig = r.u16("signature algorithm") if signed and r.left >= 2 and "_anon_" not in name else None
            bits = int.from_bytes(p, "big").bit_length()
            return ServerKeyExchange("dhe", len(body), public_key_length=ys.left, dh_prime_bits=bits,
                                     signature_algorithm=sig)
    except _DecodeError:
        pass
    return ServerKeyExchange("unknown", len(body))


# --- the small ones ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ServerHelloDone:
    """RFC 5246 section 7.4.5: an empty message ending the server's TLS 1.2 flight."""


@dataclass(frozen=True, slots=True)
class NewSessionTicket:
    """RFC 5077 section 3.3 (TLS 1.2) or RFC 8446 section 4.6.1 (TLS 1.3, seen only decrypted)."""

    lifetime_hint: int
    ticket_length: int
    tls13_format: bool = False


@dataclass(frozen=True, slots=True)
class Finished:
    """RFC 8446 section 4.4.4 / RFC 5246 section 7.4.9; plaintext only after decryption."""

    verify_data: bytes


@dataclass(frozen=True, slots=True)
class RawHandshake:
    """Any other handshake message (or one that failed to decode): its type, length and first bytes."""

    msg_type: int
    length: int
    body: bytes
    """The first ``RAW_KEPT`` bytes of the body."""


HandshakeMessage = (ClientHello | ServerHello | CertificateMessage | CertificateRequest | ServerKeyExchange
                    | ServerHelloDone | NewSessionTicket | Finished | RawHandshake)


@dataclass(frozen=True, slots=True)
class HandshakeContext:
    """What the stream knows when a message arrives, needed to read version-dependent messages."""

    from_client: bool
    version: int | None = None
    """Negotiated version, once this direction has seen a ServerHello."""
    cipher_suite: int | None = None
    tls13_certificates: bool = False
    """Read Certificate in the TLS 1.3 format (only for decrypted handshakes)."""


@dataclass(frozen=True, slots=True)
class ParsedHandshake:
    msg_type: int
    message: HandshakeMessage
    length: int
    """Body length (without the 4-byte header)."""
    consumed: int
    error: ProtocolError | None = None
    """Set when the message was framed but its body is malformed; ``message`` is then a RawHandshake."""


def decode_handshake_body(msg_type: int, body: bytes, context: HandshakeContext
                          ) -> HandshakeMessage | ProtocolError:
    """Decode a complete handshake body of type ``msg_type``."""
    return _decode_body(msg_type, body, context.version, context.cipher_suite, context.tls13_certificates)


_SERVER_HELLO_DONE: Final = ServerHelloDone()


def _decode_body(msg_type: int, body: bytes, version: int | None, cipher_suite: int | None,
                 tls13_certificates: bool = False) -> HandshakeMessage | ProtocolError:
    """``decode_handshake_body`` with the context spelled out (the stream calls this, per message).
    Plain ints, most frequent first: comparing with an IntEnum member costs an attribute lookup."""
    if msg_type == 1:  # HandshakeType.CLIENT_HELLO
        return parse_client_hello(body)
    if msg_type == 2:  # SERVER_HELLO
        return parse_server_hello(body)
    if msg_type == 11:  # CERTIFICATE
        return parse_certificate(body, tls13=tls13_certificates)
    if msg_type == 12:  # SERVER_KEY_EXCHANGE
        return parse_server_key_exchange(body, cipher_suite, version)
    if msg_type == 14:  # SERVER_HELLO_DONE
        if body:
            return ProtocolError(f"ServerHelloDone: {len(body)} bytes in an empty message", body[:RAW_KEPT])
        return _SERVER_HELLO_DONE
    if msg_type == 13:  # CERTIFICATE_REQUEST
        return parse_certificate_request(body, version)
    if msg_type == 4:  # NEW_SESSION_TICKET
        return _parse_new_session_ticket(body, version is not None and version >= 0x0304)
    if msg_type == 20:  # FINISHED
        return Finished(body)
    return RawHandshake(msg_type, len(body), body[:RAW_KEPT])


def _parse_new_session_ticket(body: bytes, tls13: bool) -> NewSessionTicket | ProtocolError:
    r = _Reader(body)
    try:
        lifetime = r.u32("ticket_lifetime")
        if tls13:
            r.u32("ticket_age_add")
            r.opaque(1, "ticket_nonce")
        ticket = r.vector(2, "ticket")
        if tls13:
            _extensions(r, "NewSessionTicket")
        r.expect_end("NewSessionTicket")
    except _DecodeError as exc:
        return ProtocolError(f"NewSessionTicket {exc.what}", body[:RAW_KEPT], exc.offset)
    return NewSessionTicket(lifetime, ticket.left, tls13)


def parse_handshake(data: bytes, context: HandshakeContext, max_length: int = 1 << 24
                    ) -> ParsedHandshake | NeedMoreData | ProtocolError:
    """The handshake message at the start of ``data`` (header included).

    A message longer than ``max_length`` is a ``ProtocolError`` as soon as its header is seen,
    before its body is buffered. A well-framed message whose body does not decode is returned as
    a ``ParsedHandshake`` holding a ``RawHandshake`` and the ``error``: the framing is intact, so
    the stream can go on.
    """
    if len(data) < 4:
        return NeedMoreData(4 - len(data))
    msg_type = data[0]
    length = (data[1] << 16) | (data[2] << 8) | data[3]
    if length > max_length:
        return ProtocolError(f"handshake message type {msg_type} of {length} bytes exceeds the cap of "
                             f"{max_length}", bytes(data[:RAW_KEPT]))
    if len(data) < 4 + length:
        return NeedMoreData(4 + length - len(data))
    body = bytes(data[4:4 + length])
    decoded = decode_handshake_body(msg_type, body, context)
    if isinstance(decoded, ProtocolError):
        return ParsedHandshake(msg_type, RawHandshake(msg_type, length, body[:RAW_KEPT]), length, 4 + length,
                               decoded)
    return ParsedHandshake(msg_type, decoded, length, 4 + length)


pickle_by_fields(__name__)
