"""Ladder (sequence) diagrams of a connection: the packets as arrows between client, path and server.

Theory of operation. A ladder is what an engineer draws on a whiteboard when two captures disagree:
one column per party, one arrow per packet, time running down. ``ladders_for`` turns the record of a
failing connection, as each vantage point saw it, into ``Ladder`` values (pure data, no drawing); the
writers draw them: ``svg`` for the HTML report, ``text`` for Markdown and terminals.

Each arrow carries what a person checks in Wireshark: the frame number in that capture, the time since
the connection's first packet, the TCP flags, TTL and IP-ID, the payload length and the TLS messages
the packet completed (from the record's history letters, and the alert the record holds for that
frame). Three marks, two of them proven by comparing captures:

- ``forged`` (needs a capture at the other end): a packet that arrived "from" an end whose own capture
  never sent it. Drawn from the ``path`` column: something between the two hosts sent it in that
  end's name (a reset injector, a TLS-intercepting proxy, another node behind the same address).
- ``lost`` (needs a capture at the other end): a packet the sender's capture shows leaving that the
  receiver's capture never shows arriving. Drawn ending at the ``path`` column.
- ``odd``: a packet whose TTL is unlike every other packet of the address it carries
  (``rules.base.unlike_the_sender``). One capture cannot tell a forgery from a packet that came another
  way (seed 003's sprayed flow); the arrow stays with its sender, in amber, with the reason.

Packets are matched across captures by direction, relative sequence number, payload length and SYN /
FIN / RST flags: those survive NAT and do not depend on the two captures' clocks. Two views are
compared only when they show the same TCP connection (the same client ISN): a box that terminates TCP
(an intercepting proxy) or rewrites sequence numbers makes two connections of one, and the ladder says
so instead. A capture whose timeline of the connection was cut (``engine.MAX_TIMELINE``) is not used to
call a packet lost or forged, and neither is a capture that may have stopped early (it shows the
connection still open at its end) for the packets after the last one it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tlsdoctor.connection import ConnectionRecord, EndedBy, PacketFact
from tlsdoctor.rules.base import packet_key, unlike_the_sender

CLIENT, PATH, SERVER = "client", "path", "server"

# The TLS history letters (docs/connections.md), upper case for the client and lower case for the server.
_MESSAGES = {
    "C": "ClientHello", "S": "ServerHello", "J": "HelloRetryRequest", "X": "Certificate",
    "K": "ServerKeyExchange", "R": "CertificateRequest", "N": "ServerHelloDone", "Y": "CertificateVerify",
    "G": "ClientKeyExchange", "F": "Finished", "T": "NewSessionTicket", "O": "EncryptedExtensions",
    "U": "CertificateStatus", "H": "HelloRequest", "V": "HelloVerifyRequest", "E": "EndOfEarlyData",
    "P": "KeyUpdate", "M": "MessageHash", "W": "CertificateURL", "A": "SupplementalData",
    "Z": "Handshake(other)", "I": "ChangeCipherSpec", "L": "Alert", "D": "Encrypted", "B": "Heartbeat",
    "Q": "Record(other)", "!": "not TLS", "~": "parse stopped",
}


@dataclass(frozen=True, slots=True)
class Arrow:
    frame: int
    t_ms: float  # since the first packet of this view of the connection
    sender: str  # CLIENT, SERVER or PATH (a forged packet)
    receiver: str  # CLIENT, SERVER or PATH (a lost packet)
    flags: str
    ttl: int
    ip_id: int | None
    payload_len: int
    tls: str  # "ClientHello", "Certificate, ServerHelloDone", "Alert 42 bad_certificate", ""
    mark: str = ""  # "", "forged", "lost" or "odd"
    why: str = ""  # the evidence behind the mark

    @property
    def label(self) -> str:
        """What the arrow says: the TLS messages, else "data" or the TCP flags; and the payload's size."""
        text = self.tls or ("data" if self.payload_len else f"[{self.flags}]")
        if self.payload_len:
            text += f" ({self.payload_len} B)"
        return text

    @property
    def detail(self) -> str:
        """Flags, TTL and IP-ID: what tells one sender from another."""
        return f"[{self.flags}] TTL {self.ttl}" + (f" id {self.ip_id}" if self.ip_id is not None else "")


@dataclass(frozen=True, slots=True)
class Ladder:
    title: str
    capture: str
    tcp_stream: int
    vantage: str | None
    client: str  # ip:port
    server: str
    arrows: tuple[Arrow, ...]
    healthy: bool = False  # drawn for contrast: a completed handshake with the same server
    cut: bool = False  # the record's timeline was cut: later packets are not drawn
    note: str = ""  # why the packets were not compared with another capture's

    @property
    def has_path(self) -> bool:
        """Whether a middle column is needed (a forged or lost packet)."""
        return any(PATH in (a.sender, a.receiver) for a in self.arrows)

    @property
    def display_filter(self) -> str:
        return f"tcp.stream == {self.tcp_stream}"


