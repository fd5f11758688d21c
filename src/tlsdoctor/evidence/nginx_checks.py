"""The nginx check codes of REPORT.md, one function each, registered by code in ``CHECKS``.

Each check is a pure function ``(NginxAnalysis, now) -> list[NginxFinding]`` over the effective
settings ``tlsdoctor.evidence.nginx`` computed. A finding cites the directive at fault at file:line
(``evidence``), says what nginx will do and what the upstream will answer (``explanation``), and
carries its fix twice: as text (``fix``) and as ``DirectiveChange`` values that ``nginx_patch``
turns into a unified diff.

Where the fix needs the upstream's real host name (seed 000: ``proxy_pass https://group/`` sends the
group's name as SNI and as Host), it comes, in this order, from a literal ``proxy_set_header Host``,
from an explicit ``proxy_set_header Host $host`` when the pass names a group or an address (then
``$host`` it is), from the pass URL's host when it is a DNS name (seed 002: only SNI is missing), or
from the single DNS name among the group's ``server`` lines. When one location reaches several groups (``proxy_pass
https://$backend`` through a ``map``) with different names, the fix adds a ``map $proxy_host`` keyed
on the group, as seed 000 recommends. A name we cannot know (a group of IP addresses, no literal
Host) is said so, and that fix is left out of the patch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from tlsdoctor.evidence.nginx_model import (
    BlockInsertion,
    CertificateFile,
    DirectiveChange,
    NginxAnalysis,
    NginxFinding,
    PassTarget,
    ProxiedLocation,
    SniKind,
    SourceRef,
)
from tlsdoctor.findings import Confidence, Evidence

EXPIRY_WARNING_DAYS = 30
DEFAULT_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # Debian/Ubuntu; RHEL: /etc/pki/tls/certs/ca-bundle.crt
SNI_MAP_VARIABLE = "upstream_sni_name"
MODERN_PROTOCOLS = ("TLSv1.2", "TLSv1.3")
OBSOLETE = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")

Check = Callable[[NginxAnalysis, dt.datetime], list[NginxFinding]]


def _ev(ref: SourceRef | None, text: str | None = None) -> list[Evidence]:
    return [] if ref is None else [Evidence(ref.file, text if text is not None else ref.text, line=ref.line)]


def _dedupe(evidence: list[Evidence]) -> tuple[Evidence, ...]:
    seen: dict[tuple[str, int | None, str], Evidence] = {}
    for e in evidence:
        seen.setdefault((e.source, e.line, e.text), e)
    return tuple(seen.values())


# --- the host name a fix should use ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NameChoice:
    name: str | None  # None: we cannot know it from the configuration
    source: str  # for the explanation: where the name comes from
    refs: tuple[SourceRef, ...]
    note: str | None = None  # a doubt worth saying (several host names in one group)


def proper_name(loc: ProxiedLocation, target: PassTarget) -> NameChoice:
    """The host name this target's SNI should be (see the module docstring for the order)."""
    from tlsdoctor.evidence.nginx import classify_name, strip_port

    header = target.host_header
    host_ref = loc.host_header_ref
    explicit = host_ref is not None and "$proxy_host" not in (loc.host_header or "")
    if header and "$" not in header and explicit and host_ref is not None:
        name = strip_port(header)
        if classify_name(name, set()) is SniKind.HOSTNAME:
            return NameChoice(name, f"the literal Host header ({host_ref})", (host_ref,))
    pass_host_is_a_name = target.upstream is None and classify_name(target.host, set()) is SniKind.HOSTNAME
    if (header and host_ref is not None and explicit and not pass_host_is_a_name
            and classify_name(header, set()) is SniKind.CLIENT_HOST):
        # Host passes the client's name to a group or an address: SNI should follow it.
        return NameChoice("$host", f"the Host header, which passes the client's ({host_ref})", (host_ref,))
    if target.upstream is not None:
        names = target.upstream.host_names
        refs = tuple(s.ref for s in target.upstream.servers)
        if len(names) == 1:
            return NameChoice(names[0], f"the only host name of upstream {target.upstream.name}", refs)
        if names:
            return NameChoice(names[0], f"the first host name of upstream {target.upstream.name}", refs,
                              note=(f"upstream {target.upstream.name} lists several host names "
                                    f"({', '.join(names)}) but nginx sends one SNI for the whole group: every "
                                    f"server of it must accept {names[0]}, or split the group into one group "
                                    f"per host name and choose between them with a map"))
        return NameChoice(None, f"upstream {target.upstream.name} lists only addresses, no host name", refs)
    if classify_name(target.host, set()) is SniKind.HOSTNAME:
        return NameChoice(target.host, f"the host of {loc.pass_url}", ())
    return NameChoice(None, f"{target.host} is not a host name and no literal Host header names one", ())


