"""``diagnose --export``: the capture writers, and the export of the failing connections of real captures.

1. The writers (``tlsdoctor.capture.writer``) are read back by the project's own readers (``open_capture``):
   header fields, block lengths that are multiples of 4 and repeated at the block's end, option padding,
   one interface per link type, nanosecond time stamps; Hypothesis writes arbitrary frames and reads them
   back unchanged.
2. The export of real captures (tests/fixtures/captures, tests/fixtures/vantage, the packaged sample; see
   their MANIFEST.md): the exported file, diagnosed again by tlsdoctor, holds exactly the connections the
   report's findings cite for that capture (same endpoints, same ClientHello random or first packet time,
   same packet counts) and no healthy one; every exported frame is byte for byte, time stamp and link
   type an original frame, in order, and lies inside a cited connection.
3. tshark, where installed, reads every exported file without a complaint, sees the cited 4-tuples as its
   tcp.streams, and shows each pcapng packet's comment as ``frame.comment``.
4. What is not exportable is a sentence, never a traceback: a capture read from standard input, a capture
   gone or changed since the diagnosis, a report without findings, an output that is an input, a frame
   of a second link type in classic pcap.
"""

from __future__ import annotations

import gzip
import io
import ipaddress
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tlsdoctor
from tlsdoctor import api
from tlsdoctor.capture import open_capture
from tlsdoctor.capture.writer import (
    MAX_OPTION_BYTES,
    SNAPLEN,
    PcapngWriter,
    PcapWriter,
    Refused,
    utf8_option_value,
)
from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.export import (
    ExportResult,
    PacketSelector,
    SelectedConnection,
    export_failing,
    output_format,
    output_paths,
    split_output_name,
)
from tlsdoctor.report.model import Input, Report

TESTS = Path(__file__).resolve().parent.parent
CAPTURES = TESTS / "fixtures" / "captures"
VANTAGE = TESTS / "fixtures" / "vantage"
SAMPLE = TESTS.parent / "src" / "tlsdoctor" / "samples" / "mixed_small.pcap"
TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed (scripts/test.sh installs it)")

Frame = tuple[int, int, int, bytes, int]  # number, ts_ns, linktype, bytes, origlen


# -- helpers ------------------------------------------------------------------------------------------------


def read_frames(path: str | Path) -> tuple[list[Frame], list[str]]:
    """Every frame of a capture with our reader, and the kinds of its anomalies."""
    with open_capture(str(path)) as source:
        frames = [(n, ts, lt, bytes(buf[off : off + cap]), orig) for n, ts, lt, buf, off, cap, orig in source.frames()]
        return frames, [a.kind for a in source.anomalies]


def cited(report: Report, capture: str) -> dict[int, str]:
    """tcp.stream -> cause of every connection of ``capture`` the report's findings cite."""
    out: dict[int, str] = {}
    for finding in report.findings:
        for ref in finding.connections:
            views = [(ref.capture, ref.tcp_stream)] + [(c, s) for c, s, _v in ref.also_seen]
            for cap, stream in views:
                if cap == capture and stream is not None:
                    out.setdefault(stream, finding.cause)
    return out


def identity(rec: ConnectionRecord) -> tuple[str, str, str]:
    """What makes a connection the same one in two files: endpoints, and its ClientHello random (or, without
    a ClientHello, the time of its first packet, which the export keeps to the nanosecond)."""
    hello = rec.tls.client_hello
    return str(rec.client), str(rec.server), hello.random.hex() if hello is not None else f"t={rec.first_ts_ns}"


def capture_input(report: Report, name: str) -> Input:
    return next(i for i in report.inputs if i.path == name)


