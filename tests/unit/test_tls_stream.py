"""The record-layer stream parser on real OpenSSL handshakes, fed whole, byte by byte, in random
chunks and with trailing garbage; and on the bad input of issue 3 (bogus lengths, caps, gaps)."""

from __future__ import annotations

import dataclasses
import itertools
import ssl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tls_handshakes import SCENARIOS, transcript

from tlsdoctor.tls.alerts import AlertDescription, AlertLevel
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
    CertificateMessage,
    CertificateRequest,
    ClientHello,
    RawHandshake,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
)
from tlsdoctor.tls.registry import CIPHER_SUITES, HandshakeType, NamedGroup
from tlsdoctor.tls.stream import (
    MAX_RECORD_LENGTH,
    NOT_TLS_BYTES_KEPT,
    TLSDirectionParser,
    looks_like_tls_client_start,
)

# --- helpers --------------------------------------------------------------------------------------


def feed_chunks(data: bytes, cuts: list[int], from_client: bool, **kwargs: int) -> list[TLSEvent]:
    parser = TLSDirectionParser(from_client, **kwargs)
    events: list[TLSEvent] = []
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(data))), len(data)]
    for frame, (a, b) in enumerate(itertools.pairwise(bounds), start=1):
        events += parser.feed(data[a:b], frame, frame * 1000)
    return events


def strip(events: list[TLSEvent]) -> list[TLSEvent]:
    """Events without their frame numbers and times, which depend on the chunking."""
    out: list[TLSEvent] = []
    for ev in events:
        changes = {f.name: 0 for f in dataclasses.fields(ev) if f.name in ("frame", "first_frame", "ts_ns")}
        out.append(dataclasses.replace(ev, **changes))  # type: ignore[arg-type]
    return out


def whole(name: str, from_client: bool) -> list[TLSEvent]:
    return feed_chunks(transcript(name).bytes_of(from_client), [], from_client)


def by_segments(name: str, from_client: bool) -> list[TLSEvent]:
    parser = TLSDirectionParser(from_client)
    events: list[TLSEvent] = []
    for frame, seg in enumerate(transcript(name).side(from_client), start=1):
        events += parser.feed(seg, frame, frame)
    return events


def messages(events: list[TLSEvent]) -> list[object]:
    return [ev.message for ev in events if isinstance(ev, HandshakeEvent)]


def kinds(events: list[TLSEvent]) -> list[str]:
    out = []
    for ev in events:
        if isinstance(ev, HandshakeEvent):
            out.append(HandshakeType(ev.msg_type).name)
        elif isinstance(ev, EncryptedRecordEvent):
            out.append(f"ENC{ev.content_type}")
        else:
            out.append(type(ev).__name__)
    return out


DIRECTIONS = [(name, fc) for name in SCENARIOS for fc in (True, False)]


# --- real handshakes ------------------------------------------------------------------------------

def test_tls13_flights() -> None:
    assert kinds(by_segments("tls13_sni_alpn", True))[:3] == ["CLIENT_HELLO", "ChangeCipherSpecEvent", "ENC23"]
    server = by_segments("tls13_sni_alpn", False)
    assert kinds(server)[:3] == ["SERVER_HELLO", "ChangeCipherSpecEvent", "ENC23"]
    assert not any(isinstance(ev, TLSAnomaly) for ev in server)


def test_tls12_flights_and_encrypted_finished() -> None:
    client = by_segments("tls12_sni", True)
    assert kinds(client) == ["CLIENT_HELLO", "CLIENT_KEY_EXCHANGE", "ChangeCipherSpecEvent", "ENC22"]
    server = by_segments("tls12_sni", False)
    assert kinds(server) == ["SERVER_HELLO", "CERTIFICATE", "SERVER_KEY_EXCHANGE", "SERVER_HELLO_DONE",
                             "NEW_SESSION_TICKET", "ChangeCipherSpecEvent", "ENC22"]
    ske = messages(server)[2]
    assert isinstance(ske, ServerKeyExchange) and ske.kind == "ecdhe" and ske.named_group == NamedGroup.X25519
    assert isinstance(messages(server)[3], ServerHelloDone)
    assert isinstance(messages(client)[1], RawHandshake)


def test_chosen_cipher_matches_openssl() -> None:
    ssl_names = {"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                 "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}
    for name in ("tls13_sni_alpn", "tls12_sni", "tls12_rsa_no_sni", "tls13_hrr"):
        t = transcript(name)
        hellos = [m for m in messages(by_segments(name, False)) if isinstance(m, ServerHello) and not m.is_hrr]
        assert len(hellos) == 1
        sh = hellos[0]
        assert t.cipher is not None
        assert CIPHER_SUITES[sh.cipher_suite] == ssl_names.get(t.cipher, t.cipher)
        assert {0x0304: "TLSv1.3", 0x0303: "TLSv1.2"}[sh.version] == t.version


