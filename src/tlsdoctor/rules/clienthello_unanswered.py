"""``clienthello_unanswered``: the server received and acknowledged the ClientHello and never answered it;
the connection ended by a timeout (who closed, after how long, is in the finding).

The ACK must look like the server's (same TTL as its SYN-ACK): an ACK with another TTL came from a box
in the middle (``middlebox_clienthello_blackhole``, which runs first)."""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import (
    Context,
    Conversation,
    Match,
    assemble,
    client_hello_evidence,
    first_packet,
    listing,
    log_evidence,
    packet,
    seconds,
    servers_of,
)

CAUSE = "clienthello_unanswered"


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    ch = rec.frames.get("client_hello")
    if ch is None or rec.tls.server_hello is not None or rec.alert is not None or rec.tls.not_tls is not None:
        return None
    if rec.server_dir.payload_bytes:
        return None  # the server sent something: not unanswered
    hello = packet(rec, ch)
    if hello is None:
        return None
    acked = rec.client_dir.acked_bytes >= hello.payload_len > 0
    end = rec.last_ts_ns
    closer = rec.end_sender or "nobody"
    how = rec.ended_by.value.replace("_", " ")
    waited = seconds(end - hello.ts_ns)
    evidence = [e for e in (client_hello_evidence(v),) if e is not None]
    ack = next((p for p in rec.packets if not p.from_client and p.frame > ch and "A" in p.flags), None)
    if ack is not None:
        evidence.append(Evidence(v.capture, f"the server ACKed the ClientHello (TTL {ack.ttl}) and sent nothing "
                                            "after", frame=ack.frame,
                                 display_filter=f"tcp.stream == {rec.tcp_stream} && frame.number == {ack.frame}"))
    end_pkt = first_packet(rec, from_client=rec.end_sender == "client", flags="F" if how == "fin" else "R")
    if end_pkt is not None:
        evidence.append(Evidence(v.capture, f"{how.upper()} from the {closer} {waited} after the ClientHello",
                                 frame=end_pkt.frame, display_filter=f"tcp.stream == {rec.tcp_stream} && "
                                 f"frame.number == {end_pkt.frame}"))
    evidence.extend(log_evidence(ctx.log_lines_for(str(rec.server), (CAUSE,)), 2))
    outcome_text = f"no answer; {how} from {closer} after {waited}" if closer != "nobody" else \
        f"no answer for {waited} ({how})"
    return Match(CAUSE, Confidence.CERTAIN if acked else Confidence.LIKELY, outcome_text, tuple(evidence),)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"{listing(servers)} never answers the ClientHello",
        explanation=(f"{listing(servers)} acknowledged {len(matches)} ClientHello(s) at the TCP level and then "
                     "sent nothing until the connection was closed: the TLS server is stuck or overloaded, or "
                     "what listens is not a TLS server and waits for the client to speak first."),
        fix=(f"Check what listens on {servers[0]} (ss -ltnp) and whether its TLS worker is alive (load, "
             "accept queue: ss -lnt shows Recv-Q); try openssl s_client -connect with -servername; for nginx "
             "upstreams, proxy_ssl_handshake timeouts are proxy_connect_timeout."))
