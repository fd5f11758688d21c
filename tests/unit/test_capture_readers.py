"""pcap and pcapng readers: every layout, every truncation, hostile lengths, gzip, stdin, and tshark.

The small files below are written by a test writer (synthetic framing, on purpose: each isolates one
layout of the file format); the packet bytes in them are taken from a real OpenSSL capture
(tests/fixtures/engine/openssl_loopback.pcap). tshark is the oracle for real files converted with editcap.
"""

from __future__ import annotations

import gzip
import io
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor.capture import MAX_CAPLEN, CaptureError, open_capture

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
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for sec, frac, data in packets:
        out += [struct.pack(endian + "IIII", sec, frac * (1000 if nano else 1), len(data), len(data)), data]
    return b"".join(out)


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


# --- more layouts -----------------------------------------------------------------------------------------


def spb(endian: str, data: bytes, origlen: int | None = None) -> bytes:
    return _block(endian, 3, struct.pack(endian + "I", len(data) if origlen is None else origlen) + data)


def idb_snaplen(endian: str, linktype: int, snaplen: int, name: str | None = None) -> bytes:
    opts = _opt(endian, 2, name.encode()) + _opt(endian, 0, b"") if name else b""
    return _block(endian, 1, struct.pack(endian + "HHI", linktype, 0, snaplen) + opts)


def dsb(endian: str, secret: bytes) -> bytes:
    return _block(endian, 0x0A, struct.pack(endian + "II", 0x544C534B, len(secret)) + secret)


def open_frames(path: Path) -> tuple[list[tuple[int, int, int, bytes, int]], list[str]]:
    """Frames with their original length, and anomaly kinds."""
    with open_capture(str(path)) as src:
        frames = [(n, ts, lt, bytes(buf[off : off + cap]), orig) for n, ts, lt, buf, off, cap, orig in src.frames()]
        return frames, [a.kind for a in src.anomalies]


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_two_interfaces_nanoseconds_and_binary_resolution_with_offset(tmp_path: Path, endian: str) -> None:
    data = PACKETS[2][2]
    units_2_20 = (1_600_000_000 << 20) + 3 * (1 << 18)  # x.75 s at 2^-20
    body = (shb(endian) + idb(endian, 1, tsresol=9) + idb(endian, 113, tsresol=0x80 | 20, tsoffset=-3600)
            + epb(endian, 1, units_2_20, b"\0" * 16 + data[14:]) + epb(endian, 0, 1_700_000_000_000_000_001, data))
    f = tmp_path / "two.pcapng"
    f.write_bytes(body)
    with open_capture(str(f)) as src:
        got = [(n, ts, lt, cap, orig) for n, ts, lt, _b, _o, cap, orig in src.frames()]
        assert [a.kind for a in src.anomalies] == []
        assert [(i.linktype, i.units_per_second, i.tsoffset_s) for i in src.interfaces] == [
            (1, 10**9, 0), (113, 2**20, -3600)]
        assert src.format == "pcapng" and src.snaplen == 262144
    assert got == [(1, 1_599_996_400_750_000_000, 113, len(data) + 2, len(data) + 2),
                   (2, 1_700_000_000_000_000_001, 1, len(data), len(data))]


def test_pcapng_binary_resolution_truncates_like_wireshark(tmp_path: Path) -> None:
    # 1 unit at 2^-20 s is 953.674... ns: Wireshark (wiretap) truncates to 953.
    f = tmp_path / "r.pcapng"
    f.write_bytes(shb() + idb("<", 1, tsresol=0x80 | 20) + epb("<", 0, 1, PACKETS[0][2]))
    assert frames_of(f)[0][0][1] == 953


