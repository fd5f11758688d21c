"""Shared by the five certificate rules: which certificate problem ended a handshake, if any.

A certificate problem *ended* the handshake when (RFC 8446 section 6.2, RFC 5246 section 7.2.2):
- the client sent a fatal alert 42-49 (bad_certificate ... access_denied) or 40 right after the server's
  Certificate (TLS 1.2: plaintext; TLS 1.3: after the server's encrypted flight), or
- nginx's error log says ``upstream SSL certificate verify error`` / ``does not match`` for that upstream, or
- the server failed (alert 80 / 40) and a certificate given as evidence for that name is outside its
  validity at the capture's time (seed 001: the expired upstream certificate, found with s_client).
A problem in a chain that the client accepted is merely *seen*: it is not a finding of its own.

Which problem: the chain as sent (leaf first) judged at the capture's time (not today's), its names
against the SNI, its issuers against the trust store, by ``tlsdoctor.tls.chain`` when the DER bytes are
there; otherwise by the alert's code alone (45 expired, 48 unknown issuer, 42/40 name or other), with
a lower confidence.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import (
    Context,
    Conversation,
    Match,
    View,
    alert_evidence,
    assemble,
    capture_time,
    listing,
    names_of,
    outcome,
    servers_of,
)
from tlsdoctor.tls.certificates import CertificateFacts
from tlsdoctor.tls.chain import ChainVerdict, check_chain
from tlsdoctor.tls.chain import name_matches as name_matches
from tlsdoctor.tls.trust import TrustStore

CERTIFICATE_ALERTS = frozenset({42, 43, 44, 45, 46, 48, 49})
ALERT_CAUSE = {45: "certificate_expired", 48: "certificate_untrusted", 44: "certificate_untrusted",
               46: "certificate_untrusted", 42: "certificate_name_mismatch", 43: "certificate_untrusted"}
VERIFY_CAUSE = {9: "certificate_not_yet_valid", 10: "certificate_expired", 18: "certificate_untrusted",
                19: "certificate_untrusted", 20: "certificate_chain_incomplete",
                21: "certificate_chain_incomplete", 2: "certificate_chain_incomplete",
                62: "certificate_name_mismatch"}


@dataclass(frozen=True, slots=True)
class CertificateJudgement:
    cause: str
    confidence: Confidence
    evidence: tuple[Evidence, ...]
    leaf: CertificateFacts | None
    detail: str  # one sentence: what is wrong with which certificate


@functools.lru_cache(maxsize=4096)
def _verdict(chain: tuple[CertificateFacts, ...], sni: str | None, at: datetime,
             trust: TrustStore | None) -> ChainVerdict:
    return check_chain(chain, name=sni, at=at, trust=trust)


def _judge_with_chain_module(chain: tuple[CertificateFacts, ...], sni: str | None, at: datetime,
                             ctx: Context) -> tuple[list[tuple[str, int, str]], tuple[str, ...]]:
    """(problems, notes) from the full path check (tls.chain), at the capture's time, against the store."""
    trust = ctx.trust_store if isinstance(ctx.trust_store, TrustStore) else None
    verdict = _verdict(chain, sni, at.replace(microsecond=0), trust)
    problems = [(p.cause, p.certificate_index if p.certificate_index is not None else len(chain), p.text)
                for p in verdict.problems]
    return problems, verdict.notes


def _client_rejection(rec: ConnectionRecord) -> bool:
    a = rec.alert
    if a is None or a.sender != "client":
        return False
    if a.encrypted:
        return rec.tls_version == "TLSv1.3" and not rec.handshake_completed
    return a.code in CERTIFICATE_ALERTS or (a.code == 40 and "certificate" in rec.frames)


def evidence_certificates(rec: ConnectionRecord, ctx: Context) -> tuple[CertificateFacts, ...]:
    """Certificates given as evidence (PEM files) that cover this connection's SNI (or the only ones)."""
    if not ctx.certificates:
        return ()
    if rec.sni:
        for chain in ctx.certificates:
            if chain and name_matches(rec.sni, chain[0]):
                return chain
    return ctx.certificates[0] if len(ctx.certificates) == 1 else ()


