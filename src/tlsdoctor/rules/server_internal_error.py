"""``server_internal_error``: the server failed for a reason of its own (RFC 8446 section 6.2: alert 80
internal_error, "an internal error unrelated to the peer or the correctness of the protocol").

Seed 001 shows why this is not always the end of the story: an upstream answering 80 because its own
certificate had expired. The certificate rules run before this one and claim that case when the
certificate is in the evidence; here the finding says what to check on the server.
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

CAUSE = "server_internal_error"
INTERNAL_ERROR = 80


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    a = rec.alert
    if a is None or a.sender != "server" or a.code != INTERNAL_ERROR:
        return None
    evidence = [e for e in (client_hello_evidence(v),) if e is not None]
    evidence.append(alert_evidence(v, a))
    evidence.extend(log_evidence(ctx.log_lines_for(str(rec.server)), 2))
    return Match(CAUSE, Confidence.CERTAIN, outcome(rec), tuple(evidence),
                 notes=("Give tlsdoctor the server's certificate (a PEM file, or run tlsdoctor probe HOST) to check "
                        "whether it is expired or mismatched: seed 001's alert 80 was an expired certificate.",))


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"{listing(servers)} fails with alert 80 internal_error",
        explanation=(f"{listing(servers)} aborted {len(matches)} handshake(s) with alert 80 internal_error: a "
                     "failure on the server's side, not caused by the client. Common causes: its certificate "
                     "or key cannot be used (expired, missing, key mismatch), no certificate for the SNI, a "
                     "crashing SNI callback, a broken HSM/engine."),
        fix=(f"Read the server's own TLS error log at the time of these handshakes; check its certificate with "
             f"openssl s_client -connect {servers[0]} -servername <name> | openssl x509 -noout -dates -subject; "
             "renew or fix the certificate/key configuration."))
