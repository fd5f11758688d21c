"""Judging a server's certificate chain as a capture saw it: offline, at the capture's time.

Theory of operation. ``check_chain(chain, name=..., at=..., trust=...)`` takes the certificates as the
server sent them (leaf first, RFC 8446 section 4.4.2, RFC 5246 section 7.4.2), the name the client
asked for (the SNI, or None), the time of the capture and a trust store, and returns a frozen
``ChainVerdict``: facts (the leaf's subject, issuer, validity and names; whether the chain is in
order, complete, trusted) and ``problems``, each with a cause code of the report contract
(``shared/REPORT.md``) and a sentence for a person. It is pure: no clock (``at`` is the capture's
time, never today's), no files (the store is loaded by ``tlsdoctor.tls.trust``).

Four judgements, each on its own, so that one does not hide another:

1. Validity (RFC 5280 section 4.1.2.5): every sent certificate, and the store's root the path ends
   at, against ``at``. An expired intermediate counts and is named; a sent certificate that is not
   on the path (a stale extra) is still named, with that said.
2. The name (RFC 6125 section 6.4): DNS-IDs compared case-insensitively as A-labels (RFC 5890); a
   wildcard only as the whole left-most label, covering exactly one label, and not directly over a
   public suffix of one label (``*.com``); no partial wildcards (``f*.example.com``); an IP literal
   only against iPAddress subjectAltNames (RFC 2818 section 3.1); the subject's CN only when the leaf
   has no DNS-ID and no URI-ID (RFC 6125 section 6.4.4), and a note then says so.
3. Order (RFC 5246 section 7.4.2 requires each certificate to certify the one before it; RFC 8446
   section 4.4.2 only recommends it): ``order_ok`` and a note, not a problem: clients reorder.
4. Path and trust (RFC 5280 section 6). Our own path builder links certificates by issuer name and
   signature over the sent certificates in any order plus the store, and says where a path stops:
   at a trust anchor, at a self-signed certificate the store does not hold, or at an issuer that is
   neither sent nor in the store. ``cryptography.x509.verification`` then verifies the path at
   ``at``: first with its web-PKI policy (CA/Browser Forum profile, as browsers), and when that
   refuses for a reason that is not one of our causes (a missing authorityKeyIdentifier, a CA
   without keyUsage: lab and private CAs often lack them) with a diagnostic policy that keeps
   signatures, names, basicConstraints and path length and drops the extension profile. The name is
   judged by (2), so the verifier is given one of the leaf's own names. When the only refusal is
   validity (already judged by (1)), trust is checked again at a time inside every window of the
   path, and when the windows do not overlap, our own signature check decides; a note says which.

``trusted`` therefore means: a path from the leaf to an anchor of the store exists, with valid
signatures, leaving validity aside (reported by its own problems). ``complete`` means the path
reached an anchor or a self-signed certificate: nothing was missing. Without a store nothing is
trusted or untrusted (``trusted`` None) and no trust problem is raised but for a self-signed leaf
(which no store trusts short of holding that very certificate), and since servers need not
send their root (RFC 8446 section 4.4.2), a missing issuer is then not called a problem either.

Problems come in this order of importance: validity (leaf first), the name, then trust. Validity
and the name are facts of the certificate itself; trust depends on the store, which may not be
the one the failing client had (a lab CA, a company root), so it comes last.

A certificate ``cryptography`` cannot parse is never an exception: an unparseable leaf gives a
verdict without problems and a "could not be judged" note; an unparseable other certificate is
left out of the path, and a missing issuer is then not blamed on the server.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from encodings import idna
from typing import Final, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from tlsdoctor.tls.certificates import CertificateFacts, parsed_certificate
from tlsdoctor.tls.trust import TrustStore, load_trust_store, looks_like_pem, read_pem_certificates

__all__ = [
    "CERTIFICATE_CHAIN_INCOMPLETE",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_NAME_MISMATCH",
    "CERTIFICATE_NOT_YET_VALID",
    "CERTIFICATE_UNTRUSTED",
    "MAX_PATH_DEPTH",
    "ChainProblem",
    "ChainVerdict",
    "TrustStore",
    "check_chain",
    "load_trust_store",
    "looks_like_pem",
    "name_matches",
    "read_pem_certificates",
]

# Cause codes of shared/REPORT.md that a chain can show.
CERTIFICATE_EXPIRED: Final = "certificate_expired"
CERTIFICATE_NOT_YET_VALID: Final = "certificate_not_yet_valid"
CERTIFICATE_NAME_MISMATCH: Final = "certificate_name_mismatch"
CERTIFICATE_UNTRUSTED: Final = "certificate_untrusted"
CERTIFICATE_CHAIN_INCOMPLETE: Final = "certificate_chain_incomplete"

MAX_PATH_DEPTH: Final = 8
"""Certificates on a path, leaf and anchor included (cryptography's default and OpenSSL's are larger;
no public chain is longer than 5). It also bounds the path builder's work on hostile chains."""

