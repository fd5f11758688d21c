"""pcap and pcapng readers: every layout, every truncation, hostile lengths, gzip, stdin, and tshark.

The small files below are written by a test writer (synthetic framing, on purpose: each isolates one
layout of the file format); the packet bytes in them are taken from a real OpenSSL capture
(tests/fixtures/engine/openssl_loopback.pcap). tshark is the oracle for real files converted with editcap.
"""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor.capture import CaptureError, open_capture
from tlsdoctor.capture import MAX_CAPLEN

REAL = Path(__file__).resolve().parent.parent / "fixtures" / "engine" / "openssl_loopback.pcap"


def _real_packets() -> list[tuple[int, int, bytes]]:
    data = REAL.read_bytes()
    out = []
    p = 24
    while p + 16 <= len(data):
        sec, usec, caplen, _orig = struct.unpack_from("<IIII", data, p)
        out.append((sec, usec, data[p + 16 : p + 16 + caplen]))
        p += 16 + caplen
    return out


PACKETS = _real_packets()[:6]


def write_pcap(packets: list[tuple[int, int, bytes]], *, endian: str = "<", nano: bool = False,
               linktype: int = 1) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)
    for sec, frac, data in packets:
        out += struct.pack(endian + "IIII", sec, frac * (1000 if nano else 1), len(data), len(data)) + data
    return out


def _opt(endian: str, code: int, value: bytes) -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def shb(endian: str = "<") -> bytes:
    return _block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(endian: str, linktype: int, tsresol: int | None = None, tsoffset: int | None = None) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += _opt(endian, 9, bytes([tsresol]))
    if tsoffset is not None:
        opts += _opt(endian, 14, struct.pack(endian + "q", tsoffset))
    if opts:
        opts += _opt(endian, 0, b"")
    return _block(endian, 1, struct.pack(endian + "HHI", linktype, 0, 262144) + opts)


def epb(endian: str, iface: int, units: int, data: bytes) -> bytes:
    return _block(endian, 6, struct.pack(endian + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data),
                                         len(data)) + data)


def frames_of(path: Path) -> tuple[list[tuple[int, int, int, bytes]], list[str]]:
    with open_capture(str(path)) as src:
        frames = [(n, ts, lt, bytes(buf[off : off + cap])) for n, ts, lt, buf, off, cap, _o in src.frames()]
        return frames, [a.kind for a in src.anomalies]


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_classic_pcap_both_byte_orders_and_resolutions(tmp_path: Path, endian: str, nano: bool) -> None:
    f = tmp_path / "a.pcap"
    f.write_bytes(write_pcap(PACKETS, endian=endian, nano=nano))
    frames, anomalies = frames_of(f)
    assert anomalies == []
    assert [n for n, *_ in frames] == list(range(1, len(PACKETS) + 1))
    for (_n, ts, lt, data), (sec, usec, raw) in zip(frames, PACKETS, strict=True):
        assert (ts, lt, data) == (sec * 10**9 + usec * 1000, 1, raw)


def test_pcapng_several_interfaces_tsresol_tsoffset_and_other_blocks(tmp_path: Path) -> None:
    e = "<"
    data = PACKETS[0][2]
    raw_ip = data[14:]  # the same packet without its Ethernet header, on a raw-IP interface
    body = shb(e) + idb(e, 1) + idb(e, 101, tsresol=9, tsoffset=100) + idb(e, 1, tsresol=0x80 | 20)
    body += _block(e, 0x00000004, b"\x01\x00\x04\x00abcd\x00\x00\x00\x00")  # a name resolution block: skipped
    body += epb(e, 0, 1_700_000_000_123_456, data)
    body += epb(e, 1, 1_700_000_000_987_654_321, raw_ip)
    body += _block(e, 0x0BAD0BAD, b"an unknown block type")  # skipped
    body += epb(e, 2, (1_700_000_000 << 20) + (1 << 19), data)  # 2^-20 resolution: x.5 s
    body += _block(e, 3, struct.pack(e + "I", len(data)) + data)  # simple packet block, interface 0
    body += _block(e, 2, struct.pack(e + "HHIIII", 0, 0, 0, 5_000_000, len(data), len(data)) + data)  # OPB
    f = tmp_path / "a.pcapng"
    f.write_bytes(body)
    frames, anomalies = frames_of(f)
    assert anomalies == []
    assert [(n, ts, lt) for n, ts, lt, _d in frames] == [
        (1, 1_700_000_000_123_456_000, 1),
        (2, 1_700_000_100_987_654_321, 101),
        (3, 1_700_000_000_500_000_000, 1),
        (4, 0, 1),  # an SPB carries no timestamp
        (5, 5_000_000_000, 1),
    ]
    assert frames[0][3] == data and frames[1][3] == raw_ip and frames[3][3] == data


