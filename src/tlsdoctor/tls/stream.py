"""The record layer of one direction: in-order bytes in, ``TLSEvent``s out (sans-IO).

Theory of operation. ``TLSDirectionParser(from_client)`` is fed the in-order bytes of one
direction of a TCP connection, one segment at a time (``feed(data, frame, ts_ns)``), and returns
the events those bytes completed. It has three states:

``START``
    Nothing decided yet. The first bytes must look like a TLS record header (content type 20-24,
    version 0x03XX) or, from a client, an SSLv2-format ClientHello (RFC 5246 appendix E.2, the
    2-byte header with the high bit set and msg_type 1). Anything else is a ``NotTLSEvent`` with a
    guess of what it is (an HTTP answer, nginx's "400 The plain HTTP request was sent to HTTPS
    port" seen from the other side, an SSH or SMTP banner) and the parser stops.
``RECORDS``
    5-byte record headers (RFC 8446 section 5.1, RFC 5246 section 6.2.1). A record is handled only
    once complete. Handshake records are reassembled into messages across records and feeds
    (several messages per record, one message over several records); alerts, ChangeCipherSpec and
    opaque records become events directly.
``STOPPED``
    After a NotTLS, a fatal anomaly or a gap: no more events; bytes are only counted.

What is encrypted, without keys:

* TLS 1.2 and older: everything this direction sends after its own ChangeCipherSpec (RFC 5246
  section 7.1). Handshake records become ``EncryptedRecordEvent(content_type=22)`` (the Finished)
  and alert records encrypted ``AlertEvent``s.
* TLS 1.3: every encrypted record is application_data (23) on the outside (RFC 8446 section
  5.2), so those are opaque anyway. The ChangeCipherSpec is the middlebox-compatibility dummy
  (appendix D.4) and switches nothing: a server that selected TLS 1.3 (in its ServerHello or
  HelloRetryRequest) keeps parsing plaintext handshake records after it (the ServerHello that
  follows a HelloRetryRequest), and a client that offered TLS 1.3 may send its second ClientHello
  after its dummy ChangeCipherSpec, which is recognised by its shape.
* An alert record whose length is not 2 is an encrypted alert (RFC 8446 section 5.1 forbids
  coalescing or fragmenting alerts, so a plaintext alert record is exactly 2 bytes).

Caps on untrusted input (all reported as anomalies when hit):

* ``MAX_RECORD_LENGTH`` = 2^14 + 2048, the largest TLSCiphertext of RFC 5246 section 6.2.3;
* ``max_handshake_bytes`` (default ``MAX_HANDSHAKE_MESSAGE_BYTES``) per handshake message;
* ``max_record_events`` (default ``MAX_RECORD_EVENTS``) events per direction; later records are
  counted only;
* ``MAX_ANOMALIES`` anomalies per direction; ``NOT_TLS_BYTES_KEPT`` and ``ANOMALY_RAW_KEPT`` bytes kept.

Buffering is linear: one ``bytearray`` with a read offset, compacted when the consumed prefix is
large, so a record split over many segments costs no more than one copy of each byte.

The common case has a fast path: nothing is buffered and the feed begins with whole records (a
segment holding a ClientHello, a server's first flight, application data). Those records are
read straight from ``data`` without the buffer, and the handshake messages that lie whole inside
a record straight from the record, without the reassembly buffer. What is left (a partial record
or message, or one that is not well formed) goes through the general path, which reports it.
Both paths give the same events, anomalies and frames (tests/unit/test_tls_speedpath.py).
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import Final

from tlsdoctor.tls.events import (
    AlertEvent,
    AnomalyKind,
    ChangeCipherSpecEvent,
    EncryptedRecordEvent,
    HandshakeEvent,
    NotTLSEvent,
    TLSAnomaly,
    TLSEvent,
)
from tlsdoctor.tls.messages import (
    RAW_KEPT,
    ClientHello,
    HandshakeContext,
    HandshakeMessage,
    NeedMoreData,
    ProtocolError,
    RawHandshake,
    ServerHello,
    _decode_body,
    parse_handshake,
    parse_sslv2_client_hello,
)
from tlsdoctor.tls.registry import ContentType, HandshakeType

MAX_RECORD_LENGTH: Final = 2**14 + 2048
"""Largest record length accepted (RFC 5246 section 6.2.3 TLSCiphertext); above it is a fatal anomaly."""

MAX_HANDSHAKE_MESSAGE_BYTES: Final = 65536 + 4
"""Default cap on one handshake message body. Real certificate chains stay well under 64 KiB;
OpenSSL's own default limit for a Certificate message is 100 KiB (``max_cert_list``)."""

