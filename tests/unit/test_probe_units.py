"""The probe's sans-IO parts: our ClientHello parsed back by the project's parser, the answer reader fed
whole, byte by byte, with trailing garbage and random bytes, the verdict rules on synthetic outcomes."""

from __future__ import annotations

import datetime as dt
import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor.probe import clienthello as ch
from tlsdoctor.probe.answer import Answer, AnswerKind, NeedMore, read_answer
from tlsdoctor.probe.certs import alert_from_ssl_reason, certificate_problems, name_matches
from tlsdoctor.probe.matrix import MATRIX, WRONG_SNI, ResolutionError, parse_target, resolve, run_probe
from tlsdoctor.probe.model import (
    AddressReport,
    CertificateInfo,
    HandshakeReport,
    Outcome,
    OutcomeKind,
    ProbeResult,
)
from tlsdoctor.probe.verdict import judge
from tlsdoctor.tls.messages import ClientHello, parse_client_hello

FIXED = ch.HelloRandoms(bytes(range(32)), bytes(32), {29: bytes(32), 23: b"\x04" + bytes(64)})


def _parse(records: bytes) -> ClientHello:
    assert records[0] == 22 and records[1:3] == b"\x03\x01"
    length = struct.unpack(">H", records[3:5])[0]
    msg = records[5:5 + length]
    assert msg[0] == 1 and int.from_bytes(msg[1:4], "big") == len(msg) - 4
    hello = parse_client_hello(msg[4:])
    assert isinstance(hello, ClientHello), hello
    assert not hello.decode_errors
    return hello


def test_default_offer_parses_back() -> None:
    spec = ch.ClientHelloSpec(server_name="site.test", key_share_groups=(29, 23))
    hello = _parse(ch.build(spec, FIXED))
    assert hello.server_name == "site.test"
    assert hello.legacy_version == 0x0303 and hello.supported_versions == (0x0304, 0x0303)
    assert hello.cipher_suites == spec.cipher_suites
    assert hello.supported_groups == ch.GROUPS_DEFAULT
    assert [(k.group, k.key_length) for k in hello.key_shares] == [(29, 32), (23, 65)]
    assert hello.alpn == ("h2", "http/1.1") and hello.signature_algorithms == ch.SIGALGS_ALL
    assert hello.random == bytes(range(32))


def test_bytes_are_exact_for_fixed_randoms() -> None:
    spec = ch.ClientHelloSpec(server_name="a.test")
    assert ch.build(spec, FIXED) == ch.build(spec, FIXED)
    assert ch.build(spec, FIXED) != ch.build(ch.ClientHelloSpec(server_name="b.test"), FIXED)


def test_no_sni_and_old_versions() -> None:
    hello = _parse(ch.build(ch.ClientHelloSpec(versions=(ch.TLS10,), cipher_suites=ch.SUITES_LEGACY), FIXED))
    assert hello.server_name is None and hello.legacy_version == 0x0301 and hello.supported_versions == ()
    assert hello.key_shares == ()


@pytest.mark.parametrize("pad_to", [600, 1800, 4000, 20000])
def test_padding_reaches_the_size(pad_to: int) -> None:
    msg = ch.encode_client_hello(ch.ClientHelloSpec(server_name="x.test", pad_to=pad_to), FIXED)
    assert len(msg) == pad_to
    records = ch.client_hello_records(msg)
    assert len(records) == pad_to + 5 * ((pad_to + ch.MAX_FRAGMENT - 1) // ch.MAX_FRAGMENT)
    if pad_to < ch.MAX_FRAGMENT:
        assert _parse(records).padding_length is not None


def test_f5_range_is_padded_to_512() -> None:
    msg = ch.encode_client_hello(ch.ClientHelloSpec(server_name="x.test"), FIXED)
    assert not (256 <= len(msg) < 512)


def test_fresh_randoms_make_real_keys() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    r = ch.fresh_randoms(ch.ClientHelloSpec(key_share_groups=(29, 23, 24)))
    assert len(r.key_shares[29]) == 32
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), r.key_shares[23])
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), r.key_shares[24])


