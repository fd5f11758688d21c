"""Matching the same TCP connection across captures taken at different vantage points.

Theory of operation. Each capture has already been reduced to ``ConnectionRecord``s. Two records are
the same connection when (in order of strength):

1. their ClientHellos carry the same 32-byte random (RFC 8446 section 4.1.2): unique per handshake,
   untouched by NAT, so this also matches a connection through an address translator;
2. they have the same 4-tuple and began within ``MAX_SKEW_NS`` of each other (the captures' clocks
   may differ by that much), or, through NAT, the same client ISN (RFC 9293 section 3.4.1: chosen by
   the client, kept by most NATs) and server port within that time;
3. for a TLS-terminating box, which makes a new connection with a new random: the same SNI toward the
   same server port, starting within ``INTERCEPT_WINDOW_NS`` after the client's (a weaker match, used
   only for records that nothing else matched).

Each record is used once. The views of a conversation are ordered client side first (the view that
sees what the client saw), then unlabelled and other vantage points, then the server's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.rules.base import Conversation, View

MAX_SKEW_NS = 30 * 1_000_000_000
INTERCEPT_WINDOW_NS = 2 * 1_000_000_000
_ORDER = {"client": 0, "server": 9, "switch": 5}


@dataclass(frozen=True, slots=True)
class CaptureRecords:
    capture: str
    vantage: str | None
    records: Sequence[ConnectionRecord]


def _rank(vantage: str | None) -> int:
    return _ORDER.get(vantage or "", 3)


def _tuple(rec: ConnectionRecord) -> tuple[str, int, str, int]:
    return (rec.client.ip, rec.client.port, rec.server.ip, rec.server.port)


class _Index:
    """One capture's records, findable by random, by 4-tuple, by client ISN and by SNI."""

    def __init__(self, cap: CaptureRecords) -> None:
        self.cap = cap
        self.used: set[int] = set()
        self.by_random: dict[bytes, int] = {}
        self.by_tuple: dict[tuple[str, int, str, int], list[int]] = {}
        self.by_isn: dict[tuple[int, int], list[int]] = {}
        self.by_sni: dict[tuple[str, int], list[int]] = {}
        for i, rec in enumerate(cap.records):
            ch = rec.tls.client_hello
            if ch is not None:
                self.by_random.setdefault(ch.random, i)
            self.by_tuple.setdefault(_tuple(rec), []).append(i)
            if rec.client_dir.isn is not None:
                self.by_isn.setdefault((rec.client_dir.isn, rec.server.port), []).append(i)
            if rec.sni:
                self.by_sni.setdefault((rec.sni, rec.server.port), []).append(i)

    def take(self, i: int) -> ConnectionRecord:
        self.used.add(i)
        return self.cap.records[i]

    def _near(self, candidates: list[int], ts: int, window: int, *, after_only: bool = False) -> int | None:
        best: tuple[int, int] | None = None
        for i in candidates:
            if i in self.used:
                continue
            d = self.cap.records[i].first_ts_ns - ts
            if after_only and d < -MAX_SKEW_NS // 30:
                continue
            if abs(d) <= window and (best is None or abs(d) < best[0]):
                best = (abs(d), i)
        return best[1] if best is not None else None

    def find(self, rec: ConnectionRecord) -> int | None:
        ch = rec.tls.client_hello
        if ch is not None:
            i = self.by_random.get(ch.random)
            if i is not None and i not in self.used:
                return i
        i = self._near(self.by_tuple.get(_tuple(rec), []), rec.first_ts_ns, MAX_SKEW_NS)
        if i is not None:
            return i
        if rec.client_dir.isn is not None:
            i = self._near(self.by_isn.get((rec.client_dir.isn, rec.server.port), []), rec.first_ts_ns, MAX_SKEW_NS)
            if i is not None:
                return i
        return None

    def find_intercepted(self, rec: ConnectionRecord) -> int | None:
        if not rec.sni:
            return None
        return self._near(self.by_sni.get((rec.sni, rec.server.port), []), rec.first_ts_ns, INTERCEPT_WINDOW_NS,
                          after_only=True)


def correlate(captures: Sequence[CaptureRecords], *, pair_intercepted: bool = True) -> list[Conversation]:
    """Conversations over all captures, each record in exactly one. ``pair_intercepted`` (the weak SNI
    and timing match) is for captures the user labelled as vantage points of the same traffic."""
    ordered = sorted(captures, key=lambda c: _rank(c.vantage))
    indexes = [_Index(c) for c in ordered]
    out: list[Conversation] = []
    for n, idx in enumerate(indexes):
        for i, rec in enumerate(idx.cap.records):
            if i in idx.used:
                continue
            idx.used.add(i)
            views = [View(idx.cap.capture, idx.cap.vantage, rec)]
            for other in indexes[n + 1:]:
                j = other.find(rec)
                if j is not None:
                    views.append(View(other.cap.capture, other.cap.vantage, other.take(j)))
            out.append(Conversation(tuple(views)))
    if len(indexes) > 1 and pair_intercepted:
        out = _pair_intercepted(out)
    return out


def _pair_intercepted(conversations: list[Conversation]) -> list[Conversation]:
    """Join single-view conversations of different captures that a TLS-terminating box split in two:
    same SNI and server port, the far side's connection starting just after the near side's."""
    singles = [c for c in conversations if len(c.views) == 1 and c.record.sni]
    if len(singles) < 2:
        return conversations
    joined: dict[int, Conversation] = {}
    taken: set[int] = set()
    for a_pos, a in enumerate(singles):
        if a_pos in taken:
            continue
        va = a.primary
        best: tuple[int, int] | None = None
        for b_pos, b in enumerate(singles):
            vb = b.primary
            if b_pos == a_pos or b_pos in taken or vb.capture == va.capture or _rank(vb.vantage) <= _rank(va.vantage):
                continue
            if vb.record.sni != va.record.sni:
                continue
            d = vb.record.first_ts_ns - va.record.first_ts_ns
            if -MAX_SKEW_NS // 30 <= d <= INTERCEPT_WINDOW_NS and (best is None or abs(d) < best[0]):
                best = (abs(d), b_pos)
        if best is not None:
            taken.update((a_pos, best[1]))
            joined[id(a)] = Conversation((va, singles[best[1]].primary), weak_match=True)
            joined[id(singles[best[1]])] = joined[id(a)]
    out: list[Conversation] = []
    seen: set[int] = set()
    for c in conversations:
        j = joined.get(id(c))
        if j is None:
            out.append(c)
        elif id(j) not in seen:
            seen.add(id(j))
            out.append(j)
    return out
