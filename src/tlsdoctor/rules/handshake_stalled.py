"""``handshake_stalled``: the handshake started and stopped mid-way with no alert, for a reason the
other rules do not cover. Last in precedence: it claims every failing connection left, so that each
lands in exactly one finding; its finding says where each one stopped and who gave up after how long."""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import Context, Conversation, Match, assemble, listing, outcome, seconds, servers_of

CAUSE = "handshake_stalled"


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    stage = rec.handshake_stage.replace("_", " ")
    last = rec.frames.get("last", rec.frames.get("first"))
    evidence = (Evidence(v.capture, f"the handshake reached {stage}, then {outcome(rec)} "
                                    f"({seconds(rec.last_ts_ns - rec.first_ts_ns)} after the first packet; "
                                    f"history {rec.tcp_history}/{rec.history or '-'})", frame=last,
                         display_filter=f"tcp.stream == {rec.tcp_stream}"),)
    confidence = Confidence.LIKELY if rec.tls.server_hello is not None else Confidence.POSSIBLE
    return Match(CAUSE, confidence, f"stopped after {stage}; {outcome(rec)}", evidence, key=rec.handshake_stage)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    stage = matches[0][0].record.handshake_stage.replace("_", " ")
    return assemble(
        matches, title=f"Handshakes with {listing(servers)} stall after {stage}",
        explanation=(f"{len(matches)} handshake(s) with {listing(servers)} stopped after {stage} without an "
                     "alert: one side stopped sending its next flight, and the connection ended by a timeout or "
                     "a close. A lost flight (packet loss, a middlebox), a peer stuck in certificate "
                     "verification or OCSP, or a client that gave up."),
        fix=("Capture at the other end too (or give tlsdoctor both captures with --vantage) to see which flight "
             "was lost; check the peer's logs at these times and run tlsdoctor probe against the server."))