def test_matrix_probes_all_build() -> None:
    for d in MATRIX:
        hello = _parse(ch.build(d.spec("site.test")))
        if d.name == "large":
            assert len(ch.build(d.spec("site.test"))) == ch.LARGE_CLIENT_HELLO + 5
        if d.name == "no_sni":
            assert hello.server_name is None
        if d.name == "wrong_sni":
            assert hello.server_name == WRONG_SNI


# --- the answer reader --------------------------------------------------------------------------

def _server_hello(version: int = 0x0304, suite: int = 0x1301) -> bytes:
    exts = struct.pack(">HHH", 43, 2, version) if version == 0x0304 else b""
    body = (struct.pack(">H", 0x0303) + bytes(32) + b"\x00" + struct.pack(">HB", suite, 0)
            + struct.pack(">H", len(exts)) + exts)
    msg = b"\x02" + len(body).to_bytes(3, "big") + body
    return struct.pack(">BHH", 22, 0x0303, len(msg)) + msg


ALERT40 = bytes.fromhex("15030300020228")


def test_reader_whole_byte_by_byte_and_with_trailing_garbage() -> None:
    for data, kind in ((_server_hello(), AnswerKind.SERVER_HELLO), (ALERT40, AnswerKind.ALERT)):
        whole = read_answer(data)
        assert isinstance(whole, Answer) and whole.kind == kind
        for cut in range(len(data)):
            assert isinstance(read_answer(data[:cut]), NeedMore), cut
        assert read_answer(data + b"\xff" * 20) == whole
    sh = read_answer(_server_hello())
    assert isinstance(sh, Answer) and (sh.version, sh.cipher_suite) == (0x0304, 0x1301)
    tls12 = read_answer(_server_hello(0x0303, 0xC02F))
    assert isinstance(tls12, Answer) and tls12.version == 0x0303 and "TLSv1.2" in tls12.describe()
    alert = read_answer(ALERT40)
    assert isinstance(alert, Answer) and alert.alert_code == 40 and "handshake_failure" in alert.describe()


def test_reader_fragmented_server_hello() -> None:
    rec = _server_hello()
    msg = rec[5:]
    split = struct.pack(">BHH", 22, 0x0303, 10) + msg[:10] + struct.pack(">BHH", 22, 0x0303, len(msg) - 10) + msg[10:]
    answer = read_answer(split)
    assert isinstance(answer, Answer) and answer.kind == AnswerKind.SERVER_HELLO


def test_reader_not_tls_and_malformed() -> None:
    http = read_answer(b"HTTP/1.1 400 Bad Request\r\n")
    assert isinstance(http, Answer) and http.kind == AnswerKind.NOT_TLS and http.preview.startswith(b"HTTP/")
    assert isinstance(read_answer(b"H"), Answer)
    huge = read_answer(struct.pack(">BHH", 22, 0x0303, 0xFFFF))
    assert isinstance(huge, Answer) and huge.kind == AnswerKind.MALFORMED
    endless = read_answer(struct.pack(">BHH", 22, 0x0303, 16384) + b"\x02\xff\xff\xff" + bytes(16380))
    assert isinstance(endless, Answer) and endless.kind == AnswerKind.MALFORMED
    appdata = read_answer(struct.pack(">BHH", 23, 0x0303, 1) + b"x")
    assert isinstance(appdata, Answer) and appdata.kind == AnswerKind.MALFORMED


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_reader_never_raises_and_prefixes_need_more(data: bytes) -> None:
    result = read_answer(data)
    if isinstance(result, NeedMore):
        assert result.needed > 0
    else:
        assert 0 < result.consumed <= len(data) or result.kind in (AnswerKind.NOT_TLS, AnswerKind.MALFORMED)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.binary(max_size=50))
