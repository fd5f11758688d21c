"""The C light path (src/tlsdoctor/_lightpath.c): its flow table, and the engine's records with and
without it, in the same process, on real and generated captures. test_compiled.py compares the whole
compiled build (which includes it) with the plain sources."""

from __future__ import annotations

import itertools
import mmap
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.bench_capture import generated_capture
from tests.unit.test_capture_readers import _block, dsb, epb, idb, shb, spb

from tlsdoctor.capture import open_capture
from tlsdoctor.capture.anomaly import AnomalyLog
from tlsdoctor.capture.formats import MAX_CAPLEN, FrameTuple
from tlsdoctor.capture.pcap import PcapParser
from tlsdoctor.capture.pcapng import PcapngParser
from tlsdoctor.engine import CaptureAnalyzer, embedded_keylog, new_light_table
from tlsdoctor.net.decode import flow_shard
from tlsdoctor.report.connections import record_to_json

if TYPE_CHECKING:
    from tlsdoctor._lightpath import LightTable

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

if new_light_table() is None:
    if os.environ.get("CI"):
        pytest.fail("CI installs the compiled build (scripts/test.sh: pip install .), which builds "
                    "tlsdoctor._lightpath", allow_module_level=True)
    pytest.skip("tlsdoctor._lightpath is not built (the plain-Python build)", allow_module_level=True)


def _key(i: int) -> bytes:
    return struct.pack("!IIHH", 0xC6120000 + i, 0xCB007100, 40000 + i % 20000, 443)


def test_table_counts_only_what_it_consumed_and_forgets() -> None:
    t = new_light_table()
    assert t is not None and len(t) == 0 and t.pull(_key(1)) is None
    t.add(_key(1), 64, bytes(12))
    assert len(t) == 1 and t.pull(_key(1)) is None  # registered, nothing consumed yet
    t.discard(_key(1))
    t.discard(_key(1))  # twice: no error
    assert len(t) == 0
    with pytest.raises(ValueError):
        t.add(b"short", 64, None)
    with pytest.raises(ValueError):
        t.add(_key(2), 64, b"a short mac")


def test_table_grows_and_reuses_deleted_slots() -> None:
    t = new_light_table()
    assert t is not None
    for round_ in range(3):
        for i in range(50_000):
            t.add(_key(i), 64, None)
        assert len(t) == 50_000, round_
        for i in range(0, 50_000, 2):
            t.discard(_key(i))
        assert len(t) == 25_000
        for i in range(1, 50_000, 2):
            t.discard(_key(i))
        assert len(t) == 0


def _frame(key: bytes, flags: int, payload: int, ttl: int = 64, ipid: int = 1) -> bytes:
    macs = bytes.fromhex("020000000002" "020000000001")
    src, dst, sport, dport = key[:4], key[4:8], key[8:10], key[10:12]
    tcp = sport + dport + struct.pack("!IIHHHH", 1000, 2000, (5 << 12) | flags, 512, 0, 0)
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 40 + payload, ipid, 0x4000, ttl, 6, 0) + src + dst
    return macs + b"\x08\x00" + ip + tcp + bytes(payload)


def _pcap(frames: list[bytes]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, 500_000, len(f), len(f)) + f)
    return b"".join(out)


MACS = bytes.fromhex("020000000002" "020000000001")
"""The MAC pair (destination, source) of every ``_frame``."""


def _starts(frames: list[bytes]) -> list[int]:
    """The offset of each record of ``_pcap(frames)``, and of the byte after the last."""
    return list(itertools.accumulate((16 + len(f) for f in frames), initial=24))


def test_records_consumes_exactly_the_plain_packets_of_known_flows() -> None:
    t = new_light_table()
    assert t is not None
    known, other = _key(1), _key(2)
    t.add(known, 64, MACS)
    frames = [_frame(known, 0x10, 100, ipid=7), _frame(known, 0x18, 0, ipid=8),  # consumed
              _frame(known, 0x11, 0),  # FIN: for the engine
              _frame(known, 0x10, 5), _frame(other, 0x10, 5), _frame(known, 0x10, 5, ttl=63)]
    at = _starts(frames)
    buf = _pcap(frames) + bytes(70_000)  # room past the reader's fast-zone limit
    end = len(buf) - 16 - 65_535
    it = t.records(buf, 24, end, 0, 1, False, 1000, 1_000_000, 65_535)
    fin = next(it)  # the first record not consumed comes out as the reader's frame tuple
    assert fin == (3, 1_700_000_002 * 10**9 + 500_000_000, 1, buf, at[2] + 16, len(frames[2]), len(frames[2]))
    assert (it.pos, it.number) == (at[3], 3)
    assert t.consumed == 2 and t.last_number == 2
    assert t.pull(known) == (2, 100, 8, 2, (1_700_000_001 * 10**9) + 500_000_000)
    assert t.pull(known) is None  # reset by the pull
    # The engine reads the FIN itself; then the next plain packet is consumed, another flow's is not.
    assert next(it)[:5] == (5, 1_700_000_004 * 10**9 + 500_000_000, 1, buf, at[4] + 16)
    assert t.consumed == 3 and t.last_number == 4
    assert t.pull(known) == (1, 5, 1, 4, (1_700_000_003 * 10**9) + 500_000_000)
    # A new TTL is for the engine too, until the engine says it is the flow's path now.
    assert next(it)[0] == 6 and t.consumed == 3
    t.set_path(known, 63, MACS)
    again = t.records(buf, at[5], end, 5, 1, False, 1000, 1_000_000, 65_535)
    assert next(again)[:5] == (7, 0, 1, buf, at[6] + 16)  # frame 6 consumed; the zeros after it: empty records
    assert t.consumed == 4 and t.pull(known) == (1, 5, 1, 6, (1_700_000_005 * 10**9) + 500_000_000)