def check_export(report: Report, capture: str, exported: str | Path) -> dict[int, int]:
    """Assert that ``exported`` holds exactly the cited connections of ``capture``, each packet an original
    frame; return export frame number -> original frame number."""
    wanted = cited(report, capture)
    assert wanted, f"the report cites no connection of {capture}"
    records = {s: report.records[(capture, s)] for s in wanted}
    original_file = capture_input(report, capture).file

    # The same connections, diagnosed again from the exported file, and no healthy one.
    again = api.connections(str(exported))
    assert {identity(r) for r in again} == {identity(r) for r in records.values()}
    assert len(again) == len(records)
    healthy = {identity(r) for r in api.connections(original_file) if r.tcp_stream not in wanted}
    assert not healthy & {identity(r) for r in again}
    by_identity = {identity(r): r for r in records.values()}
    for r in again:
        orig = by_identity[identity(r)]
        assert r.client_dir.packets + r.server_dir.packets == orig.client_dir.packets + orig.server_dir.packets
        assert r.history == orig.history and r.tcp_history == orig.tcp_history
        # Failed as before (a view cited through also_seen may look healthy on its own: flow_split's server).
        assert r.failed == orig.failed and r.handshake_stage == orig.handshake_stage

    # Every exported frame is an original frame (bytes, time, link type, length), in order, within a cited
    # connection's first..last frames.
    originals, _ = read_frames(original_file)
    out, anomalies = read_frames(exported)
    assert anomalies == []
    mapping: dict[int, int] = {}
    it = iter(originals)
    for number, ts, lt, data, orig_len in out:
        for o_number, o_ts, o_lt, o_data, o_len in it:
            if (o_ts, o_lt, o_data, o_len) == (ts, lt, data, orig_len):
                mapping[number] = o_number
                break
        else:
            pytest.fail(f"exported frame {number} of {exported} is not an original frame of {capture}, in order")
    assert len(mapping) == len(out) == sum(r.client_dir.packets + r.server_dir.packets for r in records.values())
    assert all(any(r.frames["first"] <= o <= r.frames["last"] for r in records.values()) for o in mapping.values())
    return mapping


def tshark_fields(path: str | Path, *fields: str) -> list[list[str]]:
    """tshark's fields per frame; tshark must read the file without a word on stderr (but the root notice)."""
    assert TSHARK is not None
    proc = subprocess.run([TSHARK, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t",
                           *[a for f in fields for a in ("-e", f)]], capture_output=True, text=True, timeout=120)
    complaints = [ln for ln in proc.stderr.splitlines() if ln.strip() and "Running as user" not in ln]
    assert proc.returncode == 0 and complaints == [], proc.stderr
    return [ln.split("\t") for ln in proc.stdout.splitlines()]


def comment_field() -> str:
    """tshark's field for a packet comment: ``frame.comment`` (4.0 and later), else the older ``pkt_comment``."""
    assert TSHARK is not None
    fields = subprocess.run([TSHARK, "-G", "fields"], capture_output=True, text=True, timeout=120).stdout
    names = {ln.split("\t")[2] for ln in fields.splitlines() if ln.startswith("F\t") and ln.count("\t") >= 2}
    return "frame.comment" if "frame.comment" in names else "pkt_comment"


def check_with_tshark(report: Report, capture: str, exported: str | Path, mapping: dict[int, int]) -> None:
    wanted = cited(report, capture)
    records = {s: report.records[(capture, s)] for s in wanted}
    pcapng = output_format(str(exported)) == "pcapng"
    fields = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport"]
    rows = tshark_fields(exported, *fields, *([comment_field()] if pcapng else []))
    assert len(rows) == len(mapping)
    streams: dict[str, set[frozenset[tuple[str, int]]]] = {}
    for row in rows:
        number, stream, src4, src6, sport, dst4, dst6, dport = row[:8]
        ends = frozenset({(src4 or src6, int(sport)), (dst4 or dst6, int(dport))})
        streams.setdefault(stream, set()).add(ends)
        if pcapng:
            m = re.fullmatch(r"tlsdoctor: original frame (\d+), tcp\.stream (\d+), cause (\S+)", row[8])
            assert m is not None, row
            original, orig_stream, cause = int(m[1]), int(m[2]), m[3]
            assert original == mapping[int(number)]
            assert wanted[orig_stream] == cause
            rec = records[orig_stream]
            assert rec.frames["first"] <= original <= rec.frames["last"]
            assert ends == {(rec.client.ip, rec.client.port), (rec.server.ip, rec.server.port)}
    # One tshark stream per cited connection, with its 4-tuple.
    assert all(len(v) == 1 for v in streams.values())
    assert len(streams) == len(records)
    assert {next(iter(v)) for v in streams.values()} == {
        frozenset({(r.client.ip, r.client.port), (r.server.ip, r.server.port)}) for r in records.values()}


# -- the writers ------------------------------------------------------------------------------------------------

REAL_FRAMES, _ = read_frames(CAPTURES / "rst_after_clienthello.pcap")