def _tls_labels(rec: ConnectionRecord, p: PacketFact) -> str:
    names: list[str] = []
    for letter in p.tls:
        name = _MESSAGES.get(letter.upper(), letter)
        if letter.upper() == "L":
            alert = next((a for a in rec.tls.alerts if a.frame == p.frame), None)
            if alert is not None:
                name = "Alert (encrypted)" if alert.code is None else f"Alert {alert.code} {alert.name}"
        if not names or names[-1] != name:
            names.append(name)
    return ", ".join(names)


def _cut(rec: ConnectionRecord) -> bool:
    """Whether the record's timeline lacks some of the connection's packets (``engine.MAX_TIMELINE``)."""
    return rec.client_dir.packets + rec.server_dir.packets > len(rec.timeline)


def _complete(rec: ConnectionRecord) -> bool:
    return rec.syn_seen and not _cut(rec)


def _horizon(packets: Sequence[PacketFact], end: ConnectionRecord, keys: set[tuple[bool, int, int, str]]) -> int:
    """How many of ``packets`` the capture of ``end`` can speak for. A capture that shows the connection
    closed (FIN, RST, alert) or evicted as idle was still running after it; one that shows it still open
    at its end may have stopped early, and proves nothing past the last packet of ours that it has."""
    if end.ended_by != EndedBy.CAPTURE_END:
        return len(packets)
    return max((i + 1 for i, p in enumerate(packets) if packet_key(p) in keys), default=0)


def ladder(rec: ConnectionRecord, *, capture: str, vantage: str | None = None,
           client_end: ConnectionRecord | None = None, server_end: ConnectionRecord | None = None,
           client_name: str = "the client's capture", server_name: str = "the server's capture",
           healthy: bool = False, title: str = "", note: str = "") -> Ladder:
    """The ladder of one view of a connection.

    ``client_end`` / ``server_end``: the same connection as captured nearest the client and nearest the
    server (other vantage points), to mark packets one end sent and the other never saw, and packets
    that arrived "from" an end that never sent them. Either may be ``rec`` itself or None."""
    client_keys, server_keys = ({packet_key(q) for q in end.packets} if end is not None and _complete(end) else None
                                for end in (client_end, server_end))
    packets = rec.packets
    horizon = {CLIENT: len(packets), SERVER: len(packets)}
    for side, end, keys in ((CLIENT, client_end, client_keys), (SERVER, server_end, server_keys)):
        if end is not None and end is not rec and keys is not None:
            horizon[side] = _horizon(packets, end, keys)
    t0 = packets[0].ts_ns if packets else rec.first_ts_ns
    arrows = []
    for i, p in enumerate(packets):
        sender, receiver = (CLIENT, SERVER) if p.from_client else (SERVER, CLIENT)
        client_known = client_keys if i < horizon[CLIENT] else None
        server_known = server_keys if i < horizon[SERVER] else None
        own_keys, peer_keys = (client_known, server_known) if p.from_client else (server_known, client_known)
        own_end, peer_end = (client_end, server_end) if p.from_client else (server_end, client_end)
        own_name, peer_name = (client_name, server_name) if p.from_client else (server_name, client_name)
        who = "client" if p.from_client else "server"
        mark = why = ""
        if own_keys is not None and own_end is not rec and packet_key(p) not in own_keys:
            mark, why, sender = "forged", f"not sent by the {who}: {own_name} does not have it", PATH
        elif peer_keys is not None and peer_end is not rec and packet_key(p) not in peer_keys:
            mark, why, receiver = "lost", f"never reached the other end: {peer_name} does not have it", PATH
        elif (odd := unlike_the_sender(rec, p)) is not None and not p.payload_len:
            mark, why = "odd", odd + (": sent by the " + who + " by another path, or by a box in its name"
                                      if own_keys is None else ": the " + who + "'s capture has it, by another path")
        arrows.append(Arrow(p.frame, (p.ts_ns - t0) / 1e6, sender, receiver, p.flags, p.ttl, p.ip_id,
                            p.payload_len, _tls_labels(rec, p), mark, why))
    stopped = [f"{name} stopped before this connection ended there (it shows it still open when the capture "
               "ends): " + (f"the packets after frame {packets[horizon[side] - 1].frame}" if horizon[side] else
                            "its packets") + " are not compared with it"
               for side, name in ((CLIENT, client_name), (SERVER, server_name)) if horizon[side] < len(packets)]
    note = "; ".join([note, *stopped] if note else stopped)
    where = f" at {vantage}" if vantage else ""
    return Ladder(title or f"{capture}, tcp.stream {rec.tcp_stream}{where}", capture, rec.tcp_stream, vantage,
                  str(rec.client), str(rec.server), tuple(arrows), healthy, _cut(rec), note)