@dataclass(frozen=True, slots=True)
class _Fix:
    changes: tuple[DirectiveChange, ...]
    insertions: tuple[BlockInsertion, ...]
    text: str
    patchable: bool
    notes: tuple[str, ...]
    name_sources: tuple[str, ...]
    refs: tuple[SourceRef, ...]


def _change(loc: ProxiedLocation, key: tuple[str, ...], name: str, *args: str) -> DirectiveChange:
    """Set ``name args`` in the location's own block: rewrite its own directive of that key, or add one."""
    replaces = None
    for own in loc.own_directives:
        words = own.text.rstrip(";").split()
        if not words or words[0] != key[0]:
            continue
        if len(key) == 1 or (len(words) > 1 and words[1].lower() == key[1]):
            replaces = own
            break
    block = loc.block_ref or loc.pass_ref
    return DirectiveChange(loc.pass_ref, (block.file, block.line), key, name, args, replaces)


def _host_header_changes(loc: ProxiedLocation, value: str) -> list[DirectiveChange]:
    """``proxy_set_header Host value`` in the location, restating the headers it would stop inheriting."""
    directive = f"{loc.module}_set_header"
    out: list[DirectiveChange] = []
    if loc.headers_inherited:
        # An array directive: one proxy_set_header here drops all inherited ones (ngx_http_proxy_module).
        for h in loc.headers:
            if h.name.lower() != "host":
                out.append(_change(loc, (directive, h.name.lower()), directive, h.name, h.value))
    out.append(_change(loc, (directive, "host"), directive, "Host", value))
    return out


def sni_fix(analysis: NginxAnalysis, loc: ProxiedLocation, targets: list[PassTarget], *,
            enable: bool) -> _Fix:
    """The directives that make nginx send each target's real host name as SNI (and as Host)."""
    m = loc.module
    changes: list[DirectiveChange] = []
    insertions: list[BlockInsertion] = []
    notes: list[str] = []
    sources: list[str] = []
    refs: list[SourceRef] = []
    if enable:
        changes.append(_change(loc, (f"{m}_ssl_server_name",), f"{m}_ssl_server_name", "on"))
    choices = {t.url: (t, proper_name(loc, t)) for t in loc.targets if t.tls}
    for _, choice in choices.values():
        if choice.note and choice.note not in notes:
            notes.append(choice.note)
        if choice.source not in sources:
            sources.append(choice.source)
        refs.extend(choice.refs)
    patchable = all(c.name is not None for _, c in choices.values())
    needs_name = [(t, c) for t, c in choices.values() if c.name is not None and
                  (t.upstream is not None or c.name != t.host or t.sni_kind in (SniKind.GROUP_NAME,
                                                                               SniKind.IP_LITERAL))]
    distinct = {c.name for _, c in needs_name}
    host_is_default = loc.module == "proxy" and loc.host_header == "$proxy_host"
    sni_value: str | None = None
    if len(distinct) == 1:
        sni_value = next(iter(distinct))
    elif len(distinct) > 1:
        variable = SNI_MAP_VARIABLE
        taken = {mp.variable for mp in analysis.maps}
        n = 2
        while variable in taken:
            variable, n = f"{SNI_MAP_VARIABLE}_{n}", n + 1
        lines = [f"map $proxy_host ${variable} {{"]
        for t, c in needs_name:
            line = f"    {t.host} {c.name};"
            if line not in lines:
                lines.append(line)
        lines += ["    default $proxy_host;", "}"]
        sni_value = f"${variable}"
        if loc.server_ref is not None:
            insertions.append(BlockInsertion(loc.server_ref, "\n".join(lines)))
        else:
            patchable = False
    if sni_value is not None:
        changes.append(_change(loc, (f"{m}_ssl_name",), f"{m}_ssl_name", sni_value))
        if host_is_default and any(t.upstream is not None for t, _ in needs_name):
            # $proxy_host is the group's name: the origin would get Host: <group> too (seed 000).
            changes.extend(_host_header_changes(loc, sni_value))
    text = " ".join(c.text for c in changes)
    if insertions:
        text = insertions[0].text + "\n" + text
    if not patchable:
        unknown = [c.source for _, c in choices.values() if c.name is None]
        text += (f" {m}_ssl_name <the origin's host name>;" if sni_value is None else "")
        notes.append("the host name is not in the configuration (" + "; ".join(unknown) + "): "
                     f"set {m}_ssl_name to the name on the origin's certificate; this fix is not in --patch")
    return _Fix(tuple(changes), tuple(insertions), text, patchable, tuple(notes), tuple(sources), tuple(refs))


