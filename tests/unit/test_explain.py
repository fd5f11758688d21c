"""explain: every row reachable, known messages map to the right row, OpenSSL codes decode in both packings."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsdoctor.cli import main
from tlsdoctor.explain import ALERT_ENTRIES, ENTRIES, ROWS, decode_openssl_code, explain, explain_all
from tlsdoctor.tls.alerts import ALERTS

# The cause codes of the report contract (shared/REPORT.md): a row may name no other.
CAUSE_CODES = {
    "sni_missing", "sni_not_hostname", "certificate_expired", "certificate_not_yet_valid",
    "certificate_name_mismatch", "certificate_untrusted", "certificate_chain_incomplete", "protocol_version_mismatch",
    "no_shared_cipher", "no_shared_group", "client_certificate_required", "server_internal_error", "not_tls",
    "tcp_connect_refused", "tcp_connect_timeout", "clienthello_unanswered", "rst_after_clienthello",
    "middlebox_clienthello_blackhole", "rst_injection", "tls_interception", "flow_split", "clienthello_fragment_lost",
    "handshake_stalled", "alert_unexplained",
}

KNOWN = [
    ("40", "alert:40"), ("handshake_failure", "alert:40"), ("HANDSHAKE_FAILURE", "alert:40"),
    ("error:14094410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure", "alert:40"),
    ("error:14077410:SSL routines:SSL23_GET_SERVER_HELLO:sslv3 alert handshake failure", "alert:40"),
    ("error:0A000410", "alert:40"), ("0A000410", "alert:40"),
    ("error:1408F10B:SSL routines:ssl3_get_record:wrong version number", "openssl:267"),
    ("0A00010B", "openssl:267"), ("error:140770FC:SSL routines:SSL23_GET_SERVER_HELLO:unknown protocol", "openssl:252"),
    ("error:14090086:SSL routines:ssl3_get_server_certificate:certificate verify failed", "openssl:134"),
    ("error:1416F086:SSL routines:tls_process_server_certificate:certificate verify failed", "openssl:134"),
    ("error:0A000086", "openssl:134"), ("0A000458", "alert:112"), ("0A00042E", "alert:70"),
    ("0A000126", "openssl:294"), ("0A0000C1", "openssl:193"), ("0A000102", "openssl:258"), ("0A00018E", "openssl:398"),
    ("error:0A00045C:SSL routines::tlsv13 alert certificate required", "alert:116"),
    ("SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40) "
     "while SSL handshaking to upstream", "alert:40"),
    ("SSL_do_handshake() failed (SSL: error:0A000458:SSL routines::tlsv1 unrecognized name:SSL alert number 112) "
     "while SSL handshaking to upstream", "alert:112"),
    ("peer closed connection in SSL handshake (104: Connection reset by peer) while SSL handshaking to upstream",
     "nginx:peer_closed"),
    ("upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream",
     "x509:10"),
    ("upstream SSL certificate does not match \"backend\" while SSL handshaking to upstream", "nginx:upstream_name"),
    ("client timed out (110: Connection timed out) while SSL handshaking", "nginx:handshake_timeout"),
    ("no live upstreams while connecting to upstream", "nginx:no_live_upstreams"),
    ("SSL_read() failed (SSL: error:0A000126:SSL routines::unexpected eof while reading)", "openssl:294"),
    ("ssl_reject_handshake", "nginx:ssl_reject_handshake"),
    ("35", "curl:35"), ("28", "curl:28"), ("56", "curl:56"), ("7", "curl:7"), ("6", "curl:6"),
    ("curl: (35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to example.test:443",
     "openssl:ssl_error_syscall"),
    ("curl: (35) OpenSSL SSL_connect: Connection reset by peer in connection to example.test:443",
     "system:econnreset"),
    ("curl: (60) SSL certificate problem: certificate has expired", "x509:10"),
    ("curl: (28) SSL connection timeout", "curl:28"),
    ("curl: (56) Failure when receiving data from the peer", "curl:56"),
    ("curl: (7) Failed to connect to example.test port 443: Connection refused", "system:econnrefused"),
    ("curl: (6) Could not resolve host: example.test", "curl:6"),
    ("javax.net.ssl.SSLHandshakeException: Received fatal alert: handshake_failure", "alert:40"),
    ("sun.security.validator.ValidatorException: PKIX path building failed", "java:pkix"),
    ("javax.net.ssl.SSLHandshakeException: Remote host terminated the handshake", "java:remote_closed"),
    ("remote error: tls: handshake failure", "alert:40"), ("remote error: tls: unrecognized name", "alert:112"),
    ("remote error: tls: protocol version not supported", "alert:70"),
    ("x509: certificate signed by unknown authority", "go:unknown_authority"),
    ("http: server gave HTTP response to HTTPS client", "go:not_tls"),
    ("tls: first record does not look like a TLS handshake", "go:not_tls"),
    ("x509: certificate has expired or is not yet valid: current time 2026-01-01", "go:expired"),
    ("ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
     "issuer certificate (_ssl.c:1006)", "x509:20"),
    ("ssl.SSLError: [SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] sslv3 alert handshake failure (_ssl.c:1006)", "alert:40"),
    ("ssl.SSLEOFError: [SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:1006)",
     "python:eof"),
    ("Error: write EPROTO 40:error:0A00010B:SSL routines:ssl3_get_record:wrong version number", "openssl:267"),
    ("code: 'ERR_SSL_WRONG_VERSION_NUMBER'", "node:wrong_version"), ("ECONNRESET", "system:econnreset"),
    ("Error: read ECONNRESET", "system:econnreset"),
    ("UNABLE_TO_VERIFY_LEAF_SIGNATURE", "node:leaf"), ("ERR_TLS_CERT_ALTNAME_INVALID", "node:altname"),
    ("ERR_CONNECTION_RESET", "browser:connection_reset"), ("ERR_SSL_PROTOCOL_ERROR", "browser:ssl_protocol"),
    ("NET::ERR_CERT_DATE_INVALID", "browser:date"), ("tlsv1 alert unknown ca", "alert:48"),
    ("error:80000068:system library::Connection reset by peer", "system:econnreset"),
]


@pytest.mark.parametrize(("text", "key"), KNOWN)
def test_known_messages_map_to_their_row(text: str, key: str) -> None:
    best = explain(text)
    assert best is not None, text
    assert best.entry.key == key, [m.entry.key for m in explain_all(text)]


def test_context_rows_also_match() -> None:
    keys = [m.entry.key for m in explain_all(KNOWN[20][0])]
    assert keys[0] == "alert:40" and "nginx:handshake_failed" in keys
    assert [m.entry.key for m in explain_all("51")][:2] == ["alert:51", "curl:51"]


def test_every_alert_of_the_registry_has_a_row() -> None:
    assert set(ALERT_ENTRIES) == set(ALERTS)
    for code, row in ALERT_ENTRIES.items():
        assert explain(str(code)) is not None and explain(str(code)).entry is row  # type: ignore[union-attr]
        assert explain(row.codes[0]).entry is row  # type: ignore[union-attr]
        assert explain(f"SSL alert number {code}").entry is row  # type: ignore[union-attr]


def test_rows_are_sourced_and_causes_are_report_codes() -> None:
    keys = [e.key for e in ENTRIES]
    assert len(keys) == len(set(keys))
    for e in ENTRIES:
        assert e.source and e.meaning and e.sender, e.key
        assert e.patterns or e.codes, e.key
        for c in e.causes:
            assert c.code in CAUSE_CODES, (e.key, c.code)


@pytest.mark.parametrize("row", [e for e in ROWS if e.codes], ids=lambda e: e.key)
def test_every_row_is_reachable_by_its_code(row: object) -> None:
    from tlsdoctor.explain import Entry

    assert isinstance(row, Entry)
    assert row in [m.entry for m in explain_all(row.codes[0])]


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_row_is_reachable_by_its_patterns(data: st.DataObject) -> None:
    for row in ROWS:
        for pattern in row.patterns:
            text = data.draw(st.from_regex(re.compile(pattern, re.IGNORECASE), fullmatch=True,
                                           alphabet=st.characters(min_codepoint=32, max_codepoint=126)),
                             label=row.key)
            assert row in [m.entry for m in explain_all(text)], (row.key, pattern, text)


def test_openssl_codes_decode_in_both_packings() -> None:
    old = decode_openssl_code(0x14094410)
    assert (old.packing, old.library, old.function, old.reason, old.alert) == ("1.x", 20, 0x094, 1040, 40)
    new = decode_openssl_code(0x0A000410)
    assert (new.packing, new.library, new.function, new.reason, new.alert) == ("3.x", 20, None, 1040, 40)
    assert decode_openssl_code(0x0A00010B).reason_text == "wrong version number"
    assert decode_openssl_code(0x1408F10B).reason == 267
    assert decode_openssl_code(0x0A00018E).reason_text == "ca md too weak"
    sys_err = decode_openssl_code(0x80000068)
    assert sys_err.system_errno == 104
    # any alert, generically, also outside the table's rows
    for code in range(256):
        assert decode_openssl_code((20 << 23) | (1000 + code)).alert == code
        assert decode_openssl_code((20 << 24) | (0x94 << 12) | (1000 + code)).alert == code


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_explain_never_raises(text: str) -> None:
    explain_all(text)


def test_cli_exit_status_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "error:0A000410"]) == 0
    assert "handshake_failure" in capsys.readouterr().out
    assert main(["explain", "nothing", "like", "this"]) == 1
    assert "nothing in the table matches" in capsys.readouterr().out
    assert main(["explain", "--json", "0A00010B"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "tlsdoctor.explain/1"
    first = doc["matches"][0]
    assert first["key"] == "openssl:267" and first["openssl"]["reason"] == 267
    assert first["causes"][0]["cause"] == "not_tls"


def test_superscript_and_other_non_ascii_digits_are_text_not_codes() -> None:
    # Found by Hypothesis: "¹".isdigit() is true but int("¹") raises.
    from tlsdoctor.explain import explain as _explain

    for text in ("¹", "²³", "①"):
        assert _explain(text) is None  # not a code, and not raising