def test_hello_retry_request_sequence() -> None:
    server = messages(by_segments("tls13_hrr", False))
    hrr, real = server[0], server[1]
    assert isinstance(hrr, ServerHello) and hrr.is_hrr and hrr.key_share_group == NamedGroup.SECP256R1
    assert isinstance(real, ServerHello) and not real.is_hrr and real.key_share_group == NamedGroup.SECP256R1
    client = by_segments("tls13_hrr", True)
    # The second ClientHello comes after the client's compatibility ChangeCipherSpec (RFC 8446 D.4).
    assert kinds(client)[:3] == ["CLIENT_HELLO", "ChangeCipherSpecEvent", "CLIENT_HELLO"]
    first, second = messages(client)[:2]
    assert isinstance(first, ClientHello) and isinstance(second, ClientHello)
    assert first.key_share_groups == (NamedGroup.X25519,)
    assert second.key_share_groups == (NamedGroup.SECP256R1,)
    assert second.cookie_present is False or second.has_extension(44)


def test_client_certificate_requested_tls12() -> None:
    server = messages(by_segments("tls12_client_cert", False))
    req = next(m for m in server if isinstance(m, CertificateRequest))
    assert not req.tls13_format and req.signature_algorithms and 64 in req.certificate_types
    # Python's ssl never calls SSL_CTX_set_client_CA_list: the request names no CA (any CA will do).
    assert req.certificate_authorities_count == 0 and req.certificate_authorities == ()
    client_cert = messages(by_segments("tls12_client_cert", True))[1]
    assert isinstance(client_cert, CertificateMessage)
    assert client_cert.certificates[0].subject is not None and "client.test" in client_cert.certificates[0].subject
    empty = messages(by_segments("tls12_client_cert_missing", True))[1]
    assert isinstance(empty, CertificateMessage) and empty.is_empty
    alert = [ev for ev in by_segments("tls12_client_cert_missing", False) if isinstance(ev, AlertEvent)]
    assert [(a.level, a.description, a.encrypted) for a in alert] == [
        (AlertLevel.FATAL, AlertDescription.HANDSHAKE_FAILURE, False)]


def test_expired_certificate_alerts() -> None:
    for name in ("tls12_expired", "tls13_expired"):
        alerts = [ev for ev in by_segments(name, True) if isinstance(ev, AlertEvent)]
        # OpenSSL rejects the certificate before it switches its write keys, also in TLS 1.3,
        # so the alert is on the wire in plaintext.
        assert [(a.description, a.encrypted) for a in alerts] == [(AlertDescription.CERTIFICATE_EXPIRED, False)]
    cert = messages(by_segments("tls12_expired", False))[1]
    assert isinstance(cert, CertificateMessage)
    facts = cert.certificates[0]
    assert facts.not_after is not None and facts.is_valid_at(facts.not_after.replace(year=2000)) is False


def test_version_mismatch_alert() -> None:
    t = transcript("version_mismatch")
    server = by_segments("version_mismatch", False)
    assert len(server) == 1 and isinstance(server[0], AlertEvent)
    assert (server[0].level, server[0].description, server[0].encrypted) == (2, AlertDescription.PROTOCOL_VERSION,
                                                                             False)
    assert server[0].frame == 1
    ch = messages(by_segments("version_mismatch", True))[0]
    assert isinstance(ch, ClientHello) and ch.offered_versions == (0x0303,)
    assert t.server_error is not None


@pytest.mark.parametrize(("name", "from_client"), DIRECTIONS)
def test_whole_equals_segments_equals_byte_by_byte(name: str, from_client: bool) -> None:
    data = transcript(name).bytes_of(from_client)
    reference = strip(by_segments(name, from_client))
    assert reference, "every direction of every scenario carries at least one event"
    assert strip(whole(name, from_client)) == reference
    bytewise = feed_chunks(data, list(range(len(data))), from_client)
    assert strip(bytewise) == reference
    # Byte by byte, frame N carries byte N-1: an event's frame is the last byte of what completed
    # it, and a record's first_frame is the byte of its header.
    for ev in bytewise:
        if isinstance(ev, ChangeCipherSpecEvent | EncryptedRecordEvent | AlertEvent):
            assert data[ev.first_frame - 1] in (20, 21, 22, 23)
            assert ev.frame > ev.first_frame