def test_records_leaves_every_1024th_frame_to_the_engine() -> None:
    # The engine keeps house before frames 1024, 2048, ...: those always reach it.
    t = new_light_table()
    assert t is not None
    key = _key(3)
    t.add(key, 64, MACS)
    frames = [_frame(key, 0x10, 1) for _ in range(10)]  # frames 1021 to 1030
    at = _starts(frames)
    buf = _pcap(frames) + bytes(70_000)
    end = len(buf) - 16 - 65_535
    it = t.records(buf, 24, end, 1020, 1, False, 1000, 1_000_000, 65_535)
    assert next(it)[0:5:4] == (1024, at[3] + 16) and t.consumed == 3  # 1021 to 1023 consumed, 1024 yielded
    assert next(t.records(buf, at[3], end, 1023, 1, False, 1000, 1_000_000, 65_535))[0] == 1024  # also first
    assert t.consumed == 3
    # After the engine has read frame 1024 itself, the reading goes on: 1025 to 1030 are consumed.
    assert next(it)[0:5:4] == (1031, at[10] + 16) and t.consumed == 9 and t.last_number == 1030
    # Misuse (an end past the buffer) reads nothing; another link type consumes nothing.
    misuse = t.records(buf, 24, len(buf) + 1, 0, 1, False, 1000, 1_000_000, 65_535)
    assert list(misuse) == [] and (misuse.pos, misuse.number) == (24, 0)
    raw_ip = t.records(buf, 24, end, 0, 113, False, 1000, 1_000_000, 65_535)
    assert [(n, lt, off) for n, _ts, lt, _b, off, _c, _o in itertools.islice(raw_ip, 10)] == \
        [(i + 1, 113, at[i] + 16) for i in range(10)]
    assert t.consumed == 9


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=120), max_size=40), st.lists(st.integers(0, 200), max_size=6),
       st.integers(0, 2**32 - 1), st.booleans())
def test_records_of_garbage_stay_in_the_buffer(pieces: list[bytes], key_offsets: list[int], noise: int,
                                               big: bool) -> None:
    # Records of random bytes (some with a plausible header and flows the table knows), read at random.
    t = new_light_table()
    assert t is not None
    body = bytearray()
    order = ">" if big else "<"
    for i, piece in enumerate(pieces):
        frame = _frame(_key(i % 3), 0x10, 0) + piece if i % 2 else piece
        caplen = len(frame) if i % 5 else (noise >> (i % 24)) & 0xFFFF
        body += struct.pack(order + "IIII", noise, noise % 1_000_000, caplen, len(frame)) + frame
    for off in key_offsets:
        if off + 38 <= len(body):
            t.add(bytes(body[off + 26 : off + 38]), body[off + 22], bytes(body[off : off + 12]))
    for i in range(3):
        t.add(_key(i), 64, MACS)
    max_caplen = 2048
    buf = bytes(body) + bytes(16 + max_caplen)
    end = len(buf) - 16 - max_caplen
    pos, number = 0, 0
    while pos < end:
        it = t.records(buf, pos, end, number, 1, big, 1000, 1_000_000, max_caplen)
        taken = t.consumed + t.skipped
        at, n, yielded = pos, number, 0
        for fn, _ts, lt, b, off, caplen, _orig in it:
            # Each frame lies in the buffer, after the one before, numbered after the records consumed between.
            assert b is buf and lt == 1 and at + 16 <= off and off + caplen <= len(buf) and fn > n
            at, n, yielded = off + caplen, fn, yielded + 1
        assert at <= it.pos <= end + 16 + max_caplen and it.number >= n
        assert (it.pos == pos) == (it.number == number)
        assert it.number - number == yielded + t.consumed + t.skipped - taken  # each record counted once
        if it.pos >= end:
            break
        # Stopped inside the fast zone: only at a record for the reader's careful loop.
        _sec, frac, caplen, _orig = struct.unpack_from(order + "IIII", buf, it.pos)
        assert caplen > max_caplen or frac >= 1_000_000
        pos, number = it.pos + 1, it.number  # as if the reader dealt with this record; go on from the next byte
    # An end that would let a record run past the buffer is refused: nothing is read.
    misuse = t.records(buf, 0, end + 1, 0, 1, big, 1000, 1_000_000, max_caplen)
    assert list(misuse) == [] and (misuse.pos, misuse.number) == (0, 0)


_Frame6 = tuple[int, int, int, int, int, int]
"""(number, ts_ns, linktype, offset, caplen, origlen): a frame tuple without its buffer."""


