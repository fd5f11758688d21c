"""``alert_unexplained``: a fatal alert whose cause the evidence does not settle; the finding names the
alert, who sent it, and the candidate causes from the alert table shared with ``tlsdoctor explain``."""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.explain import explain_alert
from tlsdoctor.findings import Confidence, Finding
from tlsdoctor.rules.base import (
    Context,
    Conversation,
    Match,
    alert_evidence,
    alert_label,
    assemble,
    client_hello_evidence,
    listing,
    log_evidence,
    outcome,
    servers_of,
)

CAUSE = "alert_unexplained"


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    a = rec.alert
    if a is None:
        return None
    peer_fin = rec.frames.get("fin_server" if a.sender == "client" else "fin_client")
    if peer_fin is not None and peer_fin < a.frame:
        return None  # an alert in answer to the peer's close (EOF mid-handshake) is a consequence, not the cause
    evidence = [e for e in (client_hello_evidence(v), alert_evidence(v, a)) if e is not None]
    evidence.extend(log_evidence(ctx.log_lines_for(str(rec.server)), 2))
    notes: tuple[str, ...] = ()
    if a.encrypted:
        notes = ("The alert is encrypted: an SSLKEYLOGFILE for these connections would show its code.",)
    return Match(CAUSE, Confidence.POSSIBLE, outcome(rec), tuple(evidence),
                 key=f"{a.sender}:{a.code}", notes=notes)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    first = matches[0][0].record.alert
    code = first.code if first is not None else None
    sender = first.sender if first is not None else "?"
    if code is not None:
        entry = explain_alert(code)
        candidates = "; ".join(f"{c.code} ({c.why})" for c in entry.causes[:4]) or "none recorded"
        meaning = entry.meaning
    else:
        candidates, meaning = "any fatal alert", "an encrypted alert (its code is not visible without keys)"
    return assemble(
        matches, title=f"{alert_label(code).capitalize()} from the {sender} ({listing(servers)})",
        explanation=(f"{len(matches)} handshake(s) with {listing(servers)} ended with {alert_label(code)} sent by "
                     f"the {sender}: {meaning} The evidence does not say which cause; the usual ones are: "
                     f"{candidates}."),
        fix=(f"Run tlsdoctor probe {servers[0]} (with the SNI the clients use) and read the {sender}'s TLS error "
             f"log at these times; tlsdoctor explain {code if code is not None else 'ALERT'} lists what each "
             "cause looks like."))