def judge(conv: Conversation, ctx: Context) -> CertificateJudgement | None:
    view: View = conv.primary
    rec = view.record
    # A capture whose clock is beyond a datetime's range (damaged time stamps) is judged at the present time.
    at = capture_time(rec) or datetime.now(UTC)
    chain = rec.tls.server_certificates
    log_lines = [ln for ln in ctx.log_lines_for(str(rec.server))
                 if any(c.startswith("certificate_") for c in ln.causes)]
    rejected = _client_rejection(rec)
    from_evidence = False
    if not chain:
        chain = evidence_certificates(rec, ctx)
        from_evidence = bool(chain)
    server_failed = (rec.alert is not None and rec.alert.sender == "server" and rec.alert.code in (40, 80)
                     and rec.tls.server_hello is None)
    if not (rejected or log_lines or (from_evidence and server_failed)):
        return None
    problems, _chain_notes = _judge_with_chain_module(chain, rec.sni, at, ctx) if chain else ([], ())
    evidence: list[Evidence] = []
    if rec.alert is not None:
        evidence.append(alert_evidence(view, rec.alert))
    cert_frame = rec.frames.get("certificate")
    if cert_frame is not None and rec.tls.server_certificates:
        sent = rec.tls.server_certificates[0]
        evidence.append(Evidence(view.capture, f"server Certificate: {sent.subject}, issued by {sent.issuer}, "
                                 f"valid {sent.not_before:%Y-%m-%d} to {sent.not_after:%Y-%m-%d}" if sent.not_before
                                 and sent.not_after else f"server Certificate: {sent.subject}",
                                 frame=cert_frame, display_filter=f"tcp.stream == {rec.tcp_stream} && "
                                 "tls.handshake.type == 11"))
    evidence.extend(Evidence(ln.source, ln.text, line=ln.line) for ln in log_lines[:2])
    leaf = chain[0] if chain else None
    if from_evidence and leaf is not None:
        evidence.append(Evidence(ctx.certificate_sources.get(leaf.sha256, "certificate"),
                                 f"{leaf.subject}: notBefore {leaf.not_before:%Y-%m-%d %H:%M:%S}, notAfter "
                                 f"{leaf.not_after:%Y-%m-%d %H:%M:%S} UTC" if leaf.not_before and leaf.not_after
                                 else str(leaf.subject)))
    # The log's verify code names the problem exactly (X509_V_ERR_*), the chain check next, the alert last.
    for ln in log_lines:
        for c in ln.causes:
            if c.startswith("certificate_"):
                detail = next((t for cause, _, t in problems if cause == c), ln.text)
                return CertificateJudgement(c, Confidence.CERTAIN, tuple(evidence), leaf, detail)
    if problems:
        cause, _, detail = problems[0]
        alert_code = rec.alert.code if rec.alert is not None else None
        # The chain shows the problem; the alert code agreeing with it makes it certain.
        # 40 handshake_failure, 42 bad_certificate and 46 certificate_unknown are generic (OpenSSL sends 42
        # for a notBefore in the future, 40 for a host name mismatch): they agree with whatever the chain shows.
        agrees = alert_code is None or alert_code in (40, 42, 46) or ALERT_CAUSE.get(alert_code) == cause
        confidence = Confidence.CERTAIN if rejected and not from_evidence and agrees else Confidence.LIKELY
        return CertificateJudgement(cause, confidence, tuple(evidence), leaf, detail)
    if rejected and rec.alert is not None and rec.alert.code in ALERT_CAUSE:
        code = rec.alert.code
        detail = (f"the client refused the server's certificate with alert {code}; the certificate itself is "
                  "not visible in the capture")
        return CertificateJudgement(ALERT_CAUSE[code], Confidence.LIKELY if code in (45, 48) else Confidence.POSSIBLE,
                                    tuple(evidence), leaf, detail)
    return None


def match_cause(cause: str, conv: Conversation, ctx: Context) -> Match | None:
    j = judge(conv, ctx)
    if j is None or j.cause != cause:
        return None
    text = outcome(conv.record)
    if conv.failed_by_log:
        text = f"handshake completed, then the client dropped it ({text}): its log reports a verify error"
    return Match(cause, j.confidence, text, j.evidence, key=_issuer_key(conv),
                 notes=(j.detail[:1].upper() + j.detail[1:] + ".",))


def build_finding(matches: Sequence[tuple[Conversation, Match]], title: str, what: str, fix: str) -> Finding:
    servers = servers_of(matches)
    names = names_of(matches) or ["the name the clients use"]
    leaf = next((c.record.tls.server_certificates[0] for c, _ in matches if c.record.tls.server_certificates), None)
    not_after = f"{leaf.not_after:%Y-%m-%d}" if leaf is not None and leaf.not_after else "see the evidence"
    return assemble(
        matches, title=f"{title} ({listing(servers)})",
        explanation=(f"{len(matches)} handshake(s) with {listing(servers)} ended because the server's certificate "
                     f"was {what}. The client (or nginx, as a client of its upstream) refused it."),
        fix=fix.format(servers=listing(servers), names=listing(names), not_after=not_after))


def _issuer_key(conv: Conversation) -> str:
    """Connections whose certificates share an issuer share a root cause (one CA to renew or trust)."""
    certs = conv.record.tls.server_certificates
    return certs[0].issuer or "" if certs else ""
