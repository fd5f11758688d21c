"""``rst_after_clienthello``: the server itself reset the connection right after the ClientHello (no
ServerHello, no alert): a TLS stack that crashes or rejects the hello without an alert, a listener
that is not TLS and resets, a load balancer with no healthy backend. ``rst_injection`` runs first and
claims the resets whose TTL/IP-ID (or the other vantage point) show they were forged."""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Finding
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
    rst_evidence,
    seconds,
    servers_of,
)

CAUSE = "rst_after_clienthello"


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    ch = rec.frames.get("client_hello")
    if ch is None or rec.tls.server_hello is not None or rec.alert is not None:
        return None
    rst = first_packet(rec, from_client=False, flags="R")
    if rst is None or rst.frame < ch:
        return None
    hello = packet(rec, ch)
    delay = seconds(rst.ts_ns - hello.ts_ns) if hello is not None else "?"
    evidence = [e for e in (client_hello_evidence(v),) if e is not None]
    evidence.append(rst_evidence(v, rst, f"RST from the server {delay} after the ClientHello (TTL {rst.ttl}, "
                                         "like its other packets)"))
    evidence.extend(log_evidence(ctx.log_lines_for(str(rec.server)), 2))
    notes: tuple[str, ...] = ()
    if len(conv.views) == 1:
        notes = ("With one capture a forged reset with the server's TTL cannot be excluded; a capture at the "
                 "server would show whether the server sent it.",)
    confidence = Confidence.CERTAIN if len(conv.views) > 1 else Confidence.LIKELY
    return Match(CAUSE, confidence, f"RST from server {delay} after the ClientHello", tuple(evidence),
                 notes=notes)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"{listing(servers)} resets the connection after the ClientHello",
        explanation=(f"{listing(servers)} answered {len(matches)} ClientHello(s) with a TCP RST instead of a "
                     "ServerHello or an alert. The server's TLS layer rejected the hello without saying why, or "
                     "what listens there is not a TLS server (or a balancer with no backend)."),
        fix=(f"Look at the server's logs at these times; try openssl s_client -connect {servers[0]} with and "
             "without -servername and with -tls1_2 / -tls1_3 (or tlsdoctor probe) to see which hellos it accepts."))
