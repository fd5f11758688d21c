"""``flow_split``: one connection's packets arrive over several paths (several source MAC addresses or
TTLs for one direction of one connection), so part of it reaches a node without its state (seed 003:
switch line cards of two types hashing flows differently, two LVS nodes each seeing half a flow).

A failing connection whose packets in one direction carry more than one source MAC (or TTL) at some
vantage point: ``likely``, ``certain`` when another vantage point shows the server never got the
ClientHello. A healthy connection split over ECMP paths is not a finding (REPORT.md: healthy ones
appear in none)."""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import Context, Conversation, Match, assemble, listing, servers_of, still_capturing

CAUSE = "flow_split"


def match(conv: Conversation, ctx: Context) -> Match | None:
    for v in conv.views:
        rec = v.record
        for side in ("client", "server"):
            # Several source MACs for one direction: the frames came from several next hops. Several TTLs
            # count too, but only for the client's packets seen away from the client (at the server or a
            # switch): at the client, a server-side packet with another TTL is a box answering in the
            # server's name (middlebox_clienthello_blackhole, rst_injection), not a second path. RSTs are
            # left out: a forged one (rst_injection) differs by nature, it does not make a second path.
            own = [p for p in rec.packets if p.from_client == (side == "client") and "R" not in p.flags]
            macs = list(dict.fromkeys(p.src_mac for p in own if p.src_mac))
            ttls = list(dict.fromkeys(p.ttl for p in own))
            if len(macs) < 2 and not (side == "client" and len(ttls) > 1 and v.vantage not in (None, "client")):
                continue
            paths = []
            if len(macs) > 1:
                paths.append(f"{len(macs)} source MAC addresses ({', '.join(macs)})")
            if len(ttls) > 1:
                paths.append(f"{len(ttls)} TTLs ({', '.join(map(str, ttls))})")
            other = next((p for p in own if (len(macs) > 1 and p.src_mac != macs[0]) or
                          (len(macs) < 2 and p.ttl != ttls[0])), None)
            where = (f"tcp.stream == {rec.tcp_stream} && eth.src == {other.src_mac}" if other is not None and
                     len(macs) > 1 else f"tcp.stream == {rec.tcp_stream} && frame.number == {other.frame}"
                     if other is not None else f"tcp.stream == {rec.tcp_stream}")
            evidence = [Evidence(v.capture, f"the {side}'s packets of this one connection arrive with "
                                 + " and ".join(paths) + (f"; frame {other.frame} is the first from another path"
                                                          if other is not None else ""),
                                 frame=other.frame if other is not None else None, display_filter=where)]
            hello = next((p for p in conv.primary.record.packets if p.from_client and p.payload_len), None)
            got_nothing = [o for o in conv.views if o is not v and o.record.tcp_established
                           and o.record.client_dir.payload_bytes == 0
                           and (hello is None or still_capturing(o, conv.primary, hello.ts_ns))]
            for o in got_nothing:
                evidence.append(Evidence(o.capture, f"at the {o.vantage or 'other'} vantage point the same "
                                         "connection never carried the ClientHello",
                                         display_filter=f"tcp.stream == {o.record.tcp_stream}"))
            confidence = Confidence.CERTAIN if got_nothing or (len(macs) > 1 and len(conv.views) > 1) \
                else Confidence.LIKELY
            return Match(CAUSE, confidence, f"one flow over several paths ({' and '.join(paths)})",
                         tuple(evidence))
    return None


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"Connections to {listing(servers)} split over several paths",
        explanation=(f"{len(matches)} failing connection(s) arrived over more than one path (different source "
                     "MACs or TTLs within one direction of one connection): the network spreads one flow's "
                     "packets over several next hops, so some of them (here the ClientHello) reach a node that "
                     "does not hold the connection."),
        fix=("Make load sharing per flow: hash on the 5-tuple (src/dst IP, ports, protocol) on every switch and "
             "router of the path (same line-card types/hash settings on a port-channel or ECMP group), or sync "
             "connection state between the balancer nodes (LVS/IPVS connection sync)."))
