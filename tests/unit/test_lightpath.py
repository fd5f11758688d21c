"""The C light path (src/tlsdoctor/_lightpath.c): its flow table, and the engine's records with and
without it, in the same process, on real and generated captures. test_compiled.py compares the whole
compiled build (which includes it) with the plain sources."""

from __future__ import annotations

import mmap
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor.capture import open_capture
from tlsdoctor.engine import CaptureAnalyzer, new_light_table
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


def test_scan_consumes_exactly_the_plain_packets_of_known_flows() -> None:
    t = new_light_table()
    assert t is not None
    known, other = _key(1), _key(2)
    macs = bytes.fromhex("020000000002" "020000000001")
    t.add(known, 64, macs)
    frames = [_frame(known, 0x10, 100, ipid=7), _frame(known, 0x18, 0, ipid=8),  # consumed
              _frame(known, 0x11, 0),  # FIN: stops the scan
              _frame(known, 0x10, 5), _frame(other, 0x10, 5), _frame(known, 0x10, 5, ttl=63)]
    buf = _pcap(frames) + bytes(70_000)  # room past the reader's fast-zone limit
    end = len(buf) - 16 - 65_535
    pos, number = t.scan(buf, 24, end, 0, 1, False, 1000, 1_000_000, 65_535)
    assert number == 2 and t.consumed == 2 and t.last_number == 2
    assert pos == 24 + sum(16 + len(f) for f in frames[:2])
    assert t.pull(known) == (2, 100, 8, 2, (1_700_000_001 * 10**9) + 500_000_000)
    assert t.pull(known) is None  # reset by the pull
    # The engine reads the FIN itself; then the next plain packet is consumed, another flow's is not.
    pos += 16 + len(frames[2])
    pos, number = t.scan(buf, pos, end, 3, 1, False, 1000, 1_000_000, 65_535)
    assert number == 4 and t.pull(known) == (1, 5, 1, 4, (1_700_000_003 * 10**9) + 500_000_000)
    pos2, number2 = t.scan(buf, pos, end, number, 1, False, 1000, 1_000_000, 65_535)
    assert (pos2, number2) == (pos, number)  # the unknown flow stops it
    # A new TTL stops it too, until the engine says it is the flow's path now.
    pos += 16 + len(frames[4])
    assert t.scan(buf, pos, end, 5, 1, False, 1000, 1_000_000, 65_535)[1] == 5
    t.set_path(known, 63, macs)
    assert t.scan(buf, pos, end, 5, 1, False, 1000, 1_000_000, 65_535)[1] == 6


def test_scan_leaves_every_1024th_frame_to_the_engine() -> None:
    # The engine keeps house before frames 1024, 2048, ...: those always reach it.
    t = new_light_table()
    assert t is not None
    key = _key(3)
    t.add(key, 64, bytes.fromhex("020000000002" "020000000001"))
    frames = [_frame(key, 0x10, 1) for _ in range(10)]
    buf = _pcap(frames) + bytes(70_000)
    end = len(buf) - 16 - 65_535
    pos, number = t.scan(buf, 24, end, 1020, 1, False, 1000, 1_000_000, 65_535)
    assert number == 1023 and pos == 24 + 3 * (16 + len(frames[0]))
    assert t.scan(buf, pos, end, 1023, 1, False, 1000, 1_000_000, 65_535) == (pos, 1023)
    # After the engine has read frame 1024 itself, the scan goes on.
    assert t.scan(buf, pos + 16 + len(frames[0]), end, 1024, 1, False, 1000, 1_000_000, 65_535)[1] == 1030
    # Misuse (an end past the buffer, another link type) consumes nothing.
    assert t.scan(buf, 24, len(buf) + 1, 0, 1, False, 1000, 1_000_000, 65_535) == (24, 0)
    assert t.scan(buf, 24, end, 0, 113, False, 1000, 1_000_000, 65_535) == (24, 0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=120), max_size=40), st.lists(st.integers(0, 200), max_size=6),
       st.integers(0, 2**32 - 1), st.booleans())