def _location_evidence(loc: ProxiedLocation, targets: list[PassTarget]) -> list[Evidence]:
    ev = _ev(loc.pass_ref)
    for t in targets:
        for via in t.via:
            ev += _ev(via)
        if t.upstream is not None:
            ev += _ev(t.upstream.ref)
            for s in t.upstream.servers:
                ev += _ev(s.ref)
    return ev


def _target_names(targets: list[PassTarget]) -> str:
    return ", ".join(dict.fromkeys(t.host for t in targets))


REFUSAL = ("An upstream that chooses its certificate by SNI (Cloudflare and most CDNs; nginx with "
           "ssl_reject_handshake) refuses the handshake with alert 40 handshake_failure or 112 unrecognized_name, "
           "and nginx answers the client 502, logging \"SSL_do_handshake() failed ... while SSL handshaking to "
           "upstream\".")


# --- the checks -----------------------------------------------------------------------------------

def check_upstream_sni_off(analysis: NginxAnalysis, now: dt.datetime) -> list[NginxFinding]:
    out = []
    for loc in analysis.locations:
        m = loc.module
        tls = [t for t in loc.targets if t.tls]
        if not tls:
            continue
        if not loc.sni_enabled:
            affected = tls
            why = (f"{m}_ssl_server_name is off" + ("" if loc.sni_enabled_ref else " (nginx's default)") +
                   ", so the ClientHello nginx sends carries no server_name.")
            enable = True
        else:
            affected = [t for t in tls if t.sni_kind in (SniKind.IP_LITERAL, SniKind.NONE)]
            if not affected:
                continue
            why = (f"{m}_ssl_server_name is on but the name is an IP address or empty, and nginx sends no SNI "
                   "for those (RFC 6066 section 3).")
            enable = False
        fix = sni_fix(analysis, loc, affected, enable=enable)
        explanation = (f"{loc.where()}: `{loc.pass_ref.text}` speaks TLS to {_target_names(affected)} but {why} "
                       f"{REFUSAL}")
        if fix.name_sources and fix.patchable:
            explanation += " The host name in the fix is " + "; ".join(fix.name_sources) + "."
        if fix.notes:
            explanation += " Note: " + " ".join(fix.notes) + "."
        evidence = _location_evidence(loc, affected) + _ev(loc.sni_enabled_ref) + _ev(loc.host_header_ref)
        if loc.sni_enabled_ref is None:
            evidence += _ev(loc.location_ref, f"{loc.location_ref.text if loc.location_ref else ''} "
                            f"(no {m}_ssl_server_name here, in its server or in http)".strip())
        out.append(NginxFinding(
            cause="upstream_sni_off",
            title=f"nginx sends no SNI to upstream {_target_names(affected)}",
            confidence=Confidence.CERTAIN, explanation=explanation, evidence=_dedupe(evidence), fix=fix.text,
            location=loc, changes=fix.changes if fix.patchable else (),
            insertions=fix.insertions if fix.patchable else (), fix_is_patchable=fix.patchable))
    return out


