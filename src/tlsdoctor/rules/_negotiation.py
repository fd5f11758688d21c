"""Shared by ``no_shared_cipher`` and ``no_shared_group``: a server that refuses the ClientHello with a
handshake_failure (40) or insufficient_security (71) although it got a server_name.

RFC 8446 section 4.1.1: "If the server is unable to negotiate a supported set of parameters ... it MUST
abort the handshake with either a handshake_failure or insufficient_security fatal alert". The alert
does not say which parameter; the ClientHello does, in part:
- a HelloRetryRequest followed by the abort: the key shares (groups) could not be agreed;
- a TLS 1.3-only ClientHello offering the standard TLS 1.3 suites: a cipher mismatch is unlikely (every
  TLS 1.3 server implements TLS_AES_128_GCM_SHA256, RFC 8446 section 9.1), so groups (or signature
  algorithms) are the likely cause;
- otherwise the cipher suites are the likely cause (a narrow list makes it likelier).
The server's own log ("no shared cipher", "no suitable key share") settles it.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.connection import ConnectionRecord
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

NEGOTIATION_ALERTS = frozenset({40, 71})
TLS13_SUITES = frozenset({0x1301, 0x1302, 0x1303})
NARROW_CIPHER_LIST = 6


def classify(rec: ConnectionRecord, log_causes: frozenset[str]) -> tuple[str, Confidence, str] | None:
    """("no_shared_cipher" | "no_shared_group", confidence, reason) for a negotiation refusal."""
    a = rec.alert
    ch = rec.tls.client_hello
    if a is None or a.sender != "server" or a.code not in NEGOTIATION_ALERTS or ch is None:
        return None
    if rec.tls.server_hello is not None:
        return None  # past the hello: not a negotiation failure of the hello
    for cause in ("no_shared_cipher", "no_shared_group"):
        if cause in log_causes:
            return cause, Confidence.CERTAIN, "the server's log names it"
    if rec.tls.hello_retry_request is not None:
        return ("no_shared_group", Confidence.LIKELY,
                "the server asked for another key share (HelloRetryRequest) and then aborted")
    tls13_only = ch.supported_versions and all(v == 0x0304 for v in ch.supported_versions if v & 0x0F0F != 0x0A0A)
    if tls13_only and TLS13_SUITES & set(ch.cipher_suites):
        return ("no_shared_group", Confidence.POSSIBLE,
                "a TLS 1.3-only ClientHello with the standard suites was refused: its groups "
                f"({len(ch.supported_groups)} offered) or signature algorithms are the likely mismatch")
    real = [c for c in ch.cipher_suites if c & 0x0F0F != 0x0A0A and c not in (0x00FF, 0x5600)]
    confidence = Confidence.LIKELY if len(real) <= NARROW_CIPHER_LIST else Confidence.POSSIBLE
    return ("no_shared_cipher", confidence,
            f"the ClientHello offered {len(real)} cipher suite(s) and the server accepted none")


def match_cause(cause: str, conv: Conversation, ctx: Context) -> Match | None:
    """The match of ``cause`` (no_shared_cipher or no_shared_group) when ``classify`` says so."""
    v = conv.primary
    rec = v.record
    lines = ctx.log_lines_for(str(rec.server))
    verdict = classify(rec, frozenset(c for ln in lines for c in ln.causes))
    if verdict is None or verdict[0] != cause or rec.alert is None:
        return None
    _, confidence, reason = verdict
    evidence = [e for e in (client_hello_evidence(v),) if e is not None]
    evidence.append(alert_evidence(v, rec.alert))
    evidence.extend(log_evidence(lines, 2))
    return Match(cause, confidence, outcome(rec), tuple(evidence), notes=(reason[:1].upper() + reason[1:] + ".",))


def build_finding(matches: Sequence[tuple[Conversation, Match]], title: str, fix: str) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"{title} {listing(servers)}",
        explanation=(f"{listing(servers)} refused {len(matches)} ClientHello(s) with a handshake_failure before "
                     "any ServerHello, although they named a server: the parameters offered (cipher suites, "
                     "groups, signature algorithms) did not meet what the server accepts."),
        fix=fix.format(server=servers[0]))