MAX_SIGNATURE_CHECKS: Final = 256
"""Signature verifications one ``check_chain`` call may spend building paths (many same-named
certificates could otherwise make the search exponential)."""

# What cryptography's verifier says, and what it means for a diagnosis (cryptography 42-48 wording).
# "validity" and "name" are judged by this module itself; "path" is decided by our own path builder
# (which names the missing or untrusted certificate); "policy" is a web-PKI profile rule that none of
# the cause codes is about, so the diagnostic policy is tried next.
VERIFIER_MESSAGES: Final[tuple[tuple[str, str], ...]] = (
    ("not valid at validation time", "validity"),
    ("no matching subjectAltName", "name"),
    ("leaf certificate has no", "name"),
    ("candidates exhausted", "path"),
    ("signature does not match", "path"),
    ("invalid extension", "policy"),
    ("missing required extension", "policy"),
    ("required EKU not found", "policy"),
    ("path length constraint violated", "path"),
    ("forbidden", "policy"),
    ("unsupported", "policy"),
)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    cause: str
    """One of the ``CERTIFICATE_*`` cause codes."""
    certificate_index: int | None
    """Index in the chain as sent (0 the leaf); None for the store's root or the chain as a whole."""
    text: str
    """One sentence for a person: which certificate, what is wrong, with the dates or names."""


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    problems: tuple[ChainProblem, ...]
    """Most important first: validity, the name, trust (see the module's docstring)."""
    leaf_subject: str | None
    leaf_issuer: str | None
    not_before: datetime | None
    """The leaf's notBefore (aware UTC)."""
    not_after: datetime | None
    names: tuple[str, ...]
    """The leaf's subjectAltNames: DNS names, then IP addresses."""
    order_ok: bool
    """Each certificate is issued (name and signature) by the next one (RFC 5246 section 7.4.2)."""
    complete: bool
    """A path from the leaf reached a trust anchor or a self-signed certificate: nothing is missing."""
    trusted: bool | None
    """A path to an anchor of the store exists with valid signatures (validity aside); None: no store."""
    self_signed_leaf: bool
    verify_error: str | None
    """cryptography's message when its verifier refused the chain (the decisive one when both policies refused)."""
    path: tuple[str, ...] = ()
    """Subjects from the leaf to where path building stopped (the anchor, when trusted)."""
    notes: tuple[str, ...] = ()
    """What a person should know that is not a problem: fallbacks, CN matching, order, skipped certificates."""
    judged: bool = True
    """False when the chain could not be judged (no certificate, or an unparseable leaf)."""

    @property
    def cause(self) -> str | None:
        """The cause code of the most important problem, None when there is none."""
        return self.problems[0].cause if self.problems else None


# --- names (RFC 6125) -------------------------------------------------------------------------------------------

def _a_label(host: str) -> str | None:
    """The host name in lower-case A-labels (RFC 5890 section 2.3.2.1); None when not encodable."""
    labels = host.rstrip(".").split(".")
    out = []
    for label in labels:
        if label.isascii():
            out.append(label.lower())
            continue
        try:
            out.append(idna.ToASCII(label).decode("ascii").lower())
        except UnicodeError:
            return None
    return ".".join(out)


