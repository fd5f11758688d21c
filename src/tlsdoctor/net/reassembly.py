"""Per-direction TCP reassembly: segments in capture order -> bytes in sequence order.

Theory of operation. Sequence numbers are kept relative to the direction's first payload byte
(ISN + 1 when the SYN was seen, else the first segment's sequence number), modulo 2**32, so a
wrap-around inside a handshake is harmless. A segment that starts at the next expected offset is
delivered at once, followed by any buffered segments it makes contiguous. A segment that starts later
is buffered (out of order), up to ``MAX_BUFFERED_BYTES`` per direction; past that the oldest hole is
declared a gap. Bytes that were already delivered are a retransmission: only their new tail, if any,
is delivered. Overlapping retransmissions whose bytes differ from what is buffered are counted as
conflicts (an attacker's or a broken middlebox's forgery shows up this way).

A gap is never spliced silently (Wireshark's "previous segment not captured"): it is reported as a
``Gap`` delivery so that the TLS parser above can stop or resynchronise, and the engine records an
anomaly with the frame. A gap is declared when the peer acknowledges bytes that were never captured
(``ack_seen``), when the buffer cap is hit, or when the connection ends with holes (``flush``).

Delivery results are plain tuples, ``(data, frame, ts_ns)`` for bytes and ``(None, lost, frame)`` for
a gap of ``lost`` bytes; the hot path creates no objects it does not need.
"""

from __future__ import annotations

from typing import Final

MAX_BUFFERED_BYTES: Final = 256 * 1024
"""Out-of-order bytes kept per direction before the oldest hole is declared a gap."""

_MOD: Final = 1 << 32
_HALF: Final = 1 << 31

Delivery = tuple[bytes | None, int, int]  # (data, frame, ts_ns) or (None, lost_bytes, frame)

_NONE_PENDING: Final[dict[int, tuple[bytes, int, int]]] = {}
"""The out-of-order segments of every direction that has buffered none (``StreamReassembler.pending``):
empty, never written."""


class StreamReassembler:
    __slots__ = ("base", "buffered", "conflicts", "delivered", "fin_rel", "next_rel", "pending", "retransmissions")

    def __init__(self) -> None:
        self.base: int | None = None  # absolute sequence number of relative offset 0
        self.next_rel = 0  # next relative offset to deliver
        # rel offset -> (data, frame, ts_ns). Most directions never buffer: they share _NONE_PENDING, which
        # is only ever read (a segment is stored, and popped, only in a dict of this direction's own).
        self.pending: dict[int, tuple[bytes, int, int]] = _NONE_PENDING
        self.buffered = 0
        self.delivered = 0
        self.retransmissions = 0
        self.conflicts = 0
        self.fin_rel: int | None = None  # where the FIN sits: it takes one sequence number, not a byte

    def set_isn(self, isn: int) -> None:
        """The SYN's sequence number: payload starts at ISN + 1."""
        if self.base is None:
            self.base = (isn + 1) % _MOD

    def rel(self, seq: int) -> int:
        """Relative offset of an absolute sequence number (negative when before the base)."""
        if self.base is None:
            return 0
        r = (seq - self.base) % _MOD
        return r - _MOD if r >= _HALF else r

    def segment(self, seq: int, data: bytes, frame: int, ts_ns: int) -> list[Delivery]:
        """A segment's payload. Returns what became deliverable, in order."""
        if not data:
            return []
        if self.base is None:
            self.base = seq
        start = self.rel(seq)
        end = start + len(data)
        nxt = self.next_rel
        if end <= nxt:
            self.retransmissions += 1
            return []
        if start < nxt:
            # A retransmission that carries new bytes past what we delivered: keep only the tail.
            self.retransmissions += 1
            data = data[nxt - start :]
            start = nxt
        if start > nxt:
            return self._buffer(start, data, frame, ts_ns)
        out: list[Delivery] = [(data, frame, ts_ns)]
        self.next_rel = end
        self.delivered += len(data)
        if self.pending:
            self._drain(out)
        return out

    def _buffer(self, start: int, data: bytes, frame: int, ts_ns: int) -> list[Delivery]:
        if self.pending is _NONE_PENDING:
            self.pending = {}
        old = self.pending.get(start)
        if old is not None:
            common = min(len(old[0]), len(data))
            if old[0][:common] != data[:common]:
                self.conflicts += 1
            if len(old[0]) >= len(data):
                self.retransmissions += 1
                return []
            self.buffered -= len(old[0])
        self.pending[start] = (data, frame, ts_ns)
        self.buffered += len(data)
        if self.buffered > MAX_BUFFERED_BYTES:
            return self._skip_to_first_pending(frame)
        return []

    def _drain(self, out: list[Delivery]) -> None:
        pending = self.pending
        while pending:
            nxt = self.next_rel
            ready = [k for k in pending if k <= nxt]
            if not ready:
                return
            for k in sorted(ready):
                data, frame, ts_ns = pending.pop(k)
                self.buffered -= len(data)
                end = k + len(data)
                if end <= self.next_rel:
                    self.retransmissions += 1
                    continue
                if k < self.next_rel:
                    data = data[self.next_rel - k :]
                out.append((data, frame, ts_ns))
                self.delivered += len(data)
                self.next_rel = end

    def _skip_to_first_pending(self, frame: int) -> list[Delivery]:
        first = min(self.pending)
        lost = first - self.next_rel
        self.next_rel = first
        out: list[Delivery] = [(None, lost, frame)]
        self._drain(out)
        return out

    def fin(self, seq: int, payload_len: int) -> None:
        """A FIN at ``seq`` after ``payload_len`` bytes: its sequence number is acknowledged like a byte."""
        if self.base is None:
            self.base = seq
        self.fin_rel = self.rel(seq) + payload_len

    def ack_seen(self, ack: int, frame: int) -> list[Delivery]:
        """The peer acknowledged up to ``ack`` (absolute). Bytes it acknowledged that we never saw
        are a gap: they were sent and received, but not captured."""
        if self.base is None:
            return []
        upto = self.rel(ack)
        if self.fin_rel is not None and upto > self.fin_rel:
            upto = self.fin_rel
        if upto <= self.next_rel:
            return []
        if self.pending and min(self.pending) == self.next_rel:
            return []  # cannot happen after a drain, kept for safety
        if self.pending:
            first = min(self.pending)
            if first < upto:
                return self._skip_to_first_pending(frame)
        lost = upto - self.next_rel
        if lost > _HALF:  # a bogus ACK far in the future is not evidence of a gap
            return []
        self.next_rel = upto
        return [(None, lost, frame)]

    def flush(self, frame: int) -> list[Delivery]:
        """The connection ended: deliver what is buffered after its holes, each hole a gap."""
        out: list[Delivery] = []
        while self.pending:
            out.extend(self._skip_to_first_pending(frame))
        return out