def test_reader_cut_server_hello_at_every_offset(cut: int, tail: bytes) -> None:
    data = _server_hello()
    result = read_answer(data[:cut] + (tail if cut >= len(data) else b""))
    if cut < len(data):
        assert isinstance(result, NeedMore)
    else:
        assert isinstance(result, Answer) and result.kind == AnswerKind.SERVER_HELLO


# --- targets and certificate checks -------------------------------------------------------------

def test_parse_target() -> None:
    assert parse_target("example.test") == ("example.test", 443)
    assert parse_target("example.test:8443") == ("example.test", 8443)
    assert parse_target("[::1]:8443") == ("::1", 8443)
    assert parse_target("::1") == ("::1", 443)
    with pytest.raises(ValueError):
        parse_target("example.test:99999")


def test_resolution_failure_is_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_a: object, **_k: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(ResolutionError, match="does not resolve"):
        resolve("nowhere.invalid", 443)
    from tlsdoctor.cli import main

    assert main(["probe", "nowhere.invalid"]) == 2


def test_localhost_resolves() -> None:
    assert set(resolve("localhost", 443)) & {"127.0.0.1", "::1"}


def test_name_matching() -> None:
    assert name_matches("a.example.test", ["*.example.test"], [])
    assert not name_matches("a.b.example.test", ["*.example.test"], [])
    assert not name_matches("example.test", ["*.example.test"], [])
    assert name_matches("Example.Test.", ["example.test"], [])
    assert name_matches("127.0.0.1", [], ["127.0.0.1"]) and not name_matches("127.0.0.1", ["127.0.0.1"], [])


def _cert(subject: str, issuer: str, after: str, names: tuple[str, ...] = ()) -> CertificateInfo:
    return CertificateInfo(subject, issuer, "2020-01-01T00:00:00Z", after, names, (), subject == issuer, "00" * 32)


def test_certificate_problems() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    leaf = _cert("CN=a.test", "CN=int", "2025-06-01T00:00:00Z", ("a.test",))
    problems = certificate_problems([leaf], "b.test", now, 21, "unable to verify the first certificate")
    causes = [c for c, _, _k in problems]
    assert causes == ["certificate_expired", "certificate_name_mismatch", "certificate_chain_incomplete"]
    wrong_order = [_cert("CN=a.test", "CN=int", "2030-01-01T00:00:00Z", ("a.test",)),
                   _cert("CN=root", "CN=root", "2030-01-01T00:00:00Z")]
    assert [c for c, _, _k in certificate_problems(wrong_order, "a.test", now, None, None)] == [
        "certificate_chain_incomplete"]
    lone = certificate_problems([_cert("CN=a.test", "CN=private", "2030-01-01T00:00:00Z", ("a.test",))], "a.test",
                                now, 20, "unable to get local issuer certificate")
    assert [(c, k) for c, _, k in lone] == [("certificate_chain_incomplete", "possible")]
    self_signed = [_cert("CN=a.test", "CN=a.test", "2030-01-01T00:00:00Z", ("a.test",))]
    assert [c for c, _, _k in certificate_problems(self_signed, "a.test", now, 18, "self-signed certificate")] == [
        "certificate_untrusted"]


def test_alert_from_ssl_reason() -> None:
    assert alert_from_ssl_reason("SSLV3_ALERT_HANDSHAKE_FAILURE") == 40
    assert alert_from_ssl_reason("TLSV13_ALERT_CERTIFICATE_REQUIRED") == 116
    assert alert_from_ssl_reason("TLSV1_UNRECOGNIZED_NAME") == 112
    assert alert_from_ssl_reason("WRONG_VERSION_NUMBER") is None


# --- verdict rules on synthetic outcomes --------------------------------------------------------

def _sh() -> Outcome:
    return Outcome(OutcomeKind.SERVER_HELLO, answer=Answer(AnswerKind.SERVER_HELLO, 1, version=0x0304,
                                                           cipher_suite=0x1301), elapsed_ms=1.0)


