"""Trust stores and PEM certificates: the roots a chain is judged against.

Theory of operation. A ``TrustStore`` is a frozen set of certificates considered trusted a priori
(RFC 5280 section 6.1.1 (d): the trust anchors), with the indexes that path building needs made
once: the parsed ``cryptography`` certificates by subject, their SHA-256 fingerprints, and the
``cryptography.x509.verification.Store`` handed to its verifier. It is built from certificates
already turned into ``CertificateFacts`` (``TrustStore.from_certificates``), whatever their source.

PEM (RFC 7468) is read by ``read_pem_certificates``: bytes in, certificates and warnings out. Every
``-----BEGIN CERTIFICATE-----`` block (also ``X509 CERTIFICATE`` and OpenSSL's ``TRUSTED
CERTIFICATE``, whose DER certificate is followed by OpenSSL's trust settings, RFC 7468 section 5.1
and OpenSSL's x509(1)) becomes one certificate; a block that is not base64, not a certificate, or
not parseable is skipped with a warning naming its line, never an exception. Other blocks (keys,
CSRs) are reported by label only: their content is never echoed. At most ``MAX_PEM_CERTIFICATES``
blocks are read from one input, and the cap is reported when hit.

``looks_like_pem`` is how the evidence intake recognises a PEM file by content, not by name.

The edge: ``load_trust_store`` is the only function here that touches the file system. It reads a
PEM bundle (``--ca-bundle``) or, given None, the system store (``ssl.get_default_verify_paths()``'s
cafile, then the Debian/Ubuntu bundle, then the hashed directory). It never raises: a missing or
unreadable file is a warning and an empty store.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final

from cryptography import x509
from cryptography.x509.verification import Store

from tlsdoctor.tls.certificates import CertificateFacts, certificate_facts, defects_unwarned, parsed_certificate

MAX_PEM_CERTIFICATES: Final = 10_000
"""Certificate blocks read from one PEM input (a system bundle holds about 150)."""

MAX_PEM_BYTES: Final = 64 * 1024 * 1024
"""Bytes read from one trust-store file."""

SYSTEM_BUNDLE: Final = "/etc/ssl/certs/ca-certificates.crt"
"""Debian's and Ubuntu's bundle, used when ``ssl.get_default_verify_paths()`` names no file."""

CERTIFICATE_LABELS: Final = frozenset({"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"})
"""RFC 7468 section 5.1 (and its legacy ``X509 CERTIFICATE``); OpenSSL's trusted form."""

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,40})-----(.*?)(?:-----END \1-----|(?=-----BEGIN )|\Z)", re.DOTALL)
_BEGIN_CERTIFICATE = re.compile(rb"-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----")


@dataclass(frozen=True, slots=True)
class TrustStore:
    """Trust anchors, indexed for path building; build it with ``from_certificates``."""

    certificates: tuple[CertificateFacts, ...]
    """The anchors that ``cryptography`` could parse (others are left out by ``from_certificates``)."""
    source: str
    """Where they came from, for a person: a file name, ``system store (...)``, ``evidence``."""
    _parsed: tuple[x509.Certificate, ...] = field(init=False, repr=False, compare=False)
    _by_subject: Mapping[x509.Name, tuple[x509.Certificate, ...]] = field(init=False, repr=False, compare=False)
    _fingerprints: frozenset[str] = field(init=False, repr=False, compare=False)
    _store: Store | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed: list[x509.Certificate] = []
        kept: list[CertificateFacts] = []
        for facts in self.certificates:
            cert = parsed_certificate(facts)
            if cert is not None:
                parsed.append(cert)
                kept.append(facts)
        by_subject: dict[x509.Name, list[x509.Certificate]] = {}
        for cert in parsed:
            by_subject.setdefault(cert.subject, []).append(cert)
        object.__setattr__(self, "certificates", tuple(kept))
        object.__setattr__(self, "_parsed", tuple(parsed))
        object.__setattr__(self, "_by_subject", MappingProxyType({k: tuple(v) for k, v in by_subject.items()}))
        object.__setattr__(self, "_fingerprints", frozenset(f.sha256 for f in kept))
        # cryptography refuses an empty Store ("can't create an empty store"): an empty trust store
        # trusts nothing, which chain.py handles without a verifier.
        object.__setattr__(self, "_store", Store(parsed) if parsed else None)

    @classmethod
    def from_certificates(cls, certificates: Iterable[CertificateFacts], source: str = "evidence") -> TrustStore:
        """A store of these certificates; those without parseable DER are left out."""
        return cls(tuple(certificates), source)

    def __len__(self) -> int:
        return len(self.certificates)

    def holds(self, facts: CertificateFacts) -> bool:
        """Whether this very certificate (same DER) is one of the anchors."""
        return facts.sha256 in self._fingerprints

    def named(self, name: x509.Name) -> tuple[x509.Certificate, ...]:
        """The anchors whose subject is ``name`` (candidates for an issuer of that name)."""
        return self._by_subject.get(name, ())

    @property
    def verification_store(self) -> Store | None:
        """The ``cryptography`` Store of the anchors, None when there are none."""
        return self._store


def looks_like_pem(head: bytes) -> bool:
    """Whether the first bytes of a file look like PEM certificates: text (no NUL byte, so that a
    capture whose payload happens to carry a PEM block is not mistaken for one) with a certificate
    BEGIN line. Pass enough of the head to get past a bundle's comment header (4 KiB will do)."""
    return b"\x00" not in head and _BEGIN_CERTIFICATE.search(head) is not None