def test_simple_packet_block_is_cut_to_the_snap_length(tmp_path: Path) -> None:
    data = PACKETS[0][2]
    f = tmp_path / "s.pcapng"
    f.write_bytes(shb() + idb_snaplen("<", 1, 40, name="lo") + spb("<", data[:40], origlen=len(data))
                  + spb("<", data[:10]))
    with open_capture(str(f)) as src:
        got = [(n, ts, bytes(b[o : o + c]), orig) for n, ts, _lt, b, o, c, orig in src.frames()]
        assert src.interfaces[0].name == "lo" and src.snaplen == 40
    assert got == [(1, 0, data[:40], len(data)), (2, 0, data[:10], 10)]


def test_simple_packet_block_before_any_interface_is_an_anomaly(tmp_path: Path) -> None:
    f = tmp_path / "s.pcapng"
    f.write_bytes(shb() + spb("<", PACKETS[0][2]) + idb("<", 1) + spb("<", PACKETS[0][2]))
    frames, anomalies = frames_of(f)
    assert [n for n, *_ in frames] == [2] and anomalies == ["unknown_interface"]


def test_decryption_secrets_are_kept_and_other_blocks_skipped(tmp_path: Path) -> None:
    keylog = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
    f = tmp_path / "k.pcapng"
    f.write_bytes(shb(">") + dsb(">", keylog) + idb(">", 1) + _block(">", 5, b"\0" * 20)  # ISB
                  + _block(">", 0x40000BAD, b"custom") + epb(">", 0, 7, PACKETS[0][2]))
    with open_capture(str(f)) as src:
        assert [n for n, *_ in src.frames()] == [1]
        assert src.decryption_secrets == [keylog] and src.anomalies == []


def test_pcap_link_type_field_fcs_bits_are_masked(tmp_path: Path) -> None:
    blob = bytearray(write_pcap(PACKETS[:1]))
    struct.pack_into("<I", blob, 20, 0x24000001)  # FCS present (bit 26), 2 x 16-bit words, Ethernet
    f = tmp_path / "fcs.pcap"
    f.write_bytes(bytes(blob))
    with open_capture(str(f)) as src:
        assert [lt for _n, _t, lt, *_r in src.frames()] == [1]
        assert src.interfaces[0].fcs_bytes == 4 and src.anomalies == []


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_unknown_link_type_is_reported_once_and_frames_still_come(tmp_path: Path, fmt: str) -> None:
    blob = (write_pcap(PACKETS[:3], linktype=0xBEEF) if fmt == "pcap"
            else shb() + idb("<", 0xBEEF) + b"".join(epb("<", 0, i, d) for i, (_s, _u, d) in enumerate(PACKETS[:3])))
    f = tmp_path / f"u.{fmt}"
    f.write_bytes(blob)
    with open_capture(str(f)) as src:
        assert [lt for _n, _t, lt, *_r in src.frames()] == [0xBEEF] * 3
        assert [a.kind for a in src.anomalies] == ["unknown_linktype"]
        assert "48879" in src.anomalies[0].detail


def test_pcap_bogus_sub_second_field_is_an_anomaly_on_its_frame(tmp_path: Path) -> None:
    blob = bytearray(write_pcap(PACKETS[:3]))
    second = 24 + 16 + len(PACKETS[0][2])
    struct.pack_into("<I", blob, second + 4, 1_000_000)
    f = tmp_path / "t.pcap"
    f.write_bytes(bytes(blob))
    with open_capture(str(f)) as src:
        assert len(list(src.frames())) == 3
        (a,) = src.anomalies
        assert (a.kind, a.frame, a.offset) == ("bogus_timestamp", 2, second)


