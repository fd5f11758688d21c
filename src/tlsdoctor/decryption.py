"""Decrypting the TLS 1.3 handshakes of chosen connections with a key log: a second, targeted pass.

Theory of operation. The single streaming pass keeps no record bytes (memory follows live
connections). When a key log is given, the connections worth decrypting (the failing TLS 1.3 ones
whose ClientHello random is in the key log: a few among thousands) are read again: one pass over
the capture keeps only the TCP payloads of those 4-tuples within their frame spans, each direction is
put in sequence order (retransmissions and overlaps dropped, a gap ends the direction), cut into TLS
records (each remembers the frame that completed it), and handed to ``tls.decrypt``. What comes out
(the encrypted Certificate, CertificateRequest, Finished, and alerts with their real codes) is put on
the connection's record, so the rules, which read records only, see it as if it had been plaintext.

This module is the edge (it reads the capture); the decryption itself is sans-IO (``tls.decrypt``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from tlsdoctor.capture import open_capture
from tlsdoctor.connection import Alert, ConnectionRecord
from tlsdoctor.net.decode import decode_ip
from tlsdoctor.tls.alerts import alert_name
from tlsdoctor.tls.certificates import CertificateFacts
from tlsdoctor.tls.decrypt import (
    SUITES,
    TLS12_SUITES,
    Inner,
    Record,
    Tls12Keys,
    decrypt_direction,
    decrypt_direction_tls12,
)
from tlsdoctor.tls.keylog import KeyLog
from tlsdoctor.tls.messages import CertificateMessage, CertificateRequest, parse_certificate, parse_certificate_request

MAX_TARGETS = 10_000
"""Connections decrypted per capture (the failing ones first); the rest keep their inferred facts."""
MAX_BYTES_PER_DIRECTION = 256 * 1024

_TCP = struct.Struct("!HHIIBB")
HANDSHAKE_CERTIFICATE = 11
HANDSHAKE_CERTIFICATE_REQUEST = 13
HANDSHAKE_FINISHED = 20
TLS13 = "TLSv1.3"


@dataclass(slots=True)
class _Target:
    rec: ConnectionRecord
    client: tuple[bytes, int]
    server: tuple[bytes, int]
    segments: dict[bool, list[tuple[int, int, bytes]]] = field(default_factory=lambda: {True: [], False: []})


def wants_decryption(rec: ConnectionRecord, keylog: KeyLog) -> bool:
    ch, sh = rec.tls.client_hello, rec.tls.server_hello
    if ch is None or sh is None:
        return False
    secrets = keylog.for_random(ch.random)
    if secrets is None:
        return False
    if rec.tls_version == TLS13:
        return True
    return "CLIENT_RANDOM" in secrets and sh.cipher_suite in TLS12_SUITES  # TLS 1.2 where the keys allow


def _ip_bytes(text: str) -> bytes:
    import ipaddress

    return ipaddress.ip_address(text).packed


def _collect(path: str, targets: list[_Target]) -> None:
    by_tuple: dict[tuple[bytes, int, bytes, int], tuple[_Target, bool]] = {}
    lo = min(t.rec.frames.get("first", 0) for t in targets)
    hi = max(t.rec.frames.get("last", 0) for t in targets)
    for t in targets:
        by_tuple[(*t.client, *t.server)] = (t, True)
        by_tuple[(*t.server, *t.client)] = (t, False)
    with open_capture(path) as source:
        for number, _ts, linktype, buf, off, caplen, _orig in source.frames():
            if number < lo:
                continue
            if number > hi:
                break
            d = decode_ip(linktype, buf, off, caplen)
            if isinstance(d, str):
                continue
            _ver, src, dst, _ttl, _ipid, l4, l4_end, _smac, _dmac = d
            end = min(l4_end, off + caplen)
            if l4 + 20 > end:
                continue
            sport, dport, seq, _ack, doff, _flags = _TCP.unpack_from(buf, l4)
            hit = by_tuple.get((src, sport, dst, dport))
            if hit is None:
                continue
            target, from_client = hit
            first, last = target.rec.frames.get("first", 0), target.rec.frames.get("last", 0)
            payload_start = l4 + (doff >> 4) * 4
            if first <= number <= last and payload_start < end:
                target.segments[from_client].append((seq, number, bytes(buf[payload_start:end])))


def _stream(segments: list[tuple[int, int, bytes]]) -> tuple[bytes, list[tuple[int, int]]]:
    """The direction's bytes in order from its first payload byte, and (end offset, frame) per segment."""
    if not segments:
        return b"", []
    base = min(s for s, _, _ in segments)
    out = bytearray()
    ends: list[tuple[int, int]] = []
    for seq, frame, data in sorted(segments, key=lambda x: ((x[0] - base) % (1 << 32), x[1])):
        rel = (seq - base) % (1 << 32)
        if rel > len(out):
            break  # a gap: what follows cannot be placed
        new = data[len(out) - rel:]
        if new:
            out += new
            ends.append((len(out), frame))
        if len(out) > MAX_BYTES_PER_DIRECTION:
            break
    return bytes(out), ends


