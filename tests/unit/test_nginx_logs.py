"""nginx error and access logs: real logs from tests/lab/make_nginx_logs.py (nginx 1.22, OpenSSL 3.0), real
1.0.2/1.1.x lines quoted from public issues, the cause table, log_format compilation, the recognisers, and
Hypothesis on arbitrary and cut lines."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor.evidence.nginx import analyze_config
from tlsdoctor.evidence.nginx_logs import (
    COMBINED,
    KEPT_LEVELS,
    MAX_ANOMALIES,
    MAX_LINE_BYTES,
    ErrorLog,
    ErrorLogEntry,
    Side,
    classify,
    compile_log_format,
    looks_like_access_log,
    looks_like_error_log,
    parse_access_line,
    parse_access_log,
    parse_error_log,
    parse_openssl_error,
    read_access_log,
    read_error_log,
    stream_lines,
    upstream_address,
)
from tlsdoctor.evidence.nginx_model import COMBINED_FORMAT, LogFormat
from tlsdoctor.tls.alerts import AlertDescription

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "nginx_logs"
CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "captures"
REPORT_CAUSES = {
    "sni_missing", "sni_not_hostname", "certificate_expired", "certificate_not_yet_valid",
    "certificate_name_mismatch", "certificate_untrusted", "certificate_chain_incomplete",
    "protocol_version_mismatch", "no_shared_cipher", "no_shared_group", "client_certificate_required",
    "server_internal_error", "not_tls", "tcp_connect_refused", "tcp_connect_timeout", "clienthello_unanswered",
    "rst_after_clienthello", "middlebox_clienthello_blackhole", "rst_injection", "tls_interception", "flow_split",
    "clienthello_fragment_lost", "handshake_stalled", "alert_unexplained",
}


def _lines(name: str) -> list[str]:
    return (LOGS / name).read_bytes().decode("utf-8", "backslashreplace").splitlines(keepends=True)


def _by_request(log: ErrorLog, path: str) -> list[ErrorLogEntry]:
    return [e for e in log.entries if e.request is not None and e.request.split(" ")[1:2] == [path]]


# --- what each lab scenario did, from tests/lab/make_nginx_logs.py (the ground truth) ---------------------
# path -> (alert the upstream sent or None, the true cause, where nginx was, upstream port)
LAB_UPSTREAM = {
    "/nosni": (112, "sni_missing", 44501),
    "/groupname": (112, "sni_not_hostname", 44501),
    "/expired": (None, "certificate_expired", 44510),
    "/selfsigned": (None, "certificate_untrusted", 44511),
    "/nochain": (None, "certificate_chain_incomplete", 44512),
    "/othername": (None, "certificate_name_mismatch", 44513),
    "/mtls12": (40, "client_certificate_required", 44514),
    "/mtls13": (116, "client_certificate_required", 44515),
    "/mtls_badcert": (48, "client_certificate_required", 44514),
    "/version": (70, "protocol_version_mismatch", 44516),
    "/cipher": (40, "no_shared_cipher", 44517),
    "/plain": (None, "not_tls", 44503),
    "/refused": (None, "tcp_connect_refused", 44519),
    "/silent": (None, "clienthello_unanswered", 44518),
    "/connect_timeout": (None, "tcp_connect_timeout", 44520),
    "/reset": (None, "rst_after_clienthello", 44521),
    "/close": (None, "handshake_stalled", 44522),
}


@pytest.fixture(scope="module")
def proxy_log() -> ErrorLog:
    return read_error_log(LOGS / "lab_proxy.error.log", "lab_proxy.error.log")


@pytest.mark.parametrize("path", sorted(LAB_UPSTREAM))
def test_lab_upstream_failures_are_classified(proxy_log: ErrorLog, path: str) -> None:
    alert, cause, port = LAB_UPSTREAM[path]
    entries = _by_request(proxy_log, path)
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry.to_upstream and entry.upstream_address == f"127.0.0.1:{port}"
    assert entry.upstream == f"https://127.0.0.1:{port}/"
    assert entry.client == "127.0.0.1" and entry.server == "gateway.test" and entry.host == "127.0.0.1:44500"
    assert entry.level in KEPT_LEVELS
    assert entry.time is not None and entry.time.tzinfo is None and entry.time.year == 2026
    assert entry.connection_id is not None and entry.pid == entry.tid
    # the line number is the file's: the raw line at that number is the entry's text
    assert _lines("lab_proxy.error.log")[entry.line - 1].rstrip("\n") == entry.text
    if alert is not None:
        assert entry.openssl is not None and entry.openssl.alert == alert
        assert entry.openssl.alert_direction == "received" and entry.openssl.flavor == "3.x"
    got = classify(entry)
    assert got is not None and got.side is Side.UPSTREAM
    assert cause in got.causes, (path, got)
    assert set(got.causes) <= REPORT_CAUSES


def test_lab_field_details(proxy_log: ErrorLog) -> None:
    [expired] = _by_request(proxy_log, "/expired")
    assert (expired.verify_code, expired.verify_text) == (10, "certificate has expired")
    assert expired.while_ == "SSL handshaking to upstream" and expired.openssl is None
    [nochain] = _by_request(proxy_log, "/nochain")
    assert nochain.verify_code == 21
    [refused] = _by_request(proxy_log, "/refused")
    assert (refused.errno, refused.errno_text, refused.while_) == (111, "Connection refused", "connecting to upstream")
    [reset] = _by_request(proxy_log, "/reset")
    assert reset.errno == 104 and reset.message.startswith("peer closed connection in SSL handshake")
    [plain] = _by_request(proxy_log, "/plain")
    assert plain.openssl is not None and plain.openssl.reason == "wrong version number"
    assert plain.openssl.code == 0x0A00010B and plain.openssl.function == "" and plain.openssl.alert is None
    [nosni] = _by_request(proxy_log, "/nosni")
    assert nosni.level == "crit" and nosni.openssl is not None
    assert nosni.openssl.data == "SSL alert number 112" and nosni.openssl.reason == "tlsv1 unrecognized name"
    [mtls13] = _by_request(proxy_log, "/mtls13")  # TLS 1.3: the refusal arrives on the first read
    assert mtls13.message.startswith("SSL_read() failed") and mtls13.while_ == "reading response header from upstream"
    assert classify(mtls13).rule == "upstream_alert_116"  # type: ignore[union-attr]


def test_lab_failing_group_and_redirect(proxy_log: ErrorLog) -> None:
    pool = _by_request(proxy_log, "/pool")
    tried = [(e.upstream_address, classify(e)) for e in pool if e.level != "warn"]
    assert [a for a, _ in tried] == ["127.0.0.1:44519", "127.0.0.1:44501", "127.0.0.1:44503", None]
    assert [c.rule for _, c in tried if c] == ["connect_refused", "upstream_alert_112", "not_tls", "no_live_upstreams"]
    assert pool[-1].upstream == "https://failing_pool/"
    # the three servers were tried by one connection, "no live upstreams" is the next request's
    assert len({e.connection_id for e in pool[:-1]}) == 1 and pool[-1].connection_id != pool[0].connection_id
    warn = [e for e in pool if e.level == "warn"]
    assert len(warn) == 3 and all(classify(e) is None for e in warn)  # a consequence, not a cause
    redirect = _by_request(proxy_log, "/redirect")
    assert [e.upstream_address for e in redirect] == ["127.0.0.1:44519", "127.0.0.1:44501"]


# nginx as the server (its TLS listener 44502 and the mTLS one 44504): each client the lab ran, in order
LAB_CLIENTS = (
    ("client sent plain HTTP request", "not_tls", None),
    ("unsupported protocol", "protocol_version_mismatch", 70),  # TLS 1.1 client; OpenSSL sent alert 70
    ("no shared cipher", "no_shared_cipher", 40),  # RSA-only client, ECDSA certificate
    ("tlsv1 alert unknown ca", "certificate_untrusted", 48),  # a client that does not trust the lab CA
    ("peer closed connection in SSL handshake while", "handshake_stalled", None),  # 40 bytes then FIN
    ("peer closed connection in SSL handshake (104", "rst_injection", None),  # 40 bytes then RST
    ("client timed out", "handshake_stalled", None),  # 40 bytes then silence
    ("client sent no required SSL certificate", "client_certificate_required", None),
    ("client SSL certificate verify error: (10:", "certificate_expired", None),
)


def test_lab_client_failures(proxy_log: ErrorLog) -> None:
    clients = [e for e in proxy_log.entries if not e.to_upstream and e.level == "info"
               and (e.server or "").startswith(("127.0.0.1:4450", "gateway.test", "mtls."))]
    assert len(clients) == len(LAB_CLIENTS)
    for entry, (text, cause, sent) in zip(clients, LAB_CLIENTS, strict=True):
        assert text in entry.message, entry.text
        got = classify(entry)
        assert got is not None and got.side is Side.CLIENT and cause in got.causes, (entry.text, got)
        if sent is not None:
            assert entry.openssl is not None and entry.openssl.alert == sent
            assert entry.openssl.alert_direction == ("received" if sent == 48 else "sent")


def test_lab_origin_log() -> None:
    origin = read_error_log(LOGS / "lab_origin.error.log")
    rules = [classify(e).rule for e in origin.entries if classify(e) is not None]  # type: ignore[union-attr]
    # /nosni, /groupname, the pool and the redirect reached ssl_reject_handshake; a curl without SNI too
    assert rules.count("handshake_rejected") == 5
    # /plain and the pool's third server sent a ClientHello to the plain-HTTP listener
    assert rules.count("tls_on_plain_port") == 2
    binary = [e for e in origin.entries if classify(e) is not None and classify(e).rule == "tls_on_plain_port"]  # type: ignore[union-attr]
    assert all(e.request is not None and e.request.startswith("\x16") for e in binary)
    assert origin.anomalies == ()


def test_capture_fixture_log() -> None:
    log = read_error_log(CAPTURES / "nginx_upstream_no_sni.error.log")
    crit = [e for e in log.entries if e.level == "crit"]
    assert [e.upstream_address for e in crit] == ["198.51.100.2:443", "198.51.100.3:443"]
    assert all(classify(e).causes[0] == "sni_missing" for e in crit)  # type: ignore[union-attr]
    assert crit[0].time == dt.datetime(2026, 11, 24, 10, 44, 14)
    # notice lines are counted, not kept; the info "closed keepalive connection" is not about TLS
    assert log.level_counts["notice"] == 13 and log.entries_not_kept == 15
    assert all(e.level != "notice" for e in log.entries)


# --- OpenSSL 1.0.2 / 1.1.x lines quoted from public issues ----------------------------------------------

QUOTED = {  # line -> (flavor, alert, direction, rule, first cause, upstream address)
    6: ("1.1.1", 40, "received", "upstream_alert_40", "sni_missing", "35.187.252.208:443"),
    8: ("1.1.1", 40, "received", "upstream_alert_40", "sni_missing", "10.244.1.7:9090"),
    10: ("1.1.1", 80, "received", "upstream_alert_80", "server_internal_error", None),
    12: ("1.1.1", None, None, "not_tls", "not_tls", None),
    14: ("1.0.2", None, None, "not_tls", "not_tls", "172.27.0.3:8000"),
    16: (None, None, None, "upstream_reset", "rst_after_clienthello", "195.201.11.86:8443"),
    17: (None, None, None, None, None, "195.201.11.86:8443"),
    19: (None, None, None, "upstream_closed", "sni_missing", None),
    21: ("1.1.1", 70, "sent", "version", "protocol_version_mismatch", None),
    23: (None, None, None, "client_cert_expired", "certificate_expired", None),
    25: (None, None, None, "client_reset", "rst_injection", None),
    27: (None, None, None, "upstream_reset", "rst_after_clienthello", "100.65.0.228:443"),
}


def test_quoted_openssl_1x_lines() -> None:
    raw = _lines("quoted_openssl_1x.error.log")
    log = parse_error_log(["\n" if line.startswith("#") else line for line in raw], "quoted")
    assert log.anomalies == () and log.lines == len(raw)
    assert {e.line for e in log.entries} == set(QUOTED)
    for entry in log.entries:
        flavor, alert, direction, rule, cause, address = QUOTED[entry.line]
        assert entry.text == raw[entry.line - 1].rstrip("\n")
        assert entry.upstream_address == address
        if flavor is None:
            assert entry.openssl is None
        else:
            assert entry.openssl is not None
            assert (entry.openssl.flavor, entry.openssl.alert, entry.openssl.alert_direction) == (flavor, alert,
                                                                                                  direction)
        got = classify(entry)
        assert (got.rule if got else None) == rule and (got.causes[0] if got else None) == cause


def test_quoted_fields() -> None:
    log = parse_error_log(_lines("quoted_openssl_1x.error.log"), "quoted")
    by_line = {e.line: e for e in log.entries}
    kong = by_line[6]
    assert kong.openssl is not None and kong.openssl.function == "ssl3_read_bytes"
    assert kong.openssl.code == 0x14094410 and kong.pid == 2636 and kong.tid == 0
    assert by_line[8].upstream == "grpcs://10.244.1.7:9090"
    old = by_line[14].openssl
    assert old is not None and old.function == "SSL23_GET_SERVER_HELLO" and old.reason == "unknown protocol"
    assert by_line[19].referrer is not None and by_line[19].referrer.startswith("https://example.com/?gclid=")
    assert by_line[19].host == "example.com"
    assert by_line[27].server == "" and by_line[27].upstream == "https://100.65.0.228:443/?delimiter=%2F"
    assert by_line[21].server == "0.0.0.0:443" and not by_line[21].to_upstream
    # the comment lines are not error-log lines: anomalies, and the entries keep the file's numbers
    assert len(log.anomalies) == 15 and all(a.kind == "not_an_error_log_line" for a in log.anomalies)


@pytest.mark.parametrize(("text", "flavor", "alert", "function"), [
    # openssl/openssl#3652 (1.1.0f s_client) and eastmaple/easytrojan#11 (curl on 1.0.2), as quoted there
    ("error:14094410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:.\\..\\openssl-1.1.0f\\ssl\\record"
     "\\rec_layer_s3.c:1399:SSL alert number 40", "1.1.1", 40, "ssl3_read_bytes"),
    ("curl: (35) error:14077410:SSL routines:SSL23_GET_SERVER_HELLO:sslv3 alert handshake failure", "1.0.2", 40,
     "SSL23_GET_SERVER_HELLO"),
    # openssl/openssl#19723 (3.0.5 s_client prints the function; nginx's ERR_error_string_n does not)
    ("0020010108000000:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:ssl/record/"
     "rec_layer_s3.c:1584:SSL alert number 40", "3.x", 40, "ssl3_read_bytes"),
])
def test_openssl_strings_from_other_programs(text: str, flavor: str, alert: int, function: str) -> None:
    err = parse_openssl_error(text)
    assert err is not None and (err.flavor, err.alert, err.function) == (flavor, alert, function)
    assert err.alert_direction == "received" and AlertDescription(err.alert) is AlertDescription.HANDSHAKE_FAILURE


def test_alert_deduced_from_reason_text_without_number() -> None:
    # 1.0.2 and some 1.1.x paths give no "SSL alert number"; the reason names the alert
    for reason, alert in (("sslv3 alert handshake failure", 40), ("tlsv1 alert unknown ca", 48),
                          ("tlsv13 alert certificate required", 116), ("tlsv1 unrecognized name", 112),
                          ("tlsv1 alert user cancelled", 90)):
        err = parse_openssl_error(f"error:00000000:SSL routines:SSL3_READ_BYTES:{reason}")
        assert err is not None and err.alert == alert and err.alert_direction == "received", reason


def test_upstream_address() -> None:
    assert upstream_address("https://[2001:db8::1]/x") == "[2001:db8::1]:443"
    assert upstream_address("https://[2001:db8::1]:8443/") == "[2001:db8::1]:8443"
    assert upstream_address("http://192.0.2.1/") == "192.0.2.1:80"
    assert upstream_address("https://backend_group/") is None
    assert upstream_address("https://51.yyy.yyy.37:8443/") is None
    assert upstream_address("uwsgi://192.0.2.1") is None


def test_cause_table_codes_are_reports() -> None:
    from tlsdoctor.evidence.nginx_logs import CAUSE_TABLE
    assert len({row.rule for row in CAUSE_TABLE}) == len(CAUSE_TABLE)
    for row in CAUSE_TABLE:
        assert row.causes and set(row.causes) <= REPORT_CAUSES, row.rule
        assert row.meaning.endswith((".", ")")) and row.source


def test_nginx_t_and_unknown_messages() -> None:
    lines = [
        'nginx: [emerg] no "ssl_certificate" is defined for the "listen ... ssl" directive in /etc/nginx/n.conf:12\n',
        "2026/11/24 10:44:14 [error] 1#1: *9 some message a future nginx writes, client: 192.0.2.7, server: x\n",
        "2026/13/40 10:44:14 [error] 1#1: *9 SSL_read() failed (SSL: error:0A000126:SSL routines::unexpected eof "
        "while reading) while reading upstream, client: 192.0.2.7, server: x\n",
        "\tcontinuation garbage\n",
    ]
    log = parse_error_log(lines, "t")
    emerg, unknown, bad_time = log.entries
    assert emerg.time is None and emerg.level == "emerg" and classify(emerg).side is Side.NGINX  # type: ignore[union-attr]
    assert classify(unknown) is None and unknown.client == "192.0.2.7" and unknown.connection_id == 9
    assert bad_time.time is None and classify(bad_time).rule == "eof"  # type: ignore[union-attr]
    assert [(a.kind, a.line) for a in log.anomalies] == [("bad_time", 3), ("not_an_error_log_line", 4)]


# --- caps -------------------------------------------------------------------------------------------------

def test_hostile_long_line_is_capped_and_reported() -> None:
    good = _lines("lab_proxy.error.log")[8]
    huge = "2026/11/24 10:44:14 [error] 1#1: *1 " + "A" * (10 * 1024 * 1024) + "\n"
    log = parse_error_log([good, huge, good], "hostile")
    assert [a.kind for a in log.anomalies] == ["line_too_long"] and log.anomalies[0].line == 2
    assert len(log.anomalies[0].text) <= 200
    assert [e.line for e in log.entries] == [1, 2, 3] and len(log.entries[1].text) <= MAX_LINE_BYTES
    # the edge reads it without holding it: the streamed line is cut, the next one intact
    stream = io.BytesIO(good.encode() + huge.encode() + good.encode())
    streamed = list(stream_lines(stream))
    assert len(streamed) == 3 and len(streamed[1]) == MAX_LINE_BYTES + 3 and streamed[2] == good.encode()
    assert parse_error_log(streamed, "s").anomalies[0].kind == "line_too_long"


def test_anomaly_cap() -> None:
    log = parse_error_log(["garbage\n"] * (MAX_ANOMALIES + 50), "g")
    assert len(log.anomalies) == MAX_ANOMALIES and log.anomalies_dropped == 50 and log.entries == ()


# --- the access log ---------------------------------------------------------------------------------------

def _formats() -> list[LogFormat]:
    return list(analyze_config(str(LOGS / "lab_proxy.nginx.conf")).log_formats)


@pytest.mark.parametrize(("name", "fmt_name"), [("lab_proxy.access.log", "diag"),
                                                ("lab_proxy.access.json.log", "diagjson"),
                                                ("lab_proxy.access.combined.log", "combined")])
def test_access_logs_round_trip(name: str, fmt_name: str) -> None:
    formats = [compile_log_format(f) for f in _formats()]
    log = read_access_log(LOGS / name, formats, name)
    raw = _lines(name)
    assert log.anomalies == () and len(log.entries) == len(raw) == 24
    for entry in log.entries:
        assert entry.format_name == fmt_name and entry.text == raw[entry.line - 1].rstrip("\n")
        assert entry.time is not None and entry.time.tzinfo is not None and entry.time.year == 2026
        assert entry.remote_addr == "127.0.0.1" and entry.status in (200, 400, 502, 504)
        # round trip: the format, filled with the parsed fields (escaped again), gives the line back
        fmt = next(f for f in formats if f.name == fmt_name)
        assert _fill(fmt.format, entry.fields, fmt.escape) == entry.text


def _fill(fmt: str, fields: dict[str, str], escape: str) -> str:
    import json

    def value(m: re.Match[str]) -> str:
        v = fields[m.group(1) or m.group(2)]
        if escape == "json":
            return json.dumps(v, ensure_ascii=False)[1:-1].replace("\\u007f", "\x7f")
        return v.replace('"', "\\x22")
    return re.sub(r"\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)", value, fmt)


def test_access_upstream_lists() -> None:
    formats = [compile_log_format(f) for f in _formats()]
    for name in ("lab_proxy.access.log", "lab_proxy.access.json.log"):
        log = read_access_log(LOGS / name, formats)
        by_path: dict[str, list[object]] = {}
        for e in log.entries:
            assert e.request is not None
            by_path.setdefault(e.request.split(" ")[1], []).append(e)
        first_pool, second_pool = by_path["/pool"]
        assert first_pool.upstream_addrs == ("127.0.0.1:44519", "127.0.0.1:44501", "127.0.0.1:44503")  # type: ignore[attr-defined]
        assert first_pool.upstream_statuses == (502, 502, 502)  # type: ignore[attr-defined]
        assert second_pool.upstream_addrs == ("failing_pool",)  # type: ignore[attr-defined]
        [redirect] = by_path["/redirect"]
        assert redirect.upstream_addrs == ("127.0.0.1:44519", "127.0.0.1:44501")  # type: ignore[attr-defined]
        assert redirect.upstream_statuses == (502, 502)  # type: ignore[attr-defined]
        [ok] = by_path["/ok"]
        assert ok.status == 200 and ok.upstream_statuses == (200,)  # type: ignore[attr-defined]
        plain = [e for e in log.entries if e.status == 400]
        assert plain and all(e.upstream_addrs == () for e in plain)
    diag = read_access_log(LOGS / "lab_proxy.access.log", formats)
    ok = next(e for e in diag.entries if e.request == "GET /ok HTTP/1.1")
    assert len(ok.upstream_connect_times) == 1 and ok.upstream_connect_times[0] is not None
    pool = next(e for e in diag.entries if e.upstream_addrs[:1] == ("127.0.0.1:44519",) and len(e.upstream_addrs) == 3)
    assert pool.upstream_connect_times == (None, None, None)


def test_access_times_agree_between_formats() -> None:
    formats = [compile_log_format(f) for f in _formats()]
    local = read_access_log(LOGS / "lab_proxy.access.log", formats).entries
    iso = read_access_log(LOGS / "lab_proxy.access.json.log", formats).entries
    for a, b in zip(local, iso, strict=True):
        assert a.request == b.request and a.time == b.time


def test_combined_format_and_the_model() -> None:
    assert compile_log_format(COMBINED_FORMAT).pattern.pattern == COMBINED.pattern.pattern
    model = compile_log_format(LogFormat("combined", COMBINED_FORMAT, "default", None))
    assert model.name == "combined" and model.variables == COMBINED.variables
    line = ('203.0.113.9 - alice [24/Nov/2026:10:44:14 -0500] "GET /a\\x22b HTTP/1.1" 502 157 "-" '
            '"Mozilla/5.0 (X11; Linux) \\x22quoted\\x22"')
    [entry] = parse_access_log([line], "c").entries
    assert entry.fields["remote_user"] == "alice" and entry.request == 'GET /a"b HTTP/1.1'
    assert entry.fields["http_user_agent"] == 'Mozilla/5.0 (X11; Linux) "quoted"'
    assert entry.time == dt.datetime(2026, 11, 24, 15, 44, 14, tzinfo=dt.UTC)
    assert entry.status == 502 and entry.upstream_addrs == ()


def test_custom_formats_braces_and_json() -> None:
    fmt = compile_log_format('${remote_addr}|$status|${upstream_addr} us=$upstream_status|$request_time', "pipes")
    [e] = parse_access_log(["192.0.2.1|502|[2001:db8::2]:443, 192.0.2.3:443 : unix:/run/u.sock"
                            " us=504, 502 : -|1.002"], "p", [fmt]).entries
    assert e.upstream_addrs == ("[2001:db8::2]:443", "192.0.2.3:443", "unix:/run/u.sock")
    assert e.upstream_statuses == (504, 502, None) and e.fields["request_time"] == "1.002"
    js = compile_log_format('{"r":"$request","ua":"$http_user_agent","s":$status}', "j", "json")
    [j] = parse_access_log(['{"r":"GET /\\"x\\" HTTP/1.1","ua":"a\\\\b \\u00e9","s":200}'], "j", [js]).entries
    assert j.request == 'GET /"x" HTTP/1.1' and j.fields["http_user_agent"] == "a\\b é" and j.status == 200
    dup = compile_log_format("$status $status", "dup")
    assert dup.variables == ("status", "status__2")


def test_unmatched_access_lines_are_anomalies() -> None:
    lines = [_lines("lab_proxy.access.combined.log")[0], "not an access line\n", "\n"]
    log = parse_access_log(lines, "a")
    assert [e.line for e in log.entries] == [1]
    assert [(a.kind, a.line) for a in log.anomalies] == [("not_an_access_log_line", 2)] and log.lines == 3


def test_last_matching_format_first() -> None:
    formats = [compile_log_format(f) for f in _formats()]
    lines = _lines("lab_proxy.access.json.log") + _lines("lab_proxy.access.log")
    log = parse_access_log(lines, "mixed", formats)
    assert [e.format_name for e in log.entries] == ["diagjson"] * 24 + ["diag"] * 24


# --- recognisers ------------------------------------------------------------------------------------------

def _head(path: Path) -> list[str]:
    return path.read_bytes().decode("latin-1").split("\n")[:40]  # lines as a file reader cuts them


def test_recognisers(tmp_path: Path) -> None:
    from tests.lab.netlab import CertFactory

    diag = [compile_log_format(f) for f in _formats()]
    issued = CertFactory(tmp_path).leaf("origin.test")
    pem = _head(issued.chain)
    key = _head(issued.key)
    keylog = ["CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48, "# SSL/TLS secrets log file"]
    samples = {
        "error": [_head(LOGS / "lab_proxy.error.log"), _head(LOGS / "lab_origin.error.log"),
                  [t for t in _head(LOGS / "quoted_openssl_1x.error.log") if not t.startswith("#")],  # our notes
                  _head(CAPTURES / "nginx_upstream_no_sni.error.log")],
        "access": [_head(LOGS / "lab_proxy.access.log"), _head(LOGS / "lab_proxy.access.json.log"),
                   _head(LOGS / "lab_proxy.access.combined.log"), _head(CAPTURES / "nginx_upstream_no_sni.access.log")],
        "other": [_head(CAPTURES / "tls12_ok.pcap"), pem, key, keylog, _head(LOGS / "lab_proxy.nginx.conf"),
                  _head(CAPTURES / "nginx_upstream_no_sni.nginx.conf"), [], ["", "  "]],
    }
    no_sni_format = compile_log_format(analyze_config(str(CAPTURES / "nginx_upstream_no_sni.nginx.conf"))
                                       .log_format("upstreamlog"))
    formats = [*diag, no_sni_format]
    for kind, heads in samples.items():
        for head in heads:
            assert looks_like_error_log(head) is (kind == "error"), head[:2]
            assert looks_like_access_log(head, formats) is (kind == "access"), head[:2]
    assert pem[0] == "-----BEGIN CERTIFICATE-----" and key[0] == "-----BEGIN PRIVATE KEY-----"
    # with only the built-in format, the custom-format access logs still start like combined lines
    assert looks_like_access_log(_head(LOGS / "lab_proxy.access.combined.log"))


# --- Hypothesis -------------------------------------------------------------------------------------------

_REAL = _lines("lab_proxy.error.log") + _lines("quoted_openssl_1x.error.log")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=300), st.binary(max_size=300),
                          st.builds(lambda i, cut: _REAL[i % len(_REAL)][:cut], st.integers(0, 10_000),
                                    st.integers(0, 600))), max_size=30))
def test_arbitrary_lines_never_raise(lines: list[str | bytes]) -> None:
    # one input line per element: a newline inside an element would make two lines of a file
    lines = [ln.replace(b"\n", b" ") if isinstance(ln, bytes) else ln.replace("\n", " ") for ln in lines]
    log = parse_error_log(lines, "fuzz")
    assert log.lines == len(lines)
    for entry in log.entries:
        assert 1 <= entry.line <= len(lines)
        raw = lines[entry.line - 1]
        text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
        assert text.startswith(entry.text[:50])
        classify(entry)
    for anomaly in log.anomalies:
        assert 1 <= anomaly.line <= len(lines)
    access = parse_access_log(lines, "fuzz", [COMBINED])
    assert access.lines == len(lines) and all(1 <= e.line <= len(lines) for e in access.entries)
    looks_like_error_log(lines)
    looks_like_access_log(lines)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(_REAL) - 1), st.integers(0, 2000))
def test_cut_real_lines_keep_their_numbers(index: int, cut: int) -> None:
    whole = _REAL[index]
    log = parse_error_log(["\n", whole[:cut] + "\n", whole], "cut")
    assert log.lines == 3
    assert all(e.line in (2, 3) for e in log.entries)
    if not whole.startswith("#"):
        assert any(e.line == 3 and e.text == whole.rstrip("\n") for e in log.entries) or \
            log.entries_not_kept >= 1


def test_a_variable_whose_name_begins_with_a_digit_is_read_not_fatal(tmp_path: Path) -> None:
    # nginx reads "$2x" in a log_format as a variable named "2x" (and refuses it at load time: unknown);
    # a regular expression's group may not be named so. The format must still compile, its lines still parse,
    # and diagnose must still read the rest. Found by mutating the committed nginx configuration (one letter
    # of $remote_user turned into a digit).
    fmt = compile_log_format('$remote_addr - $2emote_user [$time_local] "$request" $status $1', "odd")
    entry = parse_access_line('203.0.113.7 - bob [24/Nov/2026:09:35:33 +0000] "GET / HTTP/1.1" 502 x', fmt)
    assert entry is not None and entry.remote_addr == "203.0.113.7" and entry.status == 502
    assert fmt.variables == ("remote_addr", "2emote_user", "time_local", "request", "status", "1")
    stem = "nginx_upstream_no_sni"
    conf = (CAPTURES / f"{stem}.nginx.conf").read_text().replace("$remote_user", "$2emote_user")
    assert "$2emote_user" in conf
    (tmp_path / f"{stem}.nginx.conf").write_text(conf)
    from tlsdoctor.investigate import investigate
    from tlsdoctor.report.json import report_to_json

    report = report_to_json(investigate([str(tmp_path / f"{stem}.nginx.conf"), str(CAPTURES / f"{stem}.pcap"),
                                         str(CAPTURES / f"{stem}.access.log")]))
    assert [f["cause"] for f in report["findings"]] == ["sni_missing"]