def blocks(data: bytes) -> list[tuple[int, bytes]]:
    """A pcapng file's blocks (type, body), asserting the framing of section 3.1 on the way."""
    out = []
    p = 0
    while p < len(data):
        btype, blen = struct.unpack_from("<II", data, p)
        assert blen % 4 == 0 and blen >= 12 and p + blen <= len(data)
        assert struct.unpack_from("<I", data, p + blen - 4)[0] == blen
        out.append((btype, data[p + 8 : p + blen - 4]))
        p += blen
    assert p == len(data)
    return out


def options(body: bytes, start: int) -> list[tuple[int, bytes]]:
    """An option list (section 3.5): each value padded to 32 bits, ended by opt_endofopt."""
    out = []
    p = start
    while p < len(body):
        code, olen = struct.unpack_from("<HH", body, p)
        padded = (olen + 3) & ~3
        assert body[p + 4 + olen : p + 4 + padded] == b"\0" * (padded - olen)
        out.append((code, body[p + 4 : p + 4 + olen]))
        p += 4 + padded
        if code == 0:
            break
    assert p == len(body) and (not out or out[-1] == (0, b""))
    return out


def test_pcap_header_fields() -> None:
    header = PcapWriter(1).header()
    assert len(header) == 24
    assert struct.unpack("<IHHiIII", header) == (0xA1B23C4D, 2, 4, 0, 0, 262144, 1)
    # A 4-byte FCS: bit 26 set, 2 16-bit words in bits 28-31.
    assert struct.unpack_from("<I", PcapWriter(1, fcs_bytes=4).header(), 20)[0] == 1 | 0x04000000 | 2 << 28
    assert SNAPLEN == 262144


def test_pcap_round_trip_of_real_frames(tmp_path: Path) -> None:
    writer = PcapWriter(1)
    chunks = [writer.header()]
    for _n, ts, lt, data, orig in REAL_FRAMES:
        out = writer.packet(ts, lt, data, orig)
        assert isinstance(out, bytes) and len(out) == 16 + len(data)
        chunks.append(out)
    (tmp_path / "w.pcap").write_bytes(b"".join(chunks))
    with open_capture(str(tmp_path / "w.pcap")) as source:
        back = [(n, ts, lt, bytes(b[o : o + c]), orig) for n, ts, lt, b, o, c, orig in source.frames()]
        assert source.format == "pcap" and source.interfaces[0].units_per_second == 10**9
        assert source.interfaces[0].snaplen == SNAPLEN and source.anomalies == []
    assert back == REAL_FRAMES


def test_pcap_fcs_round_trip(tmp_path: Path) -> None:
    writer = PcapWriter(1, fcs_bytes=4)
    _n, ts, lt, data, orig = REAL_FRAMES[0]
    record = writer.packet(ts, lt, data, orig, fcs_bytes=4)
    assert isinstance(record, bytes)
    (tmp_path / "f.pcap").write_bytes(writer.header() + record)
    with open_capture(str(tmp_path / "f.pcap")) as source:
        assert len(list(source.frames())) == 1
        assert (source.interfaces[0].linktype, source.interfaces[0].fcs_bytes) == (1, 4)


def test_pcap_refuses_what_it_cannot_hold() -> None:
    writer = PcapWriter(1)
    _n, ts, _lt, data, orig = REAL_FRAMES[0]
    refused = writer.packet(ts, 113, data, orig)
    assert isinstance(refused, Refused) and refused.kind == "linktype" and "one link type" in refused.detail
    fcs = writer.packet(ts, 1, data, orig, fcs_bytes=4)
    assert isinstance(fcs, Refused) and fcs.kind == "linktype"
    for bad_ts in (-1, (1 << 32) * 10**9):
        late = writer.packet(bad_ts, 1, data, orig)
        assert isinstance(late, Refused) and late.kind == "timestamp"
    big = writer.packet(ts, 1, b"\0" * (SNAPLEN + 1), SNAPLEN + 1)
    assert isinstance(big, Refused) and big.kind == "caplen"
    assert isinstance(writer.packet(ts, 1, b"\0" * SNAPLEN, SNAPLEN), bytes)