def test_pcapng_big_endian_section_after_little_endian_one(tmp_path: Path) -> None:
    data = PACKETS[1][2]
    body = shb("<") + idb("<", 1) + epb("<", 0, 1, data) + shb(">") + idb(">", 101) + epb(">", 0, 2, data[14:])
    f = tmp_path / "b.pcapng"
    f.write_bytes(body)
    frames, anomalies = frames_of(f)
    assert anomalies == []
    assert [(n, ts, lt, d) for n, ts, lt, d in frames] == [(1, 1000, 1, data), (2, 2000, 101, data[14:])]


def test_pcapng_packet_on_an_undescribed_interface_is_an_anomaly(tmp_path: Path) -> None:
    f = tmp_path / "c.pcapng"
    f.write_bytes(shb() + idb("<", 1) + epb("<", 5, 1, PACKETS[0][2]) + epb("<", 0, 2, PACKETS[0][2]))
    frames, anomalies = frames_of(f)
    assert [n for n, *_ in frames] == [2]  # the frame number still counts the skipped packet
    assert anomalies == ["unknown_interface"]


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_truncation_at_every_offset(tmp_path: Path, fmt: str) -> None:
    if fmt == "pcap":
        parts = [write_pcap([])] + [write_pcap([p])[24:] for p in PACKETS[:3]]
    else:
        parts = [shb(), idb("<", 1)] + [epb("<", 0, i, d) for i, (_s, _u, d) in enumerate(PACKETS[:3])]
    whole = b"".join(parts)
    boundaries = {sum(len(p) for p in parts[:i]) for i in range(1, len(parts) + 1)}
    f = tmp_path / f"cut.{fmt}"
    f.write_bytes(whole)
    full, _ = frames_of(f)
    for cut in range(1, len(whole)):
        f.write_bytes(whole[:cut])
        try:
            frames, anomalies = frames_of(f)
        except CaptureError:
            assert cut < 4  # too short to even recognise the format
            continue
        assert frames == full[: len(frames)], f"cut at {cut}"
        assert anomalies in ([], ["truncated_record"], ["truncated_header"]), f"cut at {cut}: {anomalies}"
        if cut in boundaries:
            assert anomalies == [], f"cut at {cut} is a record boundary: a complete, shorter file"
        else:
            assert anomalies, f"cut at {cut} lost bytes silently"


def test_trailing_garbage_is_an_anomaly_and_frames_survive(tmp_path: Path) -> None:
    f = tmp_path / "g.pcap"
    f.write_bytes(write_pcap(PACKETS[:2]) + b"\xde\xad\xbe\xef" * 3)
    frames, anomalies = frames_of(f)
    assert len(frames) == 2 and anomalies == ["truncated_record"]


def test_hostile_record_length_stops_cleanly(tmp_path: Path) -> None:
    blob = bytearray(write_pcap(PACKETS[:3]))
    second = 24 + 16 + len(PACKETS[0][2])
    struct.pack_into("<I", blob, second + 8, MAX_CAPLEN + 1)
    f = tmp_path / "h.pcap"
    f.write_bytes(bytes(blob))
    frames, anomalies = frames_of(f)
    assert len(frames) == 1 and anomalies == ["bogus_caplen"]