def check_upstream_sni_is_group_name(analysis: NginxAnalysis, now: dt.datetime) -> list[NginxFinding]:
    out = []
    for loc in analysis.locations:
        m = loc.module
        affected = [t for t in loc.targets if t.tls and t.sni_kind is SniKind.GROUP_NAME]
        if not affected or not loc.sni_enabled:
            continue
        groups = ", ".join(dict.fromkeys(t.sni or "" for t in affected))
        fix = sni_fix(analysis, loc, affected, enable=False)
        how = (f"{m}_ssl_name is not set, so the name is $proxy_host" if loc.sni_name is None
               else f"{m}_ssl_name {loc.sni_name} evaluates to it")
        explanation = (f"{loc.where()}: {m}_ssl_server_name is on, but `{loc.pass_ref.text}` names the upstream "
                       f"block {groups} and {how}: nginx sends SNI \"{groups}\", a name no certificate of the "
                       f"origin carries" + (" (and, by default, Host: " + groups + " too)"
                                            if loc.module == "proxy" and loc.host_header_ref is None else "") +
                       f". {REFUSAL}")
        if fix.name_sources and fix.patchable:
            explanation += " The host name in the fix is " + "; ".join(fix.name_sources) + "."
        if fix.notes:
            explanation += " Note: " + " ".join(fix.notes) + "."
        evidence = (_location_evidence(loc, affected) + _ev(loc.sni_enabled_ref) + _ev(loc.sni_name_ref)
                    + _ev(loc.host_header_ref))
        out.append(NginxFinding(
            cause="upstream_sni_is_group_name",
            title=f"nginx would send the upstream group's name {groups} as SNI",
            confidence=Confidence.CERTAIN, explanation=explanation, evidence=_dedupe(evidence), fix=fix.text,
            location=loc, changes=fix.changes if fix.patchable else (),
            insertions=fix.insertions if fix.patchable else (), fix_is_patchable=fix.patchable))
    return out


def check_upstream_host_sni_mismatch(analysis: NginxAnalysis, now: dt.datetime) -> list[NginxFinding]:
    from tlsdoctor.evidence.nginx import classify_name, strip_port

    out = []
    groups = {u.name for u in analysis.upstreams}
    for loc in analysis.locations:
        if not loc.sni_enabled:
            continue
        group_host = _host_is_group_name(loc, groups)
        if group_host is not None:
            out.append(group_host)
            continue
        if loc.host_header_ref is None:
            continue
        m = loc.module
        for t in loc.targets:
            if not t.tls or t.sni is None or t.host_header is None:
                continue
            host = strip_port(t.host_header)
            host_kind = classify_name(host, set())
            if host_kind is not SniKind.HOSTNAME or t.sni_kind not in (SniKind.HOSTNAME, SniKind.CLIENT_HOST):
                continue
            if t.sni.lower() == host.lower():
                continue
            confidence = Confidence.LIKELY if t.sni_kind is SniKind.HOSTNAME else Confidence.POSSIBLE
            sni_from = (f"{m}_ssl_name ({loc.sni_name_ref})" if loc.sni_name_ref else f"the host of {loc.pass_url}")
            explanation = (f"{loc.where()}: the upstream gets SNI {t.sni} (from {sni_from}) but Host: {host} "
                           f"({loc.host_header_ref}). The origin chooses its certificate and TLS virtual server by "
                           f"SNI and its HTTP virtual host by Host: one that checks they agree answers 421 "
                           f"Misdirected Request, a CDN may refuse the request, others serve the wrong site or a "
                           f"certificate that does not cover {host}.")
            if t.sni_kind is SniKind.CLIENT_HOST:
                explanation += f" The SNI is the client's {t.sni}: they differ whenever the client asked for " \
                               f"another name than {host}."
            change = _change(loc, (f"{m}_ssl_name",), f"{m}_ssl_name", host)
            evidence = _ev(loc.pass_ref) + _ev(loc.host_header_ref) + _ev(loc.sni_name_ref) + \
                _ev(loc.sni_enabled_ref) + [e for v in t.via for e in _ev(v)]
            out.append(NginxFinding(
                cause="upstream_host_sni_mismatch",
                title=f"Host header {host} differs from the SNI {t.sni} sent to the upstream",
                confidence=confidence, explanation=explanation, evidence=_dedupe(evidence), fix=change.text,
                location=loc, changes=(change,)))
            break  # one finding per location
    return out