def test_scan_of_garbage_stays_in_the_buffer(pieces: list[bytes], key_offsets: list[int], noise: int,
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
        t.add(_key(i), 64, bytes.fromhex("020000000002" "020000000001"))
    max_caplen = 2048
    buf = bytes(body) + bytes(16 + max_caplen)
    end = len(buf) - 16 - max_caplen
    pos, number = 0, 0
    while pos < end:
        new_pos, new_number = t.scan(buf, pos, end, number, 1, big, 1000, 1_000_000, max_caplen)
        assert pos <= new_pos <= end + 16 + max_caplen and new_number >= number
        assert (new_pos == pos) == (new_number == number)
        if new_pos == pos:
            pos += 1  # as if the reader dealt with this record; go on from the next byte
        else:
            pos, number = new_pos, new_number
    # An end that would let a record run past the buffer is refused: nothing is consumed.
    assert t.scan(buf, 0, end + 1, 0, 1, big, 1000, 1_000_000, max_caplen) == (0, 0)


def _fast_zone_by_scan(t: LightTable, buf: bytes, pos: int, end: int, number: int, big: bool,
                       max_caplen: int) -> tuple[list[tuple[int, int, int, int, int, int]], int, int]:
    """What the Python reader's fast-zone loop yields with ``scan`` (pcap.PcapParser._frames), the
    reference for ``records``: (number, ts_ns, linktype, offset, caplen, origlen) each, then where it stopped."""
    out = []
    while pos < end:
        pos, number = t.scan(buf, pos, end, number, 1, big, 1000, 1_000_000, max_caplen)
        if pos >= end:
            break
        sec, frac, caplen, origlen = struct.unpack_from((">" if big else "<") + "IIII", buf, pos)
        if caplen > max_caplen or frac >= 1_000_000:
            break
        number += 1
        out.append((number, sec * 10**9 + frac * 1000, 1, pos + 16, caplen, origlen))
        pos += 16 + caplen
    return out, pos, number


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0x10, 0x18, 0x11, 0x02, 0x04]), st.integers(0, 40),
                          st.binary(max_size=60)), max_size=40),
       st.integers(0, 2100), st.booleans(), st.integers(0, 3), st.sampled_from([1, 2, 3]))
def test_records_yields_exactly_what_scan_leaves_to_the_reader(
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
    tables = [new_light_table(), new_light_table()]
    for t in tables:
        assert t is not None
        for flow in range(3):  # flow 3 is unknown
            t.add(_key(flow), 64, bytes.fromhex("020000000002" "020000000001"))
        if jobs > 1:
            t.set_shard(start % jobs, jobs)
    by_c, by_scan = tables[0], tables[1]
    assert by_c is not None and by_scan is not None
    it = by_c.records(buf, 0, end, start, 1, big, 1000, 1_000_000, max_caplen)
    got = [(n, ts, lt, off, cap, orig) for n, ts, lt, b, off, cap, orig in it if b is buf]
    want, pos, number = _fast_zone_by_scan(by_scan, buf, 0, end, start, big, max_caplen)
    assert got == want
    assert (it.pos, it.number) == (pos, number)
    assert (by_c.consumed, by_c.skipped, by_c.last_number) == (by_scan.consumed, by_scan.skipped, by_scan.last_number)
    for flow in range(4):
        assert by_c.pull(_key(flow)) == by_scan.pull(_key(flow))
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
    captures = [generated, *sorted(FIXTURES.rglob("*.pcap")), *sorted(FIXTURES.rglob("*.pcap.gz"))]

    def frames(cap: Path, light: bool) -> tuple[list[tuple[int, int, int, bytes, int]], int, list[str]]:
        with open_capture(str(cap)) as source:
            if light:
                source.use_light_table(new_light_table())
            got = [(n, ts, lt, bytes(buf[off:off + cap_]), orig) for n, ts, lt, buf, off, cap_, orig in source.frames()]
            return got, source.bytes_read, [str(a) for a in source.anomalies]

    for cap in captures:
        assert frames(cap, True) == frames(cap, False), cap


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=12, max_size=12), st.integers(2, 8), st.data())
def test_scan_skips_exactly_the_frames_of_other_shards(key: bytes, jobs: int, data: st.DataObject) -> None:
    shard = data.draw(st.integers(0, jobs - 1))
    t = new_light_table()
    assert t is not None
    t.set_shard(shard, jobs)
    frame = _frame(key, 0x18, 10)
    buf = _pcap([frame]) + bytes(16 + 65_535)
    pos, number = t.scan(buf, 24, len(buf) - 16 - 65_535, 0, 1, False, 1000, 1_000_000, 65_535)
    assert pos == (24 if number == 0 else 24 + 16 + len(frame))
    mine = flow_shard(1, frame, 0, len(frame), jobs) == shard
    assert (number, t.skipped, t.consumed) == ((0, 0, 0) if mine else (1, 1, 0))


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
    tmp = tmp_path_factory.mktemp("lightpath")
    cap = tmp / "gateway.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_capture.py"), str(cap), "--size", "4M", "--seed", "3",
                    "--profile", "bulk", "--pool", str(tmp / "pool.json")], check=True, capture_output=True,
                   timeout=600)
    return cap


