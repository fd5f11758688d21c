"""``middlebox_clienthello_blackhole``: something that is not the server acknowledged the ClientHello,
which never reached the server (seed 003: the client's capture shows the ClientHello ACKed with TTL 253
where the server's packets have 64; the server's capture shows the TCP connection and no ClientHello,
then the server's FIN after its 10 s idle timeout).

- Two vantage points: the client's view has the ClientHello sent and ACKed; the server's view of the
  same connection has no byte of it (``certain``).
- The client's view alone: the ACK of the ClientHello has a TTL unlike the server's SYN-ACK (``likely``).
- The server's view alone: connected, the client never sent a byte, the server gave up (``possible``:
  the ClientHello may never have been sent; a client-side capture settles it).
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import (
    Context,
    Conversation,
    Match,
    View,
    assemble,
    client_hello_evidence,
    first_packet,
    listing,
    seconds,
    servers_of,
    still_capturing,
    unlike_the_sender,
)

CAUSE = "middlebox_clienthello_blackhole"


def _hello_ack(view: View) -> tuple[Evidence, str | None] | None:
    """The server-side ACK that covers the ClientHello's bytes, and why it is not the server's."""
    rec = view.record
    ch = rec.frames.get("client_hello")
    if ch is None:
        return None
    hello = next((p for p in rec.packets if p.frame == ch), None)
    if hello is None:
        return None
    end = hello.seq + hello.payload_len
    ack = next((p for p in rec.packets if not p.from_client and p.frame > ch and "A" in p.flags and p.ack >= end),
               None)
    if ack is None:
        return None
    why = unlike_the_sender(rec, ack)
    text = f"the ClientHello was ACKed (ack {ack.ack}, TTL {ack.ttl})" + (f": {why}" if why else "")
    return Evidence(view.capture, text, frame=ack.frame,
                    display_filter=f"tcp.stream == {rec.tcp_stream} && frame.number == {ack.frame}"), why


def _server_got_nothing(view: View) -> bool:
    rec = view.record
    return rec.tcp_established and rec.client_dir.payload_bytes == 0


def match(conv: Conversation, ctx: Context) -> Match | None:
    client_view = conv.at("client") or conv.primary
    server_view = conv.at("server")
    acked = _hello_ack(client_view)
    if acked is not None and client_view.record.tls.server_hello is None:
        ack_ev, why = acked
        evidence = [e for e in (client_hello_evidence(client_view),) if e is not None] + [ack_ev]
        hello_sent = max((p.ts_ns for p in client_view.record.packets if p.from_client and p.payload_len),
                         default=client_view.record.last_ts_ns)
        if server_view is not None and server_view is not client_view and _server_got_nothing(server_view) \
                and still_capturing(server_view, client_view, hello_sent):
            srec = server_view.record
            evidence.append(Evidence(server_view.capture, "the server's capture of the same connection: TCP "
                                     "connected, no byte of the ClientHello arrived",
                                     display_filter=f"tcp.stream == {srec.tcp_stream}"))
            return Match(CAUSE, Confidence.CERTAIN, "ClientHello ACKed by the path, never delivered",
                         tuple(evidence))
        if why is not None:
            return Match(CAUSE, Confidence.LIKELY, "ClientHello ACKed by something else than the server, no answer",
                         tuple(evidence),
                         notes=("A capture at the server would settle it: there the ClientHello never arrives.",))
        return None
    if len(conv.views) == 1 and _server_got_nothing(conv.primary):
        rec = conv.record
        fin = first_packet(rec, from_client=False, flags="F") or first_packet(rec, from_client=False, flags="R")
        if fin is None or rec.client_dir.src_macs[1:] or rec.client_dir.ttls[1:]:
            return None  # several paths in: flow_split's
        est = rec.frames.get("established") or rec.frames.get("syn_ack") or rec.frames["first"]
        start = next((p.ts_ns for p in rec.packets if p.frame == est), rec.first_ts_ns)
        evidence = [Evidence(conv.primary.capture, f"connected, then no data from the client; the server closed "
                                                   f"{seconds(fin.ts_ns - start)} later", frame=fin.frame,
                             display_filter=f"tcp.stream == {rec.tcp_stream}")]
        return Match(CAUSE, Confidence.POSSIBLE, f"no ClientHello arrived; server closed after "
                                                 f"{seconds(fin.ts_ns - start)}", tuple(evidence),
                     notes=(
                         "Seen from the server only: the ClientHello never arrived. A capture at the client would "
                         "show whether it was sent and who ACKed it (TTL/IP-ID unlike the server's: a middlebox).",))
    return None


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"ClientHellos to {listing(servers)} swallowed by a box on the path",
        explanation=(f"For {len(matches)} connection(s) the ClientHello was acknowledged by something that is "
                     f"not {listing(servers)} (its TTL/IP-ID differ from the server's), and the server never got "
                     "it: a transparent proxy, a load balancer node without the connection's state, or a "
                     "firewall that terminates TCP."),
        fix=("Find the box that answers for the server: compare TTLs (the ACK's vs the SYN-ACK's) and capture on "
             "both sides of each hop (switch, LVS/LB nodes); make the path stateful per flow (5-tuple hashing, "
             "connection sync between LB nodes) or exempt the service from the proxy."))
