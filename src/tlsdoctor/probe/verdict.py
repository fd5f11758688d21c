"""From the matrix's outcomes to findings (pure): what the differences between probes prove.

Each rule compares probes of one address that differ in one thing (SNI or none, a wrong name, one
version, the size of the ClientHello) and names the cause code of shared/REPORT.md that the
difference establishes. Findings of the same cause on several addresses are merged, and say which
addresses showed it (a certificate expired on one node of three is the usual case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tlsdoctor.findings import Confidence, ConnectionRef, Evidence, Finding
from tlsdoctor.probe.model import (
    CONNECT_FAILURES,
    AddressReport,
    HandshakeReport,
    OutcomeKind,
    ProbeResult,
)
from tlsdoctor.tls.alerts import alert_name
from tlsdoctor.tls.registry import version_name

_VERSIONS = (("tls1.0", 0x0301), ("tls1.1", 0x0302), ("tls1.2", 0x0303), ("tls1.3", 0x0304))
_OPENSSL_VERSION_FLAG = {"tls1.0": "-tls1", "tls1.1": "-tls1_1", "tls1.2": "-tls1_2", "tls1.3": "-tls1_3"}
_REFUSALS = frozenset((OutcomeKind.ALERT, OutcomeKind.RESET, OutcomeKind.CLOSED, OutcomeKind.SILENCE,
                       OutcomeKind.STALLED))


@dataclass
class _Draft:
    cause: str
    title: str
    confidence: Confidence
    explanation: str
    fix: str
    connections: list[ConnectionRef] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)


def _ref(r: ProbeResult) -> ConnectionRef:
    return ConnectionRef(probe=r.name, client=r.outcome.local, server=r.server, sni=r.sni, outcome=r.outcome.describe())


def _s_client(r: ProbeResult) -> str:
    """The openssl command that reproduces a probe by hand."""
    parts = ["openssl s_client -connect", r.server]
    parts.append(f"-servername {r.sni}" if r.sni else "-noservername")
    flag = _OPENSSL_VERSION_FLAG.get(r.name)
    if flag:
        parts.append(flag)
    return " ".join(parts) + " </dev/null"


def _ev(r: ProbeResult) -> Evidence:
    return Evidence(source=f"probe {r.name} {r.server}",
                    text=f"{r.description}: {r.outcome.describe()}  (by hand: {_s_client(r)})")


def _alert(r: ProbeResult | None) -> int | None:
    if r is None or r.outcome.kind != OutcomeKind.ALERT or r.outcome.answer is None:
        return None
    return r.outcome.answer.alert_code


def _ok(r: ProbeResult | None) -> bool:
    return r is not None and r.outcome.ok


def _refused(r: ProbeResult | None) -> bool:
    return r is not None and r.outcome.kind in _REFUSALS


def _kind(r: ProbeResult | None) -> OutcomeKind | None:
    return r.outcome.kind if r is not None else None


def judge(host: str, port: int, sni: str | None, wrong_sni: str,
          addresses: Sequence[AddressReport]) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
    """Findings (most important first) and notes (facts that are not problems)."""
    drafts: dict[tuple[str, str], _Draft] = {}
    notes: list[str] = []
    for report in addresses:
        for draft in _address_findings(report, sni, wrong_sni, notes):
            key = (draft.cause, draft.title)
            merged = drafts.setdefault(key, _Draft(draft.cause, draft.title, draft.confidence, draft.explanation,
                                                   draft.fix))
            merged.connections += draft.connections
            merged.evidence += draft.evidence
            merged.addresses += [report.address]
    findings = []
    all_addresses = [a.address for a in addresses]
    for d in drafts.values():
        explanation = d.explanation
        if len(all_addresses) > 1:
            others = [a for a in all_addresses if a not in d.addresses]
            explanation += f" Seen on {', '.join(d.addresses)}" + (f"; not on {', '.join(others)}." if others else ".")
        findings.append(Finding(d.cause, d.title, d.confidence, explanation, tuple(d.connections),
                                tuple(d.evidence), d.fix))
    order = {Confidence.CERTAIN: 0, Confidence.LIKELY: 1, Confidence.POSSIBLE: 2}
    findings.sort(key=lambda f: order[f.confidence])
    return tuple(findings), tuple(dict.fromkeys(notes))


def _address_findings(report: AddressReport, sni: str | None, wrong_sni: str, notes: list[str]) -> list[_Draft]:
    r = {p.name: p for p in report.results}
    ran = [p for p in report.results if p.outcome.kind != OutcomeKind.SKIPPED]
    if not ran:
        return []
    connect_failed = [p for p in ran if p.outcome.kind in CONNECT_FAILURES]
    if len(connect_failed) == len(ran):
        return [_tcp_finding(connect_failed)]
    if connect_failed:
        notes.append(f"{report.address}: {len(connect_failed)} of {len(ran)} TCP connections failed "
                     "(intermittent: a saturated listen queue or a load balancer with a dead node)")
    answered = [p for p in ran if p.outcome.kind not in CONNECT_FAILURES]
    not_tls = [p for p in answered if p.outcome.kind == OutcomeKind.NOT_TLS]
    if not_tls:
        return [_not_tls_finding(not_tls)]
    out: list[_Draft] = []
    base = r.get("sni") if sni is not None else r.get("no_sni")
    sni_draft = _sni_rules(r, sni, wrong_sni) if sni is not None else None
    if sni_draft is not None:
        out.append(sni_draft)
    if _ok(base):
        out += _healthy_base_rules(r, report, notes)
    elif sni_draft is None:
        out += _failed_base_rules(r, base, sni)
    out += _handshake_rules(report.handshake, base, r)
    return out


# --- TCP and not-TLS ------------------------------------------------------------------------------

def _tcp_finding(failed: list[ProbeResult]) -> _Draft:
    first = failed[0]
    kinds = {p.outcome.kind for p in failed}
    if OutcomeKind.CONNECT_REFUSED in kinds:
        d = _Draft("tcp_connect_refused", f"TCP connection refused by {first.server}", Confidence.CERTAIN,
                   f"Every TCP connection to {first.server} was refused (a RST answered the SYN): nothing listens "
                   "on that port, or a firewall rejects the connection. TLS never started.",
                   "Check that the service listens on that address and port (ss -ltnp), and the firewall rules.")
    else:
        why = first.outcome.error or "no SYN-ACK before the deadline"
        d = _Draft("tcp_connect_timeout", f"TCP connection to {first.server} not established", Confidence.CERTAIN,
                   f"No TCP connection to {first.server} could be established ({why}): the SYN went unanswered "
                   "or the network has no route. TLS never started.",
                   "Check routing and firewalls between here and the server (a silent DROP rule, a security group); "
                   "tlsdoctor diagnose on a capture shows whether SYNs are retransmitted.")
    d.connections.append(_ref(first))
    d.evidence.append(Evidence(f"probe {first.name} {first.server}", first.outcome.describe()))
    return d


def _not_tls_finding(not_tls: list[ProbeResult]) -> _Draft:
    first = not_tls[0]
    answer = first.outcome.answer
    detail = answer.detail if answer is not None else "not TLS"
    http = answer is not None and answer.preview.startswith(b"HTTP/")
    d = _Draft("not_tls", f"{first.server} does not speak TLS: it answers with {detail}", Confidence.CERTAIN,
               f"The ClientHello was answered with {first.outcome.describe()}. "
               + ("A plain HTTP server listens on this port; a TLS client reports this as "
                  "'wrong version number' (OpenSSL), 'first record does not look like a TLS handshake' (Go) "
                  "or 'Unrecognized SSL message, plaintext connection?' (Java)." if http else
                  "Something other than a TLS server answers on this port."),
               "Point the client at the TLS port, or enable TLS on this listener (nginx: `listen 443 ssl;`); "
               "in an nginx upstream, use `proxy_pass http://` for a plain-HTTP upstream.")
    d.connections += [_ref(p) for p in not_tls]
    d.evidence += [_ev(first)]
    return d


# --- SNI -----------------------------------------------------------------------------------------

def _sni_rules(r: dict[str, ProbeResult], sni: str, wrong_sni: str) -> _Draft | None:
    with_sni, without, wrong = r.get("sni"), r.get("no_sni"), r.get("wrong_sni")
    if with_sni is None or without is None:
        return None
    if _ok(with_sni) and _refused(without):
        strict = _refused(wrong)
        d = _Draft("sni_missing", "The server requires SNI: a ClientHello without server_name is refused",
                   Confidence.CERTAIN,
                   f"With SNI {sni} the server answers ({with_sni.outcome.describe()}); without SNI it answers "
                   f"{without.outcome.describe()}. Clients that send no SNI fail: nginx `proxy_pass https://...` "
                   "without `proxy_ssl_server_name on`, clients connecting by IP address, old Java/Python clients."
                   + (f" A wrong name ({wrong_sni}) is refused too: the server (nginx `ssl_reject_handshake on`, "
                      "a CDN) only serves names it knows." if strict else ""),
                   f"Make clients send SNI {sni}: nginx `proxy_ssl_server_name on; proxy_ssl_name {sni};`, "
                   f"curl with the name (`--resolve {sni}:{with_sni.port}:{with_sni.address}`), "
                   f"`openssl s_client -servername {sni}`.")
        d.connections += [_ref(without), _ref(with_sni)] + ([_ref(wrong)] if wrong is not None and strict else [])
        d.evidence += [_ev(without), _ev(with_sni)]
        return d
    if with_sni.outcome.kind == OutcomeKind.RESET and _ok(without):
        named = [p for p in r.values() if p.sni == sni and p.outcome.kind == OutcomeKind.RESET]
        wrong_ok = wrong is not None and wrong.outcome.kind != OutcomeKind.RESET
        ms = ", ".join(f"{p.outcome.elapsed_ms:.0f}" for p in named if p.outcome.elapsed_ms is not None)
        d = _Draft("rst_injection", f"Connections are reset after a ClientHello naming {sni}, not without SNI",
                   Confidence.LIKELY if wrong_ok else Confidence.POSSIBLE,
                   f"{len(named)} ClientHello(s) with SNI {sni} were answered by a RST "
                   f"({ms} ms after the ClientHello), "
                   f"while the same ClientHello without SNI got {without.outcome.describe()}"
                   + (f" and with SNI {wrong_sni} got {wrong.outcome.describe()}" if wrong is not None else "")
                   + ". A server does not usually reset by name: something on the path reads the SNI and forges "
                     "resets (a filter of unregistered domains, a firewall's URL category). The server then logs "
                     "'peer closed connection in SSL handshake (104: Connection reset by peer)'.",
                   "Find the box that resets: capture at both ends (`tlsdoctor diagnose --vantage client=... "
                   "--vantage server=...`); a forged RST has a TTL or IP ID unlike the server's packets. For a "
                   "domain filtered for lack of an ICP filing, file the domain or serve it from outside that network.")
        d.connections += [_ref(p) for p in named] + [_ref(without)] + ([_ref(wrong)] if wrong is not None else [])
        d.evidence += [_ev(with_sni), _ev(without)] + ([_ev(wrong)] if wrong is not None else [])
        return d
    if _ok(without) and with_sni.outcome.kind == OutcomeKind.ALERT and _alert(with_sni) in (112, 40):
        code = _alert(with_sni) or 0
        d = _Draft("certificate_name_mismatch", f"The server has no virtual host for {sni}", Confidence.LIKELY,
                   f"With SNI {sni} the server refuses the handshake with alert {code} {alert_name(code)}; without "
                   f"SNI it answers ({without.outcome.describe()}) with its default certificate: it is not "
                   f"configured for {sni}.",
                   f"Add {sni} to the server's configuration (nginx: `server_name {sni};` in a server block with a "
                   "certificate that covers it), or connect with the name the server is configured for.")
        d.connections += [_ref(with_sni), _ref(without)]
        d.evidence += [_ev(with_sni), _ev(without)]
        return d
    if _ok(without) and with_sni.outcome.kind in (OutcomeKind.SILENCE, OutcomeKind.CLOSED):
        d = _Draft("middlebox_clienthello_blackhole", f"ClientHellos naming {sni} get no answer; without SNI they do",
                   Confidence.POSSIBLE,
                   f"With SNI {sni}: {with_sni.outcome.describe()}; without SNI: {without.outcome.describe()}. "
                   "Something on the path drops or swallows ClientHellos by name.",
                   "Capture at the server (`tlsdoctor diagnose`): if the ClientHello naming the host never arrives, "
                   "a filter on the path drops it; find it by its TTL or ask the network's operator.")
        d.connections += [_ref(with_sni), _ref(without)]
        d.evidence += [_ev(with_sni), _ev(without)]
        return d
    return None


# --- the base offer was answered ------------------------------------------------------------------

def _healthy_base_rules(r: dict[str, ProbeResult], report: AddressReport, notes: list[str]) -> list[_Draft]:
    out: list[_Draft] = []
    base = r.get("sni") or r.get("no_sni")
    large = r.get("large")
    if base is not None and large is not None and not large.outcome.ok and large.outcome.kind in (
            OutcomeKind.SILENCE, OutcomeKind.STALLED, OutcomeKind.RESET, OutcomeKind.CLOSED):
        d = _Draft("clienthello_fragment_lost",
                   f"A {large.client_hello_bytes}-byte ClientHello fails where a {base.client_hello_bytes}-byte one "
                   "succeeds", Confidence.LIKELY,
                   f"The same offer padded to {large.client_hello_bytes} bytes (two TCP segments, the size of a "
                   f"post-quantum key share) got {large.outcome.describe()}, while the {base.client_hello_bytes}-byte "
                   f"one got {base.outcome.describe()}. Something on the path loses or refuses the ClientHello's later "
                   "segment (an MTU/MSS black hole, a firewall that inspects only the first segment).",
                   "Fix the path MTU (allow ICMP 'fragmentation needed', clamp the MSS) or upgrade the inspecting "
                   "middlebox; meanwhile clients can disable the post-quantum key share (X25519MLKEM768).")
        d.connections += [_ref(large), _ref(base)]
        d.evidence += [_ev(large), _ev(base)]
        out.append(d)
    accepted = [name for name, _v in _VERSIONS if _ok(r.get(name))]
    tried = [name for name, _v in _VERSIONS if name in r and r[name].outcome.kind != OutcomeKind.SKIPPED]
    if tried:
        names = {n: version_name(v) for n, v in _VERSIONS}
        notes.append(f"{report.address}: versions accepted: {', '.join(names[n] for n in accepted) or 'none alone'}")
        if accepted == ["tls1.3"]:
            notes.append(f"{report.address}: only TLSv1.3 is accepted; clients limited to TLS 1.2 (Java 8 before "
                         "8u261, OpenSSL 1.0.2) fail with alert 70 protocol_version")
        old = [names[n] for n in accepted if n in ("tls1.0", "tls1.1")]
        if old:
            notes.append(f"{report.address}: still accepts obsolete {' and '.join(old)} (RFC 8996 deprecates them)")
    for name in ("ecdsa_only", "rsa_only"):
        p = r.get(name)
        if p is not None and _alert(p) is not None:
            notes.append(f"{report.address}: {p.description} refused ({p.outcome.describe()}): the server's "
                         f"certificate is not {'ECDSA' if name == 'ecdsa_only' else 'RSA'}")
    return out


# --- the base offer failed ------------------------------------------------------------------------

def _failed_base_rules(r: dict[str, ProbeResult], base: ProbeResult | None, sni: str | None) -> list[_Draft]:
    if base is None:
        return []
    others = [p for p in r.values() if p is not base and p.outcome.kind not in CONNECT_FAILURES
              and p.outcome.kind != OutcomeKind.SKIPPED]
    kind = base.outcome.kind
    code = _alert(base)
    accepted = [version_name(v) for n, v in _VERSIONS if _ok(r.get(n))]
    if code == 70 or (code is not None and accepted and not _ok(r.get("tls1.2")) and not _ok(r.get("tls1.3"))):
        only = f"it accepts only {', '.join(accepted)}" if accepted else "no single version from TLS 1.0 to 1.3 works"
        d = _Draft("protocol_version_mismatch", "No TLS version in common with a modern client", Confidence.CERTAIN,
                   f"A TLS 1.3+1.2 offer got {base.outcome.describe()}; {only}.",
                   "Enable TLS 1.2 and 1.3 on the server (nginx: `ssl_protocols TLSv1.2 TLSv1.3;`); if only an old "
                   "version works, the server or its TLS library needs an upgrade.")
        d.connections += [_ref(base)] + [_ref(r[n]) for n, _v in _VERSIONS if n in r]
        d.evidence += [_ev(base)] + [_ev(r[n]) for n, _v in _VERSIONS if n in r]
        return [d]
    if code == 80:
        d = _Draft("server_internal_error", "The server fails with alert 80 internal_error", Confidence.LIKELY,
                   f"The ClientHello got {base.outcome.describe()}: the server failed for a reason of its own (a "
                   "certificate or key it cannot load, an engine or HSM error; some servers also send it for an "
                   "expired certificate).",
                   "Read the server's error log at the probe's time; check its certificate and key files.")
        d.connections.append(_ref(base))
        d.evidence.append(_ev(base))
        return [d]
    if code is not None:
        ecdsa, rsa = r.get("ecdsa_only"), r.get("rsa_only")
        candidates = ("no shared cipher suite, group or signature algorithm (no_shared_cipher); a required "
                      "client certificate (client_certificate_required); SNI the server does not serve")
        if _ok(ecdsa) or _ok(rsa):
            candidates = "the offer's cipher or group preferences (a narrower offer was accepted)"
        d = _Draft("alert_unexplained", f"Every ClientHello is refused with alert {code} {alert_name(code)}",
                   Confidence.POSSIBLE,
                   f"The ClientHello got {base.outcome.describe()}"
                   + (f" with or without SNI {sni}" if sni else "") + f". Candidates: {candidates}.",
                   f"Run `tlsdoctor explain {code}` for its usual causes and read the server's error log at the "
                   "probe's time.")
        d.connections += [_ref(base), *[_ref(p) for p in others if _alert(p) == code][:4]]
        d.evidence.append(_ev(base))
        return [d]
    if kind == OutcomeKind.RESET:
        resets = [p for p in [base, *others] if p.outcome.kind == OutcomeKind.RESET]
        d = _Draft("rst_after_clienthello", "The connection is reset right after the ClientHello",
                   Confidence.LIKELY if len(resets) > 1 else Confidence.POSSIBLE,
                   f"{len(resets)} of {len(others) + 1} ClientHellos were answered by a RST "
                   f"({base.outcome.describe()}), whatever the SNI or version: the server (or a box in front of it) "
                   "resets instead of answering. A probe cannot tell who sent the RST; a capture can.",
                   "Read the server's log; capture at the server (`tlsdoctor diagnose`) to see whether it sent the "
                   "RST, or something in front of it did (TTL, IP ID).")
        d.connections += [_ref(p) for p in resets]
        d.evidence.append(_ev(base))
        return [d]
    if kind in (OutcomeKind.SILENCE, OutcomeKind.CLOSED):
        how = ("closed the connection (FIN) without a word" if kind == OutcomeKind.CLOSED
               else "accepted the connection and never answered")
        d = _Draft("clienthello_unanswered", f"The ClientHello is never answered: the server {how}",
                   Confidence.CERTAIN,
                   f"The TCP connection was established, the ClientHello written, and the server {how} "
                   f"({base.outcome.describe()}). A TLS server answers a ClientHello at once: this listener is not "
                   "TLS (a service waiting for its client to speak first), is overloaded, or a proxy in front accepted "
                   "the connection without reaching the server.",
                   "Check what listens on the port and its load; capture at the server (`tlsdoctor diagnose`) to see "
                   "whether the ClientHello arrives at all.")
        d.connections += [_ref(base), *[_ref(p) for p in others if p.outcome.kind == kind][:4]]
        d.evidence.append(_ev(base))
        return [d]
    if kind in (OutcomeKind.STALLED, OutcomeKind.CAP_EXCEEDED, OutcomeKind.MALFORMED):
        what = {OutcomeKind.STALLED: "started an answer and never finished it",
                OutcomeKind.CAP_EXCEEDED: "sent more bytes than any ServerHello needs and was cut off",
                OutcomeKind.MALFORMED: "sent TLS records that break the protocol"}[kind]
        d = _Draft("handshake_stalled", f"The server {what}", Confidence.LIKELY,
                   f"The ClientHello got {base.outcome.describe()}: a broken or hostile server, or a proxy that "
                   "corrupts the stream.",
                   "Compare with `openssl s_client` from another network; check the server's TLS software.")
        d.connections.append(_ref(base))
        d.evidence.append(_ev(base))
        return [d]
    return []


# --- the full handshake ---------------------------------------------------------------------------

_CERT_TITLES = {
    "certificate_expired": ("The certificate has expired", "Renew the certificate and reload the server; "
                            "check every node behind the name serves the new one."),
    "certificate_not_yet_valid": ("The certificate is not valid yet", "Check the server's clock and the "
                                  "certificate's notBefore; reissue it if it was dated in the future."),
    "certificate_name_mismatch": ("The certificate does not cover the name", "Issue a certificate whose "
                                  "subjectAltName covers the name, or serve the right certificate for this SNI."),
    "certificate_untrusted": ("The certificate chain is not trusted", "Use a certificate from a CA the clients "
                              "trust, or give the clients the private CA (--ca-bundle to check with it)."),
    "certificate_chain_incomplete": ("The certificate chain is incomplete or out of order", "Serve the leaf "
                                     "followed by its intermediates in order (nginx: ssl_certificate with the "
                                     "full chain file)."),
}


def _handshake_rules(hs: HandshakeReport | None, base: ProbeResult | None,
                     r: dict[str, ProbeResult]) -> list[_Draft]:
    if hs is None:
        return []
    ref = ConnectionRef(probe="handshake", client=None, server=f"{hs.address}:{hs.port}", sni=hs.sni,
                        outcome=hs.error or f"completed {hs.version} {hs.cipher}")
    out: list[_Draft] = []
    for cause, sentence, confidence in hs.problems:
        title, fix = _CERT_TITLES.get(cause, (cause, ""))
        leaf = hs.chain[0] if hs.chain else None
        d = _Draft(cause, title, Confidence(confidence),
                   f"{sentence[0].upper()}{sentence[1:]}. {hs.address} serves it"
                   + (f" (notAfter {leaf.not_after}, sha256 {leaf.sha256[:16]}...)." if leaf else "."), fix)
        d.connections.append(ref)
        d.evidence.append(Evidence(f"handshake {hs.address}:{hs.port}",
                                   f"{sentence}  (by hand: openssl s_client -connect {hs.address}:{hs.port}"
                                   + (f" -servername {hs.sni}" if hs.sni else "")
                                   + " </dev/null | openssl x509 -noout -dates -subject -ext subjectAltName)"))
        out.append(d)
    raw_ok = _ok(base)
    code = hs.alert_code
    if not hs.completed and raw_ok and (code in (116, 40, 42, 43, 44, 45, 46, 47, 48, 49) or hs.post_handshake_alert):
        d = _Draft("client_certificate_required", "The server requires a client certificate", Confidence.LIKELY,
                   f"The server answers ClientHellos ({base.outcome.describe() if base else ''}), but a full handshake "
                   f"without a client certificate ends with {hs.error}"
                   + (" after the handshake (TLS 1.3: the server checks the client's certificate last)."
                      if hs.post_handshake_alert else "."),
                   "Give the client a certificate the server trusts (curl --cert/--key; nginx "
                   "proxy_ssl_certificate/proxy_ssl_certificate_key), or relax ssl_verify_client on the server.")
        d.connections.append(ref)
        d.evidence.append(Evidence(f"handshake {hs.address}:{hs.port}", hs.error or ""))
        out.append(d)
    elif not hs.completed and raw_ok and hs.error and not hs.problems:
        d = _Draft("handshake_stalled", "A full handshake fails although the ClientHello is answered",
                   Confidence.POSSIBLE,
                   f"The raw probe got {base.outcome.describe() if base else ''}, but Python's ssl handshake "
                   f"failed: {hs.error}.",
                   "Reproduce with `openssl s_client` and read the server's log at the probe's time.")
        d.connections.append(ref)
        d.evidence.append(Evidence(f"handshake {hs.address}:{hs.port}", hs.error))
        out.append(d)
    return out