def test_pcapng_blocks_options_and_interfaces(tmp_path: Path) -> None:
    writer = PcapngWriter("tlsdoctor test")
    chunks = [writer.header("a section comment")]
    # Real frames, the odd ones as raw IP (their Ethernet header stripped): two link types, two IDBs.
    # Comments of every length modulo 4, to exercise the padding.
    expected = []
    for i, (_n, ts, _lt, data, orig) in enumerate(REAL_FRAMES):
        lt, frame, length = (101, data[14:], orig - 14) if i % 2 else (1, data, orig)
        out = writer.packet(ts, lt, frame, length, comment="c" * i)
        assert isinstance(out, bytes)
        chunks.append(out)
        expected.append((i + 1, ts, lt, frame, length))
    data = b"".join(chunks)
    found = blocks(data)
    assert [t for t, _ in found][:4] == [0x0A0D0D0A, 1, 6, 1]
    shb_body = found[0][1]
    assert struct.unpack_from("<IHHq", shb_body) == (0x1A2B3C4D, 1, 0, -1)
    assert options(shb_body, 16) == [(1, b"a section comment"), (4, b"tlsdoctor test"), (0, b"")]
    idbs = [body for t, body in found if t == 1]
    assert [struct.unpack_from("<HHI", b) for b in idbs] == [(1, 0, SNAPLEN), (101, 0, SNAPLEN)]
    assert all(options(b, 8) == [(9, b"\x09"), (0, b"")] for b in idbs)
    epbs = [body for t, body in found if t == 6]
    for i, body in enumerate(epbs):
        iid, _hi, _lo, caplen, _orig = struct.unpack_from("<IIIII", body)
        assert iid == i % 2
        assert body[20 + caplen : 20 + caplen + (-caplen % 4)] == b"\0" * (-caplen % 4)
        assert options(body, 20 + caplen + (-caplen % 4)) == ([(1, b"c" * i), (0, b"")] if i else [])
    assert writer.interfaces == ((1, 0), (101, 0))
    (tmp_path / "w.pcapng").write_bytes(data)
    back, anomalies = read_frames(tmp_path / "w.pcapng")
    assert back == expected and anomalies == []


