"""``clienthello_fragment_lost``: a ClientHello larger than one segment (post-quantum key shares, many
extensions) whose first segment gets through and whose later segment(s) never do: a path MTU black
hole, a middlebox that drops what follows the first segment of a flow, a broken TSO/GSO path.

Client side: the ClientHello's later bytes are retransmitted and never ACKed while its first segment
was. Server side (second capture): only a part of the ClientHello arrives.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import Context, Conversation, Match, assemble, listing, servers_of, still_capturing

CAUSE = "clienthello_fragment_lost"


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.at("client") or conv.primary
    rec = v.record
    if rec.tls.server_hello is not None or rec.server_dir.payload_bytes:
        return None
    sent, acked = rec.client_dir.payload_bytes, rec.client_dir.acked_bytes
    if not (0 < acked < sent) or rec.client_dir.retransmissions == 0:
        return None
    segments = [p for p in rec.packets if p.from_client and p.payload_len]
    # The first segment that carries bytes past what was ever ACKed: the one that does not get through.
    lost = next((p for p in segments if p.seq >= acked + 1), None)
    evidence = [Evidence(v.capture, f"the client sent {sent} bytes of ClientHello in {len(segments)} segment(s); "
                                    f"only the first {acked} were ever ACKed, the rest retransmitted "
                                    f"{rec.client_dir.retransmissions} time(s)"
                                    + (f"; frame {lost.frame} is the first segment that never got through"
                                       if lost is not None else ""),
                         frame=lost.frame if lost is not None else None,
                         display_filter=f"tcp.stream == {rec.tcp_stream} && frame.number == {lost.frame}"
                         if lost is not None else f"tcp.stream == {rec.tcp_stream}")]
    confidence = Confidence.LIKELY
    other = conv.at("server")
    if other is not None and other is not v and other.record.client_dir.payload_bytes < sent and \
            still_capturing(other, v, lost.ts_ns if lost is not None else rec.last_ts_ns):
        confidence = Confidence.CERTAIN
        evidence.append(Evidence(other.capture, f"at the server only {other.record.client_dir.payload_bytes} of "
                                                f"the {sent} bytes arrived",
                                 display_filter=f"tcp.stream == {other.record.tcp_stream}"))
    return Match(CAUSE, confidence, f"ClientHello cut after {acked} of {sent} bytes", tuple(evidence),
                 notes=(
                     "Compare with a small ClientHello (openssl s_client -groups X25519 -no_tls1_3) to the same "
                     "server: if it passes, the path loses the later segments of large ClientHellos.",))


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"Large ClientHellos to {listing(servers)} lose their later segments",
        explanation=(f"{len(matches)} ClientHello(s) too large for one TCP segment got only their first segment "
                     "through; the later ones were retransmitted and never acknowledged. Something on the path "
                     "drops them (an MTU black hole, a middlebox that inspects only the first segment, a "
                     "firewall reassembly limit). Post-quantum key shares (X25519MLKEM768) make ClientHellos "
                     "exceed one segment."),
        fix=("Find and fix the device that drops the later segments (check MTU/MSS clamping on the path: "
             "tracepath, ping -M do -s 1472); as a stopgap, clients can disable post-quantum key shares "
             "(Chrome: PostQuantumKeyAgreementEnabled policy; OpenSSL: -groups X25519)."))