def _records(data: bytes, ends: list[tuple[int, int]]) -> list[Record]:
    out: list[Record] = []
    pos = 0
    while pos + 5 <= len(data):
        ctype, version, length = data[pos], int.from_bytes(data[pos + 1:pos + 3], "big"), \
            int.from_bytes(data[pos + 3:pos + 5], "big")
        if pos + 5 + length > len(data):
            break
        stop = pos + 5 + length
        frame = next((f for e, f in ends if e >= stop), ends[-1][1] if ends else 0)
        out.append(Record(ctype, version, data[pos + 5: stop], frame))
        pos = stop
    return out


def _after_change_cipher_spec(records: list[Record]) -> list[Record]:
    """TLS 1.2: what a side sends after its ChangeCipherSpec is encrypted (RFC 5246 section 7.1)."""
    for i, r in enumerate(records):
        if r.content_type == 20:
            return records[i + 1:]
    return []


def _after_server_hello(records: list[Record], from_client: bool) -> list[Record]:
    """The records that follow the plaintext hellos: for the server, after its (last) ServerHello; for the
    client, after its (last) ClientHello."""
    last_plain = -1
    for i, r in enumerate(records):
        if r.content_type == 22:
            last_plain = i
    return records[last_plain + 1:]


def _apply(rec: ConnectionRecord, inner: dict[bool, Sequence[Inner]], errors: list[str]) -> ConnectionRecord:
    alerts = [a for a in rec.tls.alerts if not a.encrypted]
    frames = dict(rec.frames)
    server_certs: tuple[CertificateFacts, ...] = rec.tls.server_certificates
    client_certs = rec.tls.client_certificates
    request: object = rec.tls.certificate_request
    for from_client, items in inner.items():
        sender = "client" if from_client else "server"
        for it in items:
            if it.kind == "alert" and it.decrypted and it.alert_code is not None:
                alerts.append(Alert(it.alert_code, alert_name(it.alert_code), sender, it.alert_level, it.frame,
                                    encrypted=False, decrypted=True))
            elif it.kind == "handshake" and it.handshake_type == HANDSHAKE_CERTIFICATE:
                parsed = parse_certificate(it.body, tls13=True)
                if isinstance(parsed, CertificateMessage):
                    if from_client:
                        client_certs = parsed.certificates
                        frames.setdefault("certificate_client", it.frame)
                    else:
                        server_certs = parsed.certificates
                        frames.setdefault("certificate", it.frame)
            elif it.kind == "handshake" and it.handshake_type == HANDSHAKE_CERTIFICATE_REQUEST and not from_client:
                parsed_request = parse_certificate_request(it.body, 0x0304)
                if isinstance(parsed_request, CertificateRequest):
                    request = parsed_request
                    frames.setdefault("certificate_request", it.frame)
            elif it.kind == "handshake" and it.handshake_type == HANDSHAKE_FINISHED:
                frames.setdefault("finished_client" if from_client else "finished_server", it.frame)
    # A direction that did not decrypt keeps what the size-based inference said of its alerts.
    decrypted_senders = {a.sender for a in alerts if a.decrypted}
    alerts.extend(a for a in rec.tls.alerts if a.encrypted and a.sender not in decrypted_senders)
    alerts.sort(key=lambda a: a.frame)
    note = "decrypted" if not errors else "partly decrypted: " + "; ".join(errors)
    keep = rec.tls.certificate_request
    tls = replace(rec.tls, alerts=tuple(alerts), server_certificates=server_certs, client_certificates=client_certs,
                  certificate_request=request if isinstance(request, CertificateRequest) else keep, decryption=note)
    return replace(rec, tls=tls, frames=frames)


