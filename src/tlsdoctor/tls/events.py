"""The events a ``TLSDirectionParser`` emits: frozen, slotted values a later stage can keep.

Theory of operation. One direction of a TCP connection is a sequence of TLS records (RFC 8446
section 5.1, RFC 5246 section 6.2). The parser turns them into these events, in wire order:

* ``HandshakeEvent`` — one complete plaintext handshake message (reassembled across records and
  TCP segments), with the parsed message (``tlsdoctor.tls.messages``);
* ``ChangeCipherSpecEvent`` — a ChangeCipherSpec record (RFC 5246 section 7.1; in TLS 1.3 the
  compatibility dummy of RFC 8446 appendix D.4);
* ``AlertEvent`` — an alert record; plaintext alerts carry level and description (RFC 8446
  section 6), encrypted ones only their length;
* ``EncryptedRecordEvent`` — a record that is not parsed: application_data, a handshake record
  after this direction's ChangeCipherSpec (TLS 1.2 and older), a heartbeat;
* ``NotTLSEvent`` — the direction's first bytes are not TLS (an HTTP answer, an SSH banner, ...);
* ``TLSAnomaly`` — a malformation, as data (``fatal`` ones end parsing of the direction).

Every event carries ``frame``: the frame (Wireshark's number) whose bytes completed it, as
Wireshark shows a reassembled PDU in its last frame; record and handshake events also carry
``first_frame``, where the record or message began.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tlsdoctor.pickling import pickle_by_fields
from tlsdoctor.tls.messages import HandshakeMessage


class AnomalyKind(StrEnum):
    """What went wrong; stable strings (they appear in JSON output)."""

    RECORD_TOO_LONG = "record_too_long"
    """A record length above 2^14 + 2048 (RFC 5246 section 6.2.3; RFC 8446 section 5.2 allows less)."""
    UNKNOWN_CONTENT_TYPE = "unknown_content_type"
    BAD_RECORD_VERSION = "bad_record_version"
    HANDSHAKE_TOO_LARGE = "handshake_too_large"
    """A handshake message longer than the parser's cap (``max_handshake_bytes``)."""
    HANDSHAKE_MALFORMED = "handshake_malformed"
    """A framed handshake message whose body does not decode (kept as a RawHandshake)."""
    EXTENSION_MALFORMED = "extension_malformed"
    """An extension inside a hello that could not be decoded (the hello itself is kept)."""
    SSLV2_MALFORMED = "sslv2_malformed"
    EMPTY_RECORD = "empty_record"
    """A zero-length handshake, alert or ChangeCipherSpec record (RFC 8446 section 5.1 forbids them)."""
    BAD_CHANGE_CIPHER_SPEC = "bad_change_cipher_spec"
    INTERLEAVED_RECORD = "interleaved_record"
    """Another record type arrived while a handshake message was incomplete (RFC 8446 section 5.1)."""
    GAP = "gap"
    """Bytes of this direction were not captured; parsing stopped."""
    EVENT_CAP = "event_cap"
    """``max_record_events`` was reached; later records are counted only."""
    ANOMALY_CAP = "anomaly_cap"


@dataclass(frozen=True, slots=True)
class HandshakeEvent:
    msg_type: int
    """HandshakeType (RFC 8446 section 4)."""
    message: HandshakeMessage
    length: int
    """Body length, without the 4-byte header."""
    frame: int
    first_frame: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class ChangeCipherSpecEvent:
    frame: int
    first_frame: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class AlertEvent:
    level: int | None
    """1 warning, 2 fatal (``tlsdoctor.tls.alerts.AlertLevel``); None when encrypted."""
    description: int | None
    """``tlsdoctor.tls.alerts.AlertDescription`` code; None when encrypted."""
    frame: int
    ts_ns: int
    encrypted: bool
    first_frame: int = 0
    length: int = 2
    """Record length: 2 for a plaintext alert."""


@dataclass(frozen=True, slots=True)
class EncryptedRecordEvent:
    content_type: int
    """The record's outer type: 23 application_data (also every TLS 1.3 encrypted record), 22 a
    TLS 1.2 encrypted handshake message (Finished), 24 heartbeat."""
    length: int
    frame: int
    first_frame: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class NotTLSEvent:
    frame: int
    ts_ns: int
    first_bytes: bytes
    """Up to ``NOT_TLS_BYTES_KEPT`` bytes as they arrived."""
    guess: str
    """``http_response``, ``http_request``, ``ssh_banner``, ``smtp_ftp_banner``, ``pop3_banner``,
    ``imap_banner``, ``sslv2_record`` or ``unknown``."""


@dataclass(frozen=True, slots=True)
class TLSAnomaly:
    kind: AnomalyKind
    frame: int
    detail: str
    """A sentence for a person, with the numbers."""
    raw: bytes = b""
    """The offending bytes, capped (``ANOMALY_RAW_KEPT``)."""
    fatal: bool = False
    """The parser stopped producing events for this direction after it."""


TLSEvent = HandshakeEvent | ChangeCipherSpecEvent | AlertEvent | EncryptedRecordEvent | NotTLSEvent | TLSAnomaly


pickle_by_fields(__name__)