@pytest.mark.parametrize(("name", "from_client"), DIRECTIONS)
def test_trailing_garbage_does_not_change_what_came_before(name: str, from_client: bool) -> None:
    data = transcript(name).bytes_of(from_client)
    reference = strip(whole(name, from_client))
    for garbage in (b"\x00" * 7, b"GET / HTTP/1.1\r\n\r\n", b"\x17\x03\x03\xff\xff", b"\x16\x03"):
        events = strip(feed_chunks(data + garbage, [len(data)], from_client))
        assert events[:len(reference)] == reference
        tail = events[len(reference):]
        assert all(isinstance(ev, TLSAnomaly) for ev in tail)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=st.sampled_from(DIRECTIONS), cuts=st.lists(st.integers(min_value=1, max_value=6000), max_size=40))
def test_any_chunking_gives_the_same_events(scenario: tuple[str, bool], cuts: list[int]) -> None:
    name, from_client = scenario
    data = transcript(name).bytes_of(from_client)
    assert strip(feed_chunks(data, cuts, from_client)) == strip(whole(name, from_client))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2000), from_client=st.booleans(), cuts=st.lists(st.integers(1, 2000), max_size=8))
def test_random_bytes_never_raise(data: bytes, from_client: bool, cuts: list[int]) -> None:
    feed_chunks(data, cuts, from_client)


@settings(max_examples=200, deadline=None)
@given(prefix=st.sampled_from([b"\x16\x03\x01", b"\x16\x03\x03", b"\x15\x03\x03", b"\x80", b"\x14\x03\x03\x00\x01"]),
       data=st.binary(max_size=600), from_client=st.booleans())
def test_random_records_never_raise(prefix: bytes, data: bytes, from_client: bool) -> None:
    events = feed_chunks(prefix + data, [], from_client)
    for ev in events:
        if isinstance(ev, TLSAnomaly) and ev.fatal:
            assert ev is events[-1]


# --- not TLS, and bad input -----------------------------------------------------------------------

NGINX_400 = (b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.24.0\r\nContent-Type: text/html\r\n"
             b"Content-Length: 157\r\nConnection: close\r\n\r\n<html>\r\n<head><title>400 Bad Request</title></head>"
             b"\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n"
             b"</body>\r\n</html>\r\n")


