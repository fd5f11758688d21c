"""Certificate facts: what a person checks in a certificate, extracted once with ``cryptography``.

Theory of operation. A Certificate handshake message carries DER certificates (RFC 5246 section
7.4.2, RFC 8446 section 4.4.2). ``certificate_facts(der)`` turns one into a frozen
``CertificateFacts``: subject and issuer (RFC 4514 strings), serial (hex), validity as aware UTC
datetimes, the subjectAltName DNS names and IP addresses (RFC 5280 section 4.2.1.6), the public
key's type and size, the signature algorithm, the SHA-256 fingerprint of the DER (as browsers and
``openssl x509 -fingerprint -sha256`` show it, without colons), and whether it is self-signed
and a CA.

A certificate is untrusted input: whatever ``cryptography`` refuses to parse becomes a facts
object with ``parse_error`` set and only ``raw_length`` and ``sha256`` filled, never an
exception. The same server certificate arrives in many connections of one capture, so results
are cached by the DER bytes (``FACTS_CACHE_SIZE`` entries, least recently used dropped).

The DER bytes themselves travel on the facts (``der``), so that a later stage can verify a chain
(``tlsdoctor.tls.chain``) without reaching back into the packets. They cost no extra memory for
certificates still in the cache (the cache's key is the same ``bytes`` object), and records that
outlive the cache share one facts object per connection's certificate, as before.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.utils import CryptographyDeprecationWarning

FACTS_CACHE_SIZE: Final = 1024
"""Distinct DER certificates whose facts are remembered (a bound on memory, not on correctness)."""


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    raw_length: int
    """Length of the DER bytes as sent."""
    sha256: str
    """Lower-case hex SHA-256 of the DER bytes."""
    subject: str | None = None
    """RFC 4514 string, e.g. ``CN=example.com,O=Example``."""
    issuer: str | None = None
    serial: str | None = None
    """Lower-case hex, no colons (a negative serial, which RFC 5280 forbids, keeps its sign)."""
    not_before: datetime | None = None
    """Aware UTC datetime."""
    not_after: datetime | None = None
    san_dns: tuple[str, ...] = ()
    san_ips: tuple[str, ...] = ()
    key_type: str | None = None
    """``RSA``, ``EC``, ``Ed25519``, ``Ed448``, ``DSA``, ``X25519``, ``X448`` or ``unknown``."""
    key_size: int | None = None
    """Bits: the RSA/DSA modulus size, the EC curve size, 256 for Ed25519, 456 for Ed448."""
    ec_curve: str | None = None
    """The EC curve's name (``secp256r1``) for EC keys."""
    signature_algorithm: str | None = None
    """The certificate's signature algorithm, e.g. ``sha256WithRSAEncryption``, ``ecdsa-with-SHA256``."""
    is_self_signed: bool = False
    """Issuer equals subject and the signature verifies with the certificate's own key."""
    is_ca: bool = False
    """basicConstraints cA is true (RFC 5280 section 4.2.1.9)."""
    parse_error: str | None = None
    """Set when ``cryptography`` could not parse the certificate; the other fields are then empty."""
    der: bytes = field(default=b"", repr=False, compare=False)
    """The DER bytes as sent (also when unparseable); empty only for facts built by hand. Left out of
    ``repr`` and of equality (``sha256`` already identifies the bytes)."""

    def is_valid_at(self, when: datetime) -> bool | None:
        """Whether ``when`` (aware) lies within notBefore..notAfter; None when unknown."""
        if self.not_before is None or self.not_after is None:
            return None
        return self.not_before <= when <= self.not_after


def certificate_facts(der: bytes) -> CertificateFacts:
    """Facts of one DER certificate; never raises for bad input."""
    return _certificate_facts(bytes(der))


@contextmanager
def defects_unwarned() -> Iterator[None]:
    """cryptography's warnings about a certificate's own defects (a serial number that is not positive,
    which RFC 5280 forbids), kept off the user's terminal, where Python prints them (UserWarning): they
    are about the evidence, and the facts show them (``serial`` keeps its sign). For every read of a
    certificate from a capture, a configuration or a bundle."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield


def parsed_certificate(facts: CertificateFacts) -> x509.Certificate | None:
    """cryptography's certificate of the facts' DER, for checks that need it (a chain, a trust store);
    None for one that did not parse."""
    if facts.parse_error is not None or not facts.der:
        return None
    try:
        with defects_unwarned():
            return x509.load_der_x509_certificate(facts.der)
    except ValueError:
        return None


@lru_cache(maxsize=FACTS_CACHE_SIZE)
def _certificate_facts(der: bytes) -> CertificateFacts:
    fingerprint = hashlib.sha256(der).hexdigest()
    # cryptography raises ValueError for most malformed DER, but some malformations only surface
    # when a field is read (e.g. a bad extension); every call into it stays inside this try, and
    # whatever it raises is the certificate's fault, not ours; what it only warns of, too.
    try:
        with defects_unwarned():
            cert = x509.load_der_x509_certificate(der)
            subject = cert.subject.rfc4514_string()
            issuer = cert.issuer.rfc4514_string()
            serial_number = cert.serial_number
            serial = ("-" if serial_number < 0 else "") + format(abs(serial_number), "x")
            not_before = cert.not_valid_before_utc
            not_after = cert.not_valid_after_utc
            san_dns, san_ips = _subject_alt_names(cert)
            key_type, key_size, ec_curve = _public_key(cert)
            signature_algorithm = cert.signature_algorithm_oid._name
            is_ca = _is_ca(cert)
            is_self_signed = _is_self_signed(cert)
    except Exception as exc:  # see the comment above the try
        return CertificateFacts(raw_length=len(der), sha256=fingerprint,
                                parse_error=f"{type(exc).__name__}: {exc}"[:200], der=der)
    return CertificateFacts(
        raw_length=len(der), sha256=fingerprint, subject=subject, issuer=issuer, serial=serial,
        not_before=not_before, not_after=not_after, san_dns=san_dns, san_ips=san_ips,
        key_type=key_type, key_size=key_size, ec_curve=ec_curve, signature_algorithm=signature_algorithm,
        is_self_signed=is_self_signed, is_ca=is_ca, der=der,
    )


def _subject_alt_names(cert: x509.Certificate) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return (), ()
    dns = tuple(ext.value.get_values_for_type(x509.DNSName))
    ips = tuple(str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress))
    return dns, ips


def _public_key(cert: x509.Certificate) -> tuple[str, int | None, str | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    if isinstance(key, x25519.X25519PublicKey):
        return "X25519", 256, None
    if isinstance(key, x448.X448PublicKey):
        return "X448", 448, None
    return "unknown", None, None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        ext = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return ext.value.ca


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True