def _ip_reference(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    literal = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        return ipaddress.ip_address(literal)
    except ValueError:
        return None


def _dns_id_matches(reference: str, presented: str) -> bool:
    """RFC 6125 section 6.4.1 and 6.4.3: exact match, or a whole left-most ``*`` label."""
    pattern = _a_label(presented)
    if pattern is None or not reference:
        return False
    if pattern == reference:
        return True
    p_labels, r_labels = pattern.split("."), reference.split(".")
    if p_labels[0] != "*" or any("*" in label for label in p_labels[1:]):
        return False  # no partial wildcard, none beyond the left-most label
    # One label exactly, and not over a one-label suffix (``*.com``): as OpenSSL's X509_check_host.
    return len(p_labels) >= 3 and len(p_labels) == len(r_labels) and p_labels[1:] == r_labels[1:] \
        and r_labels[0] != ""


def _common_names(cert: x509.Certificate) -> tuple[str, ...]:
    return tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))


def _cn_fallback_allowed(cert: x509.Certificate) -> bool:
    """RFC 6125 section 6.4.4: the CN only when there is no DNS-ID, SRV-ID or URI-ID."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    except ValueError:  # an unparseable extension: no fallback on a guess
        return False
    return not (san.get_values_for_type(x509.DNSName) or san.get_values_for_type(x509.UniformResourceIdentifier)
                or san.get_values_for_type(x509.OtherName))


def name_matches(name: str, leaf: CertificateFacts) -> bool:
    """Whether ``leaf`` covers ``name`` (a host name or an IP literal) by its subjectAltNames (RFC 6125
    section 6.4; no CN fallback: ``check_chain`` does that, with a note)."""
    return _match_names(name, leaf.san_dns, leaf.san_ips)


def _match_names(name: str, dns: Sequence[str], ips: Sequence[str]) -> bool:
    ip = _ip_reference(name)
    if ip is not None:
        return any(_ip_reference(p) == ip for p in ips)
    reference = _a_label(name)
    return reference is not None and any(_dns_id_matches(reference, p) for p in dns)


# --- path building ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Path:
    indices: tuple[int, ...]
    """Chain indices from the leaf along the path."""
    end: Literal["anchor", "self_signed", "missing", "too_long"]
    anchor: x509.Certificate | None = None
    """The store's certificate the path ends at (None when the last certificate on it is held by the store)."""
    wrong_key_in_store: bool = False
    """The missing issuer's name is in the store, but that certificate's key did not sign."""
    wrong_key_sent: int | None = None
    """A sent certificate carries the missing issuer's name but did not sign."""


_RANK = {"anchor": 3, "self_signed": 2, "missing": 1, "too_long": 0}


class _PathBuilder:
    """Depth-first over the sent certificates (any order) and the store, by issuer name and signature."""

    def __init__(self, chain: Sequence[CertificateFacts], parsed: Sequence[x509.Certificate | None],
                 trust: TrustStore | None) -> None:
        self.chain, self.parsed, self.trust = chain, parsed, trust
        self.checks = 0
        self._signed: dict[tuple[int, int], bool] = {}

    def signed_by(self, child: x509.Certificate, issuer: x509.Certificate) -> bool:
        key = (id(child), id(issuer))
        if key not in self._signed:
            ok = False
            if child.issuer == issuer.subject and self.checks < MAX_SIGNATURE_CHECKS:
                self.checks += 1
                try:
                    child.verify_directly_issued_by(issuer)
                    ok = True
                except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                    ok = False
            self._signed[key] = ok
        return self._signed[key]

    def build(self, indices: tuple[int, ...]) -> _Path:
        k = indices[-1]
        cert = self.parsed[k]
        assert cert is not None  # only parsed certificates are put on a path
        if self.trust is not None and self.trust.holds(self.chain[k]):
            return _Path(indices, "anchor")
        if self.trust is not None:
            named = self.trust.named(cert.issuer)
            for anchor in named:
                if self.signed_by(cert, anchor):
                    return _Path(indices, "anchor", anchor)
        if self.chain[k].is_self_signed:
            return _Path(indices, "self_signed")
        if len(indices) >= MAX_PATH_DEPTH:
            return _Path(indices, "too_long")
        best: _Path | None = None
        wrong_sent: int | None = None
        for j in sorted(range(len(self.parsed)), key=lambda j: (j != k + 1, j)):  # the next one first
            candidate = self.parsed[j]
            if j in indices or candidate is None or candidate.subject != cert.issuer:
                continue
            if not self.signed_by(cert, candidate):
                wrong_sent = j if wrong_sent is None else wrong_sent
                continue
            found = self.build((*indices, j))
            if best is None or _RANK[found.end] > _RANK[best.end]:
                best = found
            if best.end == "anchor":
                break
        if best is not None:
            return best
        in_store = self.trust is not None and bool(self.trust.named(cert.issuer))
        return _Path(indices, "missing", wrong_key_in_store=in_store, wrong_key_sent=wrong_sent)