def _model_of_records(buf: bytes, pos: int, end: int, number: int, big: bool, max_caplen: int,
                      flows: dict[bytes, tuple[int, bytes]], shard: int, jobs: int
                      ) -> tuple[list[_Frame6], int, int, tuple[int, int, int], dict[bytes, tuple[int, ...]]]:
    """What ``LightTable.records`` should do, written again in Python from the engine's rules (the engine's
    light branch, housekeeping at every 1024th frame, ``flow_shard``, the reader's careful loop), as the
    reference for the C: the frames it yields, where it stops (pos, number), the table's (consumed,
    skipped, last_number), and each flow's ``pull()`` (``flows``: key -> its TTL and MAC pair)."""
    order = ">" if big else "<"
    out: list[_Frame6] = []
    consumed = skipped = last_number = 0
    counters: dict[bytes, tuple[int, ...]] = {}
    while pos < end:
        sec, frac, caplen, origlen = struct.unpack_from(order + "IIII", buf, pos)
        if caplen > max_caplen or frac >= 1_000_000:
            break  # the reader's careful loop: it stops here
        number += 1
        ts = sec * 10**9 + frac * 1000
        f = buf[pos + 16 : pos + 16 + caplen]
        data = pos + 16
        pos = data + caplen
        fate = _fate(f, number, ts, flows, shard, jobs, counters)
        if fate == "skipped":
            skipped += 1
        elif fate == "consumed":
            consumed += 1
            last_number = number
        else:
            out.append((number, ts, 1, data, caplen, origlen))
    return out, pos, number, (consumed, skipped, last_number), counters


def _fate(f: bytes, number: int, ts: int, flows: dict[bytes, tuple[int, bytes]], shard: int, jobs: int,
          counters: dict[bytes, tuple[int, ...]]) -> str:
    """What the C reader does with Ethernet frame ``f`` (``number``, at ``ts``) that it reads, by the engine's
    rules: "yielded" to the engine (short, every 1024th, or anything the light branch does not take);
    "skipped", another flow shard's (as the engine's loop skips it); or "consumed", a plain packet of a
    known flow on its TTL and MAC pair, counted into ``counters`` as ``pull()`` gives them back."""
    if len(f) < 54 or number % 1024 == 0:
        return "yielded"
    tcp4 = f[12:15] == b"\x08\x00\x45" and f[23] == 6
    if jobs > 1 and tcp4 and flow_shard(1, f, 0, len(f), jobs) != shard:
        return "skipped"
    offflags = int.from_bytes(f[46:48], "big")
    key = f[26:38]
    if (tcp4 and not int.from_bytes(f[20:22], "big") & 0x3FFF and not offflags & 7
            and flows.get(key) == (f[22], f[:12])):
        packets, payload = counters[key][:2] if key in counters else (0, 0)
        plen = int.from_bytes(f[16:18], "big") - 20 - (offflags >> 12) * 4
        counters[key] = (packets + 1, payload + max(plen, 0), int.from_bytes(f[18:20], "big"), number, ts)
        return "consumed"
    return "yielded"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0x10, 0x18, 0x11, 0x02, 0x04]), st.integers(0, 40),
                          st.binary(max_size=60)), max_size=40),
       st.integers(0, 2100), st.booleans(), st.integers(0, 3), st.sampled_from([1, 2, 3]))
def test_records_yields_exactly_what_the_engine_must_see(
        packets: list[tuple[int, int, int, bytes]], start: int, big: bool, damage: int, jobs: int) -> None:
    # Known and unknown flows, SYN/FIN/RST, short frames, a damaged record, any starting frame number (the
    # 1024th frames), a shard worker's view: records() must give the reader's frames, and consume the rest.
    order = ">" if big else "<"
    body = bytearray()
    for i, (flow, flags, payload, junk) in enumerate(packets):
        frame = _frame(_key(flow), flags, payload) if flow < 4 else junk  # flows 4, 5: not Ethernet+IPv4+TCP
        frac = 2_000_000 if damage == 1 and i == len(packets) // 2 else 500_000  # 1: a sub-second field out of range
        caplen = 70_000 if damage == 2 and i == len(packets) // 2 else len(frame)  # 2: a bogus captured length
        body += struct.pack(order + "IIII", 1_700_000_000 + i, frac, caplen, len(frame) + 3) + frame
    max_caplen = 65_535
    buf = bytes(body) + bytes(16 + max_caplen)
    end = len(buf) - 16 - max_caplen if damage != 3 else len(body) // 2  # 3: a fast zone that ends early
    t = new_light_table()
    assert t is not None
    flows = {_key(flow): (64, MACS) for flow in range(3)}  # flow 3 is unknown
    for key, (ttl, macs) in flows.items():
        t.add(key, ttl, macs)
    if jobs > 1:
        t.set_shard(start % jobs, jobs)
    it = t.records(buf, 0, end, start, 1, big, 1000, 1_000_000, max_caplen)
    got = [(n, ts, lt, off, cap, orig) for n, ts, lt, b, off, cap, orig in it if b is buf]
    want, pos, number, counts, pulls = _model_of_records(buf, 0, end, start, big, max_caplen, flows, start % jobs,
                                                         jobs)
    assert got == want
    assert (it.pos, it.number) == (pos, number)
    assert (t.consumed, t.skipped, t.last_number) == counts
    for flow in range(4):
        assert t.pull(_key(flow)) == pulls.get(_key(flow))
    assert list(it) == []  # exhausted for good


