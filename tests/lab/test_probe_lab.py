"""``tlsdoctor probe`` against real servers on loopback, each wrong in one way, started and stopped here.

Every run uses ``--connect 127.0.0.1`` and a test name as SNI: nothing is resolved, nothing leaves
the machine. Skipped, with the reason, without root, openssl or (for the SNI test) nginx.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.probe_servers import servers as srv
from tlsdoctor.cli import main
from tlsdoctor.probe import clienthello as ch
from tlsdoctor.probe.matrix import run_probe
from tlsdoctor.probe.model import OutcomeKind, ProbeReport
from tlsdoctor.probe.wire import exchange

_why = srv.lab_skip_reason()
pytestmark = [pytest.mark.lab, pytest.mark.skipif(_why is not None, reason=_why or "")]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> srv.Certs:
    return srv.Certs(tmp_path_factory.mktemp("probe-certs"))


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def _probe(port: int, sni: str, certs: srv.Certs, timeout: float = 4.0) -> ProbeReport:
    return run_probe(sni, port, connect="127.0.0.1", sni=sni, timeout=timeout, ca_bundle=str(certs.ca_file))


def _causes(report: ProbeReport) -> list[str]:
    return [f.cause for f in report.findings]


def _kinds(report: ProbeReport) -> dict[str, OutcomeKind]:
    return {p.name: p.outcome.kind for p in report.addresses[0].results}


def _alerts(report: ProbeReport) -> dict[str, int | None]:
    return {p.name: p.outcome.answer.alert_code if p.outcome.answer else None for p in report.addresses[0].results}


def test_healthy_server_has_no_finding(certs: srv.Certs, folder: Path) -> None:
    with srv.openssl_server(folder, certs.leaf("good.test")) as port:
        report = _probe(port, "good.test", certs)
    assert report.findings == (), report.findings
    assert _kinds(report)["sni"] == OutcomeKind.SERVER_HELLO
    assert report.addresses[0].handshake is not None and report.addresses[0].handshake.trust_checked


@pytest.mark.skipif(srv.lab_skip_reason(need_nginx=True) is not None, reason="nginx is not installed")
def test_strict_sni_nginx_requires_sni(certs: srv.Certs, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with srv.nginx_strict_sni(folder, "strict.test", certs.leaf("strict.test")) as port:
        status = main(["probe", f"strict.test:{port}", "--connect", "127.0.0.1", "--timeout", "4",
                       "--ca-bundle", str(certs.ca_file), "--json"])
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert status == 1 and doc["schema"] == "tlsdoctor.probe/1"
    (finding,) = doc["findings"]
    assert finding["cause"] == "sni_missing" and finding["confidence"] == "certain"
    assert "A wrong name" in finding["explanation"]
    probes = {p["name"]: p["outcome"] for p in doc["addresses"][0]["probes"]}
    assert probes["sni"]["kind"] == "server_hello"
    assert probes["no_sni"]["alert"]["code"] == 112 and probes["wrong_sni"]["alert"]["code"] == 112


def test_expired_certificate(certs: srv.Certs, folder: Path) -> None:
    with srv.openssl_server(folder, certs.leaf("expired.test", expired=True)) as port:
        report = _probe(port, "expired.test", certs)
    assert _causes(report) == ["certificate_expired"]
    f = report.findings[0]
    assert "notAfter" in f.explanation and "127.0.0.1 serves it" in f.explanation
    assert _kinds(report)["sni"] == OutcomeKind.SERVER_HELLO  # the server does not care; clients do


def test_tls13_only(certs: srv.Certs, folder: Path) -> None:
    with srv.openssl_server(folder, certs.leaf("modern.test"), "-tls1_3") as port:
        report = _probe(port, "modern.test", certs)
    assert report.findings == ()
    assert _alerts(report)["tls1.2"] == 70 and _kinds(report)["tls1.3"] == OutcomeKind.SERVER_HELLO
    assert any("only TLSv1.3" in n for n in report.notes)


def test_rsa_only_server_against_an_ecdsa_only_offer(certs: srv.Certs, folder: Path) -> None:
    with srv.openssl_server(folder, certs.leaf("rsa.test"), "-no_tls1_3", "-cipher", "aRSA") as port:
        ecdsa = ch.ClientHelloSpec(versions=(ch.TLS12,), server_name="rsa.test",
                                   cipher_suites=ch.SUITES_ECDSA_TLS12, signature_algorithms=ch.SIGALGS_ECDSA)
        outcome = exchange("127.0.0.1", port, ch.build(ecdsa), time.monotonic() + 3)
        report = _probe(port, "rsa.test", certs)
    assert outcome.kind == OutcomeKind.ALERT and outcome.answer is not None and outcome.answer.alert_code == 40
    assert _alerts(report)["ecdsa_only"] == 40 and _kinds(report)["rsa_only"] == OutcomeKind.SERVER_HELLO
    assert report.findings == ()
    assert any("not ECDSA" in n for n in report.notes)


def test_mutual_tls_required(certs: srv.Certs, folder: Path) -> None:
    with srv.openssl_server(folder, certs.leaf("mtls.test"), "-Verify", "1", "-CAfile", str(certs.ca_file)) as port:
        report = _probe(port, "mtls.test", certs)
    assert _causes(report) == ["client_certificate_required"]
    hs = report.addresses[0].handshake
    assert hs is not None and hs.alert_code == 116 and hs.post_handshake_alert


def test_silent_server(certs: srv.Certs) -> None:
    with srv.silent_server() as port:
        started = time.monotonic()
        report = _probe(port, "silent.test", certs, timeout=2.0)
    assert time.monotonic() - started < 4.0
    assert _causes(report) == ["clienthello_unanswered"]
    assert set(_kinds(report).values()) == {OutcomeKind.SILENCE}


def test_reset_after_clienthello(certs: srv.Certs) -> None:
    with srv.reset_server() as port:
        report = _probe(port, "reset.test", certs)
    assert _causes(report) == ["rst_after_clienthello"]
    assert set(_kinds(report).values()) == {OutcomeKind.RESET}


def test_plain_http_on_the_tls_port(certs: srv.Certs) -> None:
    with srv.http_server() as port:
        report = _probe(port, "http.test", certs)
    assert _causes(report) == ["not_tls"]
    assert "HTTP/1.1 400" in report.findings[0].explanation


def test_sni_keyed_rst_injector(certs: srv.Certs, folder: Path) -> None:
    with srv.openssl_server(folder, certs.leaf("blocked.test")) as upstream, \
            srv.relay(upstream, reset_sni="blocked.test") as port:
        report = _probe(port, "blocked.test", certs)
    assert _causes(report) == ["rst_injection"]
    f = report.findings[0]
    assert f.confidence.value == "likely" and "blocked.test" in f.title
    kinds = _kinds(report)
    assert kinds["sni"] == OutcomeKind.RESET and kinds["no_sni"] == OutcomeKind.SERVER_HELLO
    assert kinds["wrong_sni"] == OutcomeKind.SERVER_HELLO


def test_large_clienthello_lost(certs: srv.Certs, folder: Path) -> None:
    with srv.openssl_server(folder, certs.leaf("mtu.test")) as upstream, \
            srv.relay(upstream, forward_limit=1400) as port:
        report = _probe(port, "mtu.test", certs, timeout=2.5)
    assert _causes(report) == ["clienthello_fragment_lost"]
    assert _kinds(report)["large"] == OutcomeKind.SILENCE


def test_refused_port(certs: srv.Certs) -> None:
    report = _probe(srv.free_port(), "closed.test", certs)
    assert _causes(report) == ["tcp_connect_refused"]


@pytest.mark.parametrize("factory", [srv.endless_server, srv.dripping_server], ids=["endless", "drip"])
def test_hostile_servers_are_cut_off(certs: srv.Certs, factory: Any) -> None:
    with factory() as port:
        started = time.monotonic()
        report = _probe(port, "hostile.test", certs, timeout=2.0)
        elapsed = time.monotonic() - started
    assert elapsed < 4.0
    assert _causes(report) == ["handshake_stalled"]
    kinds = set(_kinds(report).values())
    assert kinds <= {OutcomeKind.CAP_EXCEEDED, OutcomeKind.MALFORMED, OutcomeKind.STALLED}


def test_terminal_output_and_exit_status(certs: srv.Certs, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with srv.openssl_server(folder, certs.leaf("term.test", expired=True)) as port:
        status = main(["probe", f"term.test:{port}", "--connect", "127.0.0.1", "--timeout", "4",
                       "--ca-bundle", str(certs.ca_file)])
    out = capsys.readouterr().out
    assert status == 1
    assert "certificate_expired" in out and "no_sni" in out and "fix:" in out


def test_huge_certificate_is_refused_by_the_full_handshake(certs: srv.Certs) -> None:
    with srv.huge_certificate_server() as port:
        started = time.monotonic()
        report = _probe(port, "huge.test", certs, timeout=3.0)
        elapsed = time.monotonic() - started
    assert elapsed < 5.0
    assert _kinds(report)["tls1.2"] == OutcomeKind.SERVER_HELLO  # the raw probes stop at the ServerHello
    hs = report.addresses[0].handshake
    assert hs is not None and not hs.completed and hs.error is not None
    assert "EXCESSIVE_MESSAGE_SIZE" in hs.error  # OpenSSL's 100 KiB cap on a certificate list
    assert _causes(report) == ["handshake_stalled"], hs.error
