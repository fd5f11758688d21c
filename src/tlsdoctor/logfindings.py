"""Findings from nginx's error log alone, for failures no capture shows.

When a capture shows the connection, the rules use the log line as evidence on that connection's
finding. When none does (no capture was given, or it covers other upstreams or another time), a log
line whose message names a cause is still enough for a finding (issue 4: "a log alone, without a
capture, still yields a finding where it is enough"). Lines are grouped by (cause, upstream, side);
the finding has no connections (there are none to cite), its evidence is the first lines with their
file:line, and its confidence is ``certain`` when the message names the cause itself (an X.509 verify
code, "no shared cipher"), ``likely`` when it names an alert whose usual cause is the first candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import ConfigFact, Context, LogLine

MAX_LINES_CITED = 3

# The fix for a cause seen only in a log: shorter than a rule's (no capture: no addresses, no frames).
FIX = {
    "sni_missing": "proxy_ssl_server_name on; proxy_ssl_name <the upstream's real host name>;",
    "sni_not_hostname": "proxy_ssl_name <the upstream's real host name>; (not the upstream group's name)",
    "certificate_expired": "Renew the upstream's certificate (openssl s_client -connect HOST:443 -servername NAME "
                           "| openssl x509 -noout -dates shows its notAfter).",
    "certificate_not_yet_valid": "Check the clocks of nginx's host and of the upstream; reissue the certificate "
                                 "if its notBefore is in the future.",
    "certificate_name_mismatch": "Make proxy_ssl_name the name on the upstream's certificate, or serve a "
                                 "certificate covering the name sent.",
    "certificate_untrusted": "Point proxy_ssl_trusted_certificate at the CA that issued the upstream's "
                             "certificate, or serve one from a trusted CA.",
    "certificate_chain_incomplete": "Make the upstream send its intermediate certificates (fullchain.pem).",
    "protocol_version_mismatch": "Allow a version both sides support: proxy_ssl_protocols TLSv1.2 TLSv1.3;",
    "no_shared_cipher": "Allow a cipher both sides support (proxy_ssl_ciphers / ssl_ciphers).",
    "no_shared_group": "Allow a key-exchange group both sides support (ssl_ecdh_curve X25519:prime256v1).",
    "client_certificate_required": "Give nginx a client certificate: proxy_ssl_certificate and "
                                   "proxy_ssl_certificate_key.",
    "server_internal_error": "Look at the upstream's own TLS error log; check its certificate and key.",
    "not_tls": "The upstream does not speak TLS on that port: use http:// in proxy_pass, or the TLS port.",
    "tcp_connect_refused": "Nothing listens at the upstream's address: fix the address or start the service.",
    "tcp_connect_timeout": "The upstream does not answer the SYN: check routes and firewalls to it.",
    "clienthello_unanswered": "The upstream accepted TCP and never answered TLS: check what listens there.",
    "rst_after_clienthello": "The upstream (or the path) resets the handshake: probe it with tlsdoctor probe.",
    "rst_injection": "Capture at both ends (tlsdoctor diagnose --vantage client=... --vantage server=...) to "
                     "tell a forged reset from the peer's own.",
}


# The same causes seen from nginx as the TLS server (its clients failed): the fix is on the server block.
CLIENT_FIX = {
    "client_certificate_required": "Clients must present a certificate that ssl_client_certificate's CA "
                                   "issued (ssl_verify_client on), or make it optional (ssl_verify_client "
                                   "optional).",
    "not_tls": "Clients speak plain HTTP to an HTTPS port: make them use https://, or serve plain HTTP on "
               "another listen.",
    "protocol_version_mismatch": "Clients offer versions ssl_protocols does not allow: add TLSv1.2 (and TLSv1.3) "
                                 "to ssl_protocols, or upgrade the clients.",
    "no_shared_cipher": "Clients offer no cipher of ssl_ciphers: widen ssl_ciphers to a modern default "
                        "(Mozilla's intermediate profile) or upgrade the clients.",
    "no_shared_group": "Clients offer no group of ssl_ecdh_curve: use ssl_ecdh_curve X25519:prime256v1.",
    "handshake_stalled": "Clients start the handshake and stop: check the network between them and nginx, and "
                         "ssl_handshake_timeout / client_header_timeout.",
    "sni_missing": "Clients send no SNI and the server requires one (ssl_reject_handshake on in the default "
                   "server): make them send the host name.",
}
UNDECIDED = frozenset({"handshake_stalled", "alert_unexplained"})


POINTERS = frozenset({"no_live_upstreams"})
"""Rows that only point back to earlier lines ("no live upstreams": every server of the group failed before)."""
SNI_CAUSES = ("sni_missing", "sni_not_hostname")
GUESSES = frozenset({"rst_injection"})
"""A cause one log line cannot establish (a forged reset needs the other end's view): at most possible."""


def candidates(line: LogLine, cfg: ConfigFact | None) -> list[str]:
    """The line's cause candidates, narrowed by what the configuration says nginx sends as SNI there."""
    causes = list(line.causes)
    if cfg is None or causes[0] not in SNI_CAUSES:
        return causes
    if cfg.sni_sent is None:  # nginx sends no SNI to this upstream: an SNI refusal is sni_missing
        return ["sni_missing"] + [c for c in causes if c not in SNI_CAUSES]
    if cfg.sni_kind in ("group_name", "bare_word", "ip_literal"):
        return ["sni_not_hostname"] + [c for c in causes if c not in SNI_CAUSES]
    return [c for c in causes if c not in SNI_CAUSES] or causes  # a real host name is sent: not an SNI problem


def log_only_findings(lines: Sequence[LogLine], ctx: Context, captured_servers: set[str]) -> list[Finding]:
    groups: dict[tuple[str, str, str], list[tuple[LogLine, list[str], ConfigFact | None]]] = {}
    for ln in lines:
        if not ln.causes or ln.rule in POINTERS:
            continue
        if ln.upstream_address is not None and ln.upstream_address in captured_servers:
            continue  # the capture's own finding cites it
        if ln.upstream_address is None and captured_servers:
            continue  # a client-side line: the capture's connections carry it (rst_injection reads them)
        cfg = ctx.config_for(ln.upstream_address, ln.request_path) if ln.upstream_address else None
        causes = candidates(ln, cfg)
        where = cfg.location if cfg is not None else ""
        groups.setdefault((causes[0], ln.upstream_address or "", where), []).append((ln, causes, cfg))
    out: list[Finding] = []
    for (cause, upstream, _where), group in groups.items():
        _first, causes, cfg = group[0]
        where = f"upstream {upstream}" if upstream else "clients of nginx"
        if cfg is not None:
            where += f" ({cfg.location})"
        if len(causes) == 1 and cause not in UNDECIDED | GUESSES:
            confidence = Confidence.CERTAIN
        elif cause in GUESSES or len(causes) > 2:
            confidence = Confidence.POSSIBLE
        else:
            confidence = Confidence.LIKELY
        table = FIX if upstream else {**FIX, **CLIENT_FIX}
        sni_fix = cfg is not None and cause in SNI_CAUSES
        fix = cfg.fix if sni_fix and cfg is not None else table.get(
            cause, "See tlsdoctor explain with the log message for what it means and what to check.")
        others = f" (other candidates: {', '.join(causes[1:4])})" if len(causes) > 1 else ""
        evidence = [Evidence(ln.source, ln.text, line=ln.line) for ln, _, _ in group[:MAX_LINES_CITED]]
        if cfg is not None:
            evidence.append(Evidence(cfg.source, cfg.text, line=cfg.line))
        leg = "upstream leg" if upstream else "client side"
        notes = [f"{len(group)} log line(s) of this kind; no capture shows these connections: a capture of the "
                 f"{leg} would confirm it with the packets."]
        out.append(Finding(
            cause, f"{cause.replace('_', ' ')} ({where}), from the error log", confidence,
            f"nginx's error log reports {len(group)} failure(s) with {where} whose message points to {cause}{others}.",
            (), tuple(evidence), fix, tuple(notes), cfg.patch if sni_fix and cfg is not None else ""))
    out.sort(key=lambda f: (f.confidence.rank, f.cause))
    return out