def test_records_lets_go_of_the_buffer_when_done(tmp_path: Path) -> None:
    t = new_light_table()
    assert t is not None
    path = tmp_path / "one.pcap"
    path.write_bytes(_pcap([_frame(_key(1), 0x02, 0)]) + bytes(70_000))
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        it = t.records(m, 24, len(m) - 16 - 65_535, 0, 1, False, 1000, 1_000_000, 65_535)
        first = next(it)
        assert first[0] == 1 and first[3] is m and first[4] == 40
        with pytest.raises(BufferError):
            m.close()  # still exported while the iterator may read
        rest = list(it)  # the zeros after it read as empty records, then the fast zone ends
        assert all(r[5] == 0 for r in rest)
        del first, rest
        m.close()  # no error: the iterator released it
    with pytest.raises(ValueError):
        t.records(b"", 0, 0, 0, 1, False, 2 * 10**9, 1_000_000, 65_535)
    with pytest.raises(TypeError):
        t.records(b"", 0, 0)  # type: ignore[call-arg]


def test_reader_yields_the_same_frames_with_the_c_reader(generated: Path) -> None:
    # With a table that knows no flow, records() consumes nothing: every frame must come out as without it.
    captures = [generated, *sorted(FIXTURES.rglob("*.pcap")), *sorted(FIXTURES.rglob("*.pcap.gz")),
                *sorted(FIXTURES.rglob("*.pcapng"))]

    def frames(cap: Path, light: bool) -> tuple[list[tuple[int, int, int, bytes, int]], int, list[str]]:
        with open_capture(str(cap)) as source:
            if light:
                source.use_light_table(new_light_table())
            got = [(n, ts, lt, bytes(buf[off:off + cap_]), orig) for n, ts, lt, buf, off, cap_, orig in source.frames()]
            return got, source.bytes_read, [str(a) for a in source.anomalies]

    for cap in captures:
        assert frames(cap, True) == frames(cap, False), cap


def _record_starts(data: bytes | bytearray) -> list[int]:
    """The offset of each record header of a little-endian classic pcap (the last may be cut short)."""
    offsets = []
    pos = 24
    while pos + 16 <= len(data):
        offsets.append(pos)
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    return offsets


def _feed(data: bytes, chunk: int, light: bool, parser_type: type[PcapParser | PcapngParser] = PcapParser,
          table: LightTable | None = None, start: int = 0
          ) -> tuple[list[tuple[object, ...]], list[tuple[int, ...]], list[str], int]:
    """Read ``data`` with a parser as the stream reader feeds it (``source._stream_buffers``): buffers of the
    unread tail and ``chunk`` more bytes. Every frame (with how far past its bytes ``position()`` was while
    the consumer held it), the parser's state after each buffer, the anomalies, and how many frames came out
    of a C iterator (white box: the reader's ``_records`` is set while one runs). With ``light``, the
    reader has ``table``, by default one without flows (every record is yielded, as without it); its
    frames are numbered from ``start + 1``."""
    parser = parser_type(AnomalyLog())
    parser.number = start
    parser.light = (table if table is not None else new_light_table()) if light else None
    frames: list[tuple[object, ...]] = []
    states: list[tuple[int, ...]] = []
    buf = b""
    fed = by_c = 0
    while not parser.done:
        final = fed + chunk >= len(data)
        buf = buf[parser.pos :] + data[fed : fed + chunk]
        parser.rebase(parser.pos)
        fed += chunk
        for n, ts, lt, b, off, cap, orig in parser.frames(buf, len(buf), final):
            frames.append((n, ts, lt, b[off : off + cap], orig, parser.position() - (off + cap)))
            by_c += parser._records is not None
        states.append((parser.base, parser.pos, parser.need, parser.number, parser.done))
        if final:
            break
    return frames, states, [str(a) for a in parser.anomalies.as_list()], by_c


def test_reader_state_between_buffers_is_the_same_with_the_c_reader(generated: Path) -> None:
    # Buffers larger and smaller than the 256 KiB margin, each ending inside a record, damaged records inside
    # their fast zones, a cut end: frames, the progress while each frame is held, and pos, need and number
    # after each buffer must be those of the pure-Python reader.
    data = bytearray(generated.read_bytes())
    offsets = _record_starts(data)
    for i in (500, 1500, 1501, 2500):
        data[offsets[i] + 4 : offsets[i] + 8] = struct.pack("<I", 5_000_000)  # a sub-second field out of range
    bogus_caplen = bytearray(data)
    bogus_caplen[offsets[3000] + 8 : offsets[3000] + 12] = struct.pack("<I", 10_000_000)
    for capture in (bytes(data[:-7]), bytes(bogus_caplen)):
        for chunk in (len(capture), 3_000_001, 700_001, 300_007, 100_003):
            with_c, without = _feed(capture, chunk, True), _feed(capture, chunk, False)
            assert with_c[:3] == without[:3], chunk
            # Not vacuous: buffers past the margin went through C (a table without flows yields every record).
            assert (with_c[3] > len(with_c[0]) // 2) == (chunk > 2 * MAX_CAPLEN), (chunk, with_c[3])
            assert all(f[-1] == 0 for f in with_c[0]), chunk
            assert sum("sub-second field 5000000" in a for a in with_c[2]) == 4, with_c[2]
            assert any("read no further" in a or "ends inside a record" in a for a in with_c[2]), with_c[2]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=12, max_size=12), st.integers(2, 8), st.data())