MAX_RECORD_EVENTS: Final = 4096
"""Default cap on the events of one direction (a bulk transfer would otherwise yield one per record)."""

MAX_ANOMALIES: Final = 64
"""Anomalies reported per direction; one ``ANOMALY_CAP`` anomaly says when more were dropped."""

NOT_TLS_BYTES_KEPT: Final = 256
ANOMALY_RAW_KEPT: Final = 64

_COMPACT_AT: Final = 16384
"""Compact the buffer when this many consumed bytes sit at its front."""

_TLS_CONTENT_TYPES: Final = frozenset(int(t) for t in ContentType if t <= ContentType.HEARTBEAT)


class ParserState(Enum):
    START = "start"
    RECORDS = "records"
    STOPPED = "stopped"


# Module-level names for the hot path: reading an Enum member off its class is an attribute lookup.
_START: Final = ParserState.START
_RECORDS: Final = ParserState.RECORDS
_STOPPED: Final = ParserState.STOPPED


def looks_like_tls_client_start(data: bytes) -> bool:
    """Cheap test for the packet path: do these bytes open a client's TLS stream?

    True for a handshake record header ``16 03 00..04`` and for an SSLv2-format ClientHello
    (RFC 5246 appendix E.2: ``8X XX 01 03 0X`` or ``8X XX 01 00 02``).
    """
    if len(data) >= 3 and data[0] == ContentType.HANDSHAKE and data[1] == 3 and data[2] <= 4:
        return True
    return len(data) >= 5 and _is_sslv2_client_hello_start(data)


def _is_sslv2_client_hello_start(data: bytes | bytearray) -> bool:
    return bool(data[0] & 0x80) and data[2] == 1 and (data[3] == 3 or (data[3] == 0 and data[4] == 2))


_HTTP_METHODS: Final = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"CONNECT ", b"PATCH ",
                        b"TRACE ", b"PRI * HTTP/2")


def guess_protocol(first_bytes: bytes) -> str:
    """What non-TLS bytes at the start of a direction probably are (for a person, not a decision)."""
    b = first_bytes
    if b.startswith(b"HTTP/"):
        return "http_response"
    if b.startswith(_HTTP_METHODS):
        return "http_request"
    if b.startswith(b"SSH-"):
        return "ssh_banner"
    if b[:4] in (b"220 ", b"220-", b"421 ", b"554 "):
        return "smtp_ftp_banner"
    if b.startswith(b"+OK"):
        return "pop3_banner"
    if b.startswith(b"* OK") or b.startswith(b"* PREAUTH"):
        return "imap_banner"
    if b and b[0] & 0x80 and len(b) >= 3 and b[2] in (2, 4):
        return "sslv2_record"  # an SSLv2 SERVER-HELLO (4) or ERROR (2)
    return "unknown"