def test_pcapng_refusals_and_long_comments() -> None:
    writer = PcapngWriter()
    assert isinstance(writer.packet(-1, 1, b"x", 1), Refused)
    assert isinstance(writer.packet(1 << 64, 1, b"x", 1), Refused)
    assert isinstance(writer.packet(0, 1 << 16, b"x", 1), Refused)
    assert writer.interfaces == ()  # a refused frame describes no interface
    # A comment beyond 16 bits of length is cut at a character boundary.
    value = utf8_option_value("é" * MAX_OPTION_BYTES)
    assert len(value) == MAX_OPTION_BYTES - 1 and value.decode("utf-8") == "é" * (MAX_OPTION_BYTES // 2)
    out = writer.packet(0, 1, b"x", 1, comment="é" * MAX_OPTION_BYTES)
    assert isinstance(out, bytes)
    (_t, _idb), (_t2, epb) = blocks(out)
    assert options(epb, 24) == [(1, value), (0, b"")]


def _round_trip(data: bytes, suffix: str) -> tuple[list[Frame], list[str], list[tuple[int, int]]]:
    fd, name = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        with open_capture(name) as source:
            frames = [(n, ts, lt, bytes(b[o : o + c]), orig) for n, ts, lt, b, o, c, orig in source.frames()]
            return frames, [a.kind for a in source.anomalies], [(i.linktype, i.fcs_bytes) for i in source.interfaces]
    finally:
        os.unlink(name)


FRAMES = st.lists(st.tuples(st.integers(0, (1 << 64) - 1), st.integers(0, 0xFFFF), st.binary(max_size=300),
                            st.integers(0, 0xFFFFFFFF), st.text(max_size=20)), max_size=12)


@settings(max_examples=150, deadline=None)
@given(FRAMES, st.sampled_from([0, 2, 4, 30]))
def test_hypothesis_pcapng_round_trip(frames: list[tuple[int, int, bytes, int, str]], fcs: int) -> None:
    writer = PcapngWriter("tlsdoctor")
    out = [writer.header()]
    for ts, lt, data, orig, comment in frames:
        chunk = writer.packet(ts, lt, data, orig, fcs_bytes=fcs, comment=comment)
        assert isinstance(chunk, bytes)
        out.append(chunk)
    blob = b"".join(out)
    blocks(blob)
    back, anomalies, interfaces = _round_trip(blob, ".pcapng")
    assert back == [(i, ts, lt, data, orig) for i, (ts, lt, data, orig, _c) in enumerate(frames, 1)]
    assert set(anomalies) <= {"unknown_linktype"}
    assert interfaces == [(lt, fcs) for lt in dict.fromkeys(lt for _ts, lt, _d, _o, _c in frames)]


@settings(max_examples=150, deadline=None)
@given(FRAMES, st.integers(0, 0x03FFFFFF), st.sampled_from([0, 2, 4, 30]))
def test_hypothesis_pcap_round_trip(frames: list[tuple[int, int, bytes, int, str]], linktype: int,
                                    fcs: int) -> None:
    writer = PcapWriter(linktype, fcs)
    out = [writer.header()]
    kept: list[Frame] = []
    for ts64, lt, data, orig, _comment in frames:
        ts = ts64 % ((1 << 32) * 10**9)
        # Every other frame on the file's link type; the rest must be refused, not written.
        lt = linktype if ts64 % 2 else lt
        chunk = writer.packet(ts, lt, data, orig, fcs_bytes=fcs)
        if lt != linktype:
            assert isinstance(chunk, Refused) and chunk.kind == "linktype"
            continue
        assert isinstance(chunk, bytes)
        out.append(chunk)
        kept.append((len(kept) + 1, ts, lt, data, orig))
    back, anomalies, interfaces = _round_trip(b"".join(out), ".pcap")
    assert back == kept
    assert set(anomalies) <= {"unknown_linktype"}
    assert interfaces == [(linktype, fcs)]


# -- the export of real captures --------------------------------------------------------------------------------

SINGLE = [SAMPLE, CAPTURES / "nginx_upstream_no_sni.pcap", CAPTURES / "seed002_upstream_hostname_no_sni.pcap",
          CAPTURES / "tcp_connect_refused.pcap", CAPTURES / "tls13_client_cert_required.pcap",
          CAPTURES / "mixed_large.pcap"]


@pytest.mark.parametrize("suffix", [".pcap", ".pcapng"])
@pytest.mark.parametrize("capture", SINGLE, ids=[p.name for p in SINGLE])
def test_export_one_capture(tmp_path: Path, capture: Path, suffix: str) -> None:
    report = tlsdoctor.diagnose([str(capture)])
    out = tmp_path / f"failing{suffix}"
    result = export_failing(report, str(out))
    assert result.problems == ()
    assert result.paths == (str(out),)
    (written,) = result.files
    wanted = cited(report, capture.name)
    assert (written.capture, written.format, written.connections) == (capture.name, suffix[1:], len(wanted))
    mapping = check_export(report, capture.name, out)
    assert written.packets == len(mapping) and written.skipped == 0
    with open_capture(str(out)) as source:
        assert source.format == suffix[1:]
    assert result.summary()[0].startswith(f"Exported {written.packets} packets of {len(wanted)} failing connection")


@needs_tshark
@pytest.mark.tshark
@pytest.mark.parametrize("suffix", [".pcap", ".pcapng"])
@pytest.mark.parametrize("capture", [SAMPLE, CAPTURES / "nginx_upstream_no_sni.pcap"], ids=["sample", "no_sni"])
def test_tshark_reads_the_export(tmp_path: Path, capture: Path, suffix: str) -> None:
    report = tlsdoctor.diagnose([str(capture)])
    out = tmp_path / f"failing{suffix}"
    assert export_failing(report, str(out)).problems == ()
    check_with_tshark(report, capture.name, out, check_export(report, capture.name, out))


VANTAGE_SCENARIOS = {
    "rst_injection": ("client", "server"),
    "flow_split": ("client", "server", "switch", "node2"),
    "middlebox_clienthello_blackhole": ("client", "server"),
}


@pytest.mark.parametrize("suffix", [".pcap", ".pcapng"])
@pytest.mark.parametrize("scenario", sorted(VANTAGE_SCENARIOS))
def test_export_vantage_points(tmp_path: Path, scenario: str, suffix: str) -> None:
    labels = VANTAGE_SCENARIOS[scenario]
    report = tlsdoctor.diagnose([], vantages={label: str(VANTAGE / f"{scenario}.{label}.pcap") for label in labels})
    out = tmp_path / f"out{suffix}"
    result = export_failing(report, str(out))
    assert result.problems == ()
    assert sorted(result.paths) == sorted(str(tmp_path / f"out.{label}{suffix}") for label in labels)
    assert not out.exists()
    for f in result.files:
        assert f.vantage is not None and f.path == str(tmp_path / f"out.{f.vantage}{suffix}")
        assert f.capture == f"{scenario}.{f.vantage}.pcap"
        mapping = check_export(report, f.capture, f.path)
        assert f.packets == len(mapping)
        if TSHARK is not None:
            check_with_tshark(report, f.capture, f.path, mapping)


def test_rst_injection_both_ends_in_numbers(tmp_path: Path) -> None:
    """The manifest's story, in the exported files: streams 0 and 3 (the blocked.test ones) at each end."""
    report = tlsdoctor.diagnose([], vantages={"client": str(VANTAGE / "rst_injection.client.pcap"),
                                              "server": str(VANTAGE / "rst_injection.server.pcap")})
    assert cited(report, "rst_injection.client.pcap") == {0: "rst_injection", 3: "rst_injection"}
    assert cited(report, "rst_injection.server.pcap") == {0: "rst_injection", 3: "rst_injection"}
    result = export_failing(report, str(tmp_path / "x.pcapng"))
    packets = {f.vantage: (f.packets, f.connections) for f in result.files}
    records = report.records
    assert packets == {
        side: (sum(records[(f"rst_injection.{side}.pcap", s)].client_dir.packets
                   + records[(f"rst_injection.{side}.pcap", s)].server_dir.packets for s in (0, 3)), 2)
        for side in ("client", "server")}
    # Healthy streams 1 and 2 are not there: their SNI-less and allowed.test ClientHellos are absent.
    assert {r.sni for r in api.connections(str(tmp_path / "x.client.pcapng"))} == {"blocked.test"}


def test_gzip_output(tmp_path: Path) -> None:
    report = tlsdoctor.diagnose([str(SAMPLE)])
    plain = export_failing(report, str(tmp_path / "a.pcapng"))
    packed = export_failing(report, str(tmp_path / "a.pcapng.gz"))
    assert packed.problems == () and packed.files[0].compressed and packed.files[0].format == "pcapng"
    assert gzip.decompress((tmp_path / "a.pcapng.gz").read_bytes()) == (tmp_path / "a.pcapng").read_bytes()
    assert read_frames(tmp_path / "a.pcapng.gz") == read_frames(tmp_path / "a.pcapng")
    assert plain.files[0].packets == packed.files[0].packets


def _mixed_linktype_capture(path: Path) -> None:
    """mixed_small's real frames, every even-numbered IPv4 one as raw IP (link type 101, the Ethernet header
    left out): synthetic framing of real packets, so one capture holds two link types."""
    writer = PcapngWriter()
    chunks = [writer.header()]
    frames, _ = read_frames(SAMPLE)
    for number, ts, lt, data, orig in frames:
        if number % 2 == 0 and lt == 1 and data[12:14] == b"\x08\x00":
            lt, data, orig = 101, data[14:], orig - 14
        out = writer.packet(ts, lt, data, orig)
        assert isinstance(out, bytes)
        chunks.append(out)
    path.write_bytes(b"".join(chunks))


def test_second_link_type_in_classic_pcap_is_left_out_and_said(tmp_path: Path) -> None:
    capture = tmp_path / "two_linktypes.pcapng"
    _mixed_linktype_capture(capture)
    report = tlsdoctor.diagnose([str(capture)])
    assert cited(report, capture.name)

    as_pcapng = export_failing(report, str(tmp_path / "all.pcapng"))
    assert as_pcapng.problems == ()
    mapping = check_export(report, capture.name, tmp_path / "all.pcapng")
    frames, _ = read_frames(tmp_path / "all.pcapng")
    assert {lt for _n, _ts, lt, _d, _o in frames} == {1, 101}
    assert {t for t, _b in blocks((tmp_path / "all.pcapng").read_bytes())} == {0x0A0D0D0A, 1, 6}

    as_pcap = export_failing(report, str(tmp_path / "some.pcap"))
    (f,) = as_pcap.files
    pcap_frames, anomalies = read_frames(tmp_path / "some.pcap")
    first_linktype = frames[0][2]
    other = 1 if first_linktype == 101 else 101
    assert anomalies == [] and {lt for _n, _ts, lt, _d, _o in pcap_frames} == {first_linktype}
    skipped = sum(1 for _n, _ts, lt, _d, _o in frames if lt != first_linktype)
    assert f.skipped == skipped > 0 and f.packets == len(mapping) - skipped == len(pcap_frames)
    # The frames kept are the pcapng export's frames of the first link type, in order.
    assert [fr[1:] for fr in pcap_frames] == [fr[1:] for fr in frames if fr[2] == first_linktype]
    (problem,) = as_pcap.problems
    assert f"{skipped} frames" in problem and f"link type {other}," in problem and ".pcapng" in problem


def test_times_classic_pcap_cannot_hold_are_said_and_no_empty_file_is_left(tmp_path: Path) -> None:
    """mixed_small's frames dated 200 years later (pcapng counts to 2554; classic pcap's 32-bit seconds end
    in 2106)."""
    later = 200 * 365 * 86400 * 10**9
    writer = PcapngWriter()
    chunks = [writer.header()]
    for _n, ts, lt, data, orig in read_frames(SAMPLE)[0]:
        out = writer.packet(ts + later, lt, data, orig)
        assert isinstance(out, bytes)
        chunks.append(out)
    (tmp_path / "future.pcapng").write_bytes(b"".join(chunks))
    report = tlsdoctor.diagnose([str(tmp_path / "future.pcapng")])
    assert export_failing(report, str(tmp_path / "ok.pcapng")).problems == ()
    check_export(report, "future.pcapng", tmp_path / "ok.pcapng")
    result = export_failing(report, str(tmp_path / "no.pcap"))
    assert result.files == () and not (tmp_path / "no.pcap").exists()
    refused, nothing = result.problems
    assert "were left out of" in refused and "cannot be written in classic pcap" in refused
    assert nothing == f"Nothing was written to {tmp_path / 'no.pcap'}."


def test_capture_from_stdin_is_a_problem_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SAMPLE.read_bytes())))
    report = tlsdoctor.diagnose(["-"])
    assert report.findings and capture_input(report, "-").file == "-"
    result = export_failing(report, str(tmp_path / "out.pcap"))
    assert result.files == () and not (tmp_path / "out.pcap").exists()
    assert any("standard input" in p and "Save it to a file" in p for p in result.problems)
    assert any("No failing connection to export" in p for p in result.problems)