@pytest.mark.parametrize(("first", "from_client", "guess"), [
    (NGINX_400, False, "http_response"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True, "http_request"),
    (b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n", False, "ssh_banner"),
    (b"220 mail.example.com ESMTP Postfix\r\n", False, "smtp_ftp_banner"),
    (b"+OK POP3 ready\r\n", False, "pop3_banner"),
    (b"\x00\x01\x02\x03garbage", False, "unknown"),
    (b"\x16\x02\x00\x00\x10", True, "unknown"),  # handshake type byte but not version 3.x
])
def test_not_tls(first: bytes, from_client: bool, guess: str) -> None:
    parser = TLSDirectionParser(from_client)
    events = parser.feed(first, 4, 99)
    assert len(events) == 1 and isinstance(events[0], NotTLSEvent)
    assert events[0].guess == guess and events[0].frame == 4 and events[0].ts_ns == 99
    assert events[0].first_bytes == first[:NOT_TLS_BYTES_KEPT]
    assert parser.feed(b"\x16\x03\x01\x00\x05hello", 5, 100) == []
    assert parser.stopped and parser.bytes_seen == len(first) + 10


def test_not_tls_keeps_at_most_256_bytes() -> None:
    events = TLSDirectionParser(False).feed(NGINX_400 * 3, 1, 0)
    assert isinstance(events[0], NotTLSEvent) and len(events[0].first_bytes) == NOT_TLS_BYTES_KEPT


def test_record_too_long_is_fatal() -> None:
    length = MAX_RECORD_LENGTH + 1
    parser = TLSDirectionParser(True)
    events = parser.feed(b"\x16\x03\x01" + length.to_bytes(2, "big"), 3, 0)
    assert len(events) == 1 and isinstance(events[0], TLSAnomaly)
    assert events[0].kind is AnomalyKind.RECORD_TOO_LONG and events[0].fatal and events[0].frame == 3
    assert events[0].raw == b"\x16\x03\x01" + length.to_bytes(2, "big")
    assert parser.feed(b"\x00" * 100, 4, 0) == []


def test_unknown_content_type_after_a_good_record() -> None:
    hello = transcript("tls12_sni").side(True)[0]
    events = feed_chunks(hello + b"\x63\x03\x03\x00\x01\x00", [], True)
    assert isinstance(events[0], HandshakeEvent)
    assert isinstance(events[1], TLSAnomaly) and events[1].kind is AnomalyKind.UNKNOWN_CONTENT_TYPE


def test_handshake_message_over_the_cap() -> None:
    server = transcript("tls12_sni").bytes_of(False)
    events = feed_chunks(server, [], False, max_handshake_bytes=200)
    kinds_seen = [ev.kind for ev in events if isinstance(ev, TLSAnomaly)]
    assert kinds_seen == [AnomalyKind.HANDSHAKE_TOO_LARGE]  # the Certificate is larger than 200 bytes
    assert isinstance(events[0], HandshakeEvent) and isinstance(events[-1], TLSAnomaly) and events[-1].fatal


def test_gap_stops_the_direction() -> None:
    data = transcript("tls12_sni").bytes_of(False)
    parser = TLSDirectionParser(False)
    first = parser.feed(data[:100], 1, 0)
    assert [ev.msg_type for ev in first if isinstance(ev, HandshakeEvent)] == [HandshakeType.SERVER_HELLO]
    sh = first[0].message if isinstance(first[0], HandshakeEvent) else None
    # A TLS 1.3-capable server that negotiates TLS 1.2 says so in its random (RFC 8446 section 4.1.3).
    assert isinstance(sh, ServerHello) and sh.downgrade_sentinel == "TLSv1.2"
    gap = parser.gap(2)
    assert len(gap) == 1 and isinstance(gap[0], TLSAnomaly) and gap[0].kind is AnomalyKind.GAP and gap[0].fatal
    assert parser.feed(data[100:], 3, 0) == [] and parser.gap(4) == []


def test_handshake_message_spanning_records_reports_first_and_last_frame() -> None:
    hello = transcript("tls12_sni").side(True)[0]
    body = hello[5:]
    # Re-frame the ClientHello into three records, each in its own segment.
    parts = [body[:10], body[10:50], body[50:]]
    parser = TLSDirectionParser(True)
    events: list[TLSEvent] = []
    for frame, part in enumerate(parts, start=7):
        events += parser.feed(b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part, frame, frame)
    assert len(events) == 1 and isinstance(events[0], HandshakeEvent)
    assert (events[0].first_frame, events[0].frame) == (7, 9)
    assert strip(events) == strip(whole("tls12_sni", True))[:1]


def test_interleaved_and_empty_records_are_anomalies() -> None:
    hello = transcript("tls12_sni").side(True)[0]
    body = hello[5:]
    data = (b"\x16\x03\x01" + (10).to_bytes(2, "big") + body[:10] + b"\x15\x03\x03\x00\x02\x01\x00"
            + b"\x16\x03\x01\x00\x00" + b"\x16\x03\x01" + (len(body) - 10).to_bytes(2, "big") + body[10:])
    events = feed_chunks(data, [], True)
    assert [type(ev).__name__ for ev in events] == ["TLSAnomaly", "AlertEvent", "TLSAnomaly", "HandshakeEvent"]
    assert [ev.kind for ev in events if isinstance(ev, TLSAnomaly)] == [AnomalyKind.INTERLEAVED_RECORD,
                                                                        AnomalyKind.EMPTY_RECORD]


def test_encrypted_alert_by_length() -> None:
    events = feed_chunks(b"\x15\x03\x03\x00\x1a" + bytes(26), [], False)
    assert events == [AlertEvent(None, None, 1, 1000, True, 1, 26)]


def test_event_cap() -> None:
    record = b"\x17\x03\x03\x00\x01\x00"
    events = feed_chunks(record * 20, [], False, max_record_events=5)
    assert sum(isinstance(ev, EncryptedRecordEvent) for ev in events) == 5
    assert [ev.kind for ev in events if isinstance(ev, TLSAnomaly)] == [AnomalyKind.EVENT_CAP]


def test_looks_like_tls_client_start() -> None:
    assert looks_like_tls_client_start(transcript("tls13_sni_alpn").side(True)[0])
    assert looks_like_tls_client_start(b"\x16\x03\x01")
    assert looks_like_tls_client_start(b"\x80\x2e\x01\x03\x01")  # SSLv2-format hello offering TLS 1.0
    assert looks_like_tls_client_start(b"\x80\x2e\x01\x00\x02")
    assert not looks_like_tls_client_start(b"\x16\x03\x05")
    assert not looks_like_tls_client_start(b"\x16\x03")
    assert not looks_like_tls_client_start(b"GET / HTTP/1.1")
    assert not looks_like_tls_client_start(b"\x17\x03\x03\x00\x10")


def test_ssl_module_is_openssl_3() -> None:
    assert ssl.OPENSSL_VERSION_INFO >= (1, 1, 1)