def _al(code: int) -> Outcome:
    return Outcome(OutcomeKind.ALERT, answer=Answer(AnswerKind.ALERT, 7, alert_level=2, alert_code=code),
                   elapsed_ms=1.0)


def _report(address: str, outcomes: dict[str, Outcome], default: Outcome) -> AddressReport:
    rows = tuple(ProbeResult(d.name, d.description, address, 443,
                             None if d.name == "no_sni" else (WRONG_SNI if d.name == "wrong_sni" else "site.test"),
                             500, outcomes.get(d.name, default)) for d in MATRIX)
    return AddressReport(address, rows, None)


def _causes(*reports: AddressReport) -> list[str]:
    findings, _notes = judge("site.test", 443, "site.test", WRONG_SNI, reports)
    return [f.cause for f in findings]


def test_verdict_rules() -> None:
    reset = Outcome(OutcomeKind.RESET, elapsed_ms=2.0)
    assert _causes(_report("192.0.2.1", {"no_sni": _al(112), "wrong_sni": _al(112)}, _sh())) == ["sni_missing"]
    assert _causes(_report("192.0.2.1", {"no_sni": _sh(), "wrong_sni": _sh()}, reset)) == ["rst_injection"]
    assert _causes(_report("192.0.2.1", {}, reset)) == ["rst_after_clienthello"]
    assert _causes(_report("192.0.2.1", {"large": Outcome(OutcomeKind.SILENCE, elapsed_ms=5.0)}, _sh())) == [
        "clienthello_fragment_lost"]
    assert _causes(_report("192.0.2.1", {}, Outcome(OutcomeKind.SILENCE, elapsed_ms=5.0))) == ["clienthello_unanswered"]
    assert _causes(_report("192.0.2.1", {}, Outcome(OutcomeKind.CONNECT_REFUSED))) == ["tcp_connect_refused"]
    assert _causes(_report("192.0.2.1", {"tls1.0": _sh()}, _al(70))) == ["protocol_version_mismatch"]
    assert _causes(_report("192.0.2.1", {}, _al(80))) == ["server_internal_error"]
    http = Outcome(OutcomeKind.NOT_TLS, answer=Answer(AnswerKind.NOT_TLS, 5, preview=b"HTTP/1.1 400", detail="http"))
    assert _causes(_report("192.0.2.1", {}, http)) == ["not_tls"]
    capped = Outcome(OutcomeKind.CAP_EXCEEDED, bytes_received=300000)
    assert _causes(_report("192.0.2.1", {}, capped)) == ["handshake_stalled"]


def test_verdict_certificate_on_one_address_of_two() -> None:
    expired = HandshakeReport("192.0.2.2", 443, "site.test", True, "TLSv1.3", "X",
                              chain=(_cert("CN=site.test", "CN=ca", "2020-02-01T00:00:00Z", ("site.test",)),),
                              problems=(("certificate_expired", "the certificate CN=site.test expired", "certain"),))
    good = _report("192.0.2.1", {}, _sh())
    bad = AddressReport("192.0.2.2", _report("192.0.2.2", {}, _sh()).results, expired)
    findings, _ = judge("site.test", 443, "site.test", WRONG_SNI, [good, bad])
    assert [f.cause for f in findings] == ["certificate_expired"]
    assert "Seen on 192.0.2.2; not on 192.0.2.1." in findings[0].explanation


def test_verdict_client_certificate() -> None:
    hs = HandshakeReport("192.0.2.1", 443, "site.test", False, error="TLSV13_ALERT_CERTIFICATE_REQUIRED: ...",
                         alert_code=116, post_handshake_alert=True)
    report = AddressReport("192.0.2.1", _report("192.0.2.1", {}, _sh()).results, hs)
    assert _causes(report) == ["client_certificate_required"]


def test_run_probe_against_a_closed_port_is_fast() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report = run_probe("127.0.0.1", port, timeout=3)
    assert [f.cause for f in report.findings] == ["tcp_connect_refused"]
    assert report.duration_ms < 2500