def test_report_without_findings_writes_nothing(tmp_path: Path) -> None:
    report = tlsdoctor.diagnose([str(CAPTURES / "tls13_ok.pcap")])
    assert report.findings == ()
    result = export_failing(report, str(tmp_path / "out.pcapng"))
    assert result == ExportResult(problems=(
        f"No failing connection to export: the report has no finding, so nothing was written to "
        f"{tmp_path / 'out.pcapng'}.",))
    assert list(tmp_path.iterdir()) == []


def test_capture_gone_or_changed_since_the_diagnosis(tmp_path: Path) -> None:
    copy = tmp_path / "cap.pcap"
    shutil.copy(SAMPLE, copy)
    report = tlsdoctor.diagnose([str(copy)])
    copy.unlink()
    gone = export_failing(report, str(tmp_path / "out.pcap"))
    assert gone.files == () and not (tmp_path / "out.pcap").exists()
    (problem,) = gone.problems
    assert problem.startswith("The failing connections of cap.pcap are not exported: cannot open")
    assert "No such file" in problem
    # Another capture under the same name: what the file holds now is not what was diagnosed.
    shutil.copy(CAPTURES / "mixed_large.pcap", copy)
    changed = export_failing(report, str(tmp_path / "out.pcap"))
    assert any("has the file changed since?" in p for p in changed.problems)
    # Not a capture at all any more: a sentence, from CaptureError.
    copy.write_text("hello\n")
    text = export_failing(report, str(tmp_path / "out.pcap"))
    assert text.files == () and "not a pcap or pcapng capture" in text.problems[0]


