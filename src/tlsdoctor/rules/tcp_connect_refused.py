"""``tcp_connect_refused``: the server (or something in its place) answered the SYN with a RST.

RFC 9293 section 3.10.7.1: a SYN to a port with no listener is answered by a RST. When the RST's TTL is
unlike the server's usual one, a firewall may have answered for it; with one capture we cannot tell.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Finding
from tlsdoctor.rules.base import Context, Conversation, Match, assemble, first_packet, listing, rst_evidence, servers_of

CAUSE = "tcp_connect_refused"


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    if not rec.syn_seen or rec.tcp_established:
        return None
    rst = first_packet(rec, from_client=False, flags="R")
    if rst is None:
        return None
    return Match(CAUSE, Confidence.CERTAIN, "RST to the SYN (connection refused)",
                 (rst_evidence(v, rst, f"RST to the SYN from {rec.server} (TTL {rst.ttl}): nothing listens there, "
                               "or a firewall refuses"),))


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"TCP connection refused by {listing(servers)}",
        explanation=(f"{len(matches)} connection(s) to {listing(servers)} were refused at the TCP level: the SYN "
                     "was answered by a RST, so TLS never started. Nothing listens on that address and port, "
                     "or a firewall rejects the connection."),
        fix=(f"Check that the server listens on {listing(servers)} (ss -ltnp on the server) and that no firewall "
             "rejects it; if it is an upstream of nginx, correct its address in the upstream/proxy_pass."))