# --- cryptography's verifier ----------------------------------------------------------------------------------

def _diagnostic_policy(builder: PolicyBuilder) -> PolicyBuilder:
    """RFC 5280 path validation without the web-PKI extension profile: basicConstraints must still be
    present on CAs (cryptography requires it of a CA policy, and RFC 5280 section 4.2.1.9 of issuers)."""
    ca = ExtensionPolicy.permit_all().require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
    return builder.extension_policies(ca_policy=ca, ee_policy=ExtensionPolicy.permit_all())


def _verify(store: Store, leaf: x509.Certificate, intermediates: list[x509.Certificate], at: datetime,
            subject: x509.DNSName | x509.IPAddress | None) -> str | None:
    """None when cryptography builds and verifies a path at ``at``, else its message. ``subject``
    None: the diagnostic policy (client verifier: no name, no EKU)."""
    builder = PolicyBuilder().store(store).time(at).max_chain_depth(MAX_PATH_DEPTH)
    try:
        if subject is not None:
            builder.build_server_verifier(subject).verify(leaf, intermediates)
        else:
            _diagnostic_policy(builder).build_client_verifier().verify(leaf, intermediates)
    except VerificationError as exc:
        return str(exc)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:  # a certificate it cannot handle
        return f"{type(exc).__name__}: {exc}"
    return None


def _short(message: str) -> str:
    """cryptography's message without its ``(encountered processing <Certificate(...)>)`` tail."""
    return message.split(" (encountered processing", 1)[0]


def _verifier_kind(message: str) -> str:
    for fragment, kind in VERIFIER_MESSAGES:
        if fragment in message:
            return kind
    return "other"


def _verifier_subject(name: str | None, leaf: CertificateFacts) -> x509.DNSName | x509.IPAddress | None:
    """A name the leaf covers, for the web-PKI verifier (the name itself is judged separately)."""
    if name and name_matches(name, leaf):
        ip = _ip_reference(name)
        if ip is not None:
            return x509.IPAddress(ip)
        reference = _a_label(name)
        if reference:
            return x509.DNSName(reference)
    for presented in leaf.san_dns:
        reference = _a_label(presented)
        if reference and "*" not in reference:
            return x509.DNSName(reference)
        if reference and reference.startswith("*.") and "*" not in reference[2:]:
            return x509.DNSName("wildcard" + reference[1:])
    for presented in leaf.san_ips:
        ip = _ip_reference(presented)
        if ip is not None:
            return x509.IPAddress(ip)
    return None


# --- the verdict ------------------------------------------------------------------------------------------------

def _when(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S} UTC"


def _span(a: datetime, b: datetime) -> str:
    seconds = abs((b - a).total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds:.0f} seconds"


def _describe(i: int, facts: CertificateFacts, on_path: bool) -> str:
    if i == 0:
        return f"the leaf ({facts.subject})"
    role = "the root" if facts.is_self_signed else "the intermediate" if facts.is_ca else "certificate"
    off = "" if on_path else ", sent but not on the path to the root"
    return f"certificate {i}, {role} {facts.subject}{off}"


