"""Write a large benchmark capture of many interleaved real TLS handshakes plus bulk data.

    python bench/make_capture.py OUT.pcap --size 1G [--seed 1]

The TLS bytes are real: every connection is a replay of one recorded by tests/lab/make_fixtures.py
(OpenSSL, nginx and Python ssl on loopback, committed under tests/fixtures/captures). What is synthetic
is the framing of the replay: each copy gets its own client address (198.18.0.0/15) and port, server
address (203.0.113.0/24), initial sequence numbers and start time, so that thousands of connections
overlap in time; some copies get bulk application data (TLS application_data records of random bytes,
1448-byte segments, an ACK every second segment) inserted after their handshake, with the later sequence
and acknowledgement numbers shifted to match. About 90% of the copies are healthy handshakes (TLS 1.2
and 1.3, RSA and ECDSA servers); the rest are failures: alerts 40/70/112, a RST after the ClientHello,
an unanswered ClientHello, an HTTP answer, a refused connect.

Deterministic for a given seed. Writes a classic pcap (Ethernet, microseconds).
"""

from __future__ import annotations

import argparse
import heapq
import random
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tlsdoctor.capture import open_capture  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "captures"
HEALTHY = ["mixed_small.pcap", "tls12_ok.pcap", "tls13_ok.pcap", "tls13_hrr.pcap"]
FAILING = ["version_mismatch.pcap", "no_shared_cipher.pcap", "sni_required_nginx.pcap", "rst_after_clienthello.pcap",
           "clienthello_unanswered.pcap", "not_tls_http.pcap", "tcp_connect_refused.pcap",
           "tls13_client_cert_required.pcap", "expired_cert_tls12.pcap"]


@dataclass
class Packet:
    rel_us: int  # time since the connection's first packet
    from_client: bool
    frame: bytearray  # Ethernet + IPv4 + TCP + payload


@dataclass
class Template:
    name: str
    packets: list[Packet]
    healthy: bool
    insert_at: int  # where bulk data may go (after the handshake), or -1


