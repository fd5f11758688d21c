"""Write a large benchmark capture: many interleaved TCP connections, each carrying a real TLS handshake.

    python bench/make_capture.py OUT.pcap --size 1G [--seed 1] [--pool bench/out/tls-pool.json]

Theory of operation
-------------------
Every TLS byte in the file was produced by real OpenSSL; the framing around it is synthetic.

1. **The pool (real).** At start, Python's ``ssl`` runs 128 handshakes (101 complete, 27 failing) between an
   ``SSLObject`` client and an ``SSLObject`` server joined by ``MemoryBIO`` pairs (no sockets): TLS 1.3
   (X25519, a HelloRetryRequest when the server insists on P-384, ALPN h2, no SNI) and TLS 1.2
   (ECDHE-ECDSA, ECDHE-RSA), several server names, certificates made with ``cryptography``. Each
   healthy handshake is followed by real encrypted requests and responses, a stream of full-size
   application_data records, and a close_notify each way. The failures are real too: alert 40
   (no shared cipher), 70 (protocol_version), 112 (unrecognized_name, from an SNI callback), all sent by
   the server, and 48 (unknown_ca) from a client that does not trust the server's CA (plaintext in TLS 1.2,
   encrypted in TLS 1.3). Two more failures take a real ClientHello (six more are made) and end at the
   TCP layer: a RST right after it, and no answer at all. OpenSSL's randoms cannot be seeded, so the pool is cached
   (``--pool``, default ``bench/out/tls-pool.json``); delete the file to draw a new one.
2. **The framing (synthetic).** Each connection replays one pool entry with its own client address in
   198.18.0.0/15 and port (a bijection of the connection's index, so a 4-tuple never repeats by accident),
   a server in 203.0.113.0/24 on port 443, its own ISNs, IP IDs, TTL, round-trip time and start time:
   a SYN / SYN-ACK / ACK, the TLS flights cut into segments of at most 1448 bytes, pure ACKs for every
   second segment of a long flight, optionally bulk data (tens to hundreds of KB of the real
   application_data records, sent in congestion windows that grow each round trip, ACKed every second
   segment), an idle keep-alive time, and a close: close_notify and FIN, or a RST. A small share of
   connections reuse the 4-tuple of one that closed seconds earlier, on purpose, with a new SYN and a new
   ISN (Wireshark then starts a new ``tcp.stream``). Some connections are refused (RST to the SYN) or see
   their SYN unanswered. IP and TCP checksums are correct.
3. **Interleaving.** Connections start about every 400 us of capture time and last from milliseconds
   to tens of seconds, so thousands are alive at once; a heap with one entry per live connection merges
   their packets in time order. Frames are packed with ``struct.pack_into`` into a large ``bytearray``
   that is written in 8 MiB chunks.

The default mix (``--profile gateway``) follows the issue's figure for a busy gateway: 1 GiB holds about
245,000 connections and 4.0 million packets (frames of 250 bytes on average, 266 bytes a packet with the
pcap record header), 8% of the connections fail, 0.2% carry bulk data, about 4,500 are alive at once,
and the capture spans about two minutes. For a given pool file and seed the output is byte-for-byte the same.
Writes a classic little-endian pcap, Ethernet, microseconds. A summary goes to stderr and to
``OUT.json``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import heapq
import json
import random
import ssl
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POOL = ROOT / "bench" / "out" / "tls-pool.json"
POOL_VERSION = 3
MSS = 1448  # payload bytes per segment: a 1500-byte MTU less IPv4, TCP and a 12-byte timestamp option

# --- 1. the pool: real handshakes through MemoryBIO ------------------------------------------------

SNIS = ["www.example.com", "api.example.com", "cdn.example.net", "login.example.org", "mail.example.com",
        "shop.example.net", "static.example.org", "auth.example.net"]
RSA_SNI = "legacy.example.org"


@dataclass
class PoolEntry:
    kind: str  # ok | alert_server | alert_client | rst_after_client_hello | client_hello_unanswered
    label: str  # e.g. "TLSv1.3 hrr" or "alert 112"
    flights: list[tuple[bool, bytes]]  # (from_client, bytes) as OpenSSL wrote them, handshake through alert
    exchanges: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)  # request, response head, body
    bulk: list[bytes] = field(default_factory=list)  # full-size server application_data records
    close: list[tuple[bool, bytes]] = field(default_factory=list)  # close_notify, client's then server's


class _Certs:
    """A root, an intermediate, an ECDSA leaf for SNIS and an RSA-2048 leaf for RSA_SNI, as PEM files."""

    def __init__(self, folder: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import NameOID

        start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

        def make(cn: str, key: object, issuer: str, issuer_key: object, ca: bool, sans: list[str]) -> object:
            b = (x509.CertificateBuilder()
                 .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                 .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                 .public_key(key.public_key())  # type: ignore[attr-defined]
                 .serial_number(x509.random_serial_number())
                 .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=730))
                 .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
            if sans:
                b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
            return b.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]

        def pem(cert: object) -> bytes:
            return cert.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined, no-any-return]

        def key_pem(key: object) -> bytes:
            return key.private_bytes(serialization.Encoding.PEM,  # type: ignore[attr-defined, no-any-return]
                                     serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

        root_key = ec.generate_private_key(ec.SECP256R1())
        root = make("bench root CA", root_key, "bench root CA", root_key, True, [])
        mid_key = ec.generate_private_key(ec.SECP256R1())
        mid = make("bench intermediate CA", mid_key, "bench root CA", root_key, True, [])
        other_key = ec.generate_private_key(ec.SECP256R1())
        other = make("some other CA", other_key, "some other CA", other_key, True, [])
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = make(SNIS[0], leaf_key, "bench intermediate CA", mid_key, False, SNIS)
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        rsa_leaf = make(RSA_SNI, rsa_key, "bench intermediate CA", mid_key, False, [RSA_SNI])
        self.ca = folder / "ca.pem"
        self.other_ca = folder / "other-ca.pem"
        self.ecdsa = (folder / "ecdsa.pem", folder / "ecdsa.key")
        self.rsa = (folder / "rsa.pem", folder / "rsa.key")
        self.ca.write_bytes(pem(root))
        self.other_ca.write_bytes(pem(other))
        self.ecdsa[0].write_bytes(pem(leaf) + pem(mid))
        self.ecdsa[1].write_bytes(key_pem(leaf_key))
        self.rsa[0].write_bytes(pem(rsa_leaf) + pem(mid))
        self.rsa[1].write_bytes(key_pem(rsa_key))


def _pump(client: ssl.SSLObject, c_in: ssl.MemoryBIO, c_out: ssl.MemoryBIO, server: ssl.SSLObject,
          s_in: ssl.MemoryBIO, s_out: ssl.MemoryBIO) -> tuple[list[tuple[bool, bytes]], bool]:
    """Drive both ends until the handshake is done or one end failed; return the flights and success."""
    flights: list[tuple[bool, bytes]] = []
    done = [False, False]
    failed = False
    for _ in range(16):
        for i, (obj, out, peer_in) in enumerate(((client, c_out, s_in), (server, s_out, c_in))):
            if not done[i] and not failed:
                try:
                    obj.do_handshake()
                    done[i] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError:
                    failed = True  # the alert OpenSSL wrote is in `out`
            data = out.read()
            if data:
                flights.append((i == 0, data))
                peer_in.write(data)
        if (all(done) or failed) and not c_out.pending and not s_out.pending:
            break
    return flights, all(done) and not failed


def _records(stream: bytes) -> list[bytes]:
    out, i = [], 0
    while i + 5 <= len(stream):
        n = 5 + int.from_bytes(stream[i + 3 : i + 5], "big")
        out.append(stream[i : i + n])
        i += n
    return out


def _session(cctx: ssl.SSLContext, sctx: ssl.SSLContext, sni: str | None, rnd: random.Random,
             exchanges: int, bulk_bytes: int) -> tuple[list[tuple[bool, bytes]], bool, PoolEntry | None]:
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = cctx.wrap_bio(c_in, c_out, server_side=False, server_hostname=sni)
    server = sctx.wrap_bio(s_in, s_out, server_side=True)
    flights, ok = _pump(client, c_in, c_out, server, s_in, s_out)
    if not ok:
        return flights, False, None
    entry = PoolEntry("ok", f"{client.version()} {sni or 'no-sni'}", flights)

    def drain(obj: ssl.SSLObject) -> None:
        try:
            while obj.read(1 << 20):
                pass
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass

    for k in range(exchanges):
        path = rnd.choice(["/", "/api/v1/items", "/static/app.js", "/favicon.ico", "/login", "/feed?page=2"])
        client.write(f"GET {path} HTTP/1.1\r\nHost: {sni or 'localhost'}\r\nUser-Agent: bench/{k}\r\n"
                     f"Accept: */*\r\nX-Pad: {'a' * rnd.randint(0, 100)}\r\n\r\n".encode())
        request = c_out.read()
        s_in.write(request)
        drain(server)
        # Headers and body in records of their own, as an HTTP/2 server writes a HEADERS and a DATA frame.
        body = rnd.randbytes(rnd.choice([0, 20, 60, 150, 300, 600, 1200]))
        server.write(b"HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Length: %d\r\n\r\n" % len(body))
        head = s_out.read()
        if body:
            server.write(body)
        data = s_out.read()
        c_in.write(head + data)
        drain(client)
        entry.exchanges.append((request, head, data))
    if bulk_bytes:
        server.write(rnd.randbytes(bulk_bytes))
        entry.bulk = _records(s_out.read())
    with contextlib.suppress(ssl.SSLWantReadError):
        client.unwrap()
    client_close = c_out.read()
    s_in.write(client_close)
    with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLError):
        server.unwrap()
    entry.close = [(True, client_close), (False, s_out.read())]
    return flights, True, entry


def build_pool(rnd: random.Random) -> list[PoolEntry]:
    """Run the real handshakes (about 120 of them, a few seconds)."""
    pool: list[PoolEntry] = []
    with tempfile.TemporaryDirectory() as tmp:
        certs = _Certs(Path(tmp))

        def server_ctx(rsa: bool = False, **opts: object) -> ssl.SSLContext:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*(certs.rsa if rsa else certs.ecdsa))
            ctx.set_alpn_protocols(["h2", "http/1.1"])
            known = set(SNIS) | {RSA_SNI}
            if opts.get("sni_strict"):
                ctx.sni_callback = lambda _o, name, _c: (None if name in known
                                                         else ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME)
            if opts.get("min13"):
                ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            if opts.get("curve"):
                ctx.set_ecdh_curve(str(opts["curve"]))  # TLS 1.3 clients offer an X25519 share: HRR
            if opts.get("ciphers"):
                ctx.set_ciphers(str(opts["ciphers"]))
            return ctx

        def client_ctx(max12: bool = False, alpn: bool = False, other_ca: bool = False,
                       ciphers: str | None = None) -> ssl.SSLContext:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(certs.other_ca if other_ca else certs.ca)
            if max12:
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            if alpn:
                ctx.set_alpn_protocols(["h2", "http/1.1"])
            if ciphers:
                ctx.set_ciphers(ciphers)
            return ctx

        def healthy(label: str, cctx: ssl.SSLContext, sctx: ssl.SSLContext, sni: str | None, copies: int) -> None:
            for _ in range(copies):
                bulk = rnd.choice([0, 0, 400_000])
                _flights, ok, entry = _session(cctx, sctx, sni, rnd, 6, bulk)
                if not ok or entry is None:
                    raise RuntimeError(f"pool: the healthy handshake {label} failed")
                entry.label = label
                pool.append(entry)

        for sni in SNIS:
            healthy("TLSv1.3", client_ctx(), server_ctx(), sni, 5)
            healthy("TLSv1.3 alpn", client_ctx(alpn=True), server_ctx(), sni, 2)
            healthy("TLSv1.2 ecdsa", client_ctx(max12=True), server_ctx(), sni, 3)
        for sni in SNIS[:4]:
            healthy("TLSv1.3 hrr", client_ctx(), server_ctx(curve="secp384r1"), sni, 2)
        healthy("TLSv1.2 rsa", client_ctx(max12=True), server_ctx(rsa=True), RSA_SNI, 6)
        healthy("TLSv1.3 rsa", client_ctx(), server_ctx(rsa=True), RSA_SNI, 4)
        noverify = client_ctx()
        noverify.check_hostname = False
        noverify.verify_mode = ssl.CERT_NONE
        healthy("TLSv1.3 no-sni", noverify, server_ctx(), None, 3)

        def failing(kind: str, label: str, cctx: ssl.SSLContext, sctx: ssl.SSLContext, sni: str | None,
                    alert: int, copies: int) -> None:
            for _ in range(copies):
                flights, ok, _e = _session(cctx, sctx, sni, rnd, 0, 0)
                last_from_client, last = flights[-1]
                sender_ok = last_from_client == (kind == "alert_client")
                if ok or not sender_ok or (alert and last[:1] == b"\x15" and last[6] != alert):
                    raise RuntimeError(f"pool: {label} did not fail as expected: {[(c, d[:7]) for c, d in flights]}")
                pool.append(PoolEntry(kind, label, flights))

        for sni in SNIS[:3]:
            failing("alert_server", "alert 40", client_ctx(max12=True, ciphers="ECDHE-RSA-AES128-GCM-SHA256"),
                    server_ctx(), sni, 40, 2)
            failing("alert_server", "alert 70", client_ctx(max12=True), server_ctx(min13=True), sni, 70, 2)
            failing("alert_server", "alert 112", client_ctx(), server_ctx(sni_strict=True), "www.example.invalid",
                    112, 2)
            failing("alert_client", "alert 48", client_ctx(max12=True, other_ca=True), server_ctx(), sni, 48, 2)
            failing("alert_client", "encrypted alert 48", client_ctx(other_ca=True), server_ctx(), sni, 0, 1)
        for sni in SNIS[:6]:
            c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO()
            client = client_ctx().wrap_bio(c_in, c_out, server_side=False, server_hostname=sni)
            with contextlib.suppress(ssl.SSLWantReadError):
                client.do_handshake()
            hello = c_out.read()
            pool.append(PoolEntry("rst_after_client_hello", "RST after ClientHello", [(True, hello)]))
            pool.append(PoolEntry("client_hello_unanswered", "ClientHello unanswered", [(True, hello)]))
    return pool


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def save_pool(pool: list[PoolEntry], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"version": POOL_VERSION, "openssl": ssl.OPENSSL_VERSION, "entries": [
        {"kind": e.kind, "label": e.label, "flights": [[c, _b64(d)] for c, d in e.flights],
         "exchanges": [[_b64(x) for x in ex] for ex in e.exchanges], "bulk": [_b64(r) for r in e.bulk],
         "close": [[c, _b64(d)] for c, d in e.close]} for e in pool]}
    path.write_text(json.dumps(doc), encoding="utf-8")


def load_pool(path: Path) -> list[PoolEntry] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("version") != POOL_VERSION:
        return None
    d = base64.b64decode
    return [PoolEntry(e["kind"], e["label"], [(c, d(x)) for c, x in e["flights"]],
                      [(d(q), d(h), d(b)) for q, h, b in e["exchanges"]], [d(r) for r in e["bulk"]],
                      [(c, d(x)) for c, x in e["close"]]) for e in doc["entries"]]


# --- 2. framing: one connection's packets, relative to its start ---------------------------------

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SYN_OPTIONS = bytes.fromhex("020405b4" "01030307" "01010402")  # MSS 1460, NOP, WS 7, NOP, NOP, SACK-permitted
SYNACK_OPTIONS = bytes.fromhex("020405b4" "01010402" "01030307")
WINDOW = (502, 501)  # client, server (scaled)


def _csum_part(data: bytes) -> int:
    """The Internet checksum's 16-bit word sum of ``data``, modulo 0xFFFF (2**16 = 1 mod 0xFFFF)."""
    value = int.from_bytes(data, "big")
    return (value << 8 if len(data) & 1 else value) % 0xFFFF