def _validity_problem(what: str, facts_nb: datetime | None, facts_na: datetime | None, at: datetime,
                      index: int | None) -> ChainProblem | None:
    if facts_na is not None and at > facts_na:
        return ChainProblem(CERTIFICATE_EXPIRED, index, f"{what} expired on {_when(facts_na)}, "
                            f"{_span(facts_na, at)} before the capture ({_when(at)})")
    if facts_nb is not None and at < facts_nb:
        return ChainProblem(CERTIFICATE_NOT_YET_VALID, index, f"{what} is valid only from {_when(facts_nb)}, "
                            f"{_span(at, facts_nb)} after the capture ({_when(at)}): a clock is wrong, or the "
                            "certificate was installed early")
    return None


def _unjudged(chain: Sequence[CertificateFacts], note: str) -> ChainVerdict:
    leaf = chain[0] if chain else None
    return ChainVerdict(
        problems=(), leaf_subject=leaf.subject if leaf else None, leaf_issuer=leaf.issuer if leaf else None,
        not_before=leaf.not_before if leaf else None, not_after=leaf.not_after if leaf else None,
        names=(*leaf.san_dns, *leaf.san_ips) if leaf else (), order_ok=False, complete=False, trusted=None,
        self_signed_leaf=False, verify_error=None, notes=(note,), judged=False)


