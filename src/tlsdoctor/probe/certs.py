"""One full handshake with Python's ``ssl``, and the checks of the certificate chain it fetched.

``full_handshake`` (I/O) connects twice at most: once with verification off, to get the chain the
server presents whatever its faults, then once verifying against ``--ca-bundle`` or the system store,
so that trust is judged by OpenSSL's own path building (X509_V_ERR_* codes). ``certificate_problems``
(pure) turns the chain and the verification result into (cause code, sentence) pairs.

A 100 MB certificate cannot hurt: OpenSSL refuses a certificate list longer than 100 KiB
(SSL_CTX_set_max_cert_list's default, "excessive message size"), and the handshake runs under the
probe's deadline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Final

from tlsdoctor.probe.model import CertificateInfo, HandshakeReport
from tlsdoctor.tls.alerts import lookup_name
from tlsdoctor.tls.certificates import CertificateFacts, certificate_facts

POST_HANDSHAKE_WAIT: Final = 0.5
"""Seconds to wait after a TLS 1.3 handshake for an alert the server sends once it has checked our
(absent) client certificate: in TLS 1.3 the client finishes first (RFC 8446 section 4.4.2.4)."""

_ALERT_REASON = re.compile(r"(?:SSLV3|TLSV1|TLSV13)_(?:ALERT_)?([A-Z_]+)$")

# X509_V_ERR_* codes of include/openssl/x509_vfy.h that decide the cause code.
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: Final = 2
X509_V_ERR_CERT_NOT_YET_VALID: Final = 9
X509_V_ERR_CERT_HAS_EXPIRED: Final = 10
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: Final = 18
X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: Final = 19
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: Final = 20
X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: Final = 21


def alert_from_ssl_reason(reason: str | None) -> int | None:
    """``SSLV3_ALERT_HANDSHAKE_FAILURE`` -> 40, ``TLSV13_ALERT_CERTIFICATE_REQUIRED`` -> 116,
    ``TLSV1_UNRECOGNIZED_NAME`` -> 112: OpenSSL names a received alert by its RFC name."""
    if not reason:
        return None
    m = _ALERT_REASON.search(reason)
    if m is None:
        return None
    info = lookup_name(m.group(1))
    return info.code if info is not None else None


def _info(facts: CertificateFacts) -> CertificateInfo:
    def iso(t: dt.datetime | None) -> str:
        return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else ""

    return CertificateInfo(subject=facts.subject or "(unparsable)", issuer=facts.issuer or "",
                           not_before=iso(facts.not_before), not_after=iso(facts.not_after),
                           dns_names=facts.san_dns, ip_addresses=facts.san_ips,
                           self_issued=bool(facts.subject and facts.subject == facts.issuer),
                           sha256=facts.sha256)


def _chain_der(ssock: ssl.SSLSocket) -> list[bytes]:
    sslobj = getattr(ssock, "_sslobj", None)
    getter = getattr(sslobj, "get_unverified_chain", None)  # private before Python 3.13, public after
    if getter is not None:
        chain = getter() or []
        return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain]  # type: ignore[attr-defined]
    leaf = ssock.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _connect(address: str, port: int, deadline: float) -> socket.socket:
    return socket.create_connection((address, port), timeout=max(0.001, deadline - time.monotonic()))


class _Watchdog:
    """Shuts a socket down at the deadline: a socket timeout bounds each read, not a handshake that a
    server feeds one byte a second, so the deadline is enforced from outside."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire, (sock,))
        self._timer.daemon = True
        self.fired = False

    def _fire(self, sock: socket.socket) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            # The plain socket's shutdown, also for an SSLSocket: it wakes a read blocked in OpenSSL.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def full_handshake(address: str, port: int, sni: str | None, name: str | None, deadline: float,
                   ca_bundle: str | None = None, now: dt.datetime | None = None) -> HandshakeReport:
    """Handshake with ``address``, fetch the chain, check it for ``name`` at ``now``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    store = ca_bundle or "system"

    def failed(error: str, alert: int | None = None) -> HandshakeReport:
        return HandshakeReport(address=address, port=port, sni=sni, completed=False, error=error,
                               alert_code=alert, trust_store=store)

    try:
        raw = _connect(address, port, deadline)
    except OSError as exc:
        return failed(f"TCP connect failed: {exc.strerror or exc}")
    try:
        ssock = ctx.wrap_socket(raw, server_hostname=sni, do_handshake_on_connect=False)
    except (ssl.SSLError, ValueError) as exc:  # a server_hostname OpenSSL refuses
        raw.close()
        return failed(f"cannot start a handshake: {exc}")
    with ssock, _Watchdog(ssock, deadline) as watchdog:
        try:
            ssock.settimeout(max(0.001, deadline - time.monotonic()))
            ssock.do_handshake()
        except ssl.SSLError as exc:
            if watchdog.fired:
                return failed("the handshake did not finish before the deadline")
            return failed(_ssl_error_text(exc), alert_from_ssl_reason(exc.reason))
        except TimeoutError:
            return failed("timed out during the handshake")
        except OSError as exc:
            if watchdog.fired:
                return failed("the handshake did not finish before the deadline")
            return failed(_os_error_text(exc))
        version, cipher = ssock.version(), (ssock.cipher() or ("",))[0]
        chain = tuple(_info(certificate_facts(der)) for der in _chain_der(ssock))
        post_error, post_alert = _post_handshake_alert(ssock, deadline)
    verify_code: int | None = None
    verify_message: str | None = None
    trust_checked = False
    if post_error is None and chain:
        trust_checked, verify_code, verify_message = _verify(address, port, sni, deadline, ca_bundle)
    problems = certificate_problems(chain, name, now or dt.datetime.now(dt.UTC), verify_code, verify_message)
    return HandshakeReport(address=address, port=port, sni=sni, completed=post_error is None, version=version,
                           cipher=cipher, chain=chain, error=post_error, alert_code=post_alert,
                           post_handshake_alert=post_error is not None, verify_code=verify_code,
                           verify_message=verify_message, trust_store=store, trust_checked=trust_checked,
                           problems=problems)


def _ssl_error_text(exc: ssl.SSLError) -> str:
    return f"{exc.reason or type(exc).__name__}: {exc.strerror or exc}" if exc.reason else str(exc)


def _os_error_text(exc: OSError) -> str:
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer during the handshake"
    return exc.strerror or str(exc) or type(exc).__name__


def _post_handshake_alert(ssock: ssl.SSLSocket, deadline: float) -> tuple[str | None, int | None]:
    if ssock.version() != "TLSv1.3":
        return None, None
    ssock.settimeout(max(0.001, min(POST_HANDSHAKE_WAIT, deadline - time.monotonic())))
    try:
        ssock.recv(1)
    except ssl.SSLError as exc:
        code = alert_from_ssl_reason(exc.reason)
        if code is not None:
            return _ssl_error_text(exc), code
    except OSError:
        pass
    return None, None


def _verify(address: str, port: int, sni: str | None, deadline: float,
            ca_bundle: str | None) -> tuple[bool, int | None, str | None]:
    """(checked, X509_V_ERR code, message): checked is False when the verifying handshake failed for
    another reason than the chain (the first handshake already reported the path)."""
    ctx = ssl.create_default_context(cafile=ca_bundle)
    ctx.check_hostname = False  # names are checked by certificate_problems, for a clearer sentence
    try:
        with ctx.wrap_socket(_connect(address, port, deadline), server_hostname=sni,
                             do_handshake_on_connect=False) as ssock, _Watchdog(ssock, deadline):
            ssock.settimeout(max(0.001, deadline - time.monotonic()))
            ssock.do_handshake()
    except ssl.SSLCertVerificationError as exc:
        return True, exc.verify_code, exc.verify_message
    except (OSError, ValueError):
        return False, None, None
    return True, None, None


# --- the checks (pure) -----------------------------------------------------------------------------

def _parse_iso(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def name_matches(name: str, dns_names: Sequence[str], ip_addresses: Sequence[str]) -> bool:
    """RFC 6125 section 6.4: exact match, or a wildcard as the whole leftmost label; IPs against iPAddress."""
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if ip is not None:
        return any(ipaddress.ip_address(a) == ip for a in ip_addresses)
    host = name.rstrip(".").lower()
    for pattern in (d.rstrip(".").lower() for d in dns_names):
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == pattern[2:]:
                return True
    return False


def certificate_problems(chain: Sequence[CertificateInfo], name: str | None, now: dt.datetime,
                         verify_code: int | None, verify_message: str | None) -> tuple[tuple[str, str, str], ...]:
    """(cause code, sentence, confidence) for each problem of the chain, leaf first."""
    if not chain:
        return ()
    problems: list[tuple[str, str, str]] = []
    leaf = chain[0]
    not_after, not_before = _parse_iso(leaf.not_after), _parse_iso(leaf.not_before)
    if not_after is not None and not_after < now:
        days = (now - not_after).days
        problems.append(("certificate_expired",
                         f"the certificate {leaf.subject} expired on {leaf.not_after} ({days} day(s) ago)", "certain"))
    if not_before is not None and not_before > now:
        problems.append(("certificate_not_yet_valid",
                         f"the certificate {leaf.subject} is valid only from {leaf.not_before}", "certain"))
    for cert in chain[1:]:
        c_after = _parse_iso(cert.not_after)
        if c_after is not None and c_after < now:
            problems.append(("certificate_expired",
                             f"the chain's certificate {cert.subject} expired on {cert.not_after}", "certain"))
    if name and not name_matches(name, leaf.dns_names, leaf.ip_addresses):
        covered = ", ".join((*leaf.dns_names, *leaf.ip_addresses)) or f"no subjectAltName ({leaf.subject})"
        problems.append(("certificate_name_mismatch", f"the certificate does not cover {name}; it covers {covered}",
                         "certain"))
    for i in range(len(chain) - 1):
        if chain[i].issuer != chain[i + 1].subject:
            problems.append(("certificate_chain_incomplete",
                             f"certificate {i + 2} of the chain ({chain[i + 1].subject}) is not the issuer of "
                             f"certificate {i + 1} ({chain[i].issuer}): the chain is out of order or has a stray "
                             "certificate", "certain"))
            break
    if verify_code is not None:
        problems.extend(_trust_problem(chain, verify_code, verify_message or ""))
    seen: set[tuple[str, str, str]] = set()
    return tuple(p for p in problems if not (p in seen or seen.add(p)))  # type: ignore[func-returns-value]


def _trust_problem(chain: Sequence[CertificateInfo], code: int, message: str) -> list[tuple[str, str, str]]:
    last = chain[-1]
    if code in (X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID):
        return []  # the validity checks above name the certificate and its dates
    if code in (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN):
        return [("certificate_untrusted", f"self-signed certificate not in the trust store ({message}, "
                                          f"X509_V_ERR {code}): {last.subject}", "certain")]
    if code in (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE):
        return [("certificate_chain_incomplete",
                 f"the server sends {len(chain)} certificate(s) and no path to a trusted root: the intermediate "
                 f"issuing \"{last.issuer}\" is missing ({message}, X509_V_ERR {code})", "likely")]
    if code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY and len(chain) == 1 and not last.self_issued:
        # A lone leaf whose issuer the store does not know: a missing intermediate, or a private CA.
        # Without the issuer's certificate (AIA fetching is not done) the two cannot be told apart.
        return [("certificate_chain_incomplete",
                 f"the server sends only its leaf, and its issuer \"{last.issuer}\" is not in the trust store: "
                 f"an intermediate is missing, or the issuer is a private CA that this store does not trust "
                 f"({message}, X509_V_ERR {code})", "possible")]
    return [("certificate_untrusted", f"the chain does not lead to a trusted root ({message}, X509_V_ERR {code}); "
                                      f"last certificate sent: {last.subject}, issued by {last.issuer}", "certain")]