def test_truncated_capture_exports_what_it_holds_and_says_so(tmp_path: Path) -> None:
    """The sample cut inside the record of its last frame, which belongs to a failing connection."""
    data = SAMPLE.read_bytes()
    frames, _ = read_frames(SAMPLE)
    cut = 24 + sum(16 + len(d) for _n, _ts, _lt, d, _o in frames[:-1]) + 20
    (tmp_path / "cut.pcap").write_bytes(data[:cut])
    report = tlsdoctor.diagnose([str(tmp_path / "cut.pcap")])
    result = export_failing(report, str(tmp_path / "out.pcapng"))
    assert len(result.files) == 1
    check_export(report, "cut.pcap", tmp_path / "out.pcapng")
    (problem,) = result.problems
    assert problem.startswith(f"cut.pcap is damaged among its failing connections, frame {len(frames) - 1} (byte ")
    assert "the file ends inside a record" in problem and problem.endswith("the frames that could be read.")


def test_output_that_is_an_input_or_unwritable(tmp_path: Path) -> None:
    copy = tmp_path / "cap.pcap"
    shutil.copy(SAMPLE, copy)
    report = tlsdoctor.diagnose([str(copy)])
    result = export_failing(report, str(copy))
    assert result.files == () and "that is the capture" in result.problems[0]
    assert copy.read_bytes() == SAMPLE.read_bytes()
    missing_dir = export_failing(report, str(tmp_path / "no" / "such" / "dir.pcap"))
    assert missing_dir.files == () and missing_dir.problems[0].startswith("Cannot write ")
    assert export_failing(report, "-").problems[0].startswith("The export needs a file name")
    assert "is a directory" in export_failing(report, str(tmp_path)).problems[0]