def check_chain(chain: Sequence[CertificateFacts], *, name: str | None, at: datetime,
                trust: TrustStore | None) -> ChainVerdict:
    """Judge ``chain`` (as sent, leaf first) for ``name`` (the SNI; None when there was none) at
    ``at`` (the capture's time; a naive datetime is taken as UTC) against ``trust`` (None: no store).

    Pure and total: never raises for any certificate content."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    chain = tuple(chain)
    if not chain:
        return _unjudged(chain, "no certificate was sent: the chain could not be judged")
    leaf = chain[0]
    if leaf.parse_error is not None:
        return _unjudged(chain, f"the leaf could not be parsed ({leaf.parse_error}): the chain could not be judged")
    parsed = [parsed_certificate(f) for f in chain]
    leaf_cert = parsed[0]
    if leaf_cert is None:
        return _unjudged(chain, "the leaf's DER bytes are not available: the chain could not be judged")
    notes: list[str] = []
    for i, (facts, cert) in enumerate(zip(chain, parsed, strict=True)):
        if cert is None:
            notes.append(f"certificate {i} could not be parsed ({facts.parse_error or 'no DER bytes'}) "
                         "and could not be judged")

    builder = _PathBuilder(chain, parsed, trust)
    path = builder.build((0,))
    on_path = set(path.indices)
    order_ok = all(c is not None and n is not None and builder.signed_by(c, n)
                   for c, n in itertools.pairwise(parsed))
    if not order_ok:
        notes.append("the certificates are not in order (each should be issued by the next one, RFC 5246 section "
                     "7.4.2; RFC 8446 section 4.4.2 only recommends it): most clients reorder, some fail")

    # 1. Validity, every certificate sent, and the store's root at the end of the path.
    time_problems: list[ChainProblem] = []
    for i, facts in enumerate(chain):
        if facts.parse_error is None:
            p = _validity_problem(_describe(i, facts, i in on_path), facts.not_before, facts.not_after, at, i)
            if p is not None:
                time_problems.append(p)
    if path.anchor is not None:
        p = _validity_problem(f"the trusted root {path.anchor.subject.rfc4514_string()} (in the trust store)",
                              path.anchor.not_valid_before_utc, path.anchor.not_valid_after_utc, at, None)
        if p is not None:
            time_problems.append(p)

    # 2. The name.
    name_problems: list[ChainProblem] = []
    if not name:
        notes.append("no server_name in the ClientHello: the leaf's names were not checked")
    elif not _match_names(name, leaf.san_dns, leaf.san_ips):
        covered = ", ".join((*leaf.san_dns, *leaf.san_ips))
        cns = _common_names(leaf_cert)
        if _ip_reference(name) is None and _cn_fallback_allowed(leaf_cert) and cns:
            if _match_names(name, cns, ()):
                notes.append(f"the leaf has no DNS subjectAltName; {name} matches its subject CN {cns[0]}, which "
                             "RFC 6125 section 6.4.4 allows only as a fallback (browsers and cryptography refuse it)")
            else:
                name_problems.append(ChainProblem(CERTIFICATE_NAME_MISMATCH, 0, (
                    f"the leaf has no subjectAltName and its CN {', '.join(cns)} does not cover {name}")))
        elif _ip_reference(name) is not None and not leaf.san_ips:
            name_problems.append(ChainProblem(CERTIFICATE_NAME_MISMATCH, 0, (
                f"{name} is an IP address, matched only against iPAddress subjectAltNames (RFC 2818 section 3.1), "
                f"and the leaf has none (it covers {covered or 'no name'})")))
        else:
            name_problems.append(ChainProblem(CERTIFICATE_NAME_MISMATCH, 0, (
                f"the leaf covers {covered or 'no name'}, not {name}")))

    # 3. Trust.
    trusted: bool | None = None
    verify_error: str | None = None
    trust_problems: list[ChainProblem] = []
    anchor_name = (path.anchor.subject.rfc4514_string() if path.anchor is not None
                   else chain[path.indices[-1]].subject)
    if trust is not None:
        store = trust.verification_store
        if store is None:
            trusted = False
            trust_problems.append(ChainProblem(CERTIFICATE_UNTRUSTED, None, (
                f"the trust store ({trust.source}) holds no certificate: nothing is trusted")))
        else:
            intermediates = [c for c in parsed[1:] if c is not None]
            trusted, verify_error = _trust(store, leaf_cert, intermediates, at, name, leaf, path, chain,
                                           parsed, notes)
            if not trusted:
                trust_problems.extend(_untrusted_problems(path, chain, parsed, trust, verify_error, anchor_name))

    if trust is None and leaf.is_self_signed:  # no store trusts it, short of holding this very certificate
        trust_problems.append(ChainProblem(CERTIFICATE_UNTRUSTED, 0, (
            f"the leaf {leaf.subject} is self-signed: only a client that holds this very certificate trusts it")))

    complete = path.end in ("anchor", "self_signed")
    return ChainVerdict(
        problems=(*time_problems, *name_problems, *trust_problems), leaf_subject=leaf.subject,
        leaf_issuer=leaf.issuer, not_before=leaf.not_before, not_after=leaf.not_after,
        names=(*leaf.san_dns, *leaf.san_ips), order_ok=order_ok, complete=complete, trusted=trusted,
        self_signed_leaf=leaf.is_self_signed, verify_error=verify_error,
        path=(*(chain[i].subject or "?" for i in path.indices),
              *((path.anchor.subject.rfc4514_string(),) if path.anchor is not None else ())),
        notes=tuple(notes))


def _trust(store: Store, leaf_cert: x509.Certificate, intermediates: list[x509.Certificate], at: datetime,
           name: str | None, leaf: CertificateFacts, path: _Path, chain: Sequence[CertificateFacts],
           parsed: Sequence[x509.Certificate | None], notes: list[str]) -> tuple[bool, str | None]:
    """cryptography's verdict, web-PKI policy first, then the diagnostic policy, then our own check."""
    subject = _verifier_subject(name, leaf)
    strict = (_verify(store, leaf_cert, intermediates, at, subject) if subject is not None
              else "the leaf has no subjectAltName, which the web-PKI policy requires")
    if strict is None:
        return True, None
    relaxed = _verify(store, leaf_cert, intermediates, at, None)
    if relaxed is None:
        if _verifier_kind(strict) not in ("validity", "name"):
            notes.append(f"cryptography's web-PKI policy refuses this chain ({_short(strict)}); no cause code is about "
                         "that rule, and the path verifies under RFC 5280 without the web-PKI extension profile")
        return True, strict
    if _verifier_kind(relaxed) != "validity":
        return False, relaxed
    # Validity is judged certificate by certificate above; is the path sound at some other time?
    certs = [c for i in path.indices if (c := parsed[i]) is not None]
    if path.anchor is not None:
        certs.append(path.anchor)
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start <= end:
        inside = start + (end - start) / 2
        if _verify(store, leaf_cert, intermediates, inside, None) is None:
            notes.append(f"cryptography verifies the path to the trusted root at {_when(inside)}, inside every "
                         "certificate's validity; at the capture's time validity fails, as reported")
            return True, relaxed
    if path.end == "anchor":
        notes.append("the certificates' validity periods do not overlap, so cryptography cannot verify the path at "
                     "any one time; by issuer names and signatures (our own check) it reaches "
                     f"{path.anchor.subject.rfc4514_string() if path.anchor is not None else 'the trust store'}")
        return True, relaxed
    return False, relaxed


