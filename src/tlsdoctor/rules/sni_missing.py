"""``sni_missing``: the ClientHello had no server_name (RFC 6066 section 3) and the server refused it.

Servers that host several names pick the certificate by SNI; many refuse a ClientHello without one:
nginx with ``ssl_reject_handshake on`` (alert 112 unrecognized_name), Cloudflare and other CDNs (alert 40
handshake_failure), some close or reset. The classic sender of such a ClientHello is nginx itself,
proxying with ``proxy_pass https://...`` and ``proxy_ssl_server_name`` off (its default): seeds 000, 002.
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
    log_evidence,
    refusal_after_hello,
    refusal_evidence,
    servers_of,
)

CAUSE = "sni_missing"
ALERT_UNRECOGNIZED_NAME = 112
ALERT_HANDSHAKE_FAILURE = 40


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    if rec.tls.client_hello is None or rec.sni is not None:
        return None
    how = refusal_after_hello(rec)
    if how is None:
        return None
    code = rec.alert.code if how == "alert" and rec.alert is not None else None
    if how == "alert" and code not in (ALERT_UNRECOGNIZED_NAME, ALERT_HANDSHAKE_FAILURE):
        return None  # another alert (70, 80...) has its own rule
    server = str(rec.server)
    evidence = [e for e in (client_hello_evidence(v), refusal_evidence(v, how)) if e is not None]
    with_sni, _without = ctx.completed_by_server.get(server, (0, 0))
    cfg = ctx.config_for(server)
    lines = ctx.log_lines_for(server)
    confidence = Confidence.LIKELY
    notes: list[str] = []
    if code == ALERT_UNRECOGNIZED_NAME:
        confidence = Confidence.CERTAIN  # the alert itself says "I need a (known) name"
    if with_sni:
        confidence = Confidence.CERTAIN
        evidence.append(Evidence(v.capture, f"{with_sni} handshake(s) with SNI to {server} completed in the same "
                                 "evidence: the server works when it gets a name",
                                 display_filter=f"ip.dst == {rec.server.ip} && tls.handshake.extensions_server_name"))
    if cfg is not None and cfg.sni_sent is None:
        confidence = Confidence.CERTAIN
        evidence.append(Evidence(cfg.source, cfg.text, line=cfg.line))
    evidence.extend(log_evidence(lines, 2))
    outcome_text = {"alert": f"alert {code} from server", "rst": "RST from server after the ClientHello",
                    "fin": "server closed right after the ClientHello"}[how]
    # One root cause per sender of SNI-less hellos: the client (or one nginx location), whatever the servers.
    key = "" if cfg is None else f"{cfg.source}:{cfg.line}"
    return Match(CAUSE, confidence, outcome_text, tuple(evidence), key=key, notes=tuple(notes))


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    cfg = None
    for s in servers:
        cfg = cfg or ctx.config_for(s)
    notes: list[str] = []
    if cfg is not None:
        notes.append(f"nginx sends these ClientHellos from {cfg.location} ({cfg.source}:{cfg.line}).")
    if any(m.confidence is not Confidence.CERTAIN for _, m in matches):
        notes.append(f"Confirm with: openssl s_client -connect {servers[0]} -servername <name> (works) and without "
                     "-servername (fails), or run tlsdoctor probe.")
    if cfg is not None:
        fix = cfg.fix
        who = "nginx sends no SNI to its upstream"
    else:
        fix = ("Make the client send SNI: nginx: proxy_ssl_server_name on; proxy_ssl_name <the upstream's real "
               "host name>; openssl s_client: -servername <host>; curl: use the host name in the URL (with "
               "--resolve or --connect-to to pin the address).")
        who = "the client sent no SNI"
    return assemble(
        matches, title=f"{listing(servers)} require{'s' if len(servers) == 1 else ''} SNI; {who}",
        explanation=(f"{len(matches)} ClientHello(s) to {listing(servers)} carried no server_name extension, and "
                     "the server refused each right away, before any ServerHello. Servers that host several "
                     "names (CDNs, nginx with ssl_reject_handshake) choose the certificate by SNI and refuse a "
                     "ClientHello without it."),
        fix=fix, patch=cfg.patch if cfg is not None else "", notes=tuple(notes))

