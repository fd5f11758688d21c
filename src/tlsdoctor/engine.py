"""The capture pass: frames -> TCP connections -> one ``ConnectionRecord`` each, in a single stream.

Theory of operation.

*Numbering.* Frames are numbered as Wireshark numbers them (the reader does that). TCP connections
get Wireshark's ``tcp.stream`` numbers: a new number for the first packet of a 4-tuple, and a new
number when a pure SYN arrives whose sequence number differs from the base sequence number of that
direction of the existing conversation (port reuse; ``packet-tcp.c``, ``dissect_tcp``). Every other
packet of the 4-tuple, however late, belongs to the newest conversation. To keep this exact after a
connection's record was emitted, a finished connection stays in the table as a small *tombstone*
for ``TOMBSTONE_SECONDS`` of capture time.

*Two speeds.* A connection starts on the slow path: every packet goes into its timeline, its payload
through per-direction reassembly (``net/reassembly.py``) into the TLS tracker (``handshake.py``).
Once the handshake is settled (completed, failed, not TLS, or the byte cap hit) the connection turns
*light*: its packets then cost a header read, a dict lookup and a few counters, unless they carry
SYN, FIN or RST, or change TTL or MAC addresses, which are always recorded. For Ethernet + IPv4
without options (most traffic) the header read is one ``struct`` call inlined in the loop. Where the
compiled build has its C light path (``_lightpath.c``, ``self.light``), the classic pcap reader
consumes those packets itself and they never reach this loop: their counters wait in C until
``_pull`` brings them back, before anything here reads them.

*Ending.* A connection is closed by a RST or by FINs from both sides; it lingers
``CLOSE_LINGER_SECONDS`` of capture time (so that the final ACKs, and a real server's answer after an
injected RST, are still attributed to it), then its record is emitted. A connection without packets
for ``IDLE_TIMEOUT_SECONDS`` is emitted as idle. At the end of the capture the rest are emitted.

Memory is bounded by the connections alive at once (``MAX_LIVE_CONNECTIONS``) and the caps of the
timeline, the reassembly buffers and the TLS parser, never by the file's size. Every cap is reported
as an anomaly when it is hit.
"""

from __future__ import annotations

import itertools
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from tlsdoctor.capture import Buffer, CaptureSource
from tlsdoctor.connection import (
    ConnectionRecord,
    DirectionFacts,
    EndedBy,
    Endpoint,
    TimelineEntry,
    TLSFacts,
    mac_text,
)
from tlsdoctor.handshake import DecryptingHandshakeTracker, HandshakeTracker
from tlsdoctor.net.decode import decode_ip, flow_shard, format_ip, ipv4_flow_shard, parse_tcp_options
from tlsdoctor.net.reassembly import StreamReassembler
from tlsdoctor.pickling import pickle_by_fields
from tlsdoctor.tls.keylog import KeyLog, keylog_from_secrets

if TYPE_CHECKING:
    from tlsdoctor._lightpath import LightTable

# --- named caps -------------------------------------------------------------------------------
CLOSE_LINGER_SECONDS: Final = 1.0
"""After a RST or both FINs, an unsettled handshake keeps listening this long: a real server's answer
may still come after a reset that something on the path forged."""
SETTLED_LINGER_SECONDS: Final = 0.1
"""A closed connection whose handshake is settled waits only for its last ACKs."""
IDLE_TIMEOUT_SECONDS: Final = 300
TOMBSTONE_SECONDS: Final = 60
"""How long (capture time) a finished connection's 4-tuple stays known, so that its late packets keep
Wireshark's tcp.stream number: Linux's TIME_WAIT (2 MSL = 60 s), past which a segment without SYN on
that 4-tuple is practically never seen. Memory grows with the connections finished in this window."""
MAX_LIVE_CONNECTIONS: Final = 200_000
MAX_TOMBSTONES: Final = 1_000_000
MAX_TIMELINE: Final = 64  # first packets kept per connection
MAX_TIMELINE_TAIL: Final = 32  # later SYN/FIN/RST packets kept after that
MAX_DISTINCT: Final = 8  # distinct TTLs / MACs kept per direction
MAX_ANOMALIES_PER_CONNECTION: Final = 32
MAX_CAPTURE_ANOMALIES: Final = 1000

_NS: Final = 1_000_000_000
_FIN: Final = 0x01
_SYN: Final = 0x02
_RST: Final = 0x04
_PSH: Final = 0x08
_ACK: Final = 0x10
_MOD: Final = 1 << 32

_TCP = struct.Struct("!HHIIHH")
_PORTS = struct.Struct("!HH")

FrameTuple = tuple[int, int, int, Buffer, int, int, int]
"""(number, ts_ns, linktype, buf, offset, caplen, origlen): the reader's frames (docs/design.md)."""


