"""The rules: one module per cause code of shared/REPORT.md, run in order of precedence.

``RULES`` lists them from the most specific to the most general. ``classify`` gives each failing
conversation to the first rule that matches it; ``handshake_stalled`` matches anything, so every
failing connection lands in exactly one finding. ``findings`` groups the matches by (cause, the rule's
key, confidence) and lets each rule build its finding. A rule that raises is our bug: the conversation
is passed to the next rule and the error is reported as an anomaly, never as a diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC
from types import ModuleType

from tlsdoctor.findings import Anomaly, Evidence, Finding
from tlsdoctor.rules import (
    alert_unexplained,
    certificate_chain_incomplete,
    certificate_expired,
    certificate_name_mismatch,
    certificate_not_yet_valid,
    certificate_untrusted,
    client_certificate_required,
    clienthello_fragment_lost,
    clienthello_unanswered,
    flow_split,
    handshake_stalled,
    middlebox_clienthello_blackhole,
    no_shared_cipher,
    no_shared_group,
    not_tls,
    protocol_version_mismatch,
    rst_after_clienthello,
    rst_injection,
    server_internal_error,
    sni_missing,
    sni_not_hostname,
    tcp_connect_refused,
    tcp_connect_timeout,
    tls_interception,
)
from tlsdoctor.rules.base import Context, Conversation, Match


@dataclass(frozen=True, slots=True)
class Rule:
    cause: str
    match: Callable[[Conversation, Context], Match | None]
    build: Callable[[Sequence[tuple[Conversation, Match]], Context], Finding]
    doc: str


def _rule(module: ModuleType) -> Rule:
    return Rule(module.CAUSE, module.match, module.build, (module.__doc__ or "").strip())


# Precedence: what the TCP handshake shows first; then what only a comparison of vantage points or a
# forged packet shows (it explains everything after it: a flow split before a forged reset, because
# the node without the connection's state resets it, a reset "forged" only in appearance); then what
# the server's answer names; the generic shapes (a bare RST, silence, an alert nobody explains, a stall) last.
RULES: tuple[Rule, ...] = tuple(_rule(m) for m in (
    tcp_connect_refused,
    tcp_connect_timeout,
    tls_interception,
    flow_split,
    rst_injection,
    middlebox_clienthello_blackhole,
    clienthello_fragment_lost,
    not_tls,
    sni_not_hostname,
    sni_missing,
    client_certificate_required,
    certificate_expired,
    certificate_not_yet_valid,
    certificate_name_mismatch,
    certificate_chain_incomplete,
    certificate_untrusted,
    protocol_version_mismatch,
    no_shared_group,
    no_shared_cipher,
    server_internal_error,
    rst_after_clienthello,
    clienthello_unanswered,
    alert_unexplained,
    handshake_stalled,
))
BY_CAUSE: dict[str, Rule] = {r.cause: r for r in RULES}


def classify(conv: Conversation, ctx: Context, anomalies: list[Anomaly]) -> Match:
    """The first rule's match for a failing conversation (``handshake_stalled`` at the latest)."""
    for rule in RULES:
        try:
            m = rule.match(conv, ctx)
        except Exception as exc:  # our bug, not the input's: report it and let the next rule try
            rec = conv.record
            anomalies.append(Anomaly("internal_error", conv.primary.capture,
                                     f"rule {rule.cause} failed on tcp.stream {rec.tcp_stream}: "
                                     f"{type(exc).__name__}: {exc} (a tlsdoctor bug; please report it)"))
            continue
        if m is not None:
            return m
    raise AssertionError("handshake_stalled matches every conversation")  # pragma: no cover


def findings(matched: Iterable[tuple[Conversation, Match]], ctx: Context,
             anomalies: list[Anomaly]) -> list[Finding]:
    """Group the matches into findings, most important first: certain before likely before possible,
    then the most connections first."""
    groups: dict[tuple[str, str, str], list[tuple[Conversation, Match]]] = {}
    for conv, m in matched:
        groups.setdefault((m.cause, m.key, m.confidence.value), []).append((conv, m))
    out: list[Finding] = []
    for (cause, _key, _conf), items in groups.items():
        try:
            out.append(_with_access_log(BY_CAUSE[cause].build(items, ctx), items, ctx))
        except Exception as exc:  # our bug: still list the connections, under a plain finding
            anomalies.append(Anomaly("internal_error", "", f"building the {cause} finding failed: "
                                     f"{type(exc).__name__}: {exc} (a tlsdoctor bug; please report it)"))
            out.append(handshake_stalled.build(items, ctx))
    out.sort(key=lambda f: (f.confidence.rank, -len(f.connections), f.cause))
    return out


ACCESS_LOG_SLACK_S = 120
"""An access-log line is tied to a connection to its upstream when its time is within this many seconds of
the connection (nginx logs the request when it ends; clocks of the log and the capture may differ)."""
MAX_ACCESS_LINES = 2


def _with_access_log(finding: Finding, items: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    """Add the access-log lines (requests answered 5xx) of the upstreams this finding's connections went to."""
    if not ctx.access_log:
        return finding
    windows: dict[str, list[tuple[float, float]]] = {}
    for conv, _ in items:
        rec = conv.record
        windows.setdefault(str(rec.server), []).append((rec.first_ts_ns / 1e9, rec.last_ts_ns / 1e9))
    extra: list[Evidence] = []
    seen: set[int] = set()
    for ln in ctx.access_log:
        spans = windows.get(ln.upstream_address or "")
        if not spans or ln.line in seen:
            continue
        if ln.time is not None:
            t = (ln.time if ln.time.tzinfo else ln.time.replace(tzinfo=UTC)).timestamp()
            if not any(a - ACCESS_LOG_SLACK_S <= t <= b + ACCESS_LOG_SLACK_S for a, b in spans):
                continue
        seen.add(ln.line)
        extra.append(Evidence(ln.source, ln.text, line=ln.line))
        if len(extra) >= MAX_ACCESS_LINES:
            break
    if not extra:
        return finding
    return replace(finding, evidence=finding.evidence + tuple(extra))