def read_pem_certificates(data: bytes) -> tuple[list[CertificateFacts], list[str]]:
    """The certificates of PEM text, in order, and a warning per block skipped; never raises."""
    certificates: list[CertificateFacts] = []
    warnings: list[str] = []
    blocks = 0
    for match in _BLOCK.finditer(data):
        line = data.count(b"\n", 0, match.start()) + 1
        label = match.group(1).decode("ascii")
        if label not in CERTIFICATE_LABELS:
            warnings.append(f"line {line}: a {label} block, not a certificate; skipped")
            continue
        blocks += 1
        if blocks > MAX_PEM_CERTIFICATES:
            warnings.append(f"line {line}: more than {MAX_PEM_CERTIFICATES} certificates (MAX_PEM_CERTIFICATES); "
                            "the rest is not read")
            break
        if not match.group(0).endswith(f"-----END {label}-----".encode()):
            warnings.append(f"line {line}: {label} block without its END line; skipped")
            continue
        body = b"".join(ln for ln in match.group(2).splitlines() if b":" not in ln)  # RFC 1421 headers
        try:
            der = base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError) as exc:
            warnings.append(f"line {line}: {label} block is not base64 ({exc}); skipped")
            continue
        if label == "TRUSTED CERTIFICATE":
            der = _first_tlv(der)  # OpenSSL appends its trust settings after the certificate
        facts = certificate_facts(der)
        if facts.parse_error is not None:
            warnings.append(f"line {line}: certificate not parseable ({facts.parse_error}); skipped")
            continue
        certificates.append(facts)
    if not certificates and not warnings:
        warnings.append("no PEM certificate in the input")
    return certificates, warnings


def _first_tlv(der: bytes) -> bytes:
    """The first DER element (X.690 section 8.1): tag, length, contents; the whole input if malformed."""
    if len(der) < 2:
        return der
    first = der[1]
    if first < 0x80:
        end = 2 + first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or len(der) < 2 + n:
            return der
        end = 2 + n + int.from_bytes(der[2:2 + n], "big")
    return der[:end] if end <= len(der) else der


# --- the edge: files --------------------------------------------------------------------------------------------

def load_trust_store(path: str | None) -> tuple[TrustStore, tuple[str, ...]]:
    """The trust store of a PEM bundle file, or of the system (``path`` None), and warnings.

    Never raises: an unreadable file, or one without certificates, gives an empty store (which
    trusts nothing) and a warning that says so. cryptography's deprecation warnings about old roots
    (a zero serial number) are silenced here: they are about the system's store, not the capture."""
    with defects_unwarned():
        return _load_trust_store(path)


def _load_trust_store(path: str | None) -> tuple[TrustStore, tuple[str, ...]]:
    if path is not None:
        return _load_bundle(Path(path), str(path))
    defaults = ssl.get_default_verify_paths()
    candidates = [c for c in (os.environ.get(defaults.openssl_cafile_env), defaults.cafile, SYSTEM_BUNDLE,
                              defaults.openssl_cafile) if c]
    for candidate in dict.fromkeys(candidates):
        if Path(candidate).is_file():
            store, warnings = _load_bundle(Path(candidate), f"system store ({candidate})")
            if len(store):
                return store, warnings
    for directory in dict.fromkeys(d for d in (os.environ.get(defaults.openssl_capath_env), defaults.capath,
                                               defaults.openssl_capath) if d):
        if Path(directory).is_dir():
            return _load_directory(Path(directory))
    return TrustStore((), "system store (none found)"), ("no system trust store found: nothing is trusted",)


def _load_bundle(path: Path, source: str) -> tuple[TrustStore, tuple[str, ...]]:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_PEM_BYTES + 1)
    except OSError as exc:
        return TrustStore((), source), (f"{path}: cannot read the trust store ({exc.strerror or exc}); "
                                        "nothing is trusted",)
    warnings = []
    if len(data) > MAX_PEM_BYTES:
        data = data[:MAX_PEM_BYTES]
        warnings.append(f"{path}: larger than {MAX_PEM_BYTES} bytes (MAX_PEM_BYTES); the rest is not read")
    certificates, pem_warnings = read_pem_certificates(data)
    warnings.extend(f"{path}: {w}" for w in pem_warnings)
    if not certificates:
        warnings.append(f"{path}: no certificate could be read; nothing is trusted")
    return TrustStore.from_certificates(certificates, source), tuple(warnings)


def _load_directory(directory: Path) -> tuple[TrustStore, tuple[str, ...]]:
    """OpenSSL's hashed directory (``c_rehash``): each file one or more PEM certificates."""
    certificates: dict[str, CertificateFacts] = {}
    warnings: list[str] = []
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        return TrustStore((), f"system store ({directory})"), (f"{directory}: cannot list ({exc.strerror})",)
    for entry in entries:
        try:
            if not entry.is_file():
                continue
            with entry.open("rb") as f:
                head = f.read(MAX_PEM_BYTES)
        except OSError:
            continue
        if not looks_like_pem(head[:65536]):
            continue
        found, _ = read_pem_certificates(head)
        for facts in found:  # the same root is linked under several names: keep it once
            certificates.setdefault(facts.sha256, facts)
        if len(certificates) >= MAX_PEM_CERTIFICATES:
            warnings.append(f"{directory}: more than {MAX_PEM_CERTIFICATES} certificates; the rest is not read")
            break
    if not certificates:
        warnings.append(f"{directory}: no certificate could be read; nothing is trusted")
    return TrustStore.from_certificates(certificates.values(), f"system store ({directory})"), tuple(warnings)