class Segments:
    """A byte string cut into MSS-sized payloads, each with its checksum word sum."""

    __slots__ = ("parts",)

    def __init__(self, data: bytes) -> None:
        self.parts = [(p, _csum_part(p)) for p in (data[i : i + MSS] for i in range(0, len(data), MSS))]


@dataclass
class Template:
    entry: PoolEntry
    flights: list[tuple[int, Segments]]  # direction (0 client, 1 server), segments
    exchanges: list[tuple[Segments, Segments, Segments]]
    bulk: list[Segments]  # bulk[k]: the first k+1 records
    close: list[Segments]


def make_template(e: PoolEntry) -> Template:
    bulk: list[Segments] = []
    stream = b""
    for k, record in enumerate(e.bulk):
        stream += record
        if k + 1 in (2, 3, 4, 6, 8, 12, 16, 24):  # 32 KB to 384 KB
            bulk.append(Segments(stream))
    return Template(e, [(0 if c else 1, Segments(d)) for c, d in e.flights],
                    [(Segments(q), Segments(h), Segments(b)) for q, h, b in e.exchanges], bulk,
                    [Segments(d) for _c, d in e.close])


Event = tuple[int, int, int, int, int, int, bytes, int]  # t_us, dir, offset|flags, rel seq, rel ack, win, tail, sum


