"""``tls_interception``: a box in the path terminates TLS: two vantage points see different ClientHello
randoms (the box makes its own ClientHello to the server) or a different certificate issuer (the box
presents its own certificate to the client).

Only a failing connection is a finding (REPORT.md); an interception that the client accepted is listed
in the report's ``observations``, by ``intercepted``, which the orchestrator also calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import (
    Context,
    Conversation,
    Match,
    assemble,
    client_hello_evidence,
    listing,
    outcome,
    servers_of,
)

CAUSE = "tls_interception"


def intercepted(conv: Conversation) -> list[Evidence]:
    """The evidence that two views of this connection saw different TLS sessions; empty when not."""
    out: list[Evidence] = []
    views = conv.views
    for i, a in enumerate(views):
        for b in views[i + 1:]:
            ra, rb = a.record, b.record
            cha, chb = ra.tls.client_hello, rb.tls.client_hello
            if cha is not None and chb is not None and cha.random != chb.random:
                for v, ch in ((a, cha), (b, chb)):
                    e = client_hello_evidence(v, f"ClientHello random {ch.random[:8].hex()}... at the "
                                                 f"{v.vantage or 'first'} vantage point")
                    if e is not None:
                        out.append(e)
            ca, cb = ra.tls.server_certificates, rb.tls.server_certificates
            if ca and cb and (ca[0].issuer != cb[0].issuer or ca[0].sha256 != cb[0].sha256):
                for v, certs in ((a, ca), (b, cb)):
                    f = v.record.frames.get("certificate")
                    out.append(Evidence(v.capture, f"server certificate {certs[0].subject} issued by "
                                                   f"{certs[0].issuer} at the {v.vantage or 'first'} vantage point",
                                        frame=f, display_filter=f"tcp.stream == {v.record.tcp_stream} && "
                                                                "tls.handshake.type == 11"))
    return out


def match(conv: Conversation, ctx: Context) -> Match | None:
    evidence = intercepted(conv)
    if not evidence:
        return None
    certs_differ = any("certificate" in e.text for e in evidence)
    confidence = Confidence.LIKELY if conv.weak_match and not certs_differ else Confidence.CERTAIN
    notes = ("The two views were paired by SNI and timing (a terminating box makes a new connection).",) \
        if conv.weak_match else ()
    return Match(CAUSE, confidence, outcome(conv.record), tuple(evidence), notes=notes)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"TLS to {listing(servers)} is intercepted by a box in the path",
        explanation=(f"The two vantage points saw different TLS sessions for the same {len(matches)} "
                     "connection(s): different ClientHello randoms and/or a different certificate issuer. A "
                     "proxy between them terminates TLS and opens its own session to the server; the handshake "
                     "failed on one of the two legs (often: the client does not trust the proxy's CA)."),
        fix=("Either exempt this destination from TLS inspection on the proxy/firewall, or install the proxy's "
             "CA in the client's trust store (and check the proxy supports the server's TLS versions/ciphers)."))
