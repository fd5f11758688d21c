"""``sni_not_hostname``: the ClientHello's server_name is not a real host name of the server.

RFC 6066 section 3: HostName is a DNS host name; "literal IPv4 and IPv6 addresses are not permitted".
The usual sender is nginx with ``proxy_ssl_server_name on`` and ``proxy_pass https://<upstream group>``:
without ``proxy_ssl_name`` it sends the group's name (seed 000's second form). A bare word without a dot
is the same mistake seen from the capture alone.
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
    is_ip_literal,
    listing,
    log_evidence,
    names_of,
    refusal_after_hello,
    refusal_evidence,
    servers_of,
)

CAUSE = "sni_not_hostname"
UNRECOGNIZED_NAME = 112
GENERIC_ALERTS = frozenset({0, 40, 80, UNRECOGNIZED_NAME})
"""Alerts that do not say why (handshake_failure, internal_error) or say it is the name. Any other alert
names its own cause (70 protocol_version, 42-48 a certificate, ...): that rule claims the connection,
whatever the SNI looks like."""


def kind_of_name(name: str, groups: frozenset[str]) -> str | None:
    """Why ``name`` is not a host name: "group", "ip", "bare"; None when it looks like one."""
    if name in groups:
        return "group"
    if is_ip_literal(name):
        return "ip"
    if "." not in name.strip(".") and name.lower() != "localhost":
        return "bare"
    return None


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    if rec.sni is None or rec.tls.client_hello is None:
        return None
    kind = kind_of_name(rec.sni, ctx.upstream_group_names)
    how = refusal_after_hello(rec)
    if kind is None and how == "alert" and rec.alert is not None and rec.alert.code == UNRECOGNIZED_NAME:
        kind = "unknown"  # a well-formed name, but the server says it is not one of its names (RFC 6066 s3)
    if kind is None:
        return None
    if how == "alert" and rec.alert is not None and rec.alert.code is not None and \
            rec.alert.code not in GENERIC_ALERTS:
        return None
    if how is None and not (rec.alert is not None and rec.alert.code in (42, 112) and rec.alert.sender == "client"):
        return None
    server = str(rec.server)
    what = {"group": "the name of an nginx upstream group", "ip": "an IP literal (RFC 6066 forbids it)",
            "bare": "a bare word, not a host name",
            "unknown": "a name this server does not serve (it answered 112 unrecognized_name)"}[kind]
    evidence = [e for e in (client_hello_evidence(v, f"ClientHello with server_name {rec.sni!r}: {what}"),
                            refusal_evidence(v, how or "alert")) if e is not None]
    cfg = ctx.config_for(server)
    confidence = Confidence.CERTAIN if kind in ("group", "unknown") or \
        (cfg is not None and cfg.sni_kind == "group_name") else Confidence.LIKELY
    if cfg is not None:
        evidence.append(Evidence(cfg.source, cfg.text, line=cfg.line))
    evidence.extend(log_evidence(ctx.log_lines_for(server), 2))
    outcome_text = (f"alert {rec.alert.code} from {rec.alert.sender}" if rec.alert is not None
                    else f"{how} from server after the ClientHello")
    return Match(CAUSE, confidence, outcome_text, tuple(evidence), key=rec.sni)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    names = names_of(matches)
    servers = servers_of(matches)
    cfg = None
    for s in servers:
        cfg = cfg or ctx.config_for(s)
    fix = cfg.fix if cfg is not None else (
        "Send a host name this server serves as SNI: nginx: proxy_ssl_name <real host>; (a map when a group "
        "has several hosts); other clients: the host name, not an address or alias, in the URL. If the name is "
        "right, the server lacks a virtual host for it (nginx: a server block with that server_name and its "
        "certificate), or DNS sends the name to the wrong server.")
    return assemble(
        matches, title=f"SNI {listing(names)!s} is not a host name of {listing(servers)}",
        explanation=(f"The ClientHello(s) to {listing(servers)} named {listing(names)} in server_name, which is "
                     "not a host name the server knows (an upstream group's name, an address, a bare word), "
                     "and the server refused them. The server picks its certificate by that name."),
        fix=fix, patch=cfg.patch if cfg is not None else "",
        notes=(f"nginx sends these ClientHellos from {cfg.location} ({cfg.source}:{cfg.line}).",) if cfg else ())

