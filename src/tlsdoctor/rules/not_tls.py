"""``not_tls``: the peer answered the ClientHello with something that is not TLS: an HTTP response
(a plain-HTTP listener: nginx's "400 The plain HTTP request was sent to HTTPS port" reversed, OpenSSL's
"wrong version number" on the client), an SSH or SMTP banner. The record keeps the first bytes."""

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
    printable,
    servers_of,
)

CAUSE = "not_tls"


def match(conv: Conversation, ctx: Context) -> Match | None:
    for v in conv.views:
        rec = v.record
        nt = rec.tls.not_tls
        if nt is None or rec.handshake_completed:
            continue
        sender, guess, first = nt
        evidence = [e for e in (client_hello_evidence(v),) if e is not None]
        frame = rec.frames.get("not_tls")
        evidence.append(Evidence(v.capture, f"the {sender} answered with {guess.replace('_', ' ')}: "
                                            f"{printable(first)!r}", frame=frame,
                                 display_filter=(f"tcp.stream == {rec.tcp_stream} && frame.number == {frame}"
                                                 if frame else f"tcp.stream == {rec.tcp_stream}")))
        for ln in ctx.log_lines_for(str(rec.server), (CAUSE,)):
            evidence.append(Evidence(ln.source, ln.text, line=ln.line))
        return Match(CAUSE, Confidence.CERTAIN, f"{guess.replace('_', ' ')} from {sender} (not TLS)",
                     tuple(evidence), key=sender)
    return None


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"{listing(servers)} does not speak TLS",
        explanation=(f"The ClientHello to {listing(servers)} was answered with something that is not TLS: the "
                     "port serves plain text (HTTP, a banner). OpenSSL clients report it as 'wrong version "
                     "number', nginx as 'SSL_do_handshake() failed ... wrong version number'."),
        fix=(f"Connect to the TLS port of {listing(servers)}, or speak plain HTTP to it (http:// instead of "
             "https:// in proxy_pass), or enable TLS on that listener (listen ... ssl)."))