def _epb(frame: bytes, units: int, big: bool, iid: int = 0) -> bytes:
    e = ">" if big else "<"
    pad = bytes(-len(frame) % 4)
    blen = 32 + len(frame) + len(pad)
    return struct.pack(e + "IIIIIII", 6, blen, iid, units >> 32, units & 0xFFFFFFFF, len(frame), len(frame)) + \
        frame + pad + struct.pack(e + "I", blen)


@pytest.mark.parametrize("big", [False, True])
def test_scan_pcapng_consumes_the_enhanced_packet_blocks_of_known_flows(big: bool) -> None:
    t = new_light_table()
    assert t is not None
    key = _key(5)
    t.add(key, 64, bytes.fromhex("020000000002" "020000000001"))
    # Interface 0: Ethernet in microseconds, 2 s offset; interface 1: raw IP (never consumed).
    clocks = [(1, 1000, 1, 2 * 10**9), (101, 1000, 1, 0)]
    blocks = [_epb(_frame(key, 0x10, 10), 1_700_000_000_000_001, big),
              _epb(_frame(key, 0x10, 20), 1_700_000_000_000_002, big),
              _epb(_frame(key, 0x10, 30), 5, big, iid=1),
              _epb(_frame(key, 0x10, 40), 6, big)]
    buf = b"".join(blocks)
    pos, number = t.scan_pcapng(buf, 0, len(buf), 10, big, clocks, 262_144)
    assert (pos, number) == (len(blocks[0]) + len(blocks[1]), 12)
    assert t.pull(key) == (2, 30, 1, 12, 1_700_000_000_000_002_000 + 2 * 10**9)
    # A block cut short by ``end``, or whose trailer disagrees, is left to the Python reader.
    assert t.scan_pcapng(buf, 0, len(blocks[0]) - 1, 10, big, clocks, 262_144) == (0, 10)
    bad = bytearray(blocks[0])
    bad[-1] ^= 1 if big else 0
    bad[-4] ^= 0 if big else 1
    assert t.scan_pcapng(bytes(bad), 0, len(bad), 10, big, clocks, 262_144) == (0, 10)
    # A clock too large for 64 bits, or a time stamp that would overflow, is left to it too.
    assert t.scan_pcapng(buf, 0, len(buf), 10, big, [(1, 2**70, 1, 0)], 262_144) == (0, 10)
    assert t.scan_pcapng(buf, 0, len(buf), 10, big, [(1, 10**9, 1, 0)], 262_144) == (0, 10)


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


def test_damage_inside_the_fast_zone_reads_the_same_with_the_c_reader(generated: Path, tmp_path: Path) -> None:
    # The fixtures are smaller than the 256 KiB margin, so their records never reach the C reader: damage a
    # multi-megabyte capture deep inside its fast zone, where records() stops and the Python reader goes on.
    data = bytearray(generated.read_bytes())
    offsets = []
    pos = 24
    while pos + 16 <= len(data):  # the record boundaries
        offsets.append(pos)
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    assert len(offsets) > 3000
    cases = {
        "bogus_caplen": (offsets[1000] + 8, struct.pack("<I", 10_000_000)),
        "bogus_timestamp": (offsets[1500] + 4, struct.pack("<I", 5_000_000)),
        "garbage_frame": (offsets[2000] + 16 + 12, b"\x86\xdd\x60\x00"),  # an Ethernet frame turned to IPv6
    }
    for name, (at, patch) in cases.items():
        damaged = bytearray(data)
        damaged[at:at + len(patch)] = patch
        cap = tmp_path / f"{name}.pcap"
        cap.write_bytes(bytes(damaged[:len(damaged) - 7]))  # and cut short inside the last record
        with_c, without = _records(cap, True), _records(cap, False)
        assert with_c[:3] == without[:3], name
        assert with_c[3] > 100, name  # the C reader did run on it
        # Each damage is reported as the Python reader reports it (a bogus length ends the reading: classic
        # pcap has nothing else to find the next record by; the others are read past, to the cut end).
        expected = "read no further" if name == "bogus_caplen" else "ends inside a record"
        assert any(expected in a for a in with_c[2]), (name, with_c[2])
        if name == "bogus_timestamp":
            assert any("sub-second field 5000000" in a for a in with_c[2]), with_c[2]
