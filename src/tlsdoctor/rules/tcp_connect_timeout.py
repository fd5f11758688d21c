"""``tcp_connect_timeout``: the SYN was never answered (no SYN-ACK, no RST): a host that is down, a
route that leads nowhere, or a firewall that drops. The client's SYN retransmissions show how long it
tried (RFC 6298 section 5: the retransmission timer doubles)."""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import Context, Conversation, Match, assemble, listing, seconds, servers_of

CAUSE = "tcp_connect_timeout"


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    if not rec.syn_seen or rec.tcp_established or "syn_ack" in rec.frames:
        return None
    syns = [p for p in rec.packets if p.from_client and p.flags.startswith("S")]
    if any(not p.from_client for p in rec.packets):
        return None  # the server answered something: not a timeout
    span = seconds(syns[-1].ts_ns - syns[0].ts_ns) if len(syns) > 1 else "0 ms"
    ev = Evidence(v.capture, f"SYN to {rec.server}, sent {len(syns)} time(s) over {span}, never answered",
                  frame=rec.frames["syn"], display_filter=f"tcp.stream == {rec.tcp_stream} && tcp.flags.syn == 1")
    notes: tuple[str, ...] = ()
    if conv.at("server") is None and len(conv.views) == 1:
        notes = ("A capture on the server would show whether the SYN arrived (then the server or its host "
                 "firewall drops it) or not (the path drops it).",)
    return Match(CAUSE, Confidence.CERTAIN, f"no answer to {len(syns)} SYN(s) over {span}", (ev,),
                 notes=notes)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"TCP connection to {listing(servers)} not answered",
        explanation=(f"{len(matches)} connection(s) to {listing(servers)} never got a SYN-ACK nor a RST: the "
                     "host is down or unreachable, or a firewall silently drops the SYN. TLS never started."),
        fix=(f"Check the route and firewalls to {listing(servers)} (ping/traceroute -T -p PORT from the client "
             "side, tcpdump on the server); if it is an nginx upstream, check its address and "
             "proxy_connect_timeout."))
