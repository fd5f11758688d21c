"""``protocol_version_mismatch``: no TLS version in common.

RFC 8446 section 6.2 / RFC 5246 section 7.2.2: alert 70 protocol_version. Some stacks answer a version
they refuse with 40 handshake_failure instead; then the versions offered (the ClientHello's
supported_versions, or its legacy_version) are the clue.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Finding
from tlsdoctor.rules.base import (
    Context,
    Conversation,
    Match,
    alert_evidence,
    assemble,
    client_hello_evidence,
    listing,
    log_evidence,
    outcome,
    servers_of,
)

CAUSE = "protocol_version_mismatch"
PROTOCOL_VERSION = 70


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    a = rec.alert
    if a is None or a.code != PROTOCOL_VERSION:
        return None
    evidence = [e for e in (client_hello_evidence(v),) if e is not None]
    evidence.append(alert_evidence(v, a))
    evidence.extend(log_evidence(ctx.log_lines_for(str(rec.server), (CAUSE,)), 2))
    return Match(CAUSE, Confidence.CERTAIN, outcome(rec), tuple(evidence),
                 key=",".join(rec.versions_offered))


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    offered = sorted({v for c, _ in matches for v in c.record.versions_offered})
    refuser = {c.record.alert.sender for c, _ in matches if c.record.alert is not None}
    who = listing(sorted(refuser))
    return assemble(
        matches, title=f"No TLS version in common with {listing(servers)}",
        explanation=(f"The client offered {listing(offered) or 'versions the capture does not show'}, and the "
                     f"{who} refused with alert 70 protocol_version: the other side accepts none of them."),
        fix=("Enable a version both sides support, preferably TLS 1.2 and 1.3: nginx: ssl_protocols TLSv1.2 "
             "TLSv1.3; (proxy_ssl_protocols for upstreams); OpenSSL clients: check -tls1_x flags and "
             "MinProtocol in openssl.cnf; Java: jdk.tls.disabledAlgorithms."))
