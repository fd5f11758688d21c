"""TCP reassembly: in-order delivery, retransmissions, overlaps, out-of-order segments and gaps."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor.net import reassembly
from tlsdoctor.net.reassembly import MAX_BUFFERED_BYTES, StreamReassembler

ISN = 0xFFFFFF00  # close to the wrap-around on purpose


def _collect(deliveries: list[tuple[bytes | None, int, int]]) -> tuple[bytes, list[int]]:
    data = b""
    gaps = []
    for d, x, _y in deliveries:
        if d is None:
            gaps.append(x)
        else:
            data += d
    return data, gaps


def _seq(rel: int) -> int:
    return (ISN + 1 + rel) % (1 << 32)


def test_in_order_segments_are_delivered_with_their_frames() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    out = r.segment(_seq(0), b"hello ", 4, 100) + r.segment(_seq(6), b"world", 5, 200)
    assert out == [(b"hello ", 4, 100), (b"world", 5, 200)]
    assert r.delivered == 11


def test_sequence_wraparound_is_harmless() -> None:
    r = StreamReassembler()
    r.set_isn(0xFFFFFFF0)
    payload = bytes(range(64))
    out: list[tuple[bytes | None, int, int]] = []
    for i in range(0, 64, 8):
        out += r.segment((0xFFFFFFF1 + i) % (1 << 32), payload[i : i + 8], i, i)
    assert _collect(out) == (payload, [])


def test_out_of_order_segment_waits_for_the_hole_to_fill() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    assert r.segment(_seq(5), b"56789", 7, 0) == []
    # buffered in a dict of its own: the one that directions without buffered segments share stays empty
    assert r.pending == {5: (b"56789", 7, 0)} and reassembly._NONE_PENDING == {}
    out = r.segment(_seq(0), b"01234", 8, 0)
    assert out == [(b"01234", 8, 0), (b"56789", 7, 0)]
    assert r.buffered == 0


def test_retransmission_is_counted_and_not_delivered_twice() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    r.segment(_seq(0), b"abcdef", 1, 0)
    assert r.segment(_seq(0), b"abcdef", 2, 0) == []
    assert r.retransmissions == 1


def test_overlapping_retransmission_delivers_only_the_new_tail() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    r.segment(_seq(0), b"abcdef", 1, 0)
    out = r.segment(_seq(3), b"defGHI", 2, 0)
    assert out == [(b"GHI", 2, 0)]


def test_conflicting_buffered_overlap_is_counted() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    r.segment(_seq(10), b"XXXX", 1, 0)
    r.segment(_seq(10), b"YYYYYY", 2, 0)
    assert r.conflicts == 1


def test_ack_beyond_captured_bytes_is_a_gap_not_a_splice() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    r.segment(_seq(0), b"0123", 1, 0)
    # bytes 4..9 were never captured; the peer ACKs up to 10
    gap = r.ack_seen(_seq(10), 3)
    assert gap == [(None, 6, 3)]
    out = r.segment(_seq(10), b"tail", 4, 0)
    assert out == [(b"tail", 4, 0)]


def test_ack_with_a_buffered_later_segment_skips_to_it() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    r.segment(_seq(0), b"0123", 1, 0)
    r.segment(_seq(8), b"89", 2, 0)
    out = r.ack_seen(_seq(10), 3)
    assert _collect(out) == (b"89", [4])


def test_flush_reports_holes_and_delivers_the_rest() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    r.segment(_seq(4), b"4567", 1, 0)
    data, gaps = _collect(r.flush(9))
    assert (data, gaps) == (b"4567", [4])


def test_buffer_cap_declares_a_gap() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    chunk = b"z" * 4096
    out: list[tuple[bytes | None, int, int]] = []
    rel = 100  # a hole of 100 bytes at the start that never fills
    while r.buffered <= MAX_BUFFERED_BYTES and not out:
        out = r.segment(_seq(rel), chunk, 1, 0)
        rel += len(chunk)
    data, gaps = _collect(out)
    assert gaps == [100]
    assert len(data) > MAX_BUFFERED_BYTES
    assert r.buffered == 0


def test_without_syn_the_first_segment_sets_the_base() -> None:
    r = StreamReassembler()
    assert r.segment(123456, b"abc", 1, 0) == [(b"abc", 1, 0)]
    assert r.segment(123459, b"def", 2, 0) == [(b"def", 2, 0)]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=600), st.integers(min_value=1, max_value=64), st.randoms(use_true_random=False),
       st.integers(min_value=0, max_value=3))
def test_any_segmentation_order_and_duplication_yields_the_stream(payload: bytes, mss: int, rnd: random.Random,
                                                                  dups: int) -> None:
    segments = [(i, payload[i : i + mss]) for i in range(0, len(payload), mss)]
    segments += [rnd.choice(segments) for _ in range(dups)]
    rnd.shuffle(segments)
    r = StreamReassembler()
    r.set_isn(ISN)
    out: list[tuple[bytes | None, int, int]] = []
    for n, (i, seg) in enumerate(segments):
        out += r.segment(_seq(i), seg, n, n)
    assert _collect(out) == (payload, [])
    assert r.pending == {}
    # A direction that never buffers shares one empty dict, which buffering elsewhere never writes to.
    assert StreamReassembler().pending is reassembly._NONE_PENDING == {}


def test_the_ack_of_a_fin_is_not_a_gap() -> None:
    r = StreamReassembler()
    r.set_isn(ISN)
    r.segment(_seq(0), b"bye", 1, 0)
    r.fin(_seq(3), 0)
    assert r.ack_seen(_seq(4), 2) == []