def test_records_skip_exactly_the_frames_of_other_shards(key: bytes, jobs: int, data: st.DataObject) -> None:
    shard = data.draw(st.integers(0, jobs - 1))
    t = new_light_table()
    assert t is not None
    t.set_shard(shard, jobs)
    frame = _frame(key, 0x18, 10)
    buf = _pcap([frame]) + bytes(16 + 65_535)
    it = t.records(buf, 24, len(buf) - 16 - 65_535, 0, 1, False, 1000, 1_000_000, 65_535)
    got = [(n, off) for n, _ts, _lt, _b, off, _c, _o in it]
    mine = flow_shard(1, frame, 0, len(frame), jobs) == shard
    # Its own frame reaches the reader; another shard's is skipped, counted in the frame numbers only.
    assert got == ([(1, 40)] if mine else [])
    assert (it.pos, it.number) == (24 + 16 + len(frame), 1)
    assert (t.skipped, t.consumed) == ((0, 0) if mine else (1, 0))


def _records(path: Path, light: bool) -> tuple[list[dict[str, object]], int, list[str], int]:
    with open_capture(str(path)) as source:
        analyzer = CaptureAnalyzer(path.name)
        if not light:
            analyzer.light = None
        analyzer.attach(source)
        recs = [record_to_json(r) for r in analyzer.analyze(source.frames())]
        consumed = analyzer.light.consumed if analyzer.light is not None else 0
        return recs, analyzer.stats.frames, analyzer.anomalies + [str(a) for a in source.anomalies], consumed


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_capture(tmp_path_factory.mktemp("lightpath"), "4M", 3, "bulk")


def _epb(frame: bytes, units: int, big: bool, iid: int = 0) -> bytes:
    e = ">" if big else "<"
    pad = bytes(-len(frame) % 4)
    blen = 32 + len(frame) + len(pad)
    return struct.pack(e + "IIIIIII", 6, blen, iid, units >> 32, units & 0xFFFFFFFF, len(frame), len(frame)) + \
        frame + pad + struct.pack(e + "I", blen)


@pytest.mark.parametrize("big", [False, True])
def test_pcapng_records_consumes_the_enhanced_packet_blocks_of_known_flows(big: bool) -> None:
    t = new_light_table()
    assert t is not None
    key = _key(5)
    t.add(key, 64, MACS)
    # Interface 0: Ethernet in microseconds, 2 s offset; interface 1: raw IP (never consumed).
    clocks = [(1, 1000, 1, 2 * 10**9), (101, 1000, 1, 0)]
    blocks = [_epb(_frame(key, 0x10, 10), 1_700_000_000_000_001, big),
              _epb(_frame(key, 0x10, 20), 1_700_000_000_000_002, big),
              _epb(_frame(key, 0x10, 30), 5, big, iid=1),
              _epb(_frame(key, 0x10, 40), 6, big)]
    at = list(itertools.accumulate(map(len, blocks), initial=0))
    buf = b"".join(blocks)
    it = t.pcapng_records(buf, 0, len(buf), 10, big, clocks, 262_144)
    # The raw IP packet comes out as the reader's frame tuple; the Ethernet ones of the flow are consumed.
    assert next(it) == (13, 5000, 101, buf, at[2] + 28, len(_frame(key, 0x10, 30)), len(_frame(key, 0x10, 30)))
    assert (it.pos, it.number) == (at[3], 13)
    assert t.pull(key) == (2, 30, 1, 12, 1_700_000_000_000_002_000 + 2 * 10**9)
    assert list(it) == [] and (it.pos, it.number) == (at[4], 14) and t.consumed == 3
    # A block cut short by ``end``, or whose trailer disagrees, is left to the Python reader.
    cut = t.pcapng_records(buf, 0, len(blocks[0]) - 1, 10, big, clocks, 262_144)
    assert list(cut) == [] and (cut.pos, cut.number) == (0, 10)
    bad = bytearray(blocks[0])
    bad[-1] ^= 1 if big else 0
    bad[-4] ^= 0 if big else 1
    damaged = t.pcapng_records(bytes(bad), 0, len(bad), 10, big, clocks, 262_144)
    assert list(damaged) == [] and (damaged.pos, damaged.number) == (0, 10)
    # A clock too large for 64 bits, or a time stamp that would overflow, is left to it too; so is an
    # interface not described, and a misused end past the buffer reads nothing.
    for bad_clocks in ([(1, 2**70, 1, 0)], [(1, 10**9, 1, 0)], [(1, 1000, 1, 2**70)], []):
        stopped = t.pcapng_records(buf, 0, len(buf), 10, big, bad_clocks, 262_144)
        assert list(stopped) == [] and (stopped.pos, stopped.number) == (0, 10)
    misuse = t.pcapng_records(buf, 0, len(buf) + 1, 10, big, clocks, 262_144)
    assert list(misuse) == [] and (misuse.pos, misuse.number) == (0, 10)
    with pytest.raises(TypeError):
        t.pcapng_records(buf, 0, len(buf), 10, big, tuple(clocks), 262_144)  # type: ignore[arg-type]


