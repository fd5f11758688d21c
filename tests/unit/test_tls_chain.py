"""tls.chain and tls.trust on real chains: tests/fixtures/certs (made by tests/lab/make_cert_fixtures.py) and
the chains that three committed captures carry. ``openssl verify`` is the oracle for trust, validity and names.

Every time used here comes from the certificates' own notBefore/notAfter or the capture's first packet, never
from today: the fixtures were made on one day and are judged on another.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor import api
from tlsdoctor.tls.certificates import CertificateFacts, certificate_facts
from tlsdoctor.tls.chain import (
    CERTIFICATE_CHAIN_INCOMPLETE,
    CERTIFICATE_EXPIRED,
    CERTIFICATE_NAME_MISMATCH,
    CERTIFICATE_NOT_YET_VALID,
    CERTIFICATE_UNTRUSTED,
    ChainVerdict,
    TrustStore,
    check_chain,
    name_matches,
)
from tlsdoctor.tls.trust import load_trust_store, looks_like_pem, read_pem_certificates

CERTS = Path(__file__).resolve().parents[1] / "fixtures" / "certs"
CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
CAUSES = {CERTIFICATE_EXPIRED, CERTIFICATE_NOT_YET_VALID, CERTIFICATE_NAME_MISMATCH, CERTIFICATE_UNTRUSTED,
          CERTIFICATE_CHAIN_INCOMPLETE}


def chain(file: str) -> list[CertificateFacts]:
    certs, warnings = read_pem_certificates((CERTS / file).read_bytes())
    assert certs and not warnings
    return certs


STORE = TrustStore.from_certificates(chain("bundle.pem"), "bundle.pem")
CHAIN_FILES = sorted(p.name for p in CERTS.glob("*.pem") if p.name != "bundle.pem")


def inside(facts: CertificateFacts) -> datetime:
    assert facts.not_before is not None and facts.not_after is not None
    return facts.not_before + (facts.not_after - facts.not_before) / 2


def causes(verdict: ChainVerdict) -> list[tuple[str, int | None]]:
    return [(p.cause, p.certificate_index) for p in verdict.problems]


# --- the fixtures, one judgement each -------------------------------------------------------------------------

def test_good_chain_is_trusted_complete_in_order() -> None:
    certs = chain("good.chain.pem")
    v = check_chain(certs, name="origin.test", at=inside(certs[0]), trust=STORE)
    assert v.problems == () and v.cause is None and v.judged
    assert v.trusted is True and v.complete and v.order_ok and not v.self_signed_leaf
    assert v.leaf_subject == certs[0].subject and v.leaf_issuer == certs[1].subject
    assert v.names == certs[0].san_dns == ("origin.test",)
    assert v.not_after == certs[0].not_after
    assert v.path == (certs[0].subject, certs[1].subject, STORE.certificates[0].subject)
    # The lab CA lacks extensions the web-PKI profile requires: the verdict says it fell back, and why.
    assert v.verify_error is not None and any("web-PKI" in n for n in v.notes)


def test_expired_leaf_is_expired_after_not_after_and_fine_inside_its_window() -> None:
    certs = chain("expired.chain.pem")
    leaf = certs[0]
    assert leaf.not_after is not None
    after = check_chain(certs, name="origin.test", at=leaf.not_after + timedelta(seconds=1), trust=STORE)
    assert after.problems[0].cause == CERTIFICATE_EXPIRED and after.problems[0].certificate_index == 0
    assert f"{leaf.not_after:%Y-%m-%d %H:%M:%S}" in after.problems[0].text
    assert after.trusted is True  # validity is its own problem, not a trust problem
    at_end = check_chain(certs, name="origin.test", at=leaf.not_after, trust=STORE)  # notAfter is inclusive
    assert (CERTIFICATE_EXPIRED, 0) not in causes(at_end)


def test_not_yet_valid_leaf() -> None:
    certs = chain("not-yet-valid.chain.pem")
    assert certs[0].not_before is not None
    before = check_chain(certs, name="future.test", at=certs[0].not_before - timedelta(hours=1), trust=STORE)
    assert causes(before) == [(CERTIFICATE_NOT_YET_VALID, 0)]
    assert before.trusted is True and any("inside every certificate's validity" in n for n in before.notes)
    assert check_chain(certs, name="future.test", at=inside(certs[0]), trust=STORE).problems == ()


def test_expired_intermediate_is_named() -> None:
    certs = chain("expired-intermediate.chain.pem")
    inter = certs[1]
    assert inter.not_after is not None and certs[0].not_before is not None
    v = check_chain(certs, name="stale.test", at=inter.not_after + timedelta(days=1), trust=STORE)
    assert causes(v) == [(CERTIFICATE_EXPIRED, 1)]
    assert inter.subject is not None and inter.subject in v.problems[0].text and "intermediate" in v.problems[0].text
    # Before the intermediate expired (and after the leaf began), the chain is sound.
    between = certs[0].not_before + (inter.not_after - certs[0].not_before) / 2
    assert check_chain(certs, name="stale.test", at=between, trust=STORE).problems == ()


def test_name_mismatch_says_what_the_leaf_covers() -> None:
    certs = chain("other-name.chain.pem")
    v = check_chain(certs, name="origin.test", at=inside(certs[0]), trust=STORE)
    assert causes(v) == [(CERTIFICATE_NAME_MISMATCH, 0)]
    assert "other.test" in v.problems[0].text and "origin.test" in v.problems[0].text
    assert v.trusted is True


@pytest.mark.parametrize(("name", "covered"), [
    ("a.wild.test", True), ("WILD.test", True), ("A.Wild.Test.", True), ("a.b.wild.test", False),
    ("wild.test.example", False), ("bücher.wild.test", True), (".wild.test", False),
])
def test_wildcard_leaf(name: str, covered: bool) -> None:
    certs = chain("wildcard.chain.pem")
    v = check_chain(certs, name=name, at=inside(certs[0]), trust=STORE)
    assert ((CERTIFICATE_NAME_MISMATCH, 0) not in causes(v)) is covered
    assert v.trusted is True


@pytest.mark.parametrize(("pattern", "name", "covered"), [
    ("*.example.com", "www.example.com", True),
    ("f*.example.com", "foo.example.com", False),  # no partial wildcard
    ("www.*.example.com", "www.a.example.com", False),  # only the left-most label
    ("*.com", "example.com", False),  # not over a one-label suffix
    ("*.example.com", "example.com", False),
    ("xn--bcher-kva.example", "BÜCHER.example", True),  # IDNA: the U-label matches its A-label
    ("Bücher.example", "xn--bcher-kva.example", True),
    ("example.com", "192.0.2.10", False),  # an IP literal is never matched against DNS names
])
def test_rfc6125_patterns(pattern: str, name: str, covered: bool) -> None:
    leaf = dataclasses.replace(chain("good.chain.pem")[0], san_dns=(pattern,))
    assert name_matches(name, leaf) is covered


@pytest.mark.parametrize(("name", "covered"), [
    ("192.0.2.10", True), ("2001:db8::10", True), ("[2001:DB8:0::10]", True), ("192.0.2.11", False),
    ("ip.test", False),
])
def test_ip_address_leaf(name: str, covered: bool) -> None:
    certs = chain("ip.chain.pem")
    v = check_chain(certs, name=name, at=inside(certs[0]), trust=STORE)
    assert ((CERTIFICATE_NAME_MISMATCH, 0) not in causes(v)) is covered
    assert v.names == ("192.0.2.10", "2001:db8::10")


def test_ip_name_against_a_dns_only_leaf_says_why() -> None:
    certs = chain("good.chain.pem")
    v = check_chain(certs, name="192.0.2.10", at=inside(certs[0]), trust=STORE)
    assert causes(v) == [(CERTIFICATE_NAME_MISMATCH, 0)] and "iPAddress" in v.problems[0].text


def test_cn_only_leaf_matches_by_cn_and_says_so() -> None:
    certs = chain("cn-only.chain.pem")
    v = check_chain(certs, name="legacy.test", at=inside(certs[0]), trust=STORE)
    assert v.problems == () and v.names == ()
    assert any("CN" in n and "6.4.4" in n for n in v.notes)
    other = check_chain(certs, name="other.test", at=inside(certs[0]), trust=STORE)
    assert causes(other) == [(CERTIFICATE_NAME_MISMATCH, 0)] and "no subjectAltName" in other.problems[0].text


def test_self_signed_leaf_is_untrusted_unless_the_store_holds_it() -> None:
    certs = chain("self-signed.pem")
    at = inside(certs[0])
    v = check_chain(certs, name="self.test", at=at, trust=STORE)
    assert causes(v) == [(CERTIFICATE_UNTRUSTED, 0)] and v.self_signed_leaf and v.trusted is False
    assert "self-signed" in v.problems[0].text
    assert causes(check_chain(certs, name="self.test", at=at, trust=None)) == [(CERTIFICATE_UNTRUSTED, 0)]
    pinned = check_chain(certs, name="self.test", at=at, trust=TrustStore.from_certificates(certs, "pinned"))
    assert pinned.problems == () and pinned.trusted is True


def test_missing_intermediate_is_incomplete_and_names_the_issuer() -> None:
    certs = chain("no-intermediate.pem")
    v = check_chain(certs, name="missing.test", at=inside(certs[0]), trust=STORE)
    assert causes(v) == [(CERTIFICATE_CHAIN_INCOMPLETE, 0)] and not v.complete and v.trusted is False
    assert certs[0].issuer is not None and certs[0].issuer in v.problems[0].text
    assert "not sent" in v.problems[0].text and v.verify_error is not None
    # With the intermediate in the store (as some clients cache it), nothing is missing.
    both = TrustStore.from_certificates([*chain("bundle.pem"), *chain("intermediate.pem")], "root+intermediate")
    assert check_chain(certs, name="missing.test", at=inside(certs[0]), trust=both).problems == ()


def test_wrong_order_is_a_fact_not_a_problem() -> None:
    certs = chain("wrong-order.chain.pem")
    v = check_chain(certs, name="missing.test", at=inside(certs[0]), trust=STORE)
    assert not v.order_ok and v.complete and v.trusted is True and v.problems == ()
    assert any("not in order" in n for n in v.notes)
    assert check_chain([certs[0], certs[2], certs[1]], name="missing.test", at=inside(certs[0]), trust=STORE).order_ok


def test_root_not_in_store_sent_or_not() -> None:
    sent = chain("stranger-with-root.chain.pem")
    v = check_chain(sent, name="stranger.test", at=inside(sent[0]), trust=STORE)
    assert causes(v) == [(CERTIFICATE_UNTRUSTED, 2)] and v.complete and v.trusted is False
    assert "stranger root" in v.problems[0].text
    # Without the root: the server sent its intermediate, so what is missing is the root, which servers do
    # not send: an untrusted (private) root, not an incomplete chain.
    unsent = chain("stranger.chain.pem")
    w = check_chain(unsent, name="stranger.test", at=inside(unsent[0]), trust=STORE)
    assert causes(w) == [(CERTIFICATE_UNTRUSTED, 1)] and not w.complete
    assert "private or unknown root" in w.problems[0].text
    assert "not in the trust store" in w.problems[0].text


def test_same_named_ca_with_another_key_is_untrusted() -> None:
    certs = chain("foreign.chain.pem")
    v = check_chain(certs, name="origin.test", at=inside(certs[0]), trust=STORE)
    assert causes(v) == [(CERTIFICATE_UNTRUSTED, 1)] and "did not sign" in v.problems[0].text


def test_without_a_store_trust_is_unknown() -> None:
    certs = chain("good.chain.pem")
    v = check_chain(certs, name="origin.test", at=inside(certs[0]), trust=None)
    assert v.trusted is None and v.problems == () and not v.complete  # the root was not sent


def test_an_empty_store_trusts_nothing() -> None:
    certs = chain("good.chain.pem")
    v = check_chain(certs, name="origin.test", at=inside(certs[0]), trust=TrustStore.from_certificates([], "empty"))
    assert causes(v) == [(CERTIFICATE_UNTRUSTED, None)] and v.trusted is False


def test_no_sni_is_noted_and_naive_time_is_utc() -> None:
    certs = chain("good.chain.pem")
    at = inside(certs[0])
    v = check_chain(certs, name=None, at=at.replace(tzinfo=None), trust=STORE)
    assert v == check_chain(certs, name="", at=at, trust=STORE) and any("server_name" in n for n in v.notes)


def test_unparseable_certificates_are_notes_not_exceptions() -> None:
    good = chain("good.chain.pem")
    assert good[0].der and good[1].der
    cut_leaf = certificate_facts(good[0].der[:-20])  # a real certificate, cut short
    cut_inter = certificate_facts(good[1].der[:-20])
    assert cut_leaf.parse_error and cut_inter.parse_error
    v = check_chain([cut_leaf, good[1]], name="origin.test", at=inside(good[0]), trust=STORE)
    assert not v.judged and v.problems == () and "could not be judged" in v.notes[0]
    w = check_chain([good[0], cut_inter], name="origin.test", at=inside(good[0]), trust=STORE)
    assert w.judged and w.trusted is False and w.problems == ()  # the missing issuer may be the unparseable one
    assert any("certificate 1 could not be parsed" in n for n in w.notes)
    empty = check_chain([], name="origin.test", at=inside(good[0]), trust=STORE)
    assert not empty.judged and empty.problems == ()


def test_der_is_kept_and_stays_out_of_repr_and_equality() -> None:
    leaf = chain("good.chain.pem")[0]
    assert certificate_facts(leaf.der) is certificate_facts(bytes(leaf.der))  # cached per distinct DER
    assert leaf.der.hex() not in repr(leaf)
    assert dataclasses.replace(leaf, der=b"") == leaf


# --- chains from captures, judged at the capture's time ---------------------------------------------------------

def captured(name: str) -> tuple[list[CertificateFacts], str | None, datetime]:
    rec = api.connections(str(CAPTURES / name))[0]
    assert rec.tls.server_certificates and all(c.der for c in rec.tls.server_certificates)
    return list(rec.tls.server_certificates), rec.sni, datetime.fromtimestamp(rec.first_ts_ns / 1e9, UTC)


def test_capture_chain_ok_at_capture_time() -> None:
    certs, sni, at = captured("tls12_ok.pcap")
    v = check_chain(certs, name=sni, at=at, trust=None)
    assert sni == "origin.test" and v.problems == () and v.order_ok and v.trusted is None


def test_capture_expired_chain_expired_then_and_valid_inside_its_window() -> None:
    certs, sni, at = captured("expired_cert_tls12.pcap")
    v = check_chain(certs, name=sni, at=at, trust=None)
    assert causes(v) == [(CERTIFICATE_EXPIRED, 0)] and v.order_ok
    # Inside the chain's common window (if its certificates have one; the lab's leaf was back-dated before its
    # intermediate existed) nothing is wrong; inside the leaf's own window, the leaf is fine.
    start = max(c.not_before for c in certs if c.not_before is not None)
    end = min(c.not_after for c in certs if c.not_after is not None)
    if start <= end:
        assert check_chain(certs, name=sni, at=start + (end - start) / 2, trust=None).problems == ()
    leaf_ok = check_chain(certs, name=sni, at=inside(certs[0]), trust=None)
    assert not [p for p in leaf_ok.problems if p.certificate_index == 0]


def test_capture_self_signed_chain() -> None:
    certs, sni, at = captured("untrusted_cert_tls12.pcap")
    v = check_chain(certs, name=sni, at=at, trust=None)
    assert causes(v) == [(CERTIFICATE_UNTRUSTED, 0)] and v.self_signed_leaf and not v.order_ok


# --- openssl verify as the oracle -----------------------------------------------------------------------------

OPENSSL = shutil.which("openssl")
OPENSSL_CAUSE = {9: CERTIFICATE_NOT_YET_VALID, 10: CERTIFICATE_EXPIRED, 2: CERTIFICATE_CHAIN_INCOMPLETE,
                 20: CERTIFICATE_CHAIN_INCOMPLETE, 7: CERTIFICATE_UNTRUSTED, 18: CERTIFICATE_UNTRUSTED,
                 19: CERTIFICATE_UNTRUSTED, 62: CERTIFICATE_NAME_MISMATCH, 64: CERTIFICATE_NAME_MISMATCH}


def openssl_verify(file: str, at: datetime, tmp: Path, *, name: str | None = None) -> tuple[int, int] | None:
    """None for OK, else openssl's first (error code, depth)."""
    assert OPENSSL is not None
    leaf_pem = tmp / "leaf.pem"
    text = (CERTS / file).read_text()
    leaf_pem.write_text(text[:text.index("-----END CERTIFICATE-----") + 26])
    cmd = [OPENSSL, "verify", "-CAfile", str(CERTS / "bundle.pem"), "-untrusted", str(CERTS / file),
           "-attime", str(int(at.timestamp()))]
    if name is not None:
        cmd += ["-verify_ip" if ":" in name or name.replace(".", "").isdigit() else "-verify_hostname", name]
    done = subprocess.run([*cmd, str(leaf_pem)], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode == 0:
        return None
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("error ") and " at " in line and "depth" in line:
            code, depth = line.split()[1], line.split()[3]
            return int(code), int(depth)
    raise AssertionError(f"openssl said: {done.stdout}{done.stderr}")


ORACLE_FILES = [f for f in CHAIN_FILES if f.endswith(".chain.pem") or f in ("no-intermediate.pem", "self-signed.pem")]


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
@pytest.mark.parametrize("file", ORACLE_FILES)
@pytest.mark.parametrize("when", ["inside", "after", "before"])
def test_trust_and_validity_agree_with_openssl(file: str, when: str, tmp_path: Path) -> None:
    certs = chain(file)
    leaf = certs[0]
    assert leaf.not_before is not None and leaf.not_after is not None
    at = {"inside": leaf.not_before + timedelta(hours=1), "after": leaf.not_after + timedelta(days=1),
          "before": leaf.not_before - timedelta(days=1)}[when]
    ours = check_chain(certs, name=None, at=at, trust=STORE)
    theirs = openssl_verify(file, at, tmp_path)
    if theirs is None:
        assert ours.problems == () and ours.trusted is True
        return
    code, depth = theirs
    assert ours.problems, f"openssl: error {code} at depth {depth}"
    assert code in OPENSSL_CAUSE, f"an openssl error this test does not map: {code}"
    want = OPENSSL_CAUSE[code]
    if code in (2, 20) and 0 < depth < len(certs) and certs[depth].is_ca:
        # openssl's "unable to get local issuer" for a sent intermediate: the root is what is missing, and
        # servers do not send roots, so we name it an untrusted root (RFC 8446 section 4.4.2).
        want = CERTIFICATE_UNTRUSTED
    matching = [p for p in ours.problems if p.cause == want]
    assert matching, f"openssl: {code} at {depth}; ours: {causes(ours)}"
    if file != "wrong-order.chain.pem" and code in (9, 10, 18, 19, 20):  # in order, depth == index sent
        # openssl's depth counts the path; one past the sent certificates is the store's root (index None).
        assert (depth if depth < len(certs) else None) in [p.certificate_index for p in matching]


NAME_CASES = [("good.chain.pem", "origin.test"), ("good.chain.pem", "Origin.TEST"), ("good.chain.pem", "other.test"),
              ("wildcard.chain.pem", "a.wild.test"), ("wildcard.chain.pem", "wild.test"),
              ("wildcard.chain.pem", "a.b.wild.test"), ("ip.chain.pem", "192.0.2.10"),
              ("ip.chain.pem", "192.0.2.11"), ("ip.chain.pem", "2001:db8::10"), ("cn-only.chain.pem", "legacy.test"),
              ("cn-only.chain.pem", "other.test"), ("other-name.chain.pem", "origin.test")]


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
@pytest.mark.parametrize(("file", "name"), NAME_CASES)
def test_name_matching_agrees_with_openssl(file: str, name: str, tmp_path: Path) -> None:
    certs = chain(file)
    at = certs[0].not_before + timedelta(hours=1) if certs[0].not_before else inside(certs[0])
    ours = check_chain(certs, name=name, at=at, trust=STORE)
    theirs = openssl_verify(file, at, tmp_path, name=name)
    assert (theirs is None) == (ours.problems == ()), (theirs, causes(ours))
    if theirs is not None:
        assert causes(ours) == [(OPENSSL_CAUSE[theirs[0]], 0)]


# --- PEM and trust stores -------------------------------------------------------------------------------------

def test_read_pem_skips_and_reports_bad_blocks() -> None:
    good = (CERTS / "good.chain.pem").read_text()
    root = (CERTS / "root.pem").read_text()
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    garbled = root.replace(root.splitlines()[3], "!" * 10 + root.splitlines()[3][10:])  # not a certificate any more
    truncated = root[:root.index("-----END")]
    data = ("# a comment\n" + good + key + garbled + truncated + root).encode()
    certs, warnings = read_pem_certificates(data)
    assert [c.sha256 for c in certs] == [c.sha256 for c in (*chain("good.chain.pem"), *chain("root.pem"))]
    assert any("PRIVATE KEY" in w for w in warnings) and not any(key.splitlines()[1] in w for w in warnings)
    assert any("not base64" in w or "not parseable" in w for w in warnings)
    assert any("without its END" in w for w in warnings)
    assert all(w.startswith("line ") for w in warnings)
    assert read_pem_certificates(b"no pem here")[0] == []


@pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")
def test_read_pem_openssl_trusted_certificate(tmp_path: Path) -> None:
    assert OPENSSL is not None
    out = subprocess.run([OPENSSL, "x509", "-in", str(CERTS / "root.pem"), "-trustout", "-addtrust", "serverAuth"],
                         capture_output=True, timeout=30, check=True).stdout
    assert b"BEGIN TRUSTED CERTIFICATE" in out
    certs, warnings = read_pem_certificates(out)
    assert [c.sha256 for c in certs] == [chain("root.pem")[0].sha256] and warnings == []


def test_looks_like_pem() -> None:
    assert looks_like_pem((CERTS / "bundle.pem").read_bytes()[:4096])
    assert looks_like_pem(b"## Mozilla bundle\n\n" + (CERTS / "root.pem").read_bytes())
    assert not looks_like_pem((CAPTURES / "tls12_ok.pcap").read_bytes()[:4096])
    assert not looks_like_pem(b"server {\n listen 443 ssl;\n}\n")


def test_load_trust_store_from_a_bundle_and_bad_paths(tmp_path: Path) -> None:
    store, warnings = load_trust_store(str(CERTS / "bundle.pem"))
    assert warnings == () and [c.sha256 for c in store.certificates] == [STORE.certificates[0].sha256]
    missing, warnings = load_trust_store(str(tmp_path / "nope.pem"))
    assert len(missing) == 0 and warnings and "cannot read" in warnings[0]
    (tmp_path / "empty.pem").write_bytes(b"")
    empty, warnings = load_trust_store(str(tmp_path / "empty.pem"))
    assert len(empty) == 0 and any("nothing is trusted" in w for w in warnings)


@pytest.mark.skipif(not Path("/etc/ssl/certs/ca-certificates.crt").is_file(), reason="no system trust store")
def test_system_store_does_not_trust_the_lab() -> None:
    store, _ = load_trust_store(None)
    assert len(store) > 10 and store.source.startswith("system store")
    certs = chain("good.chain.pem")
    v = check_chain(certs, name="origin.test", at=inside(certs[0]), trust=store)
    assert causes(v) == [(CERTIFICATE_UNTRUSTED, 1)]  # the intermediate was sent: the lab's root is unknown


# --- Hypothesis -----------------------------------------------------------------------------------------------

ALL_CERTS = [c for f in CHAIN_FILES for c in chain(f)]
TIMES = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
NAMES = st.one_of(st.none(), st.sampled_from(["origin.test", "a.wild.test", "192.0.2.10", "[::1]", "bücher.test",
                                              "", ".", "*.", "a..b", "xn--", "x" * 300]), st.text(max_size=40))
STORES = st.sampled_from([None, STORE, TrustStore.from_certificates([], "empty"),
                          TrustStore.from_certificates(ALL_CERTS, "everything")])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(ALL_CERTS), max_size=6), NAMES, TIMES, STORES)
def test_random_chains_never_raise(certs: list[CertificateFacts], name: str | None, at: datetime,
                                   trust: TrustStore | None) -> None:
    v = check_chain(certs, name=name, at=at, trust=trust)
    assert {p.cause for p in v.problems} <= CAUSES
    assert all(p.certificate_index is None or 0 <= p.certificate_index < len(certs) for p in v.problems)
    assert v.trusted is None or trust is not None


EXPIRED_LEAF = chain("expired.chain.pem")


@settings(max_examples=40, deadline=None)
@given(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=365 * 100)),
       st.permutations([*EXPIRED_LEAF[1:], *chain("root.pem")]), NAMES, STORES)
def test_expired_leaf_is_always_expired_after_not_after(delta: timedelta, others: list[CertificateFacts],
                                                         name: str | None, trust: TrustStore | None) -> None:
    leaf = EXPIRED_LEAF[0]
    assert leaf.not_after is not None
    v = check_chain([leaf, *others], name=name, at=leaf.not_after + delta, trust=trust)
    assert (CERTIFICATE_EXPIRED, 0) in causes(v)
