"""``client_certificate_required``: the server asked for a client certificate (CertificateRequest) and
got none, or one it rejected.

TLS 1.2 (RFC 5246 section 7.4.6): the CertificateRequest is plaintext; the client answers with an empty
Certificate; OpenSSL's server sends alert 40 handshake_failure, others 42 bad_certificate / 116.
TLS 1.3 (RFC 8446 sections 4.3.2, 4.4.2.4): the CertificateRequest is encrypted and the client finishes
first; the server then sends alert 116 certificate_required (encrypted). Without keys, a server's
encrypted alert right after the client's Finished is the shape; a key log confirms it.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import (
    Context,
    Conversation,
    Match,
    alert_evidence,
    assemble,
    frame_filter,
    listing,
    log_evidence,
    outcome,
    servers_of,
)

CAUSE = "client_certificate_required"
REJECTION_ALERTS = frozenset({40, 42, 43, 44, 45, 46, 48, 49, 116})


def match(conv: Conversation, ctx: Context) -> Match | None:
    v = conv.primary
    rec = v.record
    a = rec.alert
    if a is None or a.sender != "server" or rec.tls.server_hello is None:
        return None
    evidence: list[Evidence] = []
    notes: list[str] = []
    cr_frame = rec.frames.get("certificate_request")
    if rec.tls.certificate_request is not None and cr_frame is not None and not a.encrypted \
            and a.code in REJECTION_ALERTS and a.frame > cr_frame:
        confidence = Confidence.CERTAIN
        how = " (decrypted with the key log)" if rec.tls.decryption == "decrypted" else ""
        evidence.append(Evidence(v.capture, f"the server's CertificateRequest{how}", frame=cr_frame,
                                 display_filter=frame_filter(rec, cr_frame, "tls.handshake.type == 13")))
        certs = rec.tls.client_certificates
        sent = "an empty Certificate (no client certificate)" if not certs else \
            f"a Certificate with {len(certs)} certificate(s) ({certs[0].subject})"
        cc = rec.frames.get("client_certificate")  # the engine's milestone, plaintext (1.2) or decrypted (1.3)
        evidence.append(Evidence(v.capture, f"the client answered with {sent}", frame=cc,
                                 display_filter=f"tcp.stream == {rec.tcp_stream} && frame.number == {cc}"
                                 if cc else None))
    elif a.encrypted and rec.tls_version == "TLSv1.3" and "finished_client" in rec.frames \
            and a.frame > rec.frames["finished_client"]:
        # RFC 8446 4.4.2.4: a server that requires a certificate aborts after the client's Finished.
        confidence = Confidence.LIKELY
        notes.append("Inferred without keys: the server's encrypted alert came right after the client's Finished, "
                     "the point where a TLS 1.3 server rejects a missing or bad client certificate. An "
                     "SSLKEYLOGFILE would show the CertificateRequest and the alert's code (116).")
    elif a.code == 116:
        confidence = Confidence.CERTAIN
    else:
        return None
    evidence.append(alert_evidence(v, a))
    evidence.extend(log_evidence(ctx.log_lines_for(str(rec.server), (CAUSE,)), 2))
    return Match(CAUSE, confidence, outcome(rec), tuple(evidence), notes=tuple(notes))


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    return assemble(
        matches, title=f"{listing(servers)} requires a client certificate",
        explanation=(f"{listing(servers)} asked the client for a certificate (mutual TLS) and refused the "
                     f"handshake because the client sent none or one it does not accept ({len(matches)} "
                     "connection(s))."),
        fix=("Give the client a certificate the server trusts: nginx as the client: proxy_ssl_certificate and "
             "proxy_ssl_certificate_key; curl: --cert/--key; openssl s_client: -cert/-key. Or, if mutual TLS "
             "is not wanted, remove ssl_verify_client on (nginx) / -Verify (s_server) on the server."))