def _time_of(event: Event) -> int:
    return event[0]


class Conversation:
    """Builds one connection's packets as a vantage point next to the server sees them.

    A server packet answers a client packet after the server's processing time; a client packet
    answers a server packet one round trip later. Sequence numbers are relative to each side's ISN.
    """

    def __init__(self, rtt: int, rnd: random.Random) -> None:
        self.rtt = rtt
        self.rnd = rnd
        self.events: list[Event] = []
        self.next_seq = [0, 0]
        self.t = 0
        self.last_dir = 0

    def packet(self, d: int, flags: int, payload: bytes = b"", psum: int = 0, options: bytes = b"",
               ack: int | None = None) -> None:
        if options:
            payload, psum = options, _csum_part(options)
        rel_ack = (self.next_seq[1 - d] if ack is None else ack) if flags & ACK else 0
        self.events.append((self.t, d, ((5 + len(options) // 4) << 12) | flags, self.next_seq[d], rel_ack,
                            WINDOW[d] if not flags & SYN else 64240, payload, psum))
        self.next_seq[d] += (0 if options else len(payload)) + (1 if flags & (SYN | FIN) else 0)
        self.last_dir = d

    def after(self, d: int, server_work: int = 60) -> None:
        """Advance the clock to when side d answers what the other side sent last."""
        if d == self.last_dir:
            self.t += self.rnd.randint(2, 30)
        elif d == 1:
            self.t += server_work
        else:
            self.t += self.rtt + self.rnd.randint(20, 300)

    def handshake(self) -> None:
        self.packet(0, SYN, options=SYN_OPTIONS)
        self.t += self.rnd.randint(15, 60)
        self.packet(1, SYN | ACK, options=SYNACK_OPTIONS)
        self.t += self.rtt
        self.packet(0, ACK)

    def flight(self, d: int, segs: Segments, server_work: int = 300) -> None:
        self.after(d, server_work)
        parts = segs.parts
        for i, (payload, psum) in enumerate(parts):
            if i:
                self.t += 12  # 1518 bytes at 1 Gbit/s
            self.packet(d, ACK | (PSH if i == len(parts) - 1 else 0), payload, psum)
        if len(parts) >= 3:  # the receiver ACKs every second segment; a client's ACKs arrive one RTT later
            t_end, first = self.t, len(self.events) - len(parts)
            for i in range(1, len(parts) - 1, 2):
                t_seg, _d, _f, seq, _a, _w, payload, _s = self.events[first + i]
                self.t = t_seg + (self.rtt if d == 1 else 40)
                self.packet(1 - d, ACK, ack=seq + len(payload))
            self.t, self.last_dir = t_end, d  # the answer is timed from the flight's end (events are sorted)

    def sorted(self) -> list[Event]:
        """The packets in time order (a stable sort: packets of the same microsecond keep their order)."""
        self.events.sort(key=_time_of)
        return self.events

    def pure_ack(self, d: int) -> None:
        self.after(d, 200)
        self.packet(d, ACK)

    def bulk(self, segs: Segments) -> None:
        """Server data in congestion windows (10 segments, doubling each round trip, at most 64)."""
        parts = segs.parts
        start = len(self.events)
        t, cwnd, i = self.t + self.rnd.randint(100, 2000), 10, 0
        acks: list[Event] = []
        client_seq = self.next_seq[0]
        while i < len(parts):
            round_start = t
            for j in range(min(cwnd, len(parts) - i)):
                self.t = round_start + j * 12
                payload, psum = parts[i]
                self.packet(1, ACK | (PSH if i == len(parts) - 1 else 0), payload, psum)
                i += 1
                if j % 2 == 1 or i == len(parts):  # the client ACKs every second segment, one RTT later
                    acks.append((self.t + self.rtt, 0, (5 << 12) | ACK, client_seq, self.next_seq[1], WINDOW[0],
                                 b"", 0))
            t = round_start + self.rtt + 24
            cwnd = min(cwnd * 2, 64)
        self.events[start:] = sorted(self.events[start:] + acks)
        self.t = self.events[-1][0]
        self.last_dir = 0

    def close_fin(self, first: int, notify: list[Segments] | None) -> None:
        """Side `first` closes (close_notify if given, then FIN); the other side answers in kind."""
        if notify:
            self.flight(first, notify[first])
            self.t += self.rnd.randint(5, 40)
        else:
            self.after(first, 200)
        self.packet(first, FIN | ACK)
        if notify:
            self.flight(1 - first, notify[1 - first], 80)
            self.t += self.rnd.randint(5, 40)
        else:
            self.after(1 - first, 80)
        self.packet(1 - first, FIN | ACK)
        self.after(first, 40)
        self.packet(first, ACK)


def build_connection(t: Template, rnd: random.Random, profile: dict[str, float],
                     bulk: bool) -> tuple[list[Event], str]:
    """One connection's packets for template t, and its outcome label."""
    rtt = rnd.choice(RTTS)
    cv = Conversation(rtt, rnd)
    kind = t.entry.kind
    cv.handshake()
    if kind in ("rst_after_client_hello", "client_hello_unanswered"):
        cv.flight(0, t.flights[0][1])
        if kind == "rst_after_client_hello":
            cv.after(1, rnd.randint(50, 400))
            cv.packet(1, RST | ACK)
        else:
            cv.pure_ack(1)
            cv.t += rnd.randint(5_000_000, 30_000_000)  # the client gives up
            cv.close_fin(0, None)
        return cv.sorted(), t.entry.label
    for d, segs in t.flights:
        cv.flight(d, segs, rnd.randint(200, 1500))
    if kind != "ok":
        alert_from = t.flights[-1][0]
        if rnd.random() < 0.3:
            cv.t += rnd.randint(5, 50)
            cv.packet(alert_from, RST | ACK)
        else:
            cv.t += rnd.randint(5, 50)
            cv.packet(alert_from, FIN | ACK)
            cv.after(1 - alert_from, 80)
            cv.packet(1 - alert_from, FIN | ACK)
            cv.after(alert_from, 40)
            cv.packet(alert_from, ACK)
        return cv.sorted(), t.entry.label
    n = min(len(t.exchanges), 1 + int(rnd.expovariate(1 / profile["exchanges"])))
    for k in range(n):
        request, head, body = t.exchanges[k]
        if k:
            cv.t += rnd.choice([0, 0, 1_000, 20_000, 200_000])  # think time between requests
        cv.flight(0, request)
        cv.flight(1, head, rnd.randint(200, 5000))
        if body.parts:
            cv.flight(1, body)
        cv.pure_ack(0)
    label = "ok"
    if bulk:
        cv.bulk(rnd.choice(t.bulk))
        label = "ok bulk"
    cv.t += int(rnd.expovariate(1 / profile["idle_us"]))  # keep-alive
    close = rnd.random()
    if close < 0.5:
        cv.close_fin(0, t.close)
    elif close < 0.8:
        cv.close_fin(1, None)  # the server's keep-alive timeout: FIN without close_notify
    else:
        cv.flight(0, t.close[0])
        cv.t += rnd.randint(5, 40)
        cv.packet(0, RST | ACK)  # a browser tearing the connection down
    return cv.sorted(), label


RTTS = [800, 2_000, 5_000, 12_000, 25_000, 40_000, 80_000, 150_000, 250_000]
PROFILES = {
    # A busy gateway: ~230k connections and ~4.5 M packets per GB, ~230 bytes a packet.
    "gateway": {"bulk_share": 0.002, "exchanges": 1.0, "idle_us": 1_500_000, "fail_share": 0.08},
    # Nearly every packet near a handshake.
    "handshakes": {"bulk_share": 0.0, "exchanges": 0.3, "idle_us": 1_000_000, "fail_share": 0.08},
    # A fifth of the connections carry 32-600 KB after their handshake.
    "bulk": {"bulk_share": 0.2, "exchanges": 1.6, "idle_us": 1_500_000, "fail_share": 0.08},
}
FAIL_KINDS = {"alert_server": 0.45, "alert_client": 0.15, "rst_after_client_hello": 0.15,
              "client_hello_unanswered": 0.1, "refused": 0.1, "syn_unanswered": 0.05}


def tcp_only(kind: str, rnd: random.Random) -> list[Event]:
    cv = Conversation(rnd.choice(RTTS), rnd)
    cv.packet(0, SYN, options=SYN_OPTIONS)
    if kind == "refused":
        cv.t += rnd.randint(15, 60)
        cv.packet(1, RST | ACK)
    else:  # retransmitted SYNs (same ISN: one tcp.stream), then the client gives up
        for wait in (1_000_000, 2_000_000):
            cv.t += wait
            cv.next_seq[0] = 0
            cv.packet(0, SYN, options=SYN_OPTIONS)
    return cv.sorted()


# --- 3. interleaving and writing -----------------------------------------------------------------

REC = struct.Struct("<IIII")
HDR = struct.Struct("!12sHBBHHHBBH4s4sHHIIHHHH")  # Ethernet (MACs, type), IPv4 (20 bytes), TCP (20 bytes)
CLIENT_NET = 198 << 24 | 18 << 16  # 198.18.0.0/15: 131072 addresses
SERVER_NET = 203 << 24 | 113 << 8  # 203.0.113.0/24
ROUTER_MAC = bytes.fromhex("005056c00001")


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def client_endpoint(index: int) -> tuple[int, int]:
    """A (client address, port) for connection `index`, different for every index below 2**17 * 64000."""
    host = (index * 0x9E37) & 0x1FFFF  # a bijection of index mod 2**17
    port = 1024 + ((index >> 17) + host * 40503) % 64000
    return CLIENT_NET | host, port


def generate(out: Path, size: int, seed: int, pool_path: Path = DEFAULT_POOL, profile_name: str = "gateway",
             rate: float = 2500.0, progress: bool = True) -> dict[str, object]:
    began = time.perf_counter()
    profile = PROFILES[profile_name]
    pool = load_pool(pool_path)
    if pool is None:
        pool = build_pool(random.Random(f"pool {seed}"))
        save_pool(pool, pool_path)
    rnd = random.Random(seed)
    templates = [make_template(e) for e in pool]
    by_kind: dict[str, list[Template]] = {}
    for t in templates:
        by_kind.setdefault(t.entry.kind, []).append(t)
    with_bulk = [t for t in by_kind["ok"] if t.bulk]
    fail_kinds, fail_weights = list(FAIL_KINDS), list(FAIL_KINDS.values())
    server_macs = [bytes.fromhex(f"02005e00{i:04x}") for i in range(256)]

    heap: list[tuple[int, int, list[Any]]] = []
    outcomes: dict[str, int] = {}
    finished: list[tuple[int, int, int, int]] = []  # (end time, client ip, client port, server ip): reusable
    t_next = 1_790_000_000_000_000  # capture time, us
    first_ts = t_next
    committed = 24  # bytes written plus bytes promised by live connections
    index = 0
    serial = 0
    max_alive = 0
    packets = 0
    buf = bytearray(8 << 20)
    limit = len(buf) - 2000
    o = 0
    rec_pack, hdr_pack = REC.pack_into, HDR.pack_into
    heappush, heappop, heapreplace = heapq.heappush, heapq.heappop, heapq.heapreplace
    last_report = began
    with out.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        while True:
            if heap and (committed >= size or heap[0][0] <= t_next):
                ts, _serial, c = heap[0]
                events, i = c[0], c[1]
                _t, d, offflags, rel_seq, rel_ack, win, tail, psum = events[i]
                n = len(tail)
                tl = 40 + n
                if d == 0:
                    ipid = c[11] = (c[11] + 1) & 0xFFFF
                    seq = (c[6] + rel_seq) & 0xFFFFFFFF
                    ack = (c[7] + rel_ack) & 0xFFFFFFFF if offflags & ACK else 0
                    ipc = 0xFFFF - ((c[8] + tl + ipid) % 0xFFFF or 0xFFFF)
                    tc = 0xFFFF - ((c[10] + tl + seq + ack + offflags + win + psum) % 0xFFFF
                                   or 0xFFFF)
                    hdr_pack(buf, o + 16, c[13], 0x0800, 0x45, 0, tl, ipid, 0x4000, c[15], 6, ipc, c[2], c[3],
                             c[4], 443, seq, ack, offflags, win, tc, 0)
                else:
                    ipid = c[12] = (c[12] + 1) & 0xFFFF
                    seq = (c[7] + rel_seq) & 0xFFFFFFFF
                    ack = (c[6] + rel_ack) & 0xFFFFFFFF if offflags & ACK else 0
                    ipc = 0xFFFF - ((c[9] + tl + ipid) % 0xFFFF or 0xFFFF)
                    tc = 0xFFFF - ((c[10] + tl + seq + ack + offflags + win + psum) % 0xFFFF
                                   or 0xFFFF)
                    hdr_pack(buf, o + 16, c[14], 0x0800, 0x45, 0, tl, ipid, 0x4000, 64, 6, ipc, c[3], c[2],
                             443, c[4], seq, ack, offflags, win, tc, 0)
                rec_pack(buf, o, ts // 1_000_000, ts % 1_000_000, 54 + n, 54 + n)
                o += 70
                if n:
                    buf[o : o + n] = tail
                    o += n
                if o > limit:
                    f.write(memoryview(buf)[:o])
                    o = 0
                packets += 1
                i += 1
                if i < len(events):
                    c[1] = i
                    serial += 1
                    heapreplace(heap, (c[5] + events[i][0], serial, c))
                else:
                    heappop(heap)
                continue
            if committed >= size:
                break
            # A new connection starts.
            t_next += int(rnd.expovariate(rate / 1e6)) + 1
            reuse = None
            if finished and rnd.random() < 0.003 and finished[0][0] < t_next - 2_000_000:
                reuse = heappop(finished)
            if rnd.random() < profile["fail_share"]:
                kind = rnd.choices(fail_kinds, fail_weights)[0]
                if kind in ("refused", "syn_unanswered"):
                    events, label = tcp_only(kind, rnd), kind
                else:
                    events, label = build_connection(rnd.choice(by_kind[kind]), rnd, profile, False)
            else:
                bulk = rnd.random() < profile["bulk_share"]
                template = rnd.choice(with_bulk if bulk else by_kind["ok"])
                events, label = build_connection(template, rnd, profile, bulk)
            outcomes[label] = outcomes.get(label, 0) + 1
            if reuse:
                _end, cip, cport, sip = reuse
                outcomes["4-tuple reused"] = outcomes.get("4-tuple reused", 0) + 1
            else:
                cip, cport = client_endpoint(index)
                sip = SERVER_NET | (1 + (index * 2654435761 >> 7) % 40)
            index += 1
            cisn, sisn = rnd.getrandbits(32), rnd.getrandbits(32)
            hops = rnd.randint(3, 20)
            cttl = (128 if rnd.random() < 0.35 else 64) - hops
            server_mac = server_macs[sip & 0xFF]
            # Checksum sums, mod 0xFFFF: IPv4 header without length and ID; TCP pseudo header and ports.
            ip_c = 0x4500 + 0x4000 + (cttl << 8 | 6) + cip + sip
            ip_s = 0x4500 + 0x4000 + (64 << 8 | 6) + cip + sip
            tcp_sum = cip + sip + 6 - 20 + cport + 443
            c = [events, 0, struct.pack("!I", cip), struct.pack("!I", sip), cport, t_next, cisn, sisn,
                 ip_c, ip_s, tcp_sum, rnd.getrandbits(16), rnd.getrandbits(16), server_mac + ROUTER_MAC,
                 ROUTER_MAC + server_mac, cttl]
            serial += 1
            heappush(heap, (t_next, serial, c))
            committed += sum(70 + len(e[6]) for e in events)
            end = t_next + events[-1][0]
            if not reuse and events[-1][2] & (FIN | RST) and rnd.random() < 0.01:
                heappush(finished, (end + 1, cip, cport, sip))
            max_alive = max(max_alive, len(heap))
            if progress and index % 20000 == 0 and time.perf_counter() - last_report > 5:
                last_report = time.perf_counter()
                print(f"  {committed / 1e6:.0f} MB, {index} connections, {len(heap)} alive", file=sys.stderr)
        f.write(memoryview(buf)[:o])
        last_ts = ts
    stats: dict[str, object] = {
        "file": str(out), "bytes": out.stat().st_size, "packets": packets, "connections": index,
        "mean_packet_bytes": round((out.stat().st_size - 24) / max(packets, 1) - 16, 1),
        "max_alive": max_alive, "capture_seconds": round((last_ts - first_ts) / 1e6, 1), "outcomes": outcomes,
        "seed": seed, "profile": profile_name, "pool": str(pool_path), "pool_entries": len(pool),
        "generate_seconds": round(time.perf_counter() - began, 1)}
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", default="256M", help="approximate file size: 50M, 256M, 1G, ...")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pool", type=Path, default=DEFAULT_POOL, help="cached real handshakes (made if missing)")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="gateway")
    args = ap.parse_args()
    stats = generate(args.out, parse_size(args.size), args.seed, args.pool, args.profile)
    Path(str(args.out) + ".json").write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(stats), file=sys.stderr)


if __name__ == "__main__":
    main()