def _parse(path: Path) -> list[Template]:
    conns: dict[bytes, list[tuple[int, bool, bytes]]] = {}
    first_dir: dict[bytes, bytes] = {}
    with open_capture(str(path)) as src:
        for _n, ts, lt, buf, off, cap, _o in src.frames():
            frame = bytes(buf[off : off + cap])
            if lt != 1 or len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
                continue
            key = frame[26:38]
            rkey = key[4:8] + key[0:4] + key[10:12] + key[8:10]
            canon = min(key, rkey)
            if canon not in conns:
                conns[canon] = []
                first_dir[canon] = key
            conns[canon].append((ts, key == first_dir[canon], frame))
    from tlsdoctor.api import connections

    failed_ports = {r.client.port for r in connections(str(path)) if r.failed}
    out = []
    for canon, pkts in conns.items():
        t0 = pkts[0][0]
        packets = [q for ts, fc, fr in pkts for q in _resegment(Packet((ts - t0) // 1000, fc, bytearray(fr)))]
        client_port = struct.unpack_from("!H", first_dir[canon], 8)[0]
        healthy = client_port not in failed_ports
        out.append(Template(f"{path.name}:{canon.hex()}", packets, healthy, _handshake_end(packets) if healthy else -1))
    return out


MSS = 1448


def _resegment(p: Packet) -> list[Packet]:
    """Split a loopback jumbo segment into MSS-sized ones, as an Ethernet path would carry it."""
    f = p.frame
    ihl = (f[14] & 15) * 4
    t0 = 14 + ihl
    doff = (f[t0 + 12] >> 4) * 4
    payload = bytes(f[t0 + doff :])
    if len(payload) <= MSS:
        return [p]
    (seq,) = struct.unpack_from("!I", f, t0 + 4)
    flags = f[t0 + 13]
    out = []
    for k, i in enumerate(range(0, len(payload), MSS)):
        chunk = payload[i : i + MSS]
        g = bytearray(f[: t0 + doff]) + chunk
        struct.pack_into("!H", g, 16, ihl + doff + len(chunk))
        struct.pack_into("!I", g, t0 + 4, (seq + i) & 0xFFFFFFFF)
        last = i + MSS >= len(payload)
        g[t0 + 13] = flags if last else flags & ~0x09  # FIN and PSH only on the last piece
        out.append(Packet(p.rel_us + k, p.from_client, g))
    return out


def _handshake_end(packets: list[Packet]) -> int:
    """Where bulk data can go: just before the first FIN or RST (the handshake and the request are done)."""
    for i, p in enumerate(packets):
        ihl = (p.frame[14] & 15) * 4
        if p.frame[14 + ihl + 13] & 0x05 and i > 0:
            return i
    return -1


def _bulk(total: int, rnd: random.Random) -> list[bytes]:
    """Server->client segments of TLS application_data records carrying ``total`` bytes."""
    stream = bytearray()
    while len(stream) < total:
        n = min(16384 + 17, total - len(stream) + 5)
        stream += b"\x17\x03\x03" + struct.pack("!H", max(n - 5, 1)) + rnd.randbytes(max(n - 5, 1))
    return [bytes(stream[i : i + 1448]) for i in range(0, len(stream), 1448)]


def replay(t: Template, index: int, start_us: int, rnd: random.Random, bulk_bytes: int) -> list[tuple[int, bytes]]:
    cip = struct.pack("!I", (198 << 24 | 18 << 16) + (index % 131000) + 1)
    sip = bytes([203, 0, 113, 1 + index % 200])
    cport = 1024 + (index * 7919) % 64000
    sport = 443
    cseq_off = rnd.getrandbits(32)
    sseq_off = rnd.getrandbits(32)
    out: list[tuple[int, bytes]] = []
    shift = 0  # extra server bytes inserted so far
    last_client_ack = 0
    packets = t.packets
    insert_at = t.insert_at if bulk_bytes and t.insert_at > 0 else -1
    for i, p in enumerate(packets):
        if i == insert_at:
            # Bulk from the server, acknowledged by the client every second segment.
            ref = packets[i - 1]
            rel = p.rel_us
            base = _server_next_seq(packets, i)
            for j, seg in enumerate(_bulk(bulk_bytes, rnd)):
                rel += 40
                data = _server_data(ref, seg, base + shift, last_client_ack, cip, sip, cport, sport, sseq_off)
                out.append((start_us + rel, data))
                shift += len(seg)
                if j % 2:
                    out.append((start_us + rel + 5, _client_ack(packets, i, cip, sip, cport, sport, cseq_off, sseq_off,
                                                               base + shift)))
        f = bytearray(p.frame)
        ihl = (f[14] & 15) * 4
        t0 = 14 + ihl
        seq, ack = struct.unpack_from("!II", f, t0 + 4)
        if p.from_client:
            f[26:30], f[30:34] = cip, sip
            struct.pack_into("!HH", f, t0, cport, sport)
            seq = (seq + cseq_off) & 0xFFFFFFFF
            ack = (ack + sseq_off + (shift if ack else 0)) & 0xFFFFFFFF if f[t0 + 13] & 0x10 else ack
            last_client_ack = ack
        else:
            f[26:30], f[30:34] = sip, cip
            struct.pack_into("!HH", f, t0, sport, cport)
            seq = (seq + sseq_off + shift) & 0xFFFFFFFF
            ack = (ack + cseq_off) & 0xFFFFFFFF if f[t0 + 13] & 0x10 else ack
        struct.pack_into("!II", f, t0 + 4, seq, ack)
        out.append((start_us + p.rel_us + (shift // 1448) * 40, bytes(f)))
    return out


def _server_next_seq(packets: list[Packet], i: int) -> int:
    """The server's next (raw, template) sequence number before packet i."""
    for p in reversed(packets[:i]):
        if not p.from_client:
            f = p.frame
            ihl = (f[14] & 15) * 4
            doff = (f[14 + ihl + 12] >> 4) * 4
            plen = len(f) - 14 - ihl - doff
            (seq,) = struct.unpack_from("!I", f, 14 + ihl + 4)
            return seq + plen + (1 if f[14 + ihl + 13] & 0x02 else 0)
    return 0


def _server_data(ref: Packet, seg: bytes, raw_seq: int, client_ack: int, cip: bytes, sip: bytes, cport: int,
                 sport: int, sseq_off: int) -> bytes:
    head = bytearray(ref.frame[:14]) + bytearray(20) + bytearray(20)
    head[12:14] = b"\x08\x00"
    struct.pack_into("!BBHHHBBH4s4s", head, 14, 0x45, 0, 40 + len(seg), 0, 0x4000, 64, 6, 0, sip, cip)
    struct.pack_into("!HHIIHHHH", head, 34, sport, cport, (raw_seq + sseq_off) & 0xFFFFFFFF, client_ack,
                     (5 << 12) | 0x18, 512, 0, 0)
    return bytes(head) + seg


def _client_ack(packets: list[Packet], i: int, cip: bytes, sip: bytes, cport: int, sport: int, cseq_off: int,
                sseq_off: int, server_raw_next: int) -> bytes:
    cseq = 0
    for p in reversed(packets[:i]):
        if p.from_client:
            f = p.frame
            ihl = (f[14] & 15) * 4
            doff = (f[14 + ihl + 12] >> 4) * 4
            plen = len(f) - 14 - ihl - doff
            (seq,) = struct.unpack_from("!I", f, 14 + ihl + 4)
            cseq = seq + plen + (1 if f[14 + ihl + 13] & 0x02 else 0)
            break
    head = bytearray(54)
    head[12:14] = b"\x08\x00"
    struct.pack_into("!BBHHHBBH4s4s", head, 14, 0x45, 0, 40, 0, 0x4000, 64, 6, 0, cip, sip)
    struct.pack_into("!HHIIHHHH", head, 34, cport, sport, (cseq + cseq_off) & 0xFFFFFFFF,
                     (server_raw_next + sseq_off) & 0xFFFFFFFF, (5 << 12) | 0x10, 512, 0, 0)
    return bytes(head)


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


PROFILES = {
    # ~110k connections per GB, ~19 packets each: nearly every packet is near a handshake.
    "handshakes": {"bulk_share": 0.03, "bulk_min": 20_000, "bulk_max": 100_000},
    # A busier gateway: half the connections carry 0.1-1 MB after their handshake.
    "bulk": {"bulk_share": 0.5, "bulk_min": 100_000, "bulk_max": 1_000_000},
}


def generate(out: Path, size: int, seed: int, alive: int = 3000, profile: str = "handshakes") -> dict[str, int]:
    bulk_share = PROFILES[profile]["bulk_share"]
    bulk_min, bulk_max = int(PROFILES[profile]["bulk_min"]), int(PROFILES[profile]["bulk_max"])
    rnd = random.Random(seed)
    templates = [t for name in HEALTHY + FAILING for t in _parse(FIXTURES / name)]
    healthy = [t for t in templates if t.healthy and t.insert_at > 0]
    failing = [t for t in templates if not t.healthy]
    stats = {"connections": 0, "failing": 0, "packets": 0, "bytes": 24}
    queued = 0
    heap: list[tuple[int, int, bytes]] = []
    t_us = 1_700_000_000_000_000
    seq = 0
    with out.open("wb", buffering=1 << 22) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        index = 0
        while stats["bytes"] + queued < size:
            # Start a new connection every ~50 us of capture time; each lasts a few ms to ~1 s, so a
            # few thousand are alive at once.
            t_us += rnd.randint(10, 90)
            template = rnd.choice(failing) if rnd.random() < 0.08 else rnd.choice(healthy)
            bulk = rnd.randint(bulk_min, bulk_max) if template.healthy and rnd.random() < bulk_share else 0
            # Spread connections out in time so that thousands overlap, but keep each under ~1 s of capture
            # time (a 2 s unanswered ClientHello stays 2 s): live connections must not grow with the file.
            duration = template.packets[-1].rel_us + 1
            stretch = max(1, min(rnd.randint(1, alive // 10 + 1), 1_000_000 // duration))
            for ts, frame in replay(template, index, t_us, rnd, bulk):
                seq += 1
                queued += 16 + len(frame)
                heapq.heappush(heap, (t_us + (ts - t_us) * stretch, seq, frame))
            stats["connections"] += 1
            stats["failing"] += 0 if template.healthy else 1
            index += 1
            while heap and heap[0][0] < t_us:
                ts, _s, frame = heapq.heappop(heap)
                queued -= 16 + len(frame)
                f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)) + frame)
                stats["packets"] += 1
                stats["bytes"] += 16 + len(frame)
        while heap:
            ts, _s, frame = heapq.heappop(heap)
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)) + frame)
            stats["packets"] += 1
            stats["bytes"] += 16 + len(frame)
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", default="256M", help="approximate file size: 64M, 1G, ...")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="handshakes")
    args = ap.parse_args()
    stats = generate(args.out, parse_size(args.size), args.seed, profile=args.profile)
    print(f"{args.out}: {stats['bytes']} bytes, {stats['packets']} packets, {stats['connections']} connections "
          f"({stats['failing']} replays of failing connections)")


if __name__ == "__main__":
    main()
