"""The JSON Lines of ``tlsdoctor connections --json``: ``json_line`` (orjson, with a json fallback), the
cached pieces of ``record_to_json`` (``_iso``, the flag letters), and the CLI writing them to a text or
a binary stdout."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlsdoctor import cli
from tlsdoctor.api import connections
from tlsdoctor.connection import FLAG_LETTERS, flag_letters, mac_text
from tlsdoctor.report import connections as rc

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "src" / "tlsdoctor" / "samples"


def test_json_line_is_the_same_object_json_would_write() -> None:
    records = connections(str(SAMPLES / "mixed_small.pcap"))
    assert len(records) > 20
    for rec in records:
        data = rc.record_to_json(rec)
        line = rc.json_line(data)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert json.loads(line) == json.loads(json.dumps(data, ensure_ascii=False))
        assert line.startswith(b'{"capture":') and b'"tcp_stream":%d,' % rec.tcp_stream in line


def test_what_orjson_refuses_is_still_written() -> None:
    # A lone surrogate (not UTF-8) and an integer beyond 64 bits: orjson raises on both.
    data = {"capture": "x", "tcp_stream": 3, "sni": "a\udc80b", "serial": 2**70}
    line = rc.json_line(data)
    assert line.endswith(b"\n") and line.isascii()
    assert json.loads(line) == data
    assert b'"tcp_stream":3,' in line  # the form parallel.py's placeholder relies on


@given(st.integers(min_value=0, max_value=2**62))
def test_iso_is_utc_with_microseconds(ts_ns: int) -> None:
    when = dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, dt.UTC)
    expected = when.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts_ns % 1_000_000_000 // 1000:06d}Z"
    if when.year < 1000:
        expected = f"{when.year:04d}" + expected[expected.index("-"):]  # strftime does not pad %Y
    assert rc._iso(ts_ns) == expected
    assert rc._iso(ts_ns) == expected  # the second time from the cache


def test_iso_cache_stays_bounded() -> None:
    for sec in range(rc._ISO_SECONDS_MAX * 2 + 5):
        rc._iso(sec * 1_000_000_000)
    assert 0 < len(rc._ISO_SECONDS) <= rc._ISO_SECONDS_MAX


@given(st.one_of(st.integers(min_value=0, max_value=2**53 // 1000).map(lambda us: us * 1000),
                 st.integers(min_value=-(2**62), max_value=2**62)))
def test_milliseconds_is_round_to_three_places(ns: int) -> None:
    # Whole microseconds take the division shortcut; the rest (nanosecond captures, a negative
    # duration that damaged times could give, values past 2**53) take round() itself.
    got = rc._milliseconds(ns)
    assert got == round(ns / 1e6, 3)
    assert repr(got) == repr(round(ns / 1e6, 3))


def test_milliseconds_at_the_edges() -> None:
    for ns in (0, 1000, 1500, 999_000, 1_000_000, 1_234_567_000, 2**53 - 992, 2**53, 2**53 + 1000, 500, 1_500_500):
        assert repr(rc._milliseconds(ns)) == repr(round(ns / 1e6, 3)), ns


@given(st.dictionaries(st.text(max_size=12), st.integers(min_value=0, max_value=2**40), max_size=16))
def test_milestones_in_frame_order_then_by_name(frames: dict[str, int]) -> None:
    ordered = rc._in_frame_order(frames)
    assert ordered == frames
    assert list(ordered.items()) == sorted(frames.items(), key=lambda item: (item[1], item[0]))


def test_flag_letters_table_matches_every_flag_combination() -> None:
    for flags in range(0x1000):
        assert FLAG_LETTERS[flags & 0x1F] == flag_letters(flags)


def test_packets_are_decoded_once_and_macs_written_as_hex_does() -> None:
    # diagnose's rules read a failing connection's packets several times: the second read is the first's.
    from tlsdoctor.api import connections

    records = connections(str(SAMPLES / "mixed_small.pcap"))
    for rec in records:
        first = rec.packets
        assert rec.packets is first and len(first) == len(rec.timeline)
        for p, entry in zip(first, rec.timeline, strict=True):
            macs = entry[10]
            assert (p.src_mac, p.dst_mac) == ((macs[6:12].hex(":"), macs[:6].hex(":")) if macs else (None, None))
    assert [r.packets for r in records] == [r.packets for r in connections(str(SAMPLES / "mixed_small.pcap"))]
    assert mac_text(bytes(range(6))) == "00:01:02:03:04:05"


def _cli_json(argv: list[str], out: io.TextIOBase) -> list[dict[str, object]]:
    with contextlib.redirect_stdout(out):
        assert cli.main(argv) == 0
    out.seek(0)
    text = out.read()
    return [json.loads(line) for line in text.splitlines()]


def test_cli_json_lines_to_a_text_or_a_binary_stdout() -> None:
    argv = ["connections", "--json", "--jobs", "1", str(SAMPLES / "mixed_small.pcap")]
    text_only = _cli_json(argv, io.StringIO())  # no .buffer: the lines are decoded and written as text
    binary = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with_buffer = _cli_json(argv, binary)
    assert text_only == with_buffer and len(text_only) > 20
    # The same records as the library's, which come in tcp.stream order (the CLI's as connections end).
    expected = [rc.record_to_json(r) for r in connections(str(SAMPLES / "mixed_small.pcap"))]
    assert sorted(text_only, key=lambda r: int(str(r["tcp_stream"]))) == json.loads(json.dumps(expected))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_json_into_a_closed_pipe_is_not_an_error(jobs: str) -> None:
    # `tlsdoctor connections --json big.pcap | head -1`: the reader goes away after one line.
    proc = subprocess.run(f"{sys.executable} -m tlsdoctor connections --json --jobs {jobs} "
                          f"{SAMPLES / 'mixed_small.pcap'} | head -1", shell=True, capture_output=True,
                          text=True, timeout=120, check=True)
    assert len(proc.stdout.splitlines()) == 1 and json.loads(proc.stdout)["capture"] == "mixed_small.pcap"
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr


def test_certificate_json_is_remembered_per_facts_object_and_copied() -> None:
    records = [rec for rec in connections(str(SAMPLES / "mixed_small.pcap")) if rec.tls.server_certificates]
    assert records
    cert = records[0].tls.server_certificates[0]
    first = rc._certificate_json(cert)
    assert first == rc._new_certificate_json(cert)
    first["san_dns"].append("changed.example")
    first["subject"] = "changed"
    second = rc._certificate_json(cert)  # from memory: what the caller changed is not in it
    assert second == rc._new_certificate_json(cert)
    assert second["san_dns"] is not first["san_dns"]
    # Equal facts that are another object get their own entry, the same JSON.
    twin = dataclasses.replace(cert)
    assert twin is not cert and rc._certificate_json(twin) == second
    for _ in range(rc._CERT_JSON_MAX + 3):
        rc._certificate_json(dataclasses.replace(cert))
    assert 0 < len(rc._CERT_JSON) <= rc._CERT_JSON_MAX