def test_pcapng_records_leaves_every_1024th_frame_to_the_engine() -> None:
    t = new_light_table()
    assert t is not None
    key = _key(3)
    t.add(key, 64, MACS)
    blocks = [_epb(_frame(key, 0x10, 1), 7, False) for _ in range(10)]  # frames 1021 to 1030
    at = list(itertools.accumulate(map(len, blocks), initial=0))
    buf = b"".join(blocks)
    it = t.pcapng_records(buf, 0, len(buf), 1020, False, [(1, 1000, 1, 0)], 262_144)
    assert next(it)[0:5:4] == (1024, at[3] + 28) and t.consumed == 3
    assert list(it) == [] and t.consumed == 9 and t.last_number == 1030 and it.pos == len(buf)


def test_same_records_in_the_same_order_with_and_without_it(generated: Path, tmp_path: Path) -> None:
    captures = [generated, *sorted(FIXTURES.rglob("*.pcap*"))]
    editcap = shutil.which("editcap")
    if editcap is not None:  # the same capture as pcapng, both byte orders of the host (editcap writes ours)
        ng = tmp_path / "gateway.pcapng"
        subprocess.run([editcap, "-F", "pcapng", str(generated), str(ng)], check=True, timeout=120)
        captures.append(ng)
    elif os.environ.get("CI"):
        pytest.fail("CI installs tshark, with editcap")
    consumed_total = 0
    for cap in captures:
        with_c = _records(cap, True)
        without = _records(cap, False)
        assert with_c[:3] == without[:3], cap
        consumed_total += with_c[3]
    # Not vacuous: the generated capture's established connections went through C, in both formats.
    assert _records(generated, True)[3] > 1000 and consumed_total > 1000
    if editcap is not None:
        # (more in pcapng: the classic pcap reader reads the last 256 KiB of a buffer record by record)
        assert _records(tmp_path / "gateway.pcapng", True)[3] >= _records(generated, True)[3]


def test_a_table_attached_after_the_first_frame_is_used_from_the_next(generated: Path) -> None:
    # diagnose reads the first frame before the analyzer exists (engine.embedded_keylog looks for a key
    # log in the capture), then attaches the table: the C reader must still take over in that buffer.
    with open_capture(str(generated)) as source:
        frames, _keylog = embedded_keylog(source)
        analyzer = CaptureAnalyzer(generated.name)
        analyzer.attach(source)
        late = [record_to_json(r) for r in analyzer.analyze(frames)]
        consumed = analyzer.light.consumed if analyzer.light is not None else 0
    early, _frames, _anomalies, consumed_early = _records(generated, True)
    assert late == early
    assert consumed == consumed_early > 0


def test_a_piped_capture_goes_through_c_too(generated: Path) -> None:
    # A pipe's reads give 64 KiB; the stream reader gathers more before parsing, or nothing would reach C.
    code = ("from tlsdoctor.api import CaptureAnalyzer, open_capture\n"
            "src = open_capture('-')\n"
            "a = CaptureAnalyzer('-')\n"
            "a.attach(src)\n"
            "n = sum(1 for _ in a.analyze(src.frames()))\n"
            "print(n, a.light.consumed if a.light is not None else -1)\n")
    out = subprocess.run([sys.executable, "-c", code], input=generated.read_bytes(), capture_output=True,
                         timeout=300, check=True).stdout.split()  # input=: through a pipe, not the file
    records, consumed = int(out[0]), int(out[1])
    assert records == len(_records(generated, True)[0])
    assert consumed > _records(generated, True)[3] // 2


def _watch_after(path: Path, damaged: int) -> tuple[int, int, int, int]:
    """Read ``path`` with the C reader, watching the frames after frame ``damaged``: how many the capture
    has, how many the table consumed, how many reached the engine, and how many of those came out of a C
    iterator (white box: the reader's ``_records`` is set while one runs)."""
    with open_capture(str(path)) as source:
        analyzer = CaptureAnalyzer(path.name)
        analyzer.attach(source)
        table, parser = analyzer.light, source._parser
        assert table is not None and isinstance(parser, PcapParser)
        consumed_before = -1
        reached = by_c = 0

        def watched(frames: Iterator[FrameTuple]) -> Iterator[FrameTuple]:
            nonlocal consumed_before, reached, by_c
            for frame in frames:
                if frame[0] == damaged:
                    consumed_before = table.consumed
                elif frame[0] > damaged:
                    reached += 1
                    by_c += parser._records is not None
                yield frame

        for _ in analyzer.analyze(watched(source.frames())):
            pass
        assert consumed_before >= 0, "the damaged frame reached the engine"
        return source.frames_read - damaged, table.consumed - consumed_before, reached, by_c