def _not_compared(cap: str, rec: ConnectionRecord, first_cap: str, first: ConnectionRecord) -> str:
    """Why the view of ``cap`` is not compared packet by packet with the first view's."""
    # Without its SYN a capture has no client ISN: that is not another connection (seed 003's node B got
    # the sprayed flow from its ClientHello on), only one whose sequence numbers cannot be lined up.
    no_syn = next(((c, r) for c, r in ((cap, rec), (first_cap, first)) if r.client_dir.isn is None), None)
    if no_syn is not None:
        return (f"{no_syn[0]} did not see this connection's SYN (its capture began later, or the packets took "
                "another path), so its packets are not compared with the other captures'")
    return (f"{cap} shows another TCP connection than {first_cap} (another client ISN): a box in between "
            "terminated TCP or rewrote sequence numbers, so packets are not compared")


def ladders_for(views: Sequence[tuple[str, str | None, ConnectionRecord]]) -> list[Ladder]:
    """One ladder per vantage point of a connection; ``views`` are (capture, vantage, record), the one
    nearest the client first and the one nearest the server last (``rules.base.Conversation`` order)."""
    if not views:
        return []
    first, last = views[0], views[-1]
    isn = first[2].client_dir.isn
    same = [rec.client_dir.isn == isn and isn is not None for _, _, rec in views]
    # Only a capture labelled so (by --vantage, or by the TTLs of two unlabelled ones) speaks for an end:
    # with the user's own labels the order of the views is the order given, not client to server.
    at_client, at_server = first[1] == CLIENT, last[1] == SERVER and len(views) > 1
    unknown = [end for end, known in ((CLIENT, at_client), (SERVER, at_server)) if not known]
    out = []
    for (cap, vantage, rec), comparable in zip(views, same, strict=True):
        note = ""
        if len(views) > 1 and not comparable:
            note = _not_compared(cap, rec, first[0], first[2])
        elif len(views) > 1 and not same[-1]:
            note = _not_compared(last[0], last[2], first[0], first[2])
        elif len(views) > 1 and unknown:
            note = (f"no capture is labelled {' or '.join(unknown)}, and only the capture at an end proves a packet "
                    "it sent or received forged or lost (" + " ".join(f"--vantage {e}=FILE" for e in unknown) + ")")
        ends = comparable and len(views) > 1
        client_end = first[2] if ends and at_client else None
        server_end = last[2] if ends and same[-1] and at_server else None
        out.append(ladder(rec, capture=cap, vantage=vantage, client_end=client_end, server_end=server_end,
                          client_name=first[0], server_name=last[0], note=note))
    return out


def healthy_ladder(rec: ConnectionRecord, failing_server: str | None = None) -> Ladder:
    """A completed handshake drawn for contrast, from its own capture; ``failing_server``: the server of
    the failing connection it stands beside, when it is another one."""
    where = f"{rec.capture}, tcp.stream {rec.tcp_stream}"
    if failing_server is None or failing_server == str(rec.server):
        title = f"for contrast: a completed handshake with {rec.server} ({where})"
    else:
        title = (f"for contrast: a completed handshake with another server, {rec.server} ({where}); "
                 f"none with {failing_server} completed")
    return ladder(rec, capture=rec.capture, healthy=True, title=title)


def text(lad: Ladder, width: int = 44) -> str:
    """The ladder as fixed-width text (Markdown code blocks, terminals)."""
    head = f"{'frame':>6} {'ms':>9}  {('client ' + lad.client):<{width}}  server {lad.server}"
    lines = [lad.title, head]
    for a in lad.arrows:
        detail, label = a.detail, a.label
        if len(label) > width - 12:
            label = label[:width - 13] + "…"
        if a.sender == PATH:
            arrow = ("<~~ " + label + " ~~ path").ljust(width, "~") if a.receiver == CLIENT else \
                ("path ~~ " + label + " ~~>").rjust(width, "~")
        elif a.receiver == PATH:
            arrow = ("-- " + label + " --X path") if a.sender == CLIENT else ("path X-- " + label + " --")
            arrow = arrow.ljust(width) if a.sender == CLIENT else arrow.rjust(width)
        elif a.sender == CLIENT:
            arrow = ("-- " + label + " ").ljust(width - 1, "-") + ">"
        else:
            arrow = "<" + (" " + label + " --").rjust(width - 1, "-")
        mark = f"  ** {a.mark}: {a.why}" if a.mark else ""
        lines.append(f"{a.frame:>6} {a.t_ms:>9.3f}  {arrow}  {detail}{mark}")
    if lad.note:
        lines.append(f"{'':>6} {'':>9}  ({lad.note})")
    if lad.cut:
        lines.append(f"{'':>6} {'':>9}  (later packets not kept; see the capture)")
    return "\n".join(lines)