def test_pcapng_caplen_past_its_block_is_cut_and_absurd_caplen_skipped(tmp_path: Path) -> None:
    data = PACKETS[0][2]
    past = bytearray(epb("<", 0, 1, data))
    struct.pack_into("<I", past, 20, len(data) + 100)  # captured length beyond the block
    absurd = _block("<", 6, struct.pack("<IIIII", 0, 0, 2, MAX_CAPLEN + 4, MAX_CAPLEN + 4) + b"\0" * (MAX_CAPLEN + 4))
    f = tmp_path / "c.pcapng"
    f.write_bytes(shb() + idb("<", 1) + bytes(past) + absurd + epb("<", 0, 3, data))
    with open_capture(str(f)) as src:
        got = [(n, c) for n, _t, _l, _b, _o, c, _g in src.frames()]
        kinds = [(a.kind, a.frame) for a in src.anomalies]
    assert got == [(1, len(data) + (-len(data) % 4)), (3, len(data))]  # 1 cut to its block (with padding), 2 skipped
    assert kinds == [("bogus_caplen", 1), ("bogus_caplen", 2)]


def test_pcapng_unreadable_section_header_stops_cleanly(tmp_path: Path) -> None:
    bad = bytearray(shb())
    struct.pack_into("<I", bad, 8, 0xDEADBEEF)
    f = tmp_path / "s.pcapng"
    f.write_bytes(shb() + idb("<", 1) + epb("<", 0, 1, PACKETS[0][2]) + bytes(bad) + epb("<", 0, 2, PACKETS[0][2]))
    frames, anomalies = frames_of(f)
    assert len(frames) == 1 and anomalies == ["bogus_block"]


def test_interfaces_start_over_in_each_section(tmp_path: Path) -> None:
    f = tmp_path / "s.pcapng"
    f.write_bytes(shb() + idb("<", 1) + idb("<", 101) + shb(">") + idb(">", 113) + epb(">", 1, 1, PACKETS[0][2])
                  + epb(">", 0, 2, PACKETS[0][2]))
    with open_capture(str(f)) as src:
        assert [(n, lt) for n, _t, lt, *_r in src.frames()] == [(2, 113)]
        assert [a.kind for a in src.anomalies] == ["unknown_interface"]
        assert [(i.section, i.index, i.linktype) for i in src.interfaces] == [(0, 0, 1), (0, 1, 101), (1, 0, 113)]


def test_anomalies_are_capped_and_the_rest_counted(tmp_path: Path) -> None:
    from tlsdoctor.capture import MAX_ANOMALIES

    f = tmp_path / "many.pcapng"
    f.write_bytes(shb() + idb("<", 1) + epb("<", 9, 1, b"x") * (MAX_ANOMALIES + 5) + epb("<", 0, 1, b"y"))
    with open_capture(str(f)) as src:
        assert [n for n, *_ in src.frames()] == [MAX_ANOMALIES + 6]
        kinds = [a.kind for a in src.anomalies]
        assert src.anomalies_dropped == 5 and len(kinds) == MAX_ANOMALIES + 1 and kinds[-1] == "cap_reached"
        assert "5 more anomalies" in src.anomalies[-1].detail