def test_damage_inside_the_fast_zone_reads_the_same_with_the_c_reader(generated: Path, tmp_path: Path) -> None:
    # The fixtures are smaller than the 256 KiB margin, so their records never reach the C reader: damage a
    # multi-megabyte capture deep inside its fast zone, where records() stops, the Python reader reads the
    # damaged record, and a new records() reads on after it.
    data = bytearray(generated.read_bytes())
    offsets = _record_starts(data)
    assert len(offsets) > 3000
    size = len(data) - 7  # cut short inside the last record
    fast_end = size - 16 - MAX_CAPLEN  # one mapped window: the fast zone is all but its last 256 KiB
    last_fast = max(i for i, at in enumerate(offsets) if at < fast_end)
    assert last_fast > 2600
    subsecond = struct.pack("<I", 5_000_000)

    def bogus_timestamps(*frames: int) -> list[tuple[int, bytes]]:
        return [(offsets[i] + 4, subsecond) for i in frames]

    # name -> the patches, and the frame after which the C reader must read on (0: the reading ends there).
    cases: dict[str, tuple[list[tuple[int, bytes]], int]] = {
        "bogus_caplen": ([(offsets[1000] + 8, struct.pack("<I", 10_000_000))], 0),
        "bogus_timestamp": (bogus_timestamps(1500), 1501),
        # damaged records one after the other, and a lone one later: each read by Python, C in between
        "bogus_timestamps": (bogus_timestamps(1200, 1201, 1202, 1900), 1901),
        # the last record of the fast zone: the Python reader reads on to the end of the buffer itself
        "bogus_timestamp_at_the_zone_end": (bogus_timestamps(1500, last_fast), 0),
        "garbage_frame": ([(offsets[2000] + 16 + 12, b"\x86\xdd\x60\x00")], 2001),  # an Ethernet frame turned to IPv6
    }
    for name, (patches, after) in cases.items():
        damaged = bytearray(data)
        for at, patch in patches:
            damaged[at:at + len(patch)] = patch
        cap = tmp_path / f"{name}.pcap"
        cap.write_bytes(bytes(damaged[:size]))
        with_c, without = _records(cap, True), _records(cap, False)
        assert with_c[:3] == without[:3], name
        assert with_c[3] > 100, name  # the C reader did run on it
        # Each damage is reported as the Python reader reports it (a bogus length ends the reading: classic
        # pcap has nothing else to find the next record by; the others are read past, to the cut end).
        expected = "read no further" if name == "bogus_caplen" else "ends inside a record"
        assert any(expected in a for a in with_c[2]), (name, with_c[2])
        if name.startswith("bogus_timestamp"):
            assert sum("sub-second field 5000000" in a for a in with_c[2]) == len(patches), with_c[2]
        if after:
            # After the damage the C reader reads on: it consumes most frames, and those that reach the engine
            # come out of a C iterator, except the last 256 KiB's (the Python reader's careful loop).
            frames, consumed, reached, by_c = _watch_after(cap, after)
            assert frames == consumed + reached, name
            assert consumed > frames // 2, (name, frames, consumed)
            assert reached - by_c == after + frames - (last_fast + 1), (name, reached, by_c)


# --- pcapng ------------------------------------------------------------------------------------------------

_Block = tuple[object, ...]
_blocks = st.lists(st.one_of(
    # (kind, interface, flow (4, 5: not Ethernet+IPv4+TCP), TCP flags, payload, junk, time stamp units)
    st.tuples(st.just("epb"), st.integers(0, 3), st.integers(0, 5), st.sampled_from([0x10, 0x18, 0x11, 0x02, 0x04]),
              st.integers(0, 40), st.binary(max_size=60), st.one_of(st.integers(0, 2**32), st.integers(0, 2**64 - 1))),
    st.tuples(st.just("idb"), st.sampled_from([1, 1, 1, 101]), st.one_of(st.none(), st.integers(0, 255)),
              st.one_of(st.none(), st.integers(-(2**20), 2**20), st.integers(-(2**63), 2**63 - 1))),
    st.tuples(st.just("shb"), st.booleans()),
    st.tuples(st.sampled_from(["spb", "dsb", "nrb", "opb"])),
    st.tuples(st.just("damage"), st.integers(0, 3)),
), max_size=40)


