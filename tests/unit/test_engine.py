"""The capture pass end to end on a real capture, and its robustness to hostile frames.

The capture is real (OpenSSL on loopback, see tests/fixtures/engine/README.md). Mutated and random
frames must never make the engine raise or report an internal error: bad input is data.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.bench_capture import generated_capture

from tlsdoctor.api import connections
from tlsdoctor.connection import ConnectionRecord, EndedBy
from tlsdoctor.engine import CaptureAnalyzer
from tlsdoctor.report.connections import record_to_json, summary_line

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "engine" / "openssl_loopback.pcap"


def _frames(data: bytes) -> list[tuple[int, int, int, bytes, int, int, int]]:
    """The fixture's frames, split with the classic pcap layout (little-endian, microseconds). Test-only:
    it lets a test mutate single frames; the product's readers are tested in test_capture_*."""
    (linktype,) = struct.unpack_from("<I", data, 20)
    out = []
    p = 24
    n = 0
    while p + 16 <= len(data):
        sec, usec, caplen, origlen = struct.unpack_from("<IIII", data, p)
        n += 1
        out.append((n, sec * 1_000_000_000 + usec * 1000, linktype, data[p + 16 : p + 16 + caplen], 0, caplen, origlen))
        p += 16 + caplen
    return out


FRAMES = _frames(FIXTURE.read_bytes())


Frames = list[tuple[int, int, int, bytes, int, int, int]]


def _analyze(frames: Frames) -> tuple[list[ConnectionRecord], CaptureAnalyzer]:
    analyzer = CaptureAnalyzer("mutated.pcap")
    records = sorted(analyzer.analyze(frames), key=lambda r: r.tcp_stream)
    return records, analyzer


def test_real_capture_connections() -> None:
    recs = connections(str(FIXTURE))
    assert [r.tcp_stream for r in recs] == [0, 1, 2, 3]
    tls13, tls12, http, refused = recs
    assert (tls13.sni, tls13.tls_version, tls13.handshake_completed, tls13.failed) == ("dev.test", "TLSv1.3", True,
                                                                                       False)
    assert (tls12.sni, tls12.tls_version, tls12.handshake_completed) == (None, "TLSv1.2", True)
    assert tls12.cipher_suite is not None and "ECDHE" in tls12.cipher_suite
    assert tls12.tls.server_certificates and tls12.tls.server_certificates[0].subject == "CN=dev.test"
    assert http.handshake_completed and http.server_dir.payload_bytes > http.client_dir.payload_bytes
    assert refused.failed and not refused.is_tls and refused.ended_by is EndedBy.RST
    assert (refused.end_sender, refused.handshake_stage, refused.tcp_history) == ("server", "syn", "Sr")
    for rec in recs:
        assert rec.frames["first"] <= rec.frames["last"]
        assert rec.client.ip == "127.0.0.1" and rec.server.port in (4433, 4434)
        json.dumps(record_to_json(rec))  # serialisable
        assert summary_line(rec)
    assert tls13.history.startswith("Cs") and "C" in tls12.history and "x" in tls12.history


def test_milestones_and_relative_sequence_numbers() -> None:
    rec = connections(str(FIXTURE))[1]
    assert rec.frames["syn"] < rec.frames["syn_ack"] < rec.frames["client_hello"] < rec.frames["server_hello"]
    packets = rec.packets
    assert packets[0].flags == "S" and packets[0].seq == 0 and packets[0].from_client
    assert packets[1].flags == "SA" and packets[1].ack == 1 and not packets[1].from_client
    hello = next(p for p in packets if p.frame == rec.frames["client_hello"])
    assert hello.seq == 1 and hello.tls == "C"
    assert rec.client_dir.acked_bytes == rec.client_dir.payload_bytes


def test_each_frame_alone_and_truncated_prefixes_never_fail() -> None:
    for cut in range(len(FRAMES) + 1):
        records, analyzer = _analyze(FRAMES[:cut])
        assert "internal_errors" not in analyzer.stats.caps_hit
        assert len({r.tcp_stream for r in records}) == len(records)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_frames_are_data_not_crashes(data: st.DataObject) -> None:
    frames = list(FRAMES)
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        i = data.draw(st.integers(min_value=0, max_value=len(frames) - 1))
        n, ts, lt, buf, _off, _caplen, origlen = frames[i]
        mutated = bytearray(buf)
        how = data.draw(st.sampled_from(["flip", "truncate", "garbage"]))
        if how == "flip" and mutated:
            pos = data.draw(st.integers(min_value=0, max_value=len(mutated) - 1))
            mutated[pos] ^= data.draw(st.integers(min_value=1, max_value=255))
        elif how == "truncate":
            mutated = mutated[: data.draw(st.integers(min_value=0, max_value=len(mutated)))]
        else:
            mutated += data.draw(st.binary(max_size=64))
        frames[i] = (n, ts, lt, bytes(mutated), 0, len(mutated), origlen)
    records, analyzer = _analyze(frames)
    assert "internal_errors" not in analyzer.stats.caps_hit, analyzer.anomalies
    for rec in records:
        json.dumps(record_to_json(rec))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 101, 113, 276, 0]), st.binary(max_size=200)), max_size=40))