def embedded_keylog(source: CaptureSource) -> tuple[Iterator[FrameTuple], KeyLog | None]:
    """The frames of ``source`` (none lost) and the key log its pcapng Decryption Secrets Blocks carry
    (pcapng draft section 4.7; None when there is none, as in every pcap file).

    A Decryption Secrets Block precedes the packets it decrypts (Wireshark's editcap --inject-secrets
    puts it before the first packet): the first frame is read before the analyzer is built, so the
    blocks read by then are the ones that matter. A ``CaptureAnalyzer`` is given the result (merged
    with any key log given as a file) so that one streaming pass decrypts with both."""
    frames = source.frames()
    first = list(itertools.islice(frames, 1))
    secrets = source.decryption_secrets
    return itertools.chain(first, frames), keylog_from_secrets(secrets) if secrets else None


HOUSEKEEPING_MASK: Final = 1023
"""``CaptureAnalyzer.analyze`` keeps house (closes lingering connections, expires tombstones, sweeps idle
ones) before each frame whose number is a multiple of 1024."""
def new_light_table() -> LightTable | None:
    """A table of light flows whose plain packets the classic pcap reader consumes in C
    (``_lightpath.c``); None where that extension was not built (the plain build)."""
    try:
        from tlsdoctor._lightpath import LightTable
    except ImportError:
        return None
    return LightTable()


class _Dir:
    """Mutable state of one direction while the connection is alive."""

    __slots__ = (
        "base_seq", "conn", "dst_macs", "fin_frame", "fin_offset", "ip_id_first", "ip_id_last", "isn", "key",
        "mac_last", "max_ack_rel", "mss", "packets", "payload_bytes", "reasm", "retrans", "sack", "src_macs", "ts_opt",
        "ttl_last", "ttls", "window_first", "wscale", "zero_window",
    )

    def __init__(self, conn: _Conn, key: bytes) -> None:
        self.conn = conn
        self.key = key
        self.base_seq: int | None = None  # Wireshark's base_seq of this direction
        self.isn: int | None = None
        self.packets = 0
        self.payload_bytes = 0
        self.ttl_last = -1
        # Tuples, not lists: most directions see one TTL and one MAC pair, and a direction that sees none
        # (an unanswered SYN's server) shares the empty tuple; a record takes them as they are.
        self.ttls: tuple[int, ...] = ()
        self.ip_id_first: int | None = None
        self.ip_id_last: int | None = None
        self.mac_last: bytes | None = None
        self.src_macs: tuple[bytes, ...] = ()
        self.dst_macs: tuple[bytes, ...] = ()
        self.window_first: int | None = None
        self.mss: int | None = None
        self.wscale: int | None = None
        self.sack = False
        self.ts_opt = False
        self.max_ack_rel = 0  # the highest relative ACK this direction sent for the peer's data
        self.retrans = 0
        self.reasm: StreamReassembler | None = StreamReassembler()
        self.fin_frame: int | None = None
        self.fin_offset: int | None = None  # payload bytes before the FIN (the FIN takes one sequence number)
        self.zero_window = False


class _TombDir:
    """What stays of one direction of a connection whose record was emitted: its flow key (to leave the
    flow table when the tombstone expires) and its base sequence number (a pure SYN with another one
    starts a new stream, as in Wireshark). About 400 bytes a connection with its table entries, for the
    ``TOMBSTONE_SECONDS`` that it stays."""

    __slots__ = ("base_seq", "key")

    def __init__(self, d: _Dir) -> None:
        self.key = d.key
        self.base_seq = d.base_seq


class _Conn:
    __slots__ = (
        "a", "anomalies", "b", "client", "closed_ts", "done", "end_sender", "ended_by", "first_frame", "first_ts",
        "ipver", "last_frame", "last_ts", "light", "mid_stream", "milestones", "stream", "tail", "tcp_hist",
        "timeline", "tracker",
    )

    def __init__(self, stream: int, ipver: int, key: bytes, rkey: bytes, ts: int, frame: int) -> None:
        self.stream = stream
        self.ipver = ipver
        self.a = _Dir(self, key)  # the direction of the first packet seen
        self.b = _Dir(self, rkey)
        self.client: _Dir | None = None  # decided by the SYN, the SYN-ACK, the first payload or the ports
        self.first_ts = ts
        self.last_ts = ts
        self.first_frame = frame
        self.last_frame = frame
        self.light = False
        self.done = False  # its record was emitted; it stays as a tombstone for tcp.stream numbering
        self.mid_stream = False
        self.closed_ts: int | None = None
        self.ended_by: EndedBy | None = None
        self.end_sender: _Dir | None = None
        self.milestones: dict[str, int] = {}
        self.timeline: list[TimelineEntry] = []
        self.tail = 0
        self.tcp_hist = ""  # its letters, each once (a str: compiled, `in` is one C call, no list scan)
        self.tracker: HandshakeTracker | None = None
        self.anomalies: tuple[str, ...] = ()  # rare: the shared empty tuple until one comes


@dataclass(slots=True)
class EngineStats:
    frames: int = 0
    tcp_packets: int = 0
    not_tcp: int = 0
    connections: int = 0
    peak_live_connections: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> frames not used
    caps_hit: dict[str, int] = field(default_factory=dict)