def test_hostile_block_lengths_stop_cleanly(tmp_path: Path) -> None:
    good = shb() + idb("<", 1) + epb("<", 0, 1, PACKETS[0][2])
    for bad_len in (8, 13, 0xFFFFFFF0):
        block = bytearray(epb("<", 0, 2, PACKETS[1][2]))
        struct.pack_into("<I", block, 4, bad_len)
        f = tmp_path / "h.pcapng"
        f.write_bytes(good + bytes(block))
        frames, anomalies = frames_of(f)
        assert len(frames) == 1 and anomalies in (["bogus_block_length"], ["truncated_record"]), bad_len
    mismatched = bytearray(epb("<", 0, 2, PACKETS[1][2]))
    struct.pack_into("<I", mismatched, len(mismatched) - 4, 12)
    (tmp_path / "m.pcapng").write_bytes(good + bytes(mismatched))
    frames, anomalies = frames_of(tmp_path / "m.pcapng")
    assert len(frames) == 1 and anomalies == ["bogus_block_length"]


def test_gzip_file_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = write_pcap(PACKETS)
    (tmp_path / "p.pcap").write_bytes(plain)
    expected, _ = frames_of(tmp_path / "p.pcap")
    gz = tmp_path / "p.anyname"
    gz.write_bytes(gzip.compress(plain))
    assert frames_of(gz)[0] == expected
    for payload in (plain, gzip.compress(plain)):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(payload)))
        assert frames_of(Path("-"))[0] == expected


def test_stream_chunks_straddling_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tlsdoctor.capture.source as source

    monkeypatch.setattr(source, "CHUNK_BYTES", 7)  # records straddle every chunk boundary
    plain = write_pcap(PACKETS)
    pcapng = shb() + idb("<", 1) + b"".join(epb("<", 0, i, d) for i, (_s, _u, d) in enumerate(PACKETS))
    for name, blob in (("s.pcap.gz", plain), ("s.pcapng.gz", pcapng)):
        f = tmp_path / name
        f.write_bytes(gzip.compress(blob))
        frames, anomalies = frames_of(f)
        assert anomalies == [] and [d for *_x, d in frames] == [d for _s, _u, d in PACKETS]


def test_not_a_capture_is_a_sentence(tmp_path: Path) -> None:
    for content in (b"", b"GET / HTTP/1.1\r\n", b"\x1f\x8bnot really gzip"):
        f = tmp_path / "x.pcap"
        f.write_bytes(content)
        with pytest.raises(CaptureError, match=r"x\.pcap"):
            frames_of(f)
    with pytest.raises(CaptureError, match="cannot open"):
        open_capture(str(tmp_path / "missing.pcap"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["pcap", "pcapng"]))
def test_random_bytes_after_a_valid_header_never_raise(garbage: bytes, fmt: str) -> None:
    head = write_pcap([]) if fmt == "pcap" else shb() + idb("<", 1)
    import tempfile

    with tempfile.NamedTemporaryFile(suffix="." + fmt) as f:
        f.write(head + garbage)
        f.flush()
        frames, _anomalies = frames_of(Path(f.name))
        for _n, _ts, _lt, data in frames:
            assert len(data) <= len(garbage)


@pytest.mark.skipif(shutil.which("editcap") is None or shutil.which("tshark") is None,
                    reason="tshark/editcap are not installed (scripts/test.sh installs them)")
@pytest.mark.parametrize("variant", [["-F", "pcapng"], ["-F", "nsecpcap"], ["-F", "pcapng", "-T", "rawip"],
                                     ["-F", "pcap", "-T", "rawip"]])
def test_frame_numbers_and_times_match_tshark(tmp_path: Path, variant: list[str]) -> None:
    out = tmp_path / "conv.cap"
    proc = subprocess.run(["editcap", *variant, str(REAL), str(out)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"editcap {' '.join(variant)} is not supported here: {proc.stderr.strip()}")
    fields = subprocess.run(["tshark", "-r", str(out), "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch",
                             "-e", "frame.cap_len"], capture_output=True, text=True, timeout=60, check=True).stdout
    theirs = []
    for line in fields.splitlines():
        n, t, cap = line.split("\t")
        sec, _, frac = t.partition(".")
        theirs.append((int(n), int(sec) * 10**9 + int((frac + "000000000")[:9]), int(cap)))
    ours, anomalies = frames_of(out)
    assert anomalies == []
    assert [(n, ts, len(d)) for n, ts, _lt, d in ours] == theirs