def _host_is_group_name(loc: ProxiedLocation, groups: set[str]) -> NginxFinding | None:
    """SNI is a real name, but Host is $proxy_host, the group's name: often an outer Host not inherited."""
    from tlsdoctor.evidence.nginx import strip_port

    if loc.module != "proxy":
        return None
    for t in loc.targets:
        if not (t.tls and t.sni and t.host_header and t.sni_kind in (SniKind.HOSTNAME, SniKind.CLIENT_HOST)):
            continue
        if strip_port(t.host_header) not in groups:
            continue
        lost = [h for h in loc.shadowed_headers if h.name.lower() == "host"]
        why = (f" A `{lost[0].ref.text}` is written at {lost[0].ref} but is not in effect here: this block has "
               f"its own proxy_set_header, and array directives are inherited only when a level has none "
               f"(ngx_http_proxy_module)." if lost else
               " No proxy_set_header Host is in effect, and the default is $proxy_host.")
        value = loc.sni_name if loc.sni_name else t.sni
        changes = _host_header_changes(loc, value)
        evidence = _ev(loc.pass_ref) + _ev(loc.sni_name_ref) + [e for h in lost for e in _ev(h.ref)] + \
            [e for h in loc.headers for e in _ev(h.ref)]
        return NginxFinding(
            cause="upstream_host_sni_mismatch",
            title=f"Host header is the group name {t.host_header}, SNI is {t.sni}",
            confidence=Confidence.LIKELY,
            explanation=(f"{loc.where()}: the upstream gets SNI {t.sni} but Host: {t.host_header}, the name of the "
                         f"upstream block.{why} The origin picks its HTTP virtual host by Host: it answers from "
                         f"its default site (404, 421 Misdirected Request, or a CDN's error page)."),
            evidence=_dedupe(evidence), fix=" ".join(c.text for c in changes), location=loc,
            changes=tuple(changes))
    return None


def check_upstream_verify_off(analysis: NginxAnalysis, now: dt.datetime) -> list[NginxFinding]:
    out = []
    for loc in analysis.locations:
        if not loc.tls or loc.verify:
            continue
        m = loc.module
        changes = [_change(loc, (f"{m}_ssl_verify",), f"{m}_ssl_verify", "on")]
        if loc.trusted_certificate is None:
            changes.append(_change(loc, (f"{m}_ssl_trusted_certificate",), f"{m}_ssl_trusted_certificate",
                                   DEFAULT_CA_BUNDLE))
        changes.append(_change(loc, (f"{m}_ssl_verify_depth",), f"{m}_ssl_verify_depth", "2"))
        tls = [t for t in loc.targets if t.tls]
        notes = []
        # Verification checks the certificate against *_ssl_name (default $proxy_host): with a group
        # name there, verification would fail for every request; the name fix goes with it.
        if loc.sni_name is None and any(t.upstream is not None for t in tls):
            fix = sni_fix(analysis, loc, [t for t in tls if t.upstream is not None], enable=False)
            if fix.patchable:
                changes += [c for c in fix.changes if c.key == (f"{m}_ssl_name",)]
            notes.append(f"nginx checks the certificate against {m}_ssl_name, by default the group's name: "
                         f"set {m}_ssl_name to the origin's host name with it")
        explanation = (f"{loc.where()}: {m}_ssl_verify is "
                       + ("off" if loc.verify_ref else "not set (nginx's default is off)")
                       + f", so nginx accepts any certificate from {_target_names(tls)}: an expired, self-signed "
                         "or wrong-name certificate, or an interception, goes unnoticed until a client-side "
                         "failure shows it. The fix verifies against the system CA bundle (adjust the path for "
                         "your distribution, or name your private CA) with a depth that allows an intermediate.")
        if notes:
            explanation += " Note: " + " ".join(notes) + "."
        evidence = _ev(loc.pass_ref) + _ev(loc.verify_ref)
        if loc.verify_ref is None:
            evidence += _ev(loc.location_ref, f"{loc.location_ref.text if loc.location_ref else ''} "
                            f"(no {m}_ssl_verify here, in its server or in http)".strip())
        out.append(NginxFinding(
            cause="upstream_verify_off",
            title=f"nginx does not verify the certificate of upstream {_target_names(tls)}",
            confidence=Confidence.CERTAIN, explanation=explanation, evidence=_dedupe(evidence),
            fix=" ".join(c.text for c in changes), location=loc, changes=tuple(changes)))
    return out