def test_selector_keeps_a_reused_four_tuple_apart() -> None:
    """port_reuse.pcap: the same 4-tuple twice (two tcp.streams); each connection's packets are its own."""
    records = api.connections(str(CAPTURES / "port_reuse.pcap"))
    tuples = [(r.client, r.server) for r in records]
    reused = [r for r in records if tuples.count((r.client, r.server)) > 1]
    assert len(reused) >= 2
    frames, _ = read_frames(CAPTURES / "port_reuse.pcap")
    taken: dict[int, set[int]] = {}
    for rec in reused:
        sel = SelectedConnection(rec.tcp_stream, "test", ipaddress.ip_address(rec.client.ip).packed, rec.client.port,
                                 ipaddress.ip_address(rec.server.ip).packed, rec.server.port, rec.frames["first"],
                                 rec.frames["last"], rec.first_ts_ns, rec.last_ts_ns,
                                 rec.client_dir.packets + rec.server_dir.packets)
        selector = PacketSelector([sel])
        taken[rec.tcp_stream] = {n for n, ts, lt, data, _o in frames if selector.match(n, ts, lt, data, 0, len(data))}
        assert len(taken[rec.tcp_stream]) == sel.expected_packets == selector.counts[rec.tcp_stream]
        assert min(taken[rec.tcp_stream]) == rec.frames["first"] and max(taken[rec.tcp_stream]) == rec.frames["last"]
        assert selector.done(rec.frames["last"] + 1) and not selector.done(rec.frames["last"])
    sets = list(taken.values())
    assert all(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1 :])


def test_output_names() -> None:
    assert split_output_name("d/out.pcap") == ("d/out", ".pcap", False)
    assert split_output_name("out.pcapng.gz") == ("out", ".pcapng.gz", True)
    assert split_output_name("out") == ("out", "", False)
    assert [output_format(n) for n in ("a.pcapng", "a.PCAPNG.gz", "a.pcap", "a.cap", "a")] == [
        "pcapng", "pcapng", "pcap", "pcap", "pcap"]
    one = [Input("x.pcap", "capture", "client", file="x.pcap")]
    assert output_paths("o.pcap", one) == {"x.pcap": "o.pcap"}
    several = [Input("a/x.pcap", "capture", None, file="a/x.pcap"), Input("b/x.pcap", "capture", None, file="b/x.pcap"),
               Input("edge 1.pcap.gz", "capture", "edge/1", file="e.pcap.gz"),
               Input("y.pcapng", "capture", None, file="y.pcapng")]
    assert output_paths("o.pcapng", several) == {
        "a/x.pcap": "o.x.pcapng", "b/x.pcap": "o.x-2.pcapng", "edge 1.pcap.gz": "o.edge_1.pcapng",
        "y.pcapng": "o.y.pcapng"}


def test_export_takes_the_failing_connections_past_a_findings_listing_cap(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A finding lists at most MAX_FINDING_CONNECTIONS connections; the export still takes all of them."""
    import tlsdoctor.rules.base

    monkeypatch.setattr(tlsdoctor.rules.base, "MAX_FINDING_CONNECTIONS", 1)
    capture = CAPTURES / "mixed_large.pcap"
    report = tlsdoctor.diagnose([str(capture)])
    sni_missing = next(f for f in report.findings if f.cause == "sni_missing")
    assert len(sni_missing.connections) == 1 and report.overview.by_cause["sni_missing"] == 2
    result = export_failing(report, str(tmp_path / "out.pcap"))
    assert result.files and result.files[0].connections == report.overview.handshakes_failed == 6
    back = {r.tcp_stream for r in tlsdoctor.connections(str(tmp_path / "out.pcap")) if r.failed}
    assert len(back) == 6
