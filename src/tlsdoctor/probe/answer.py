"""The server's first answer to a ClientHello, read from raw bytes (sans-IO).

Theory of operation. A probe writes one ClientHello and reads whatever comes back. ``read_answer``
looks at all bytes received so far and has three outcomes, as h11's readers do:

* an ``Answer``: a ServerHello (or HelloRetryRequest) and what it chose, an alert, bytes that are not
  TLS (an HTTP response, a banner), or a TLS-looking stream that breaks the rules (``MALFORMED``);
* ``NeedMore``: the bytes are a prefix of one of those; nothing is guessed from a prefix;
* nothing else: it never raises on any input (a Hypothesis test feeds it random bytes).

Only what precedes the ServerHello is read: records (RFC 8446 section 5.1: type(1) version(2)
length(2)), a plaintext alert (section 6), and handshake records until the first message, which must be
a ServerHello (section 4.1.3); its body is decoded by ``tlsdoctor.tls.messages.parse_server_hello``.
Growth is capped: a record longer than ``MAX_RECORD`` or a ServerHello longer than ``MAX_SERVER_HELLO``
is ``MALFORMED`` as soon as its header is seen, before the body is waited for.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

from tlsdoctor.tls.alerts import alert_name
from tlsdoctor.tls.messages import ProtocolError, parse_server_hello
from tlsdoctor.tls.registry import cipher_suite_name, group_name, handshake_type_name, version_name

MAX_RECORD: Final = 16384 + 2048
"""Largest TLSCiphertext length (RFC 8446 section 5.2); TLS 1.2 allows the same bound (RFC 5246 section 6.2.3)."""

MAX_SERVER_HELLO: Final = 4 + 2 + 32 + 33 + 3 + 2 + 0xFFFF
"""A ServerHello cannot be longer: fixed fields, a 32-byte session id, and at most 2^16-1 bytes of extensions."""

PREVIEW: Final = 64
"""Bytes of a non-TLS or malformed answer kept for the report."""

_CONTENT_TYPES: Final = frozenset((20, 21, 22, 23, 24))


class AnswerKind(enum.StrEnum):
    SERVER_HELLO = "server_hello"
    HELLO_RETRY_REQUEST = "hello_retry_request"
    ALERT = "alert"
    NOT_TLS = "not_tls"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class NeedMore:
    """A prefix of an answer: at least ``needed`` more bytes are required."""

    needed: int


@dataclass(frozen=True, slots=True)
class Answer:
    kind: AnswerKind
    consumed: int
    """Bytes of the input that this answer accounts for."""
    version: int | None = None
    """Negotiated version: supported_versions' selected_version, else the ServerHello's legacy_version."""
    cipher_suite: int | None = None
    key_share_group: int | None = None
    alpn: str | None = None
    alert_level: int | None = None
    alert_code: int | None = None
    preview: bytes = b""
    """First bytes of a NOT_TLS or MALFORMED answer."""
    detail: str = ""

    def describe(self) -> str:
        """One line for a person, e.g. ``ServerHello TLSv1.3 TLS_AES_128_GCM_SHA256``."""
        if self.kind in (AnswerKind.SERVER_HELLO, AnswerKind.HELLO_RETRY_REQUEST):
            what = "ServerHello" if self.kind == AnswerKind.SERVER_HELLO else "HelloRetryRequest"
            parts = [what]
            if self.version is not None:
                parts.append(version_name(self.version))
            if self.cipher_suite is not None:
                parts.append(cipher_suite_name(self.cipher_suite))
            if self.kind == AnswerKind.HELLO_RETRY_REQUEST and self.key_share_group is not None:
                parts.append(f"asks for {group_name(self.key_share_group)}")
            return " ".join(parts)
        if self.kind == AnswerKind.ALERT:
            level = {1: "warning", 2: "fatal"}.get(self.alert_level or 0, f"level {self.alert_level}")
            return f"alert {self.alert_code} {alert_name(self.alert_code or 0)} ({level})"
        if self.kind == AnswerKind.NOT_TLS:
            return f"not TLS: {printable(self.preview)!r}"
        return f"malformed: {self.detail}"


def printable(data: bytes, limit: int = 40) -> str:
    """The first bytes as text a person can read: ASCII kept, the rest as ``\\xNN``."""
    text = data[:limit].decode("ascii", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text) + ("..." if len(data) > limit else "")


def _not_tls(data: bytes, detail: str) -> Answer:
    return Answer(AnswerKind.NOT_TLS, len(data), preview=data[:PREVIEW], detail=detail)


def _malformed(data: bytes, detail: str) -> Answer:
    return Answer(AnswerKind.MALFORMED, len(data), preview=data[:PREVIEW], detail=detail)


def looks_like_http(data: bytes) -> bool:
    return data.startswith((b"HTTP/", b"<html", b"<!DOCTYPE", b"<HTML"))


def read_answer(data: bytes) -> Answer | NeedMore:
    """Classify the bytes a server sent after our ClientHello (all of them, from the first)."""
    if not data:
        return NeedMore(5)
    # A TLS record starts with a known content type and a version whose major byte is 3
    # (RFC 8446 section 5.1). Decide as soon as one byte disagrees: "HTTP/" fails at the first.
    if data[0] not in _CONTENT_TYPES or (len(data) >= 2 and data[1] != 3):
        detail = "an HTTP response" if looks_like_http(data) or data[:1] == b"H" else "bytes that are not a TLS record"
        return _not_tls(data, detail)
    handshake = bytearray()
    offset = 0
    while True:
        if len(data) - offset < 5:
            return NeedMore(5 - (len(data) - offset))
        content_type, version, length = struct.unpack_from(">BHH", data, offset)
        if content_type not in _CONTENT_TYPES or version >> 8 != 3:
            return _malformed(data, f"record at byte {offset} has type {content_type} version {version:#06x}")
        if length > MAX_RECORD:
            return _malformed(data, f"record length {length} exceeds {MAX_RECORD}")
        end = offset + 5 + length
        if len(data) < end:
            return NeedMore(end - len(data))
        payload = data[offset + 5:end]
        if content_type == 21:
            if handshake:
                return _malformed(data, "alert inside a fragmented ServerHello")
            if length < 2:
                return _malformed(data, f"alert record of {length} byte(s)")
            # A plaintext alert before any ServerHello: level(1) description(1) (RFC 8446 section 6).
            return Answer(AnswerKind.ALERT, end, alert_level=payload[0], alert_code=payload[1])
        if content_type != 22:
            return _malformed(data, f"{_type_name(content_type)} record before the ServerHello")
        if length == 0:
            return _malformed(data, "empty handshake record (RFC 8446 section 5.1 forbids it)")
        handshake += payload
        offset = end
        if handshake[0] != 2:
            return _malformed(data, f"first handshake message is {handshake_type_name(handshake[0])}, not server_hello")
        if len(handshake) < 4:
            continue
        msg_length = int.from_bytes(handshake[1:4], "big")
        if msg_length > MAX_SERVER_HELLO:
            return _malformed(data, f"ServerHello length {msg_length} exceeds {MAX_SERVER_HELLO}")
        if len(handshake) < 4 + msg_length:
            continue
        parsed = parse_server_hello(bytes(handshake[4:4 + msg_length]))
        if isinstance(parsed, ProtocolError):
            return _malformed(data, f"ServerHello: {parsed.reason}")
        kind = AnswerKind.HELLO_RETRY_REQUEST if parsed.is_hrr else AnswerKind.SERVER_HELLO
        chosen = parsed.selected_version if parsed.selected_version is not None else parsed.legacy_version
        return Answer(kind, offset, version=chosen, cipher_suite=parsed.cipher_suite,
                      key_share_group=parsed.key_share_group, alpn=parsed.alpn)


def _type_name(content_type: int) -> str:
    return {20: "change_cipher_spec", 23: "application_data", 24: "heartbeat"}.get(content_type, str(content_type))