def decrypt_records(path: str, records: Sequence[ConnectionRecord], keylog: KeyLog) -> dict[int, ConnectionRecord]:
    """tcp_stream -> the record with its decrypted facts, for those of ``records`` the key log covers."""
    targets: list[_Target] = []
    for rec in records:
        if wants_decryption(rec, keylog) and len(targets) < MAX_TARGETS:
            targets.append(_Target(rec, (_ip_bytes(rec.client.ip), rec.client.port),
                                   (_ip_bytes(rec.server.ip), rec.server.port)))
    if not targets:
        return {}
    _collect(path, targets)
    out: dict[int, ConnectionRecord] = {}
    for t in targets:
        rec = t.rec
        assert rec.tls.client_hello is not None and rec.tls.server_hello is not None
        secrets = keylog.for_random(rec.tls.client_hello.random) or {}
        suite = rec.tls.server_hello.cipher_suite
        inner: dict[bool, Sequence[Inner]] = {}
        errors: list[str] = []
        if rec.tls_version != TLS13:
            keys = Tls12Keys.derive(secrets["CLIENT_RANDOM"], rec.tls.client_hello.random,
                                    rec.tls.server_hello.random, suite)
            for from_client in (True, False):
                data, ends = _stream(t.segments[from_client])
                result12 = decrypt_direction_tls12(_after_change_cipher_spec(_records(data, ends)), keys, from_client)
                inner[from_client] = result12.items
                if result12.error:
                    errors.append(f"{'client' if from_client else 'server'}: {result12.error}")
            out[rec.tcp_stream] = _apply(rec, inner, errors)
            continue
        if suite not in SUITES:
            out[rec.tcp_stream] = replace(rec, tls=replace(rec.tls, decryption=f"not decrypted: suite {suite:#06x}"))
            continue
        for from_client in (True, False):
            data, ends = _stream(t.segments[from_client])
            recs = _after_server_hello(_records(data, ends), from_client)
            prefix = "CLIENT" if from_client else "SERVER"
            result = decrypt_direction(recs, suite, secrets.get(f"{prefix}_HANDSHAKE_TRAFFIC_SECRET"),
                                       secrets.get(f"{prefix}_TRAFFIC_SECRET_0"))
            inner[from_client] = result.items
            if result.error:
                errors.append(f"{'client' if from_client else 'server'}: {result.error}")
        out[rec.tcp_stream] = _apply(rec, inner, errors)
    return out


def mark_without_keys(rec: ConnectionRecord, keylog: KeyLog) -> ConnectionRecord:
    """A TLS 1.3 record the key log does not cover: say so on it (the rules then keep their inference)."""
    if rec.tls.client_hello is None or rec.tls.decryption is not None or rec.tls.server_hello is None:
        return rec
    if keylog.for_random(rec.tls.client_hello.random) is None:
        return replace(rec, tls=replace(rec.tls, decryption="no keys for this client random in the key log"))
    return rec