def test_random_frames_never_raise(raw: list[tuple[int, bytes]]) -> None:
    frames = [(i + 1, i * 1000, lt, b, 0, len(b), len(b)) for i, (lt, b) in enumerate(raw)]
    _records, analyzer = _analyze(frames)
    assert "internal_errors" not in analyzer.stats.caps_hit, analyzer.anomalies


def test_port_reuse_starts_a_new_stream() -> None:
    # Replay stream 3 (SYN, RST) twice on the same 4-tuple with a different ISN the second time:
    # Wireshark gives the second SYN a new tcp.stream.
    syn = next(f for f in FRAMES if f[0] == 52)
    rst = next(f for f in FRAMES if f[0] == 53)
    syn2 = bytearray(syn[3])
    struct.pack_into("!I", syn2, 38, (struct.unpack_from("!I", syn2, 38)[0] + 1000) % (1 << 32))
    frames = [syn, rst, (3, syn[1] + 10**9, syn[2], bytes(syn2), 0, len(syn2), len(syn2)),
              (4, rst[1] + 10**9, rst[2], rst[3], 0, rst[5], rst[6])]
    frames = [(i + 1, *f[1:]) for i, f in enumerate(frames)]
    records, _ = _analyze(frames)
    assert [r.tcp_stream for r in records] == [0, 1]
    assert [r.frames["syn"] for r in records] == [1, 3]
    # A retransmitted SYN (same ISN) stays in the same stream.
    records, _ = _analyze([(1, *syn[1:]), (2, syn[1] + 10**9, *syn[2:]), (3, rst[1] + 10**9, *rst[2:])])
    assert [r.tcp_stream for r in records] == [0]


def test_mid_stream_connection_is_not_judged() -> None:
    # Drop stream 2's SYN, SYN-ACK, ACK and ClientHello: the capture now begins inside it.
    first = connections(str(FIXTURE))[2].frames["first"]
    hello = connections(str(FIXTURE))[2].frames["client_hello"]
    frames = [f for f in FRAMES if not (first <= f[0] <= hello)]
    records, _ = _analyze(frames)
    mid = [r for r in records if r.handshake_stage == "mid_stream"]
    assert len(mid) == 1 and not mid[0].failed


def test_a_pass_leaves_no_cyclic_garbage() -> None:
    """cli.GC_THRESHOLDS lets the cyclic collector run rarely because a capture pass frees everything by
    reference counting. Every committed capture (those with a key log decrypted with it), read with the
    collector off, must leave nothing for it to find."""
    import gc

    from tlsdoctor.api import iter_connections

    root = Path(__file__).resolve().parents[2]
    captures = sorted((root / "tests" / "fixtures").rglob("*.pcap*")) + sorted(
        (root / "src" / "tlsdoctor" / "samples").glob("*.pcap"))
    assert len(captures) > 50
    for capture in captures[:3]:  # lazy imports and caches first: they are not garbage
        list(iter_connections(str(capture)))
    gc.collect()
    gc.disable()
    seen = 0
    try:
        for capture in captures:
            keys = capture.with_suffix(".keys")
            stream = iter_connections(str(capture), keylog=str(keys) if keys.exists() else None)
            for rec in stream:
                seen += 1 + len(record_to_json(rec)["anomalies"])
        leftover = gc.collect()
    finally:
        gc.enable()
    assert seen > 400
    assert leftover == 0, f"{leftover} objects in reference cycles after the pass"


def test_what_is_open_at_capture_end_is_let_go_record_by_record(tmp_path: Path) -> None:
    """At the end of a capture every connection still open is emitted. Each must be let go as soon as its
    record is made, and leave no tombstone (no packet can follow): else memory holds every open connection
    and every record at once, which is what a SYN flood is made of. A capture of the bench's gateway mix
    (real OpenSSL handshakes; bench/make_capture.py), read up to half its frames, ends with most of its
    connections open."""
    import gc
    import itertools

    from tlsdoctor.capture import open_capture
    from tlsdoctor.engine import _Conn

    cap = generated_capture(tmp_path, "1M", 7)
    with open_capture(str(cap)) as source:
        half = sum(1 for _ in source.frames()) // 2
    alive: list[int] = []  # connection objects in memory as each record of the capture's end is made
    with open_capture(str(cap)) as source:
        analyzer = CaptureAnalyzer(cap.name)
        records = []
        for rec in analyzer.analyze(itertools.islice(source.frames(), half)):
            records.append(rec)
            if rec.ended_by is EndedBy.CAPTURE_END:
                alive.append(sum(1 for o in gc.get_objects() if type(o) is _Conn))
    assert len(alive) >= 50
    assert all(a > b for a, b in itertools.pairwise(alive)), alive
    assert alive[-1] <= 3  # the detached placeholder, the last one, and at most one the loop still names
    # The flow table holds the tombstones of the connections that ended before, none of those open at the end.
    assert len(analyzer.flows) <= 2 * (len(records) - len(alive))