def _expiry(cert: CertificateFile, now: dt.datetime) -> tuple[int, bool] | None:
    if cert.not_after is None:
        return None
    left = cert.not_after - now
    if left <= dt.timedelta(0):
        return (now - cert.not_after).days, True
    if left <= dt.timedelta(days=EXPIRY_WARNING_DAYS):
        return left.days, False
    return None


def check_certificate_file_expired(analysis: NginxAnalysis, now: dt.datetime) -> list[NginxFinding]:
    out = []
    seen: set[tuple[str, str, int]] = set()
    for cert in analysis.certificates:
        key = (cert.resolved_path, cert.ref.file, cert.ref.line)
        if key in seen:
            continue
        seen.add(key)
        exp = _expiry(cert, now)
        if exp is None or cert.not_after is None:
            continue
        days, expired = exp
        not_after = cert.not_after.strftime("%Y-%m-%d %H:%M:%S UTC")
        role = ("nginx presents it to clients" if cert.directive == "ssl_certificate"
                else "nginx presents it to the upstream as its client certificate")
        if expired:
            title = f"Certificate {cert.path} expired {days} days ago"
            what = (f"{cert.path} ({cert.subject}) expired on {not_after}; {role}, and every peer that verifies "
                    "it refuses the handshake (alert 45 certificate_expired from the peer).")
        else:
            title = f"Certificate {cert.path} expires in {days} days"
            what = (f"{cert.path} ({cert.subject}) expires on {not_after}, in {days} days; {role}. "
                    "Renew it before then.")
        out.append(NginxFinding(
            cause="certificate_file_expired", title=title, confidence=Confidence.CERTAIN,
            explanation=what,
            evidence=(Evidence(cert.ref.file, cert.ref.text, line=cert.ref.line),
                      Evidence(cert.resolved_path, f"notAfter={not_after} subject={cert.subject}")),
            fix=f"renew {cert.path} (notAfter {not_after}) and reload nginx",
            certificate=cert, fix_is_patchable=False))
    return out


def check_obsolete_protocols(analysis: NginxAnalysis, now: dt.datetime) -> list[NginxFinding]:
    out = []
    for p in analysis.protocols:
        old = [v for v in p.protocols if v in OBSOLETE]
        if not old:
            continue
        kept = tuple(dict.fromkeys([*(v for v in p.protocols if v not in OBSOLETE), *MODERN_PROTOCOLS]))
        change = DirectiveChange(p.ref, (p.ref.file, p.ref.line), (p.directive,), p.directive, kept, p.ref)
        peer = "clients" if p.directive == "ssl_protocols" else "the upstream"
        where = f"server {p.server_names[0]}" if p.server_names else "http"
        explanation = (f"{where}: `{p.ref.text}` allows {', '.join(old)} with {peer}. These versions are "
                       "deprecated (RFC 8996) and broken; OpenSSL 3 refuses them at its default security level "
                       "anyway, so they only add risk, and a peer that offers nothing newer fails with alert 70 "
                       "protocol_version.")
        out.append(NginxFinding(
            cause="obsolete_protocols", title=f"{p.directive} allows {', '.join(old)}",
            confidence=Confidence.CERTAIN, explanation=explanation,
            evidence=(Evidence(p.ref.file, p.ref.text, line=p.ref.line),), fix=change.text, changes=(change,)))
    return out


# The registry, most important first: a report lists findings in this order.
CHECKS: dict[str, Check] = {
    "upstream_sni_off": check_upstream_sni_off,
    "upstream_sni_is_group_name": check_upstream_sni_is_group_name,
    "upstream_host_sni_mismatch": check_upstream_host_sni_mismatch,
    "certificate_file_expired": check_certificate_file_expired,
    "upstream_verify_off": check_upstream_verify_off,
    "obsolete_protocols": check_obsolete_protocols,
}


def run_checks(analysis: NginxAnalysis, now: dt.datetime, only: tuple[str, ...] = ()) -> tuple[NginxFinding, ...]:
    findings: list[NginxFinding] = []
    for code, check in CHECKS.items():
        if only and code not in only:
            continue
        findings.extend(check(analysis, now))
    return tuple(findings)
