"""``no_shared_group``: the client and the server have no key-exchange group (or signature algorithm) in common.

How the two are told apart, with one alert code for both: see ``rules/_negotiation.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Finding
from tlsdoctor.rules import _negotiation
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

CAUSE = "no_shared_group"
FIX = ("Offer a group the server supports (X25519 and P-256 are universal), or enable one on the server: "
       "nginx: ssl_ecdh_curve X25519:prime256v1; OpenSSL: -groups; compare with openssl s_client -connect "
       "{server} -groups X25519, or run tlsdoctor probe.")


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    lines = ctx.log_lines_for(str(rec.server))
    verdict = _negotiation.classify(rec, frozenset(c for ln in lines for c in ln.causes))
    if verdict is None or verdict[0] != CAUSE or rec.alert is None:
        return None
    _, confidence, reason = verdict
    evidence = [e for e in (client_hello_evidence(v),) if e is not None]
    evidence.append(alert_evidence(v, rec.alert))
    evidence.extend(log_evidence(lines, 2))
    return Match(CAUSE, confidence, outcome(rec), tuple(evidence),
                 notes=(reason[:1].upper() + reason[1:] + ".",))


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"No key-exchange group in common with {listing(servers)}",
        explanation=(f"{listing(servers)} refused {len(matches)} ClientHello(s) with a handshake_failure before "
                     "any ServerHello, although they named a server: the parameters offered (cipher suites, "
                     "groups, signature algorithms) did not meet what the server accepts."),
        fix=FIX.format(server=servers[0]))