class CaptureAnalyzer:
    """Reads frames and yields one ConnectionRecord per TCP connection, as connections end.

    ``analyze(frames)`` takes the reader's frame tuples ``(number, ts_ns, linktype, buf, offset,
    caplen, origlen)``; anomalies of the capture as a whole collect in ``self.anomalies``. Given a
    ``keylog`` (``tls.keylog.KeyLog``), handshakes whose client random it holds are decrypted on the way
    (``TLSFacts.decryption`` says how it went).
    """

    def __init__(self, capture_name: str, keylog: KeyLog | None = None) -> None:
        self.capture_name = capture_name
        self.keylog = keylog
        """With a key log, each connection's handshake tracker decrypts what the key log has keys for
        (``handshake.DecryptingHandshakeTracker``); without one the packet path is unchanged."""
        self.flows: dict[bytes, _Dir | _TombDir] = {}
        self.live: dict[int, _Conn] = {}
        self.closing: deque[_Conn] = deque()  # closed, handshake unsettled: CLOSE_LINGER_SECONDS
        self.closing_settled: deque[_Conn] = deque()  # closed and settled: SETTLED_LINGER_SECONDS
        self.tombstones: deque[tuple[int, _TombDir, _TombDir]] = deque()
        self.ended = False
        """The capture has ended (``analyze`` is emitting what was still open): no tombstones any more."""
        self.next_stream = 0
        self.stats = EngineStats()
        self.anomalies: list[str] = []
        self._last_idle_sweep = 0
        self._ready: list[ConnectionRecord] = []  # records finished by the slow path, to be yielded
        self.light = new_light_table()
        """The counters of the light IPv4 flows, kept in C while their plain packets are consumed there
        (``attach``); ``_pull`` brings them back before anything reads them."""
        self.progress_hook: Callable[[], object] | None = None
        """Called before every 1024th frame of the capture (which always reaches the analyzer, whatever
        the C reader consumes), for a progress bar: ``progress.Ticker``."""
        self.shard = 0
        self.jobs = 1
        """A worker of ``parallel.py`` analyses the connections of flow shard ``shard`` of ``jobs``
        (``net.decode.flow_shard``) and skips every other frame (``attach``)."""

    def attach(self, source: CaptureSource, shard: int = 0, jobs: int = 1) -> None:
        """Let ``source``'s reader consume the plain packets of this analyzer's light flows in C (when the
        build has the light path), and, for the worker of flow shard ``shard`` of ``jobs``, analyse only
        that shard's connections: ``analyze`` skips the other shards' frames (as does the C reader, before
        they reach it). Call it before ``analyze``."""
        source.use_light_table(self.light)
        self.shard, self.jobs = shard, jobs
        if self.light is not None and jobs > 1:
            self.light.set_shard(shard, jobs)

    # --- the hot loop ---------------------------------------------------------------------------
    def analyze(self, frames: Iterable[FrameTuple]) -> Iterator[ConnectionRecord]:
        # Compiled, ``flows.get(...)`` and ``self._slow(...)`` are direct C calls with C ints: no local
        # alias of a bound method here (which would be a generic call with every int boxed).
        flows = self.flows
        stats = self.stats
        closing = self.closing
        ready = self._ready
        lt = self.light
        hook = self.progress_hook
        shard = self.shard
        jobs = self.jobs
        number = 0
        ts = 0
        # The generic path's TCP fields come from a struct call: declared, so that they are C ints there too.
        sport: int
        dport: int
        seq: int
        ack: int
        offflags: int
        win: int
        for number, ts, linktype, buf, off, caplen, _origlen in frames:
            if not number & HOUSEKEEPING_MASK:
                # Every 1024th frame of the capture, whoever's it is: a flow shard's worker keeps house at
                # the same frames, with the same times, as one process does (the C reader yields such frames).
                if hook is not None:
                    hook()
                yield from self._housekeeping(ts)
            # Fast path: Ethernet, IPv4 with a 20-byte header, TCP, not a fragment.
            if linktype == 1 and caplen >= 54:
                # The Ethernet, IPv4 and TCP headers in one slice: bytes, whose bytes compiled code reads
                # as C ints (a struct call's results, or an index of the mmap, are objects and calls).
                h = buf[off : off + 54]
                if h[12] == 8 and h[13] == 0 and h[14] == 0x45 and h[23] == 6 and not (h[20] & 0x3F or h[21]):
                    if jobs > 1 and ipv4_flow_shard(
                            (h[26] << 24) | (h[27] << 16) | (h[28] << 8) | h[29],
                            (h[30] << 24) | (h[31] << 16) | (h[32] << 8) | h[33],
                            (h[34] << 8) | h[35], (h[36] << 8) | h[37], jobs) != shard:
                        continue  # another worker's connection
                    key = h[26:38]  # source, destination, source port, destination port
                    offflags = (h[46] << 8) | h[47]
                    doff = (offflags >> 12) * 4
                    flags = offflags & 0x0FFF
                    plen = ((h[16] << 8) | h[17]) - 20 - doff
                    ttl = h[22]
                    ipid = (h[18] << 8) | h[19]
                    d = flows.get(key)
                    if isinstance(d, _Dir):  # not None, not a tombstone (whose packets the slow path drops)
                        c = d.conn
                        if c.light and not flags & 7:
                            # An established, settled connection: counters only.
                            if lt is not None:  # (this fast path is IPv4's)
                                self._pull(c, lt)
                            d.packets += 1
                            if plen > 0:
                                d.payload_bytes += plen
                            c.last_ts = ts
                            c.last_frame = number
                            if ttl != d.ttl_last or h[:12] != d.mac_last:
                                self._path_change(d, ttl, h[:12])
                            d.ip_id_last = ipid
                            continue
                    stats.tcp_packets += 1
                    if plen < 0 or doff < 20:
                        self._skip("bad_tcp_header_length", number)
                        continue
                    poff = off + 34 + doff
                    avail = min(plen, off + caplen - poff)
                    try:
                        self._slow(d, key, 4, number, ts, flags, (h[34] << 8) | h[35], (h[36] << 8) | h[37],
                                   (h[38] << 24) | (h[39] << 16) | (h[40] << 8) | h[41],
                                   (h[42] << 24) | (h[43] << 16) | (h[44] << 8) | h[45], (h[48] << 8) | h[49],
                                   ttl, ipid, h[:12], buf, off + 34, doff, poff, plen, avail, off + caplen)
                    except Exception as exc:  # our bug, not the capture's: report it with the frame, go on
                        self._internal_error(number, key, exc)
                    if ready:
                        yield from ready
                        ready.clear()
                    continue
            # Generic path: VLAN tags, IPv6, IP options, other link types.
            if jobs > 1 and flow_shard(linktype, buf, off, caplen, jobs) != shard:
                continue  # another worker's connection (or, for any shard but 0, a frame that is not TCP)
            dec = decode_ip(linktype, buf, off, caplen)
            if isinstance(dec, str):
                self._skip(dec, number)
                continue
            ipver, src, dst, ttl, ipid_g, l4, l4_end, smac, dmac = dec
            end = min(l4_end, off + caplen)
            if l4 + 20 > end:
                self._skip("short_tcp_header", number)
                continue
            sport, dport, seq, ack, offflags, win = _TCP.unpack_from(buf, l4)
            doff = (offflags >> 12) * 4
            if doff < 20:
                self._skip("bad_tcp_header_length", number)
                continue
            flags = offflags & 0x0FFF
            key = src + dst + _PORTS.pack(sport, dport)
            plen = l4_end - l4 - doff
            if plen < 0:
                self._skip("bad_tcp_header_length", number)
                continue
            poff = l4 + doff
            avail = max(0, min(plen, off + caplen - poff))
            stats.tcp_packets += 1
            macs = (dmac + smac) if (smac is not None and dmac is not None) else None
            try:
                self._slow(flows.get(key), key, ipver, number, ts, flags, sport, dport, seq, ack, win, ttl,
                           ipid_g, macs, buf, l4, doff, poff, plen, avail, end)
            except Exception as exc:  # our bug, not the capture's: report it with the frame, go on
                self._internal_error(number, key, exc)
            if ready:
                yield from ready
                ready.clear()
        if lt is not None and lt.last_number > number:
            number = lt.last_number  # the capture's last frames were consumed in C
        stats.frames = number
        # The end of the capture: everything still open is emitted. No packet can follow, so the finished
        # connections leave no tombstone (``_finish``).
        self.ended = True
        for closing in (self.closing_settled, self.closing):
            while closing:
                c = closing.popleft()
                if not c.done:
                    yield self._finish(c, None)
        # The rest, in tcp.stream order, each let go as soon as its record is made, so that memory never
        # holds every live connection and every record at once (a SYN flood: 200,000 of each).
        rest: list[_Conn | None] = list(self.live.values())
        for i in range(len(rest)):
            left = rest[i]
            rest[i] = None
            if left is not None:
                yield self._finish(left, EndedBy.CAPTURE_END)

    # --- the slow path --------------------------------------------------------------------------
    def _slow(self, d: _Dir | _TombDir | None, key: bytes, ipver: int, number: int, ts: int, flags: int, sport: int,
              dport: int, seq: int, ack: int, win: int, ttl: int, ipid: int | None, macs: bytes | None,
              buf: Buffer, l4: int, doff: int, poff: int, plen: int, avail: int,
              cap_end: int) -> None:
        if self.light is not None and isinstance(d, _Dir) and d.conn.light and d.conn.ipver == 4:
            self._pull(d.conn, self.light)
        syn_only = flags & (_SYN | _ACK) == _SYN
        if d is not None and syn_only and d.base_seq is not None and seq != d.base_seq:
            # Port reuse: Wireshark starts a new tcp.stream (packet-tcp.c, "port reuse").
            if isinstance(d, _Dir):
                self._ready.append(self._finish(d.conn, None))
            d = None
        if isinstance(d, _TombDir):
            # A late packet of a connection whose record was already emitted: counted nowhere.
            return
        if d is None:
            if len(self.live) >= MAX_LIVE_CONNECTIONS:
                self._ready.extend(self._make_room(ts))
            rkey = _reverse_key(key, ipver)
            c = _Conn(self.next_stream, ipver, key, rkey, ts, number)
            self.next_stream += 1
            self.stats.connections += 1
            self.live[c.stream] = c
            if len(self.live) > self.stats.peak_live_connections:
                self.stats.peak_live_connections = len(self.live)
            self.flows[key] = c.a
            self.flows[rkey] = c.b
            d = c.a
        c = d.conn
        peer = c.b if d is c.a else c.a
        c.last_ts = ts
        c.last_frame = number
        d.packets += 1
        # Wireshark's base_seq: the SYN's seq, else seq - 1 for the first packet seen in a direction.
        if d.base_seq is None:
            d.base_seq = seq if flags & _SYN else (seq - 1) % _MOD
        if ttl != d.ttl_last or (macs is not None and macs != d.mac_last):
            self._path_change(d, ttl, macs)
        if d.ip_id_first is None:
            d.ip_id_first = ipid
        d.ip_id_last = ipid
        if d.window_first is None:
            d.window_first = win

        # Roles: the SYN's sender is the client; the SYN-ACK's receiver is.
        if c.client is None:
            if syn_only:
                c.client = d
            elif flags & (_SYN | _ACK) == (_SYN | _ACK):
                c.client = peer
        letter_dir_client = c.client is None or d is c.client

        if flags & _SYN:
            d.isn = seq
            # The options end at the data offset, or where the captured bytes end if sooner.
            mss, wscale, sack, tsopt = parse_tcp_options(buf, l4 + 20, min(l4 + doff, cap_end))
            d.mss, d.wscale, d.sack, d.ts_opt = mss, wscale, sack, tsopt
            if d.reasm is not None:
                d.reasm.set_isn(seq)
            if syn_only:
                c.milestones.setdefault("syn", number)
                self._hist(c, d, "S")
            else:
                c.milestones.setdefault("syn_ack", number)
                self._hist(c, d, "H")
        if flags & _ACK and not flags & _SYN:
            if peer.base_seq is not None:
                rel = (ack - peer.base_seq) % _MOD
                if rel < (1 << 31) and rel > d.max_ack_rel:
                    d.max_ack_rel = rel
            if plen == 0 and not flags & (_FIN | _RST):
                self._hist(c, d, "A")
                if "established" not in c.milestones and c.milestones.get("syn_ack") and c.client is d:
                    c.milestones["established"] = number
        if win == 0 and not flags & (_SYN | _RST) and not d.zero_window:
            d.zero_window = True
            self._hist(c, d, "W")

        tls_letters = ""
        if plen > 0:
            d.payload_bytes += plen
            self._hist(c, d, "D")
            if c.client is None:
                c.client = d if _looks_like_client_start(buf, poff, avail) or dport < sport else peer
                letter_dir_client = d is c.client
            if not c.light:
                if "syn" not in c.milestones and not c.a.payload_bytes + c.b.payload_bytes - plen \
                        and not (d is c.client and _looks_like_client_start(buf, poff, avail)):
                    # The capture began inside this connection: its handshake is not in the capture.
                    c.mid_stream = True
                    self._go_light(c)
                else:
                    tls_letters = self._payload(c, d, peer, number, ts, seq, buf, poff, plen, avail)
        if flags & _ACK and not c.light and peer.reasm is not None and peer.reasm.base is not None:
            for data, lost, _frame in peer.reasm.ack_seen(ack, number):
                if data is None:
                    self._anomaly(c, f"gap: {lost} bytes of the {self._side(c, peer)} never captured "
                                     f"(the peer acknowledged them in frame {number})")
                    self._hist(c, peer, "G")
                    self._tracker(c).gap(peer is c.client, lost, number)
        if flags & _FIN:
            if d.reasm is not None:
                d.reasm.fin(seq, plen)
            if d.fin_frame is None:
                d.fin_frame = number
                d.fin_offset = (seq - (d.base_seq or 0)) % _MOD + plen - (1 if d.isn is not None else 0)
                c.milestones.setdefault("fin_client" if letter_dir_client else "fin_server", number)
            self._hist(c, d, "F")
            if c.ended_by is None and peer.fin_frame is None:
                c.end_sender = d
            if peer.fin_frame is not None and c.closed_ts is None:
                self._close(c, ts, EndedBy.FIN)
        if flags & _RST:
            c.milestones.setdefault("rst", number)
            self._hist(c, d, "R")
            if c.ended_by is None or c.ended_by is EndedBy.FIN:
                c.ended_by = EndedBy.RST
                c.end_sender = d
            if c.closed_ts is None:
                self._close(c, ts, EndedBy.RST)

        # The timeline: the first packets, then only SYN/FIN/RST.
        if len(c.timeline) < MAX_TIMELINE or (flags & 7 and c.tail < MAX_TIMELINE_TAIL):
            if len(c.timeline) >= MAX_TIMELINE:
                c.tail += 1
            c.timeline.append((number, ts, d is c.a, flags, seq, ack, plen, ttl, ipid, win, macs, tls_letters))
        if c.tracker is not None and not c.light and c.tracker.settled:
            self._go_light(c)

    def _payload(self, c: _Conn, d: _Dir, peer: _Dir, number: int, ts: int, seq: int, buf: Buffer, poff: int,
                 plen: int, avail: int) -> str:
        reasm = d.reasm
        if reasm is None:
            return ""
        if avail < plen:
            self._anomaly(c, f"frame {number}: {plen - avail} payload bytes not captured (snap length)")
        data = buf[poff : poff + avail] if avail > 0 else b""
        before = reasm.retransmissions
        out = reasm.segment(seq, data, number, ts)
        if reasm.retransmissions != before:
            d.retrans += 1
            self._hist(c, d, "T")
        if avail < plen:
            # The missing tail is a gap: the parser must not read across it.
            out.append((None, plen - avail, number))
        tr = self._tracker(c)
        from_client = d is c.client
        letters = ""
        for data_or_none, x, y in out:
            if data_or_none is None:
                self._hist(c, d, "G")
                letters += tr.gap(from_client, x, y)
            else:
                letters += tr.feed(from_client, data_or_none, x, y)
        return letters

    def _tracker(self, c: _Conn) -> HandshakeTracker:
        if c.tracker is None:
            c.tracker = HandshakeTracker() if self.keylog is None else DecryptingHandshakeTracker(self.keylog)
        return c.tracker

    def _go_light(self, c: _Conn) -> None:
        c.light = True
        c.a.reasm = None
        c.b.reasm = None
        if c.tracker is not None:
            c.tracker.release()
        if self.light is not None and c.ipver == 4:
            for d in (c.a, c.b):
                self.light.add(d.key, d.ttl_last, d.mac_last)

    @staticmethod
    def _pull(c: _Conn, lt: LightTable) -> None:
        """Bring back the counters of a light connection's packets that the C reader consumed."""
        for d in (c.a, c.b):
            got = lt.pull(d.key)
            if got is not None:
                packets, payload, ip_id, frame, ts = got
                d.packets += packets
                d.payload_bytes += payload
                d.ip_id_last = ip_id
                if frame > c.last_frame:
                    c.last_frame = frame
                    c.last_ts = ts

    # --- bookkeeping ----------------------------------------------------------------------------
    def _internal_error(self, number: int, key: bytes, exc: Exception) -> None:
        """An exception in our own code while handling a frame. The frame's connection stops being
        analysed in depth (it goes on the cheap path), the error is reported as tlsdoctor's bug with
        the frame number, and the rest of the capture is still read."""
        text = (f"frame {number}: internal error in tlsdoctor ({type(exc).__name__}: {exc}); this is our bug, "
                "please report it with this frame")
        if len(self.anomalies) < MAX_CAPTURE_ANOMALIES:
            self.anomalies.append(text)
        self.stats.caps_hit["internal_errors"] = self.stats.caps_hit.get("internal_errors", 0) + 1
        d = self.flows.get(key)
        if isinstance(d, _Dir) and not d.conn.done:
            self._anomaly(d.conn, text)
            self._go_light(d.conn)

    def _path_change(self, d: _Dir, ttl: int, macs: bytes | None) -> None:
        if ttl != d.ttl_last:
            d.ttl_last = ttl
            if ttl not in d.ttls and len(d.ttls) < MAX_DISTINCT:
                d.ttls = (*d.ttls, ttl)
        if macs is not None and macs != d.mac_last:
            d.mac_last = macs
            dst, src = macs[:6], macs[6:12]
            if src not in d.src_macs and len(d.src_macs) < MAX_DISTINCT:
                d.src_macs = (*d.src_macs, src)
            if dst not in d.dst_macs and len(d.dst_macs) < MAX_DISTINCT:
                d.dst_macs = (*d.dst_macs, dst)
        if self.light is not None and d.conn.light and d.conn.ipver == 4:
            self.light.set_path(d.key, d.ttl_last, d.mac_last)

    def _hist(self, c: _Conn, d: _Dir, letter: str) -> None:
        is_client = c.client is None or d is c.client
        ch = letter if is_client else letter.lower()
        if ch not in c.tcp_hist:
            c.tcp_hist += ch

    def _side(self, c: _Conn, d: _Dir) -> str:
        return "client" if c.client is None or d is c.client else "server"

    def _anomaly(self, c: _Conn, text: str) -> None:
        if len(c.anomalies) < MAX_ANOMALIES_PER_CONNECTION:
            c.anomalies = (*c.anomalies, text)
        elif len(c.anomalies) == MAX_ANOMALIES_PER_CONNECTION:
            c.anomalies = (*c.anomalies, "more anomalies on this connection were not kept")

    def _skip(self, reason: str, number: int | None = None) -> None:
        skipped = self.stats.skipped
        skipped[reason] = skipped.get(reason, 0) + 1
        if reason in ("not_tcp", "not_ip"):
            self.stats.not_tcp += 1
        elif number is not None and skipped[reason] <= 3 and len(self.anomalies) < MAX_CAPTURE_ANOMALIES:
            self.anomalies.append(f"frame {number}: {reason.replace('_', ' ')}")

    def _cap(self, name: str, text: str) -> None:
        caps = self.stats.caps_hit
        if name not in caps:
            self.anomalies.append(text)
        caps[name] = caps.get(name, 0) + 1

    def _close(self, c: _Conn, ts: int, how: EndedBy) -> None:
        c.closed_ts = ts
        if c.ended_by is None:
            c.ended_by = how
        settled = c.light or c.tracker is None or c.tracker.settled
        (self.closing_settled if settled else self.closing).append(c)

    def _housekeeping(self, ts: int) -> Iterator[ConnectionRecord]:
        for closing, seconds in ((self.closing_settled, SETTLED_LINGER_SECONDS), (self.closing, CLOSE_LINGER_SECONDS)):
            linger = int(seconds * _NS)
            while closing and closing[0].closed_ts is not None and ts - closing[0].closed_ts > linger:
                c = closing.popleft()
                if not c.done:
                    yield self._finish(c, None)
        tomb_deadline = ts - TOMBSTONE_SECONDS * _NS
        tombs = self.tombstones
        while tombs and (tombs[0][0] < tomb_deadline or len(tombs) > MAX_TOMBSTONES):
            if len(tombs) > MAX_TOMBSTONES and tombs[0][0] >= tomb_deadline:
                self._cap("tombstones", f"more than {MAX_TOMBSTONES} finished connections within "
                                        f"{TOMBSTONE_SECONDS} s: tcp.stream numbers of very late packets may "
                                        "differ from Wireshark's")
            _, ta, tb = tombs.popleft()
            for td in (ta, tb):
                if self.flows.get(td.key) is td:
                    del self.flows[td.key]
        if ts - self._last_idle_sweep > 10 * _NS:
            self._last_idle_sweep = ts
            self._pull_all()
            deadline = ts - IDLE_TIMEOUT_SECONDS * _NS
            for c in [c for c in self.live.values() if c.last_ts < deadline]:
                yield self._finish(c, EndedBy.IDLE)

    def _make_room(self, ts: int) -> list[ConnectionRecord]:
        self._cap("live_connections", f"more than {MAX_LIVE_CONNECTIONS} connections alive at once: the least "
                                      "recently active were ended early as idle")
        self._pull_all()
        victims = sorted(self.live.values(), key=lambda c: c.last_ts)[: MAX_LIVE_CONNECTIONS // 10]
        return [self._finish(c, EndedBy.IDLE) for c in victims]

    def _pull_all(self) -> None:
        lt = self.light
        if lt is not None:
            for c in self.live.values():
                if c.light and c.ipver == 4:
                    self._pull(c, lt)

    # --- the record -----------------------------------------------------------------------------
    def _finish(self, c: _Conn, how: EndedBy | None) -> ConnectionRecord:
        lt = self.light
        if lt is not None and c.light and c.ipver == 4:
            self._pull(c, lt)
            lt.discard(c.a.key)
            lt.discard(c.b.key)
        del self.live[c.stream]
        c.done = True
        if self.ended:
            for d in (c.a, c.b):
                if self.flows.get(d.key) is d:
                    del self.flows[d.key]
        else:
            ta, tb = _TombDir(c.a), _TombDir(c.b)
            for td in (ta, tb):
                if self.flows.get(td.key) in (c.a, c.b):
                    self.flows[td.key] = td
            self.tombstones.append((c.last_ts, ta, tb))
        if c.client is None:
            c.client = c.a
        client, server = c.client, (c.b if c.client is c.a else c.a)
        tr = c.tracker
        # Flush reassembly holes so the parser sees the rest, then settle the TLS facts.
        if not c.light and tr is not None:
            for dd in (client, server):
                if dd.reasm is not None:
                    for data, x, y in dd.reasm.flush(c.last_frame):
                        if data is None:
                            tr.gap(dd is client, x, y)
                        else:
                            tr.feed(dd is client, data, x, y)
        ended_by = c.ended_by if c.ended_by is not None else how if how is not None else EndedBy.CAPTURE_END
        tls = tr.summary(c.last_frame) if tr is not None and (tr.tls_seen or tr.not_tls) else None
        end_sender = c.end_sender
        if tls is not None and tls.fatal_alert is not None and ended_by is not EndedBy.RST:
            ended_by = EndedBy.ALERT
        elif tls is not None and tls.fatal_alert is not None and c.ended_by is EndedBy.RST:
            # An alert and then a RST: the alert is the cause; the RST is how the socket closed.
            ended_by = EndedBy.ALERT
        if ended_by is EndedBy.ALERT and tls is not None and tls.fatal_alert is not None:
            end_sender_name: str | None = tls.fatal_alert.sender
        elif end_sender is not None:
            end_sender_name = "client" if end_sender is client else "server"
        else:
            end_sender_name = None

        ip_a, ip_b, port_a, port_b = _split_key(client.key, c.ipver)
        milestones = dict(c.milestones)
        if tls is not None:
            milestones.update(tls.frames)
        milestones["first"] = c.first_frame
        milestones["last"] = c.last_frame
        syn_seen = "syn" in milestones
        established = syn_seen and "syn_ack" in milestones and (
            "established" in milestones or client.max_ack_rel > 0 or client.payload_bytes > 0)
        rec = ConnectionRecord(
            capture=self.capture_name,
            tcp_stream=c.stream,
            client=Endpoint(ip_a, port_a),
            server=Endpoint(ip_b, port_b),
            ip_version=c.ipver,
            first_ts_ns=c.first_ts,
            last_ts_ns=c.last_ts,
            frames=milestones,
            tcp_history=c.tcp_hist,
            history=tls.history if tls is not None else "",
            ended_by=ended_by,
            end_sender=end_sender_name,
            syn_seen=syn_seen,
            tcp_established=established,
            is_tls=tls.is_tls if tls is not None else False,
            handshake_completed=tls.completed if tls is not None else False,
            handshake_stage=("mid_stream" if c.mid_stream else tls.stage if tls is not None else
                             "tcp_established" if established else "syn" if syn_seen else "none"),
            tls_version=tls.version if tls is not None else None,
            versions_offered=tls.versions_offered if tls is not None else (),
            sni=tls.sni if tls is not None else None,
            alpn_offered=tls.alpn_offered if tls is not None else (),
            alpn_chosen=tls.alpn_chosen if tls is not None else None,
            cipher_suite=tls.cipher_suite if tls is not None else None,
            tls=tls.facts if tls is not None else _EMPTY_TLS,
            client_dir=_direction_facts(client, server),
            server_dir=_direction_facts(server, client),
            timeline=tuple(c.timeline),
            first_side_is_client=client is c.a,
            client_base_seq=client.base_seq,
            server_base_seq=server.base_seq,
            anomalies=c.anomalies + tls.anomalies if tls is not None else c.anomalies,
        )
        # A connection's one reference cycle (each direction points back at it) is cut here, so that
        # reference counting frees the connection, its timeline and its parsers at once: left to the
        # cyclic collector they pile up between its passes, which then cost a fifth of the run.
        c.a.conn = c.b.conn = _DETACHED
        return rec


_DETACHED: Final = _Conn(-1, 4, bytes(12), bytes(12), 0, 0)
"""What the directions of a finished connection point at instead of it (``CaptureAnalyzer._finish``)."""


def _direction_facts(d: _Dir, peer: _Dir) -> DirectionFacts:
    return DirectionFacts(
        packets=d.packets,
        payload_bytes=d.payload_bytes,
        ttls=d.ttls,
        first_ip_id=d.ip_id_first,
        last_ip_id=d.ip_id_last,
        src_macs=tuple(mac_text(m) for m in d.src_macs),
        dst_macs=tuple(mac_text(m) for m in d.dst_macs),
        isn=d.isn,
        window=d.window_first,
        mss=d.mss,
        window_scale=d.wscale,
        sack_permitted=d.sack,
        timestamps=d.ts_opt,
        acked_bytes=_acked_bytes(d, peer),
        retransmissions=d.retrans,
    )


def _acked_bytes(d: _Dir, peer: _Dir) -> int:
    """Payload bytes of ``d`` that ``peer`` acknowledged: its highest ACK, less the SYN's and the FIN's
    sequence numbers, which are not bytes."""
    acked = max(0, peer.max_ack_rel - (1 if d.isn is not None else 0))
    if d.fin_offset is not None and acked > d.fin_offset:
        acked = d.fin_offset
    return acked


def _reverse_key(key: bytes, ipver: int) -> bytes:
    n = 4 if ipver == 4 else 16
    return key[n : 2 * n] + key[:n] + key[2 * n + 2 : 2 * n + 4] + key[2 * n : 2 * n + 2]


def _split_key(key: bytes, ipver: int) -> tuple[str, str, int, int]:
    n = 4 if ipver == 4 else 16
    # The ports byte by byte: compiled, C reads of the bytes (a struct call is generic and builds a tuple).
    sport = (key[2 * n] << 8) | key[2 * n + 1]
    dport = (key[2 * n + 2] << 8) | key[2 * n + 3]
    return format_ip(key[:n]), format_ip(key[n : 2 * n]), sport, dport


def _looks_like_client_start(buf: Buffer, poff: int, avail: int) -> bool:
    """A TLS handshake record holding a ClientHello, or an SSLv2-compatible ClientHello."""
    if avail < 6:
        return False
    b0 = buf[poff]
    if b0 == 0x16 and buf[poff + 1] == 3:
        return bool(buf[poff + 5] == 1)
    return bool(b0 & 0x80 and buf[poff + 2] == 1)


_EMPTY_TLS = TLSFacts()


pickle_by_fields(__name__)