def _untrusted_problems(path: _Path, chain: Sequence[CertificateFacts], parsed: Sequence[x509.Certificate | None],
                        trust: TrustStore, verify_error: str | None, anchor_name: str | None) -> list[ChainProblem]:
    last = path.indices[-1]
    facts = chain[last]
    store = f"the trust store ({trust.source})"
    if path.end == "anchor":  # our path reaches the store, cryptography refuses it for another reason
        return [ChainProblem(CERTIFICATE_UNTRUSTED, None, (
            f"the path to the trusted root {anchor_name} is refused by RFC 5280 path validation: "
            f"{_short(verify_error or 'no reason given')}"))]
    if path.end == "too_long":
        return [ChainProblem(CERTIFICATE_UNTRUSTED, last, (
            f"no trusted root within {MAX_PATH_DEPTH} certificates (MAX_PATH_DEPTH)"))]
    if path.end == "self_signed":
        if last == 0:
            return [ChainProblem(CERTIFICATE_UNTRUSTED, 0, (
                f"the leaf {facts.subject} is self-signed and not in {store}"))]
        return [ChainProblem(CERTIFICATE_UNTRUSTED, last, (
            f"the chain ends in certificate {last}, the self-signed root {facts.subject}, which {store} does not "
            "hold"))]
    what = "the leaf" if last == 0 else f"certificate {last}"
    if path.wrong_key_in_store:
        return [ChainProblem(CERTIFICATE_UNTRUSTED, last, (
            f"{store} holds a certificate named {facts.issuer}, but its key did not sign {what}: a different CA of "
            "the same name (a private CA, or a re-keyed root)"))]
    if path.wrong_key_sent is not None:
        return [ChainProblem(CERTIFICATE_CHAIN_INCOMPLETE, last, (
            f"certificate {path.wrong_key_sent} is named {facts.issuer} but did not sign {what} (a stale "
            f"intermediate?); its real issuer was not sent and is not in {store}"))]
    if any(p is None for p in parsed[1:]):
        return []  # an unparseable certificate may be the missing issuer: not blamed on the server (a note says so)
    aki = _authority_key_id(parsed[last])
    if last > 0 and facts.is_ca:
        # The server sent its intermediate(s); what is missing is the root, which servers do not send
        # (RFC 8446 section 4.4.2: it "MAY be omitted"): the client does not trust that root.
        return [ChainProblem(CERTIFICATE_UNTRUSTED, last, (
            f"the chain reaches the intermediate {facts.subject}, whose issuer {facts.issuer}{aki} is not in "
            f"{store}: a private or unknown root CA"))]
    return [ChainProblem(CERTIFICATE_CHAIN_INCOMPLETE, last, (
        f"the issuer {facts.issuer} of {what} was not sent and is not in {store}{aki}: an intermediate the "
        "server should send after its certificate, or a root this store does not trust"))]


def _authority_key_id(cert: x509.Certificate | None) -> str:
    if cert is None:
        return ""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except (x509.ExtensionNotFound, ValueError):
        return ""
    return f" (authorityKeyIdentifier {aki.key_identifier.hex(':')})" if aki.key_identifier else ""