class TLSDirectionParser:
    """Sans-IO parser of one direction; see the module docstring."""

    def __init__(self, from_client: bool, max_handshake_bytes: int = MAX_HANDSHAKE_MESSAGE_BYTES,
                 max_record_events: int = MAX_RECORD_EVENTS) -> None:
        self.from_client = from_client
        self.max_handshake_bytes = max_handshake_bytes
        self.max_record_events = max_record_events
        self.state = ParserState.START
        self.stop_reason: str | None = None
        self.bytes_seen = 0
        """Every byte fed, also after the parser stopped."""
        self.records_seen = 0
        self.events_emitted = 0
        self.anomalies_seen = 0
        self._buf = bytearray()
        self._pos = 0
        self._base = 0  # absolute stream offset of self._buf[0]
        self._feeds: deque[tuple[int, int]] = deque()  # (absolute offset of a feed's first byte, frame)
        self._hs = bytearray()  # handshake bytes not yet forming a complete message
        self._hs_first_frame = 0
        self._ccs_seen = False
        self._encrypting = False
        self._offered_tls13 = False
        self._selected_tls13 = False
        self._version: int | None = None
        self._cipher_suite: int | None = None
        self._cap_reported = False

    # --- public ---------------------------------------------------------------------------------
    @property
    def stopped(self) -> bool:
        return self.state is ParserState.STOPPED

    @property
    def change_cipher_spec_seen(self) -> bool:
        return self._ccs_seen

    def feed(self, data: bytes, frame: int, ts_ns: int) -> list[TLSEvent]:
        """The next in-order bytes of this direction, from ``frame``; returns the events they complete."""
        self.bytes_seen += len(data)
        state = self.state
        if state is _STOPPED or not data:
            return []
        out: list[TLSEvent] = []
        if not self._buf and self._fast_path:
            if state is _START and len(data) >= 3 and data[1] == 3 and data[0] in _TLS_CONTENT_TYPES:
                self.state = state = _RECORDS  # what _start decides on these bytes
            if state is _RECORDS:
                self._fast_records(data if type(data) is bytes else bytes(data), frame, ts_ns, out)
                return out
        self._feeds.append((self._base + len(self._buf), frame))
        self._buf += data
        if self.state is _START:
            self._start(frame, ts_ns, out)
        if self.state is _RECORDS:
            self._records(frame, ts_ns, out)
        self._compact()
        return out

    _fast_path = True
    """Internal switch: False sends every feed through the general path (the speed-path tests compare both)."""

    def gap(self, frame: int) -> list[TLSEvent]:
        """Bytes of this direction were lost before ``frame``: we cannot find record boundaries
        again with certainty, so the direction is given up (with an anomaly)."""
        if self.state is ParserState.STOPPED:
            return []
        out: list[TLSEvent] = []
        pending = len(self._buf) - self._pos + len(self._hs)
        self._anomaly(out, AnomalyKind.GAP, frame,
                      f"bytes of the {self._side} were not captured before frame {frame}; "
                      f"{pending} buffered bytes dropped and the rest of this direction is not parsed",
                      fatal=True)
        return out

    # --- internals ------------------------------------------------------------------------------
    @property
    def _side(self) -> str:
        return "client" if self.from_client else "server"

    def _stop(self, reason: str) -> None:
        self.state = ParserState.STOPPED
        self.stop_reason = reason
        self._buf = bytearray()
        self._pos = 0
        self._hs = bytearray()
        self._feeds.clear()

    def _compact(self) -> None:
        if self._pos >= _COMPACT_AT or (self._pos and self._pos == len(self._buf)):
            del self._buf[:self._pos]
            self._base += self._pos
            self._pos = 0

    def _frame_at(self, offset: int) -> int:
        """The frame whose feed contained the absolute stream ``offset``."""
        feeds = self._feeds
        while len(feeds) > 1 and feeds[1][0] <= offset:
            feeds.popleft()
        return feeds[0][1] if feeds else 0

    def _anomaly(self, out: list[TLSEvent], kind: AnomalyKind, frame: int, detail: str,
                 raw: bytes | bytearray = b"", fatal: bool = False) -> None:
        self.anomalies_seen += 1
        if self.anomalies_seen <= MAX_ANOMALIES:
            out.append(TLSAnomaly(kind, frame, detail, bytes(raw[:ANOMALY_RAW_KEPT]), fatal))
        elif self.anomalies_seen == MAX_ANOMALIES + 1 and not fatal:
            out.append(TLSAnomaly(AnomalyKind.ANOMALY_CAP, frame,
                                  f"more than {MAX_ANOMALIES} anomalies from the {self._side}; "
                                  "later ones are not reported"))
        elif fatal:
            out.append(TLSAnomaly(kind, frame, detail, bytes(raw[:ANOMALY_RAW_KEPT]), fatal))
        if fatal:
            self._stop(kind.value)

    def _emit(self, out: list[TLSEvent], event: TLSEvent, frame: int) -> None:
        self.events_emitted += 1
        if self.events_emitted <= self.max_record_events:
            out.append(event)
        elif not self._cap_reported:
            self._cap_reported = True
            self._anomaly(out, AnomalyKind.EVENT_CAP, frame,
                          f"more than {self.max_record_events} records from the {self._side}; "
                          "later records are counted, not reported")

    # START: decide whether this direction speaks TLS at all.
    def _start(self, frame: int, ts_ns: int, out: list[TLSEvent]) -> None:
        buf = self._buf
        n = len(buf)
        first = buf[0]
        if first in _TLS_CONTENT_TYPES:
            if n >= 2 and buf[1] != 3:
                self._not_tls(frame, ts_ns, out)
            elif n >= 3:
                self.state = ParserState.RECORDS
            return
        if self.from_client and first & 0x80:
            if n < 5:
                return
            if _is_sslv2_client_hello_start(buf):
                self._sslv2(frame, ts_ns, out)
                return
        self._not_tls(frame, ts_ns, out)

    def _not_tls(self, frame: int, ts_ns: int, out: list[TLSEvent]) -> None:
        first = bytes(self._buf[:NOT_TLS_BYTES_KEPT])
        out.append(NotTLSEvent(frame, ts_ns, first, guess_protocol(first)))
        self.events_emitted += 1
        self._stop("not_tls")

    def _sslv2(self, frame: int, ts_ns: int, out: list[TLSEvent]) -> None:
        result = parse_sslv2_client_hello(bytes(self._buf))
        if isinstance(result, NeedMoreData):
            return
        if isinstance(result, ProtocolError):
            self._anomaly(out, AnomalyKind.SSLV2_MALFORMED, frame, f"{self._side}: {result.reason}",
                          result.raw, fatal=True)
            return
        length = 2 + (((self._buf[0] & 0x7F) << 8) | self._buf[1])
        first_frame = self._frame_at(self._base)
        self._pos = length
        self.records_seen += 1
        self._offered_tls13 = 0x0304 in result.offered_versions
        self._emit(out, HandshakeEvent(HandshakeType.CLIENT_HELLO, result, length - 2, frame, first_frame, ts_ns),
                   frame)
        # The client goes on with ordinary records (its ClientKeyExchange), RFC 5246 appendix E.2.
        self.state = ParserState.RECORDS

    # RECORDS: RFC 8446 section 5.1 TLSPlaintext / RFC 5246 section 6.2.1.
    def _fast_records(self, data: bytes, frame: int, ts_ns: int, out: list[TLSEvent]) -> None:
        """``feed`` with nothing buffered: whole, well-formed records straight from ``data``; the
        rest through the buffer and ``_records``, as if all of ``data`` had been buffered."""
        n = len(data)
        p = 0
        types = _TLS_CONTENT_TYPES
        while n - p >= 5:
            ctype = data[p]
            length = (data[p + 3] << 8) | data[p + 4]
            end = p + 5 + length
            if end > n or ctype not in types or data[p + 1] != 3 or length > MAX_RECORD_LENGTH:
                break
            self.records_seen += 1
            if ctype == 23 and not self._hs:  # _record's first case, inlined: no call, no copy
                ev: EncryptedRecordEvent = EncryptedRecordEvent(23, length, frame, frame, ts_ns)
                self._emit(out, ev, frame)
            else:
                self._record(ctype, data[p + 5:end], frame, frame, ts_ns, out)
            p = end
            if self.state is not _RECORDS:
                return  # stopped (a fatal anomaly): the buffers are gone
        # Every earlier feed is consumed: only this one can own the bytes still to come.
        self._feeds.clear()
        self._base += p
        if p < n:
            self._feeds.append((self._base, frame))
            self._buf += memoryview(data)[p:]
            self._records(frame, ts_ns, out)
            self._compact()

    def _records(self, frame: int, ts_ns: int, out: list[TLSEvent]) -> None:
        buf = self._buf
        while self.state is _RECORDS:
            pos = self._pos
            if len(buf) - pos < 5:
                return
            ctype = buf[pos]
            major, minor = buf[pos + 1], buf[pos + 2]
            length = (buf[pos + 3] << 8) | buf[pos + 4]
            if ctype not in _TLS_CONTENT_TYPES:
                self._anomaly(out, AnomalyKind.UNKNOWN_CONTENT_TYPE, frame,
                              f"{self._side} record with unknown content type {ctype} at byte "
                              f"{self._base + pos} of the stream; the rest of this direction is not parsed",
                              buf[pos:pos + ANOMALY_RAW_KEPT], fatal=True)
                return
            if major != 3:
                self._anomaly(out, AnomalyKind.BAD_RECORD_VERSION, frame,
                              f"{self._side} record with version 0x{major:02x}{minor:02x} (not 3.x) at byte "
                              f"{self._base + pos}: not a TLS record boundary", bytes(buf[pos:pos + 5]), fatal=True)
                return
            if length > MAX_RECORD_LENGTH:
                self._anomaly(out, AnomalyKind.RECORD_TOO_LONG, frame,
                              f"{self._side} record claims {length} bytes, more than the {MAX_RECORD_LENGTH} "
                              "TLS allows (RFC 5246 section 6.2.3)", bytes(buf[pos:pos + 5]), fatal=True)
                return
            if len(buf) - pos - 5 < length:
                return
            first_frame = self._frame_at(self._base + pos)
            self._pos = pos + 5 + length
            self.records_seen += 1
            if ctype == 23 and not self._hs:  # no copy of what is opaque anyway
                self._application_data(length, first_frame, frame, ts_ns, out)
                continue
            self._record(ctype, bytes(buf[pos + 5:pos + 5 + length]), first_frame, frame, ts_ns, out)

    def _record(self, ctype: int, payload: bytes, first_frame: int, frame: int, ts_ns: int,
                out: list[TLSEvent]) -> None:
        length = len(payload)
        if ctype == 23 and not self._hs:
            self._application_data(length, first_frame, frame, ts_ns, out)
            return
        if ctype != 22 and self._hs and not self._encrypting:
            self._anomaly(out, AnomalyKind.INTERLEAVED_RECORD, frame,
                          f"{self._side} sent a record of type {ctype} in the middle of a handshake message "
                          "(RFC 8446 section 5.1 forbids interleaving)")
        if ctype == 22:  # handshake
            if self._encrypting:
                if not (self.from_client and self._offered_tls13 and _looks_like_plaintext_client_hello(payload)):
                    self._emit(out, EncryptedRecordEvent(ctype, length, frame, first_frame, ts_ns), frame)
                    return
                # The CCS was TLS 1.3's dummy before a second ClientHello (RFC 8446 appendix D.4).
                self._encrypting = False
            if length == 0:
                self._anomaly(out, AnomalyKind.EMPTY_RECORD, frame,
                              f"{self._side} sent an empty handshake record (RFC 8446 section 5.1 forbids it)")
                return
            self._handshake_bytes(payload, first_frame, frame, ts_ns, out)
        elif ctype == 20:  # change_cipher_spec
            if payload != b"\x01":
                self._anomaly(out, AnomalyKind.BAD_CHANGE_CIPHER_SPEC, frame,
                              f"{self._side} ChangeCipherSpec record holds {payload[:8].hex()} "
                              f"({length} bytes) instead of the single byte 01 (RFC 5246 section 7.1)", payload)
            ccs: ChangeCipherSpecEvent = ChangeCipherSpecEvent(frame, first_frame, ts_ns)
            self._emit(out, ccs, frame)
            self._ccs_seen = True
            # TLS 1.3's CCS is the compatibility dummy (RFC 8446 appendix D.4) and encrypts nothing.
            self._encrypting = self.from_client or not self._selected_tls13
        elif ctype == 21:  # alert
            if length == 2 and not self._encrypting:
                self._emit(out, AlertEvent(payload[0], payload[1], frame, ts_ns, False, first_frame, 2), frame)
            elif length == 0:
                self._anomaly(out, AnomalyKind.EMPTY_RECORD, frame, f"{self._side} sent an empty alert record")
            else:
                self._emit(out, AlertEvent(None, None, frame, ts_ns, True, first_frame, length), frame)
        else:  # application_data, heartbeat: opaque
            self._emit(out, EncryptedRecordEvent(ctype, length, frame, first_frame, ts_ns), frame)

    def _application_data(self, length: int, first_frame: int, frame: int, ts_ns: int, out: list[TLSEvent]) -> None:
        """An application_data record (opaque: only its length matters) with no handshake message pending."""
        ev: EncryptedRecordEvent = EncryptedRecordEvent(23, length, frame, first_frame, ts_ns)
        self._emit(out, ev, frame)

    def _handshake_bytes(self, payload: bytes, first_frame: int, frame: int, ts_ns: int,
                         out: list[TLSEvent]) -> None:
        """Reassemble handshake messages (RFC 8446 section 5.1: they may span records and share them)."""
        if not self._hs:
            self._hs_first_frame = first_frame
            # Nothing pending: the messages that lie whole in this record are decoded straight from it.
            n = len(payload)
            p = 0
            cap = self.max_handshake_bytes
            while n - p >= 4:
                length = (payload[p + 1] << 16) | (payload[p + 2] << 8) | payload[p + 3]
                end = p + 4 + length
                if end > n or length > cap:
                    break
                msg_type = payload[p]
                body = payload[p + 4:end]
                p = end
                decoded = _decode_body(msg_type, body, self._version, self._cipher_suite)
                if isinstance(decoded, ProtocolError):  # framed, but the body does not decode
                    self._message(msg_type, RawHandshake(msg_type, length, body[:RAW_KEPT]), length, decoded,
                                  frame, ts_ns, out)
                else:
                    self._message(msg_type, decoded, length, None, frame, ts_ns, out)
                if self.state is not _RECORDS:
                    return
            if p == n:
                return
            payload = payload[p:]
        self._hs += payload
        hs = self._hs
        while hs and self.state is _RECORDS:
            if len(hs) >= 4:
                # Look at the header before copying anything: a message arriving in many small
                # records must not be copied once per record.
                length = (hs[1] << 16) | (hs[2] << 8) | hs[3]
                if length <= self.max_handshake_bytes and len(hs) < 4 + length:
                    return
            context = HandshakeContext(self.from_client, self._version, self._cipher_suite)
            result = parse_handshake(bytes(hs[:4 + self.max_handshake_bytes]), context, self.max_handshake_bytes)
            if isinstance(result, NeedMoreData):
                return
            if isinstance(result, ProtocolError):
                self._anomaly(out, AnomalyKind.HANDSHAKE_TOO_LARGE, frame,
                              f"{self._side}: {result.reason}; the rest of this direction is not parsed",
                              result.raw, fatal=True)
                return
            del hs[:result.consumed]
            self._message(result.msg_type, result.message, result.length, result.error, frame, ts_ns, out)
            self._hs_first_frame = first_frame  # whatever is left began in this record

    def _message(self, msg_type: int, msg: HandshakeMessage, length: int, error: ProtocolError | None,
                 frame: int, ts_ns: int, out: list[TLSEvent]) -> None:
        """One complete message; ``error`` when its body did not decode (``msg`` is then a RawHandshake)."""
        if error is not None:
            self._anomaly(out, AnomalyKind.HANDSHAKE_MALFORMED, frame,
                          f"{self._side}: {error.reason} (kept as a raw message)", error.raw)
        if isinstance(msg, ClientHello):
            # 0x0304 in msg.offered_versions, without building that tuple.
            sv = msg.supported_versions
            self._offered_tls13 = 0x0304 in sv if sv else msg.legacy_version == 0x0304 and not msg.has_extension(43)
            for problem in msg.decode_errors:
                self._anomaly(out, AnomalyKind.EXTENSION_MALFORMED, frame, f"{self._side} hello: {problem}")
        elif isinstance(msg, ServerHello):
            self._version = version = msg.version
            self._cipher_suite = msg.cipher_suite
            self._selected_tls13 = version == 0x0304 or version >> 8 == 0x7F
            for problem in msg.decode_errors:
                self._anomaly(out, AnomalyKind.EXTENSION_MALFORMED, frame, f"{self._side} hello: {problem}")
        ev: HandshakeEvent = HandshakeEvent(msg_type, msg, length, frame, self._hs_first_frame, ts_ns)
        self._emit(out, ev, frame)


def _looks_like_plaintext_client_hello(payload: bytes) -> bool:
    """A second ClientHello sent after the client's dummy ChangeCipherSpec (RFC 8446 appendix D.4).

    Its header is ``01 LLLLLL 03 03`` with a length at least what this record holds; an encrypted
    TLS 1.2 Finished matches that by chance about once in 2^40.
    """
    if len(payload) < 6 or payload[0] != HandshakeType.CLIENT_HELLO or payload[4] != 3 or payload[5] > 4:
        return False
    length = (payload[1] << 16) | (payload[2] << 8) | payload[3]
    return length >= len(payload) - 4 and length >= 38