def test_truncation_at_every_offset_of_a_gzip_stream_and_of_the_gzip_itself(tmp_path: Path) -> None:
    whole = write_pcap(PACKETS[:3])
    (tmp_path / "w.pcap").write_bytes(whole)
    full, _ = frames_of(tmp_path / "w.pcap")
    f = tmp_path / "cut.gz"
    for cut in range(24, len(whole), 7):  # the uncompressed file cut short, then compressed: the stream path
        f.write_bytes(gzip.compress(whole[:cut]))
        frames, anomalies = frames_of(f)
        assert frames == full[: len(frames)] and anomalies in ([], ["truncated_record"]), cut
    packed = gzip.compress(whole)
    for cut in range(20, len(packed)):  # the compressed file cut short: every decompressible frame still comes
        f.write_bytes(packed[:cut])
        frames, anomalies = frames_of(f)
        assert frames == full[: len(frames)], cut
        assert "gzip_truncated" in anomalies, cut
    f.write_bytes(packed[: len(packed) // 2] + b"\xff" * 64)
    frames, anomalies = frames_of(f)
    assert frames == full[: len(frames)] and "gzip_corrupt" in anomalies


def test_concatenated_gzip_members_are_one_capture(tmp_path: Path) -> None:
    whole = write_pcap(PACKETS)
    f = tmp_path / "multi.gz"
    f.write_bytes(gzip.compress(whole[:100]) + gzip.compress(whole[100:]))
    (tmp_path / "p.pcap").write_bytes(whole)
    assert frames_of(f) == frames_of(tmp_path / "p.pcap")


def test_gzip_bomb_is_read_in_bounded_pieces(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tlsdoctor.capture.gunzip as gunzip
    from tlsdoctor.capture.anomaly import AnomalyLog

    seen: list[int] = []
    real = gunzip.GzipDecoder.feed

    def spy(self: gunzip.GzipDecoder, data: bytes) -> Iterator[bytes]:
        for piece in real(self, data):
            seen.append(len(piece))
            yield piece

    monkeypatch.setattr(gunzip.GzipDecoder, "feed", spy)
    # 64 MiB of one zero-length record header repeated inflates from a ~64 KiB file.
    body = write_pcap([]) + b"\0" * (64 << 20)
    f = tmp_path / "bomb.gz"
    f.write_bytes(gzip.compress(body, compresslevel=9))
    assert f.stat().st_size < 200_000
    with open_capture(str(f)) as src:
        n = sum(1 for _ in src.frames())
    assert n == (64 << 20) // 16
    assert max(seen) <= 1 << 20
    assert AnomalyLog().as_list() == []


def test_stdin_through_a_real_pipe(tmp_path: Path) -> None:
    blob = shb() + idb("<", 1) + b"".join(epb("<", 0, i, d) for i, (_s, _u, d) in enumerate(PACKETS))
    prog = ("import sys; from tlsdoctor.capture import open_capture\n"
            "with open_capture('-') as s:\n"
            "    print(s.format, [(n, c) for n, _t, _l, _b, _o, c, _g in s.frames()], [a.kind for a in s.anomalies])")
    for payload, n in ((blob, len(PACKETS)), (gzip.compress(blob), len(PACKETS)), (blob[:-5], len(PACKETS) - 1)):
        out = subprocess.run([sys.executable, "-c", prog], input=payload, capture_output=True, timeout=60, check=True)
        fmt, rest = out.stdout.decode().split(" ", 1)
        assert fmt == "pcapng"
        expected = [(i + 1, len(d)) for i, (_s, _u, d) in enumerate(PACKETS[:n])]
        assert rest.strip() == f"{expected} {[] if n == len(PACKETS) else ['truncated_record']}"


def test_mapped_windows_straddled_by_records_and_progress(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tlsdoctor.capture.source as source

    many = PACKETS * 40
    blobs = {"pcap": write_pcap(many),
             "pcapng": shb() + idb("<", 1) + b"".join(epb("<", 0, i, d) for i, (_s, _u, d) in enumerate(many))}
    for fmt, blob in blobs.items():
        f = tmp_path / f"w.{fmt}"
        f.write_bytes(blob)
        expected, _ = frames_of(f)
        monkeypatch.setattr(source, "MMAP_WINDOW", 4096 + 13)  # records straddle every window's end
        with open_capture(str(f)) as src:
            assert src.size == len(blob) and src.bytes_read == 0
            progress = []
            got = []
            for n, ts, lt, buf, off, cap, _o in src.frames():
                got.append((n, ts, lt, bytes(buf[off : off + cap])))
                progress.append(src.bytes_read)
                assert off + cap <= src.bytes_read  # the frame was consumed
            assert src.anomalies == [] and src.bytes_read == len(blob) and src.frames_read == len(many)
        monkeypatch.undo()
        assert got == expected and progress == sorted(progress)


def test_frames_can_be_iterated_once(tmp_path: Path) -> None:
    f = tmp_path / "o.pcap"
    f.write_bytes(write_pcap(PACKETS))
    with open_capture(str(f)) as src:
        list(src.frames())
        with pytest.raises(RuntimeError):
            src.frames()


@pytest.mark.parametrize(("content", "says"), [
    (b"\xfd7zXZ\x00\x00\x04", "xz"),
    (b"\x28\xb5\x2f\xfd\x00\x00", "zstd"),
    (b"\x34\xcd\xb2\xa1" + b"\0" * 20, "Kuznetzov"),
    (b"hello world, this is text", "text"),
    (gzip.compress(b"GET / HTTP/1.1\r\n"), "gzip-compressed, and decompressed starts with text"),
    (b"\x1f\x8b\x08\x00", "gzip-compressed but nothing could be decompressed"),
])
def test_not_a_capture_says_what_it_is(tmp_path: Path, content: bytes, says: str) -> None:
    f = tmp_path / "x.cap"
    f.write_bytes(content)
    with pytest.raises(CaptureError, match=says):
        open_capture(str(f))


# --- the sans-IO cores, without any file --------------------------------------------------------------------


def _parse_in_pieces(blob: bytes, cuts: list[int]) -> tuple[list[tuple[int, int, int, bytes, int]], list[str]]:
    """Feed a parser the blob split at ``cuts``, as the I/O edge does: keep the unread tail, append."""
    from tlsdoctor.capture.anomaly import AnomalyLog
    from tlsdoctor.capture.pcap import PcapParser
    from tlsdoctor.capture.pcapng import PcapngParser

    log = AnomalyLog()
    parser = PcapParser(log) if blob[:4] != b"\n\r\r\n" else PcapngParser(log)
    out = []
    buf = b""
    bounds = [*sorted(set(cuts)), len(blob)]
    start = 0
    for i, stop in enumerate(bounds):
        buf = buf[parser.pos :] + blob[start:stop]
        parser.rebase(parser.pos)
        start = stop
        for n, ts, lt, b, off, cap, orig in parser.frames(buf, len(buf), i == len(bounds) - 1):
            out.append((n, ts, lt, bytes(b[off : off + cap]), orig))
    return out, [a.kind for a in log.kept]


def _sample(fmt: str) -> bytes:
    if fmt == "pcap":
        return write_pcap(PACKETS[:4], endian=">", nano=True)
    return (shb(">") + idb(">", 1, tsresol=9) + epb(">", 0, 5, PACKETS[0][2]) + shb("<") + idb("<", 101)
            + dsb("<", b"x") + epb("<", 0, 6, PACKETS[1][2][14:]) + spb("<", PACKETS[2][2]))


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_sans_io_parsers_byte_by_byte_equal_whole(fmt: str) -> None:
    blob = _sample(fmt)
    whole = _parse_in_pieces(blob, [])
    assert len(whole[0]) >= 3 and whole[1] == []
    assert _parse_in_pieces(blob, list(range(1, len(blob)))) == whole


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["pcap", "pcapng"]), st.lists(st.integers(min_value=1, max_value=2000), max_size=12),
       st.binary(max_size=40))
def test_sans_io_parsers_any_chunking_equals_whole(fmt: str, cuts: list[int], garbage: bytes) -> None:
    blob = _sample(fmt) + garbage
    cuts = [c % len(blob) for c in cuts if c % len(blob)]
    assert _parse_in_pieces(blob, cuts) == _parse_in_pieces(blob, [])


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["pcap", "pcapng"]), st.binary(min_size=1, max_size=400), st.integers(min_value=0))
def test_random_mutations_never_raise_and_frames_stay_in_bounds(fmt: str, patch: bytes, where: int) -> None:
    blob = bytearray(_sample(fmt))
    at = 24 + where % (len(blob) - 24) if fmt == "pcap" else 28 + where % (len(blob) - 28)
    blob[at : at + len(patch)] = patch
    frames, _kinds = _parse_in_pieces(bytes(blob), [])
    numbers = [n for n, *_ in frames]
    assert numbers == sorted(set(numbers))
    for _n, _ts, _lt, data, _o in frames:
        assert len(data) <= min(len(blob), MAX_CAPLEN)