def _pcapng(blocks: list[_Block]) -> bytes:
    """A pcapng file of ``blocks`` (``_blocks``), starting with a little-endian section and one Ethernet
    interface; each block in its section's byte order. "damage" spoils the block before it: 0 its trailing
    length (the reader stops), 1 a captured length above MAX_CAPLEN, 2 one past its block, 3 an interface
    that was never described."""
    endian = "<"
    out = [shb(endian), idb(endian, 1)]
    for block in blocks:
        kind = block[0]
        if kind == "epb":
            _k, iface, flow, flags, payload, junk, units = block
            assert isinstance(flow, int) and isinstance(flags, int) and isinstance(payload, int)
            frame = _frame(_key(flow), flags, payload) if flow < 4 else junk
            assert isinstance(frame, bytes) and isinstance(iface, int) and isinstance(units, int)
            out.append(epb(endian, iface, units, frame))
        elif kind == "idb":
            _k, linktype, tsresol, tsoffset = block
            assert isinstance(linktype, int) and (tsresol is None or isinstance(tsresol, int))
            assert tsoffset is None or isinstance(tsoffset, int)
            out.append(idb(endian, linktype, tsresol, tsoffset))
        elif kind == "shb":
            endian = ">" if block[1] else "<"
            out += [shb(endian), idb(endian, 1)]
        elif kind == "spb":
            out.append(spb(endian, _frame(_key(1), 0x10, 3)))
        elif kind == "dsb":
            out.append(dsb(endian, b"CLIENT_RANDOM 00 11\n"))
        elif kind == "nrb":
            out.append(_block(endian, 4, b"\0" * 4))
        elif kind == "opb":  # the obsolete Packet Block: interface 0, no drops
            frame = _frame(_key(2), 0x10, 1)
            out.append(_block(endian, 2, struct.pack(endian + "HHIIII", 0, 0, 0, 9, len(frame), len(frame)) + frame))
        elif kind == "damage" and out[-1][:4] in (struct.pack(endian + "I", 6), struct.pack(endian + "I", 2)):
            last = bytearray(out[-1])
            how = block[1]
            if how == 0:
                last[-4:] = struct.pack(endian + "I", len(last) + 4)
            elif how in (1, 2):
                last[20:24] = struct.pack(endian + "I", MAX_CAPLEN + 1 if how == 1 else len(last) - 31)
            else:
                last[8:12] = struct.pack(endian + "I", 70)
            out[-1] = bytes(last)
    return b"".join(out)


@settings(max_examples=300, deadline=None)
@given(_blocks, st.sampled_from([10**9, 100_003, 4_001, 97, 1]), st.integers(0, 2100))
def test_pcapng_reader_gives_the_same_frames_and_state_with_the_c_reader(
        blocks: list[_Block], chunk: int, start: int) -> None:
    # Sections in both byte orders, interfaces with any clock (big integers too), every block type, damaged
    # blocks, any chunking, any first frame number: with a table that knows no flow, the C iterator must
    # give exactly the Python reader's frames, the same progress while each is held, the same state after
    # each buffer and the same anomalies.
    data = _pcapng(blocks)
    with_c, without = (_feed(data, chunk, True, PcapngParser, start=start),
                       _feed(data, chunk, False, PcapngParser, start=start))
    assert with_c[:3] == without[:3]
    assert all(f[-1] in (4, 5, 6, 7) for f in with_c[0])  # while a frame is held, its block is consumed: no more


@settings(max_examples=300, deadline=None)
@given(_blocks, st.sampled_from([10**9, 100_003, 997]), st.integers(0, 2100), st.sampled_from([1, 2, 3]))
def test_pcapng_reader_with_flows_gives_the_engine_exactly_the_frames_it_must_see(
        blocks: list[_Block], chunk: int, start: int, jobs: int) -> None:
    # With known flows (and a shard worker's view), the reader with the C iterator yields the Python reader's
    # frames less those the engine's light branch would only count (and other shards' frames), each counted
    # once in the table; everything else is the same.
    data = _pcapng(blocks)
    flows = {_key(flow): (64, MACS) for flow in range(3)}  # flow 3 is unknown
    t = new_light_table()
    assert t is not None
    for key, (ttl, macs) in flows.items():
        t.add(key, ttl, macs)
    shard = start % jobs
    if jobs > 1:
        t.set_shard(shard, jobs)
    got, _states, anomalies, _by_c = _feed(data, chunk, True, PcapngParser, table=t, start=start)
    everything, _s, anomalies_py, _n = _feed(data, chunk, False, PcapngParser, start=start)
    assert anomalies == anomalies_py
    read_by_c = _read_by_c(data, start)
    consumed = skipped = 0
    counters: dict[bytes, tuple[int, ...]] = {}
    want = []
    for frame in everything:
        number, ts, lt, f, _orig, _held = frame
        assert isinstance(number, int) and isinstance(ts, int) and isinstance(f, bytes)
        fate = _fate(f, number, ts, flows, shard, jobs, counters) if lt == 1 and number in read_by_c else "yielded"
        skipped += fate == "skipped"
        consumed += fate == "consumed"
        if fate == "yielded":
            want.append(frame)
    assert got == want
    assert (t.consumed, t.skipped) == (consumed, skipped)
    for flow in range(4):
        assert t.pull(_key(flow)) == counters.get(_key(flow))


def _read_by_c(data: bytes, start: int) -> set[int]:
    """The frames (numbered from ``start + 1``) of the pcapng ``data`` that ``LightTable.pcapng_records``
    reads itself (and so may consume): those of Enhanced Packet Blocks that the Python reader's fast loop
    reads, on one of the first 64 interfaces of their section, whose clock and time stamp fit 64 bits. (SPB,
    OPB and damaged blocks, which its careful path reads, are not.)"""
    parser = PcapngParser(AnomalyLog())
    parser.number = start
    out = set()
    for n, _ts, _lt, _b, off, cap, _orig in parser.frames(data, len(data), True):
        if off < 28:
            continue
        btype, _blen, iid, high, low, caplen, _o = struct.unpack_from(parser._endian + "IIIIIII", data, off - 28)
        if btype != 6 or caplen != cap or iid >= 64:
            continue
        _lt2, mul, div, offset = parser._clocks[iid]
        if mul <= 10**9 and div < 2**64 and abs(offset) <= 2**62 and ((high << 32) | low) * mul // div <= 2**62:
            out.add(n)
    return out
