"""nginx error logs and access logs: lines in, typed entries and anomalies out, and what each error means.

Theory of operation. The core is sans-IO: ``parse_error_log(lines, source)`` and ``parse_access_log(lines,
source, formats)`` take an iterable of lines (str or bytes, as a file yields them) and return one frozen
record; only ``read_error_log`` / ``read_access_log`` at the edge open a file, and they stream it line by
line, never reading a line longer than ``MAX_LINE_BYTES`` into memory.

Error log. nginx writes (src/core/ngx_log.c ``ngx_log_error_core``)::

    2026/11/24 10:44:14 [error] 10870#10870: *3 <message>[ (<errno>: <strerror>)][ while <action>][, client: ...]

The time is local time without a zone, so it stays a naive datetime. ``*3`` is the connection number
(absent for process-level lines). ``while <action>`` comes from the connection's log action ("SSL
handshaking to upstream", "connecting to upstream", "SSL handshaking", "reading client request headers").
The context after it is appended by src/http/ngx_http_request.c ``ngx_http_log_error_handler``, in this
order: ``client``, ``server``, ``request``, ``subrequest``, ``upstream``, ``host``, ``referrer``. OpenSSL's
part comes from src/event/ngx_event_openssl.c ``ngx_ssl_error``: `` (SSL: error:<code>:<lib>:<func>:<reason>
[:<data>])`` for each error in OpenSSL's queue, where data is e.g. ``SSL alert number 40``. Which level an
SSL failure gets is ``ngx_ssl_connection_error``'s choice: the handshake failures it lists go to ``info``
for connections from clients (``c->log_error = NGX_ERROR_INFO``) and to ``error`` for upstream connections
(``NGX_ERROR_ERR``, src/http/ngx_http_upstream.c); anything not in its list is ``crit`` (that is why alert
112 from an upstream is logged as ``[crit]`` while alert 40 is ``[error]``).

Three OpenSSL error-string shapes exist (``OpenSSLError.flavor``): 1.0.2 ``error:14094410:SSL
routines:SSL3_READ_BYTES:...`` (upper-case function names), 1.1.x ``error:14094410:SSL
routines:ssl3_read_bytes:...`` (lower case), and 3.x ``error:0A000410:SSL routines::...`` (no function,
another packing of the code: see ``tlsdoctor.explain.decode_openssl_code``). An SSL reason of 1000 + N
("sslv3 alert handshake failure", "tlsv1 alert unknown ca", "tlsv13 alert certificate required", with
``SSL alert number N`` added by ssl/record/rec_layer_s3.c) means alert N was RECEIVED from the peer. A
local reason ("no shared cipher", "unsupported protocol") means OpenSSL refused and SENT an alert itself.

``CAUSE_TABLE`` (below) maps each message shape to the cause codes of shared/REPORT.md, ranked, with who
failed: ``upstream`` (nginx was the TLS client, "to upstream"), ``client`` (nginx was the TLS server) or
``nginx`` (its own configuration). ``classify(entry)`` returns the first row that matches, or None for a
message the table does not know (never an exception).

Access log. ``compile_log_format`` turns a ``log_format`` string into a regular expression with one named
group per variable (``$var`` or ``${var}``), each matched lazily up to the next literal; with the default
escaping nginx writes ``"`` as ``\\x22`` inside values, with ``escape=json`` as ``\\"``, and the groups
respect that. ``$upstream_addr`` / ``$upstream_status`` / ``$upstream_connect_time`` are lists: ``, ``
between the servers tried for one request, `` : `` between internal redirects, ``-`` for none
(src/http/ngx_http_upstream.c ``ngx_http_upstream_addr_variable``); the entry flattens them in order.

Caps (named, reported when hit): a line longer than ``MAX_LINE_BYTES`` is cut (anomaly ``line_too_long``);
at most ``MAX_ERROR_ENTRIES`` / ``MAX_ACCESS_ENTRIES`` entries are kept (anomaly ``entries_capped``, the
rest are counted); at most ``MAX_ANOMALIES`` anomalies are kept (the rest are counted). The error log keeps
only the entries that matter to a TLS diagnosis, ``KEPT_LEVELS`` (error and worse) plus lower-level lines
whose message ``_RE_TLS_RELEVANT`` finds (SSL, handshakes, certificates, upstreams, plain HTTP on an HTTPS
port); the others are only counted per level.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

from tlsdoctor.explain import decode_openssl_code
from tlsdoctor.tls.alerts import lookup_name

MAX_LINE_BYTES: Final = 16 * 1024
"""A longer line is cut to this many bytes (characters, for str input) and reported as ``line_too_long``."""
MAX_ERROR_ENTRIES: Final = 200_000
MAX_ACCESS_ENTRIES: Final = 200_000
MAX_ANOMALIES: Final = 1_000
ANOMALY_TEXT_CHARS: Final = 200
"""An anomaly carries the start of the offending line, not all of it."""

LEVELS: Final = ("debug", "info", "notice", "warn", "error", "crit", "alert", "emerg")
KEPT_LEVELS: Final = frozenset({"error", "crit", "alert", "emerg"})
_RE_TLS_RELEVANT: Final = re.compile(
    r"SSL|handshak|certificate|upstream|plain HTTP|client sent invalid method|client timed out|"
    r"client prematurely closed", re.IGNORECASE)


class Side(enum.StrEnum):
    """Who failed, as nginx saw it."""

    UPSTREAM = "upstream"  # nginx was the TLS client; the upstream (or the path to it) failed or refused
    CLIENT = "client"  # nginx was the TLS server; its client failed or refused
    NGINX = "nginx"  # nginx's own configuration


# --- records ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LogAnomaly:
    kind: str
    """``not_an_error_log_line``, ``not_an_access_log_line``, ``line_too_long``, ``bad_time``,
    ``entries_capped``."""
    source: str
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class OpenSSLError:
    """One ``error:<code>:<library>:<function>:<reason>[:<data>]`` of OpenSSL's error queue."""

    text: str
    code: int | None
    library: str
    function: str
    """Empty in OpenSSL 3.x strings."""
    reason: str
    data: str
    """What OpenSSL added after the reason, e.g. ``SSL alert number 40``."""
    alert: int | None
    alert_direction: str | None
    """``received`` (a reason of 1000 + N, "sslv3/tlsv1/tlsv13 alert ...", "SSL alert number N": the PEER
    sent alert N) or ``sent`` (a local reason after which OpenSSL sends a known alert itself)."""
    flavor: str
    """``1.0.2``, ``1.1.1`` (1.1.0 looks the same), ``3.x`` or ``unknown``."""


@dataclass(frozen=True, slots=True)
class ErrorLogEntry:
    line: int
    text: str
    time: dt.datetime | None
    """As written: local time, no zone (naive). None for ``nginx: [emerg] ...`` lines of ``nginx -t``."""
    level: str
    pid: int | None
    tid: int | None
    connection_id: int | None
    message: str
    """Everything before ``, client:`` (the message, errno and ``while`` part)."""
    client: str | None
    server: str | None
    request: str | None
    upstream: str | None
    """The upstream URL as logged, e.g. ``https://198.51.100.2:443/``."""
    host: str | None
    referrer: str | None
    upstream_address: str | None
    """``ip:port`` (``[v6]:port``) from ``upstream`` when its host is an address literal."""
    while_: str | None
    to_upstream: bool
    openssl: OpenSSLError | None
    """The last error of OpenSSL's queue (the one nginx's level decision and our table look at)."""
    openssl_errors: tuple[OpenSSLError, ...]
    errno: int | None
    errno_text: str | None
    verify_code: int | None
    """X.509 verification error, from ``(10:certificate has expired)``."""
    verify_text: str | None


@dataclass(frozen=True, slots=True)
class ErrorLog:
    source: str
    entries: tuple[ErrorLogEntry, ...]
    anomalies: tuple[LogAnomaly, ...]
    lines: int
    """Lines read (blank ones included)."""
    level_counts: dict[str, int]
    """Entries parsed per level, kept or not."""
    entries_not_kept: int
    """Parsed entries below ``KEPT_LEVELS`` that are not about TLS or upstreams (counted only)."""
    entries_dropped: int
    """Entries over ``MAX_ERROR_ENTRIES``."""
    anomalies_dropped: int


@dataclass(frozen=True, slots=True)
class LogClassification:
    rule: str
    """The row of ``CAUSE_TABLE`` that matched."""
    causes: tuple[str, ...]
    """Cause codes of shared/REPORT.md, most likely first."""
    side: Side
    meaning: str
    alert: int | None
    source: str
    """Where nginx writes this message."""


# --- small parsers ---------------------------------------------------------------------------------

_RE_ERROR_LINE: Final = re.compile(
    r"(?P<date>\d{4})/(?P<mon>\d\d)/(?P<day>\d\d) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d) "
    r"\[(?P<level>debug|info|notice|warn|error|crit|alert|emerg)\] (?P<pid>\d+)#(?P<tid>\d+): "
    r"(?:\*(?P<cid>\d+) )?(?P<rest>.*)", re.DOTALL)
_RE_NGINX_T_LINE: Final = re.compile(r"nginx: \[(?P<level>debug|info|notice|warn|error|crit|alert|emerg)\] "
                                     r"(?P<rest>.*)", re.DOTALL)
# ngx_http_log_error_handler's order (src/http/ngx_http_request.c); the stream module adds fewer.
_CONTEXT_KEYS: Final = (("client", False), ("server", False), ("request", True), ("subrequest", True),
                        ("upstream", True), ("host", True), ("referrer", True))
_RE_ERRNO: Final = re.compile(r" \((?P<n>\d{1,5}): (?P<text>[^()]*)\)")
_RE_VERIFY: Final = re.compile(r"verify error: \((?P<n>\d{1,3}):(?P<text>[^()]*)\)")
_RE_SSL_PART: Final = re.compile(r"\(SSL:(?P<body>.*)\)")
_RE_SSL_ERROR: Final = re.compile(r"error:(?P<code>[0-9A-Fa-f]{1,8}):(?P<lib>[^:]*):(?P<func>[^:]*):(?P<reason>[^:]*)"
                                  r"(?::(?P<data>.*?))?(?= error:[0-9A-Fa-f]{1,8}:|$)")
_RE_ALERT_NUMBER: Final = re.compile(r"SSL alert number (\d{1,3})")
_RE_ALERT_REASON: Final = re.compile(r"^(?:sslv3|tlsv1|tlsv13) (?:alert )?(?P<name>[a-z ]+)$")

# Reasons after which OpenSSL SENDS a known alert itself (ssl/statem/*.c SSLfatal(s, SSL_AD_..., SSL_R_...)).
_SENT_ALERTS: Final[dict[str, int]] = {
    "no shared cipher": 40,  # statem_srvr.c tls_post_process_client_hello
    "unsupported protocol": 70,  # statem_lib.c ssl_choose_server_version
    "version too low": 70,
    "version too high": 70,
    "bad key share": 47,  # extensions_srvr.c tls_parse_ctos_key_share
    "no suitable key share": 40,
    "no suitable signature algorithm": 40,
}


def parse_openssl_error(text: str) -> OpenSSLError | None:
    """One OpenSSL error string (``error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number
    40``), or None when ``text`` has none."""
    found = parse_openssl_errors(text)
    return found[-1] if found else None


def parse_openssl_errors(text: str) -> tuple[OpenSSLError, ...]:
    """Every ``error:...`` of ``text``, in order (nginx separates the queue's errors by a space)."""
    out = []
    for m in _RE_SSL_ERROR.finditer(text.strip()):
        out.append(_openssl_error(m))
    return tuple(out)


def _openssl_error(m: re.Match[str]) -> OpenSSLError:
    code = int(m.group("code"), 16)
    func, reason, data = m.group("func"), m.group("reason").strip(), (m.group("data") or "").strip()
    decoded = decode_openssl_code(code)
    if decoded.packing == "3.x" or (not func and code >> 24 != 0x14):
        flavor = "3.x"
    elif func and func == func.upper() and any(c.isalpha() for c in func):
        flavor = "1.0.2"
    elif func:
        flavor = "1.1.1"
    else:
        flavor = "unknown"
    alert: int | None = decoded.alert
    direction: str | None = "received" if alert is not None else None
    number = _RE_ALERT_NUMBER.search(data)
    if number is not None and int(number.group(1)) <= 255:
        alert, direction = int(number.group(1)), "received"
    if alert is None:
        named = _RE_ALERT_REASON.match(reason.lower())
        if named is not None:
            name = named.group("name").replace("cancelled", "canceled")
            info = lookup_name(name)
            if info is not None:
                alert, direction = info.code, "received"
    if alert is None and reason.lower() in _SENT_ALERTS:
        alert, direction = _SENT_ALERTS[reason.lower()], "sent"
    return OpenSSLError(text=m.group(0), code=code, library=m.group("lib"), function=func, reason=reason,
                        data=data, alert=alert, alert_direction=direction, flavor=flavor)


_DEFAULT_PORTS: Final = {"https": 443, "http": 80, "grpcs": 443, "grpc": 80, "uwsgi": None, "suwsgi": None}


def upstream_address(url: str) -> str | None:
    """``ip:port`` of an upstream URL whose host is an address literal (``https://[2001:db8::1]/`` ->
    ``[2001:db8::1]:443``); None for a name (an upstream group, a DNS name, a redacted ``xxx``)."""
    m = re.match(r"(?P<scheme>[a-z]+)://(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^/:?#\s]+))(?::(?P<port>\d{1,5}))?",
                 url)
    if m is None:
        return None
    port = int(m.group("port")) if m.group("port") else _DEFAULT_PORTS.get(m.group("scheme"))
    if port is None or port > 65535:
        return None
    if m.group("v6") is not None:
        try:
            return f"[{ipaddress.IPv6Address(m.group('v6'))}]:{port}"
        except ValueError:
            return None
    try:
        return f"{ipaddress.IPv4Address(m.group('host'))}:{port}"
    except ValueError:
        return None


def _split_context(rest: str) -> tuple[str, dict[str, str]]:
    """Split ``message, client: a, server: b, request: "..."`` at the context keys, in nginx's order."""
    start = rest.find(", client: ")
    if start < 0:
        return rest, {}
    message, tail = rest[:start], rest[start:]
    marks: list[tuple[int, int, str, bool]] = []
    pos = 0
    for key, quoted in _CONTEXT_KEYS:
        marker = f", {key}: " + ('"' if quoted else "")
        at = tail.find(marker, pos)
        if at >= 0:
            marks.append((at, at + len(marker), key, quoted))
            pos = at + len(marker)
    context: dict[str, str] = {}
    for i, (_at, value_start, key, quoted) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else len(tail)
        value = tail[value_start:end]
        if quoted and value.endswith('"'):
            value = value[:-1]
        context[key] = value
    return message, context


def _decode(raw: str | bytes) -> str:
    return raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw


def _strip_eol(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


class _Anomalies:
    def __init__(self, source: str) -> None:
        self.source, self.kept, self.dropped = source, list[LogAnomaly](), 0

    def add(self, kind: str, line: int, text: str) -> None:
        if len(self.kept) < MAX_ANOMALIES:
            self.kept.append(LogAnomaly(kind, self.source, line, text[:ANOMALY_TEXT_CHARS]))
        else:
            self.dropped += 1


def _capped(lines: Iterable[str | bytes], anomalies: _Anomalies) -> Iterator[tuple[int, str]]:
    """Number the lines from 1, decode them, cut each at ``MAX_LINE_BYTES`` (reported), drop the newline."""
    for number, raw in enumerate(lines, 1):
        cut = len(raw) > MAX_LINE_BYTES + 2  # + "\r\n"
        text = _decode(raw[:MAX_LINE_BYTES] if cut else raw)
        text = _strip_eol(text).removesuffix("\r")
        if cut:
            anomalies.add("line_too_long", number, f"{len(raw)} > {MAX_LINE_BYTES}: {text}")
        yield number, text


# --- the error log ---------------------------------------------------------------------------------

def parse_error_line(text: str, line: int = 1) -> ErrorLogEntry | None:
    """One error-log line (without its newline), or None when it is not one."""
    m = _RE_ERROR_LINE.fullmatch(text)
    time: dt.datetime | None = None
    if m is not None:
        level, rest = m.group("level"), m.group("rest")
        pid, tid = int(m.group("pid")), int(m.group("tid"))
        cid = int(m.group("cid")) if m.group("cid") else None
        try:
            time = dt.datetime(int(m.group("date")), int(m.group("mon")), int(m.group("day")), int(m.group("h")),
                               int(m.group("m")), int(m.group("s")))
        except ValueError:
            time = None
    else:
        t = _RE_NGINX_T_LINE.fullmatch(text)
        if t is None:
            return None
        level, rest, pid, tid, cid = t.group("level"), t.group("rest"), None, None, None
    message, context = _split_context(rest)
    while_ = None
    head = message
    w = message.rfind(" while ")
    if w >= 0:
        while_, head = message[w + 7:].strip() or None, message[:w]
    errnos = list(_RE_ERRNO.finditer(head))
    errno_m = errnos[-1] if errnos else None  # the last one: nginx appends the errno right after the message
    verify = _RE_VERIFY.search(head)
    ssl_part = _RE_SSL_PART.search(head)
    errors = parse_openssl_errors(ssl_part.group("body")) if ssl_part is not None else ()
    upstream = context.get("upstream")
    return ErrorLogEntry(
        line=line, text=text, time=time, level=level, pid=pid, tid=tid, connection_id=cid, message=message,
        client=context.get("client"), server=context.get("server"), request=context.get("request"),
        upstream=upstream, host=context.get("host"), referrer=context.get("referrer"),
        upstream_address=upstream_address(upstream) if upstream else None, while_=while_,
        to_upstream=bool(while_ and while_.endswith("upstream")) or (while_ is None and upstream is not None),
        openssl=errors[-1] if errors else None, openssl_errors=errors,
        errno=int(errno_m.group("n")) if errno_m is not None else None,
        errno_text=errno_m.group("text") if errno_m is not None else None,
        verify_code=int(verify.group("n")) if verify is not None else None,
        verify_text=verify.group("text") if verify is not None else None)


def _kept(entry: ErrorLogEntry) -> bool:
    """The retention rule: error and worse, plus lower-level lines about TLS or upstreams."""
    return entry.level in KEPT_LEVELS or _RE_TLS_RELEVANT.search(entry.message) is not None


def parse_error_log(lines: Iterable[str | bytes], source: str) -> ErrorLog:
    """Parse an nginx error log; never raises on its content (see the module docstring for the caps)."""
    anomalies = _Anomalies(source)
    entries: list[ErrorLogEntry] = []
    counts: dict[str, int] = {}
    not_kept = dropped = total = 0
    for number, text in _capped(lines, anomalies):
        total = number
        if not text.strip():
            continue
        entry = parse_error_line(text, number)
        if entry is None:
            anomalies.add("not_an_error_log_line", number, text)
            continue
        if entry.time is None and entry.pid is not None:
            anomalies.add("bad_time", number, text)
        counts[entry.level] = counts.get(entry.level, 0) + 1
        if not _kept(entry):
            not_kept += 1
        elif len(entries) < MAX_ERROR_ENTRIES:
            entries.append(entry)
        else:
            if dropped == 0:
                anomalies.add("entries_capped", number, f"more than {MAX_ERROR_ENTRIES} entries; the rest counted")
            dropped += 1
    return ErrorLog(source=source, entries=tuple(entries), anomalies=tuple(anomalies.kept), lines=total,
                    level_counts=counts, entries_not_kept=not_kept, entries_dropped=dropped,
                    anomalies_dropped=anomalies.dropped)


def stream_lines(stream: BinaryIO) -> Iterator[bytes]:
    """A binary stream's lines; a line longer than ``MAX_LINE_BYTES`` yields its first ``MAX_LINE_BYTES``
    + 3 bytes (so that it is seen as too long) and the rest is skipped without being held in memory."""
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 3)
        if not chunk:
            return
        if len(chunk) == MAX_LINE_BYTES + 3 and not chunk.endswith(b"\n"):
            while True:  # skip to the end of this line
                more = stream.readline(1 << 16)
                if not more or more.endswith(b"\n"):
                    break
        yield chunk


def read_error_log(path: str | Path, source: str | None = None) -> ErrorLog:
    """The edge: stream an error-log file through ``parse_error_log``."""
    with open(path, "rb") as f:
        return parse_error_log(stream_lines(f), source if source is not None else str(path))


# --- the cause table --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CauseRow:
    rule: str
    pattern: str
    """A regular expression searched in the entry's message (before ``, client:``)."""
    side: Side | None
    """Who failed; None: the peer of that connection (the upstream for "to upstream", else the client)."""
    causes: tuple[str, ...]
    meaning: str
    source: str
    only_side: Side | None = None
    """Match only when the peer is this side."""
    alerts: frozenset[int] | None = None
    """Match only when OpenSSL reports one of these alerts RECEIVED (an empty set: any received alert)."""
    reasons: str | None = None
    """A regular expression the OpenSSL reason must match."""
    errnos: frozenset[int] | None = None
    verify_codes: frozenset[int] | None = None
    request: str | None = None
    """A regular expression the logged request must match."""
    while_: str | None = None
    """A regular expression the ``while ...`` action must match (what nginx was doing)."""
    compiled: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)


_EVT: Final = "src/event/ngx_event_openssl.c"
_UPS: Final = "src/http/ngx_http_upstream.c"
_REQ: Final = "src/http/ngx_http_request.c"
_CONN: Final = "src/event/ngx_event_connect.c / src/http/ngx_http_upstream.c"
_U, _C, _N = Side.UPSTREAM, Side.CLIENT, Side.NGINX
_HANDSHAKE: Final = r"SSL_(?:do_handshake|read|write|shutdown)\(\) failed"
_CERT_ALERTS: Final = frozenset({42, 43, 44, 46, 48, 49})
_SSL_HANDSHAKING: Final = r"^SSL handshaking"


def _row(rule: str, pattern: str, side: Side | None, causes: tuple[str, ...], meaning: str, source: str,
         **conditions: object) -> CauseRow:
    row = CauseRow(rule, pattern, side, causes, meaning, source, **conditions)  # type: ignore[arg-type]
    patterns = [re.compile(pattern)]
    if row.reasons is not None:
        patterns.append(re.compile(row.reasons, re.IGNORECASE))
    if row.request is not None:
        patterns.append(re.compile(row.request, re.DOTALL))
    if row.while_ is not None:
        patterns.append(re.compile(row.while_))
    object.__setattr__(row, "compiled", tuple(patterns))
    return row


# The one table: nginx message shape -> cause codes (shared/REPORT.md), ranked; first matching row wins, so
# the specific rows (an alert, a reason, an errno) come before the generic ones. "Side" is who failed.
# ``explain.py`` holds the human explanation of the same messages; this table is what ``diagnose`` needs to
# attach a log line to a finding.
CAUSE_TABLE: Final[tuple[CauseRow, ...]] = (
    # -- an alert RECEIVED during or right after the handshake (ngx_ssl_handshake -> ngx_ssl_connection_error;
    #    in TLS 1.3 a client-certificate refusal arrives after the client's Finished, so on SSL_read()).
    #    nginx as the client ("to upstream"): the upstream refused nginx's ClientHello or certificate.
    _row("upstream_alert_40", _HANDSHAKE, None,
         ("sni_missing", "client_certificate_required", "no_shared_cipher", "no_shared_group",
          "protocol_version_mismatch"),
         "The upstream refused nginx's ClientHello with alert 40 handshake_failure: most often it requires SNI "
         "(proxy_ssl_server_name off), else a client certificate, a cipher, group or version in common.",
         _EVT, only_side=_U, alerts=frozenset({40})),
    _row("upstream_alert_112", _HANDSHAKE, None, ("sni_missing", "sni_not_hostname"),
         "The upstream has no virtual host for the SNI nginx sent (none, or the upstream group's name): alert "
         "112 unrecognized_name, e.g. nginx's ssl_reject_handshake.", _EVT, only_side=_U, alerts=frozenset({112})),
    _row("upstream_alert_116", _HANDSHAKE, None, ("client_certificate_required",),
         "The upstream requires a client certificate (TLS 1.3 alert 116) and nginx sent none: "
         "proxy_ssl_certificate is missing.", _EVT, only_side=_U, alerts=frozenset({116})),
    _row("upstream_alert_45", _HANDSHAKE, None, ("client_certificate_required", "certificate_expired"),
         "The upstream rejected nginx's client certificate as expired (alert 45).", _EVT, only_side=_U,
         alerts=frozenset({45})),
    _row("upstream_alert_certificate", _HANDSHAKE, None, ("client_certificate_required", "certificate_untrusted"),
         "The upstream rejected nginx's client certificate (alert 42-49: bad, unsupported, revoked, unknown, "
         "unknown CA, access denied): proxy_ssl_certificate is not one it accepts.", _EVT, only_side=_U,
         alerts=_CERT_ALERTS),
    _row("upstream_alert_70", _HANDSHAKE, None, ("protocol_version_mismatch",),
         "The upstream shares no TLS version with nginx (alert 70): compare proxy_ssl_protocols (nginx 1.22's "
         "default has no TLSv1.3) with the upstream's versions.", _EVT, only_side=_U, alerts=frozenset({70, 86})),
    _row("upstream_alert_71", _HANDSHAKE, None, ("no_shared_cipher", "protocol_version_mismatch"),
         "The upstream finds nginx's offer too weak (alert 71 insufficient_security).", _EVT, only_side=_U,
         alerts=frozenset({71})),
    _row("upstream_alert_80", _HANDSHAKE, None, ("server_internal_error",),
         "The upstream failed on its own side (alert 80 internal_error): its key, certificate or TLS library.",
         _EVT, only_side=_U, alerts=frozenset({80})),
    #    nginx as the server: its client refused nginx's certificate or version.
    _row("client_alert_45", _HANDSHAKE, None, ("certificate_expired", "certificate_not_yet_valid"),
         "The client rejected nginx's certificate as expired or not yet valid (alert 45).", _EVT, only_side=_C,
         alerts=frozenset({45})),
    _row("client_alert_48", _HANDSHAKE, None, ("certificate_untrusted", "certificate_chain_incomplete",
                                               "tls_interception"),
         "The client does not trust nginx's certificate chain (alert 48 unknown_ca): a private CA, a "
         "self-signed certificate, or ssl_certificate without the intermediate.", _EVT, only_side=_C,
         alerts=frozenset({48})),
    _row("client_alert_certificate", _HANDSHAKE, None, ("certificate_untrusted", "certificate_name_mismatch",
                                                        "certificate_chain_incomplete"),
         "The client rejected nginx's certificate (alert 42/43/44/46/49).", _EVT, only_side=_C,
         alerts=_CERT_ALERTS),
    _row("client_alert_70", _HANDSHAKE, None, ("protocol_version_mismatch",),
         "The client shares no TLS version with nginx (alert 70).", _EVT, only_side=_C, alerts=frozenset({70, 86})),
    _row("alert_other", _HANDSHAKE, None, ("alert_unexplained",),
         "The peer sent a fatal alert this table does not tie to a cause; the alert names the candidates.",
         _EVT, alerts=frozenset()),
    # -- a local OpenSSL reason: OpenSSL refused what the peer sent (and sent an alert itself)
    _row("not_tls", _HANDSHAKE, None, ("not_tls",),
         "The peer's answer is not TLS: a plain-HTTP port behind proxy_pass https:// (or a client speaking "
         "plain HTTP on a TLS port). 'wrong version number' (1.1.1/3.x), 'unknown protocol' (1.0.2).", _EVT,
         reasons=r"^(?:wrong version number|unknown protocol|http request|https proxy request|"
                 r"packet length too long|record layer failure)$"),
    _row("version", _HANDSHAKE, None, ("protocol_version_mismatch",),
         "No TLS version in common: the peer offered only versions this side refuses.", _EVT,
         reasons=r"^(?:unsupported protocol|version too low|version too high|no protocols available|"
                 r"unknown ssl version|wrong ssl version|tlsv1 alert inappropriate fallback)$"),
    _row("cipher", _HANDSHAKE, None, ("no_shared_cipher",),
         "No cipher suite in common (ssl_ciphers / proxy_ssl_ciphers, or the certificate's key type).", _EVT,
         reasons=r"^(?:no shared cipher|no ciphers available|no cipher match)$"),
    _row("group", _HANDSHAKE, None, ("no_shared_group",),
         "No key-exchange group or signature algorithm in common (ssl_ecdh_curve, key types).", _EVT,
         reasons=r"^(?:no suitable key share|no shared groups|no suitable signature algorithm|"
                 r"no shared signature algorithms|wrong curve|unsupported elliptic curve)$"),
    _row("bad_key_share", _HANDSHAKE, None, ("alert_unexplained", "no_shared_group"),
         "The peer sent a malformed key share (OpenSSL 3 'bad key share', logged at crit by nginx before "
         "1.23.x): typically a scanner or a broken TLS stack, not nginx's configuration.", _EVT,
         reasons=r"^bad key share$"),
    _row("verify_failed", _HANDSHAKE, None, ("certificate_untrusted", "certificate_chain_incomplete"),
         "OpenSSL itself failed the certificate check (a verify mode that aborts the handshake).", _EVT,
         reasons=r"^certificate verify failed$"),
    _row("eof", _HANDSHAKE, None, ("sni_missing", "handshake_stalled"),
         "The peer closed the connection in the middle of the handshake without an alert (OpenSSL 3).", _EVT,
         reasons=r"^unexpected eof while reading$"),
    _row("bad_record_mac", _HANDSHAKE, None, ("tls_interception", "alert_unexplained"),
         "A record failed to authenticate: a box rewriting the stream, or mismatched keys.", _EVT,
         reasons=r"^(?:decryption failed or bad record mac|bad record mac|block cipher pad is wrong)$"),
    # -- resets and closes during the handshake (ngx_ssl_handshake: "peer closed connection in SSL handshake";
    #    nginx < 1.19 adds the errno to it, newer ones log SSL_do_handshake() failed (104: ...))
    _row("upstream_reset", r"peer closed connection in SSL handshake|SSL_do_handshake\(\) failed|"
         r"recv\(\) failed|SSL_read\(\) failed", None, ("rst_after_clienthello", "rst_injection"),
         "The upstream, or a box on the path forging its packets, reset the connection during the handshake "
         "(104 ECONNRESET).", _EVT, only_side=_U, errnos=frozenset({104}), while_=_SSL_HANDSHAKING),
    _row("client_reset", r"peer closed connection in SSL handshake|SSL_do_handshake\(\) failed|"
         r"recv\(\) failed", None, ("rst_injection", "handshake_stalled"),
         "The client, or a box on the path, reset the connection during the handshake (health checks and "
         "scanners do this).", _EVT, only_side=_C, errnos=frozenset({104}), while_=_SSL_HANDSHAKING),
    _row("upstream_closed", r"peer closed connection in SSL handshake", None, ("sni_missing", "handshake_stalled"),
         "The upstream closed (FIN) during the handshake without an alert: some servers do this when SNI is "
         "missing or nothing in the ClientHello suits them.", _EVT, only_side=_U),
    _row("client_closed", r"peer closed connection in SSL handshake|client closed connection while SSL handshak",
         None, ("handshake_stalled",),
         "The client closed during the handshake without an alert (a port check, a scanner, or a client that "
         "gave up).", _EVT, only_side=_C),
    # -- timeouts (ngx_http_upstream_process_header / ngx_http_upstream_ssl_handshake_handler; for clients,
    #    ngx_http_ssl_handshake_handler with client_header_timeout)
    _row("upstream_handshake_timeout", r"upstream timed out", None,
         ("clienthello_unanswered", "middlebox_clienthello_blackhole", "clienthello_fragment_lost"),
         "The upstream accepted TCP and never answered the ClientHello within proxy_connect_timeout.", _UPS,
         only_side=_U, errnos=frozenset({110}), while_=_SSL_HANDSHAKING),
    _row("client_handshake_timeout", r"client timed out", _C, ("handshake_stalled", "clienthello_fragment_lost"),
         "The client connected and did not complete its ClientHello within client_header_timeout.", _REQ,
         errnos=frozenset({110}), while_=_SSL_HANDSHAKING),
    # -- the TCP connection to the upstream (ngx_event_connect_peer, ngx_http_upstream_next)
    _row("connect_refused", r"connect\(\) failed", _U, ("tcp_connect_refused",),
         "The upstream refused the TCP connection (RST to the SYN: nothing listens on that port).", _CONN,
         errnos=frozenset({111})),
    _row("connect_timeout", r"upstream timed out|connect\(\) failed", _U, ("tcp_connect_timeout",),
         "No SYN-ACK from the upstream within proxy_connect_timeout.", _CONN, errnos=frozenset({110}),
         while_=r"^connecting to upstream"),
    _row("no_live_upstreams", r"no live upstreams", _U, ("tcp_connect_refused", "sni_missing", "certificate_expired"),
         "Every server of the upstream group is marked down after earlier failures (max_fails): the real error "
         "is the one logged before it for each server.", "src/http/ngx_http_upstream_round_robin.c"),
    # -- certificate checks nginx makes itself after the handshake (ngx_http_upstream_ssl_handshake;
    #    ngx_http_ssl_module / ngx_http_request.c for client certificates)
    _row("upstream_cert_expired", r"upstream SSL certificate verify error", _U, ("certificate_expired",),
         "proxy_ssl_verify on: the upstream's certificate has expired (X.509 error 10).", _UPS,
         verify_codes=frozenset({10})),
    _row("upstream_cert_not_yet_valid", r"upstream SSL certificate verify error", _U, ("certificate_not_yet_valid",),
         "proxy_ssl_verify on: the upstream's certificate is not yet valid (X.509 error 9; or a wrong clock).",
         _UPS, verify_codes=frozenset({9})),
    _row("upstream_cert_incomplete", r"upstream SSL certificate verify error", _U,
         ("certificate_chain_incomplete", "certificate_untrusted"),
         "proxy_ssl_verify on: the upstream sent its leaf without the intermediate (X.509 error 21, or 2).",
         _UPS, verify_codes=frozenset({2, 21})),
    _row("upstream_cert_unknown_issuer", r"upstream SSL certificate verify error", _U,
         ("certificate_untrusted", "certificate_chain_incomplete"),
         "proxy_ssl_verify on: the upstream's issuer is not in proxy_ssl_trusted_certificate (X.509 error 20: a "
         "private CA, or a missing intermediate).", _UPS, verify_codes=frozenset({20})),
    _row("upstream_cert_self_signed", r"upstream SSL certificate verify error", _U, ("certificate_untrusted",),
         "proxy_ssl_verify on: the upstream's certificate, or its chain's root, is self-signed and not trusted "
         "(X.509 error 18/19).", _UPS, verify_codes=frozenset({18, 19})),
    _row("upstream_cert_hostname", r"upstream SSL certificate verify error", _U, ("certificate_name_mismatch",),
         "The upstream's certificate does not cover the name checked (X.509 error 62).", _UPS,
         verify_codes=frozenset({62})),
    _row("upstream_cert_other", r"upstream SSL certificate verify error", _U, ("certificate_untrusted",),
         "proxy_ssl_verify on: the upstream's certificate failed verification (revoked, bad signature, "
         "purpose, depth).", _UPS),
    _row("upstream_cert_name", r"upstream SSL certificate does not match", _U,
         ("certificate_name_mismatch", "sni_not_hostname"),
         "proxy_ssl_verify on: the upstream's certificate does not cover proxy_ssl_name (by default the "
         "proxy_pass host, i.e. the upstream group's name).", _UPS),
    _row("client_cert_expired", r"client SSL certificate verify error", _C,
         ("certificate_expired", "client_certificate_required"),
         "ssl_verify_client: the client's certificate has expired (X.509 error 10).", _REQ,
         verify_codes=frozenset({10})),
    _row("client_cert_rejected", r"client SSL certificate verify error", _C,
         ("client_certificate_required", "certificate_untrusted"),
         "ssl_verify_client: the client's certificate failed verification.", _REQ),
    _row("client_cert_missing", r"client sent no required SSL certificate", _C, ("client_certificate_required",),
         "ssl_verify_client on and the client sent no certificate (nginx answers 400).", _REQ),
    # -- not TLS where TLS was expected, and the reverse
    _row("client_plain_http", r"plain HTTP request (?:was )?sent to HTTPS port|client sent plain HTTP request",
         _C, ("not_tls",), "A client spoke plain HTTP to nginx's TLS port (nginx answers 400/497).", _REQ),
    _row("tls_on_plain_port", r"client sent invalid method", _C, ("not_tls",),
         "A TLS ClientHello (\\x16\\x03...) arrived on a plain-HTTP listener: the client, or an nginx with "
         "proxy_pass https://, speaks TLS to a port that does not.", _REQ, request=r"^(?:\x16|\\x16)"),
    _row("handshake_rejected", r"handshake rejected", _C, ("sni_missing", "sni_not_hostname"),
         "ssl_reject_handshake on in the default server: the client sent no SNI, or one no server_name matches "
         "(alert 112 sent).", "src/http/ngx_http_ssl_module.c / ngx_http_request.c ngx_http_ssl_servername"),
    _row("no_certificate_defined", r"no \"ssl_certificate\" is defined", _N, ("server_internal_error",),
         "A TLS listener has no certificate for this connection: nginx cannot answer any handshake there.",
         "src/http/modules/ngx_http_ssl_module.c / src/event/ngx_event_openssl.c"),
    # -- generic: a handshake failure whose OpenSSL reason this table does not know, and SSL_read() failures
    _row("handshake_other", r"SSL_do_handshake\(\) failed", None, ("handshake_stalled", "alert_unexplained"),
         "The handshake failed for an OpenSSL reason this table does not tie to a cause.", _EVT),
    _row("ssl_read", r"SSL_read\(\) failed", None, ("rst_injection", "handshake_stalled"),
         "Reading over an established TLS connection failed (after the handshake).", _EVT),
)


def classify(entry: ErrorLogEntry) -> LogClassification | None:
    """The first row of ``CAUSE_TABLE`` that matches ``entry``, or None for a message it does not know."""
    peer = Side.UPSTREAM if entry.to_upstream else Side.CLIENT
    ssl = entry.openssl
    received = ssl.alert if ssl is not None and ssl.alert_direction == "received" else None
    for row in CAUSE_TABLE:
        if row.compiled[0].search(entry.message) is None:
            continue
        if row.only_side is not None and row.only_side is not peer:
            continue
        if row.alerts is not None and (received is None or (row.alerts and received not in row.alerts)):
            continue
        if row.reasons is not None and (ssl is None or row.compiled[1].search(ssl.reason) is None):
            continue
        if row.errnos is not None and entry.errno not in row.errnos:
            continue
        if row.verify_codes is not None and entry.verify_code not in row.verify_codes:
            continue
        if row.request is not None and (entry.request is None or row.compiled[-1 - (row.while_ is not None)]
                                        .search(entry.request) is None):
            continue
        if row.while_ is not None and (entry.while_ is None or row.compiled[-1].search(entry.while_) is None):
            continue
        alert = ssl.alert if ssl is not None else None
        return LogClassification(rule=row.rule, causes=row.causes, side=row.side or peer, meaning=row.meaning,
                                 alert=alert, source=row.source)
    return None


# --- the access log --------------------------------------------------------------------------------

COMBINED_LOG_FORMAT: Final = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                              '"$http_referer" "$http_user_agent"')
"""nginx's built-in ``combined`` (src/http/modules/ngx_http_log_module.c); the same string as
``tlsdoctor.evidence.nginx_model.COMBINED_FORMAT``."""

_RE_VARIABLE: Final = re.compile(r"\$(?:\{(?P<braced>[A-Za-z0-9_]+)\}|(?P<plain>[A-Za-z0-9_]+))")
# Values whose shape is known: matched exactly, so that neighbours without a literal between still split.
_SHAPES: Final[dict[str, str]] = {
    "status": r"\d{3}|-", "time_local": r"[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9:]{8} [+-][0-9]{4}",
    "time_iso8601": r"[0-9T:+-]{19,25}", "msec": r"[0-9]+\.[0-9]{3}", "body_bytes_sent": r"[0-9]+|-",
    "bytes_sent": r"[0-9]+|-", "request_length": r"[0-9]+|-", "request_time": r"[0-9]+\.[0-9]{3}|-",
    "remote_addr": r"[0-9A-Fa-f.:]+|unix:|-", "connection": r"[0-9]+", "pipe": r"[p.]",
}


@dataclass(frozen=True, slots=True)
class AccessLogFormat:
    name: str
    format: str
    escape: str
    """``default``, ``json`` or ``none``."""
    variables: tuple[str, ...]
    """In order; a variable used twice is named ``name`` then ``name__2``..."""
    pattern: re.Pattern[str] = field(compare=False)


def compile_log_format(fmt: object, name: str = "combined", escape: str = "default") -> AccessLogFormat:
    """Compile a ``log_format`` string (or a ``nginx_model.LogFormat``, whose name and escape are used)."""
    if not isinstance(fmt, str):
        name = str(getattr(fmt, "name", name))
        escape = str(getattr(fmt, "escape", escape) or "default")
        fmt = str(fmt.format)  # type: ignore[attr-defined]
    parts: list[str] = []
    variables: list[str] = []
    pieces = list(_RE_VARIABLE.finditer(fmt))
    pos = 0
    for i, m in enumerate(pieces):
        parts.append(re.escape(fmt[pos:m.start()]))
        var = m.group("braced") or m.group("plain")
        group = var
        n = 1
        while group in variables:
            n += 1
            group = f"{var}__{n}"
        variables.append(group)
        pos = m.end()
        next_literal = fmt[pos:pieces[i + 1].start()] if i + 1 < len(pieces) else fmt[pos:]
        if var in _SHAPES:
            body = _SHAPES[var]
        elif escape == "json":
            body = r'(?:[^"\\]|\\.)*?'  # JSON-escaped: a quote inside a value is \"
        elif escape == "default" and next_literal.startswith('"'):
            body = r'[^"]*?'  # default escaping writes " as \x22 (ngx_http_log_escape)
        else:
            body = r".*?"
        # The group is the variable's name behind a prefix: nginx's names may begin with a digit, a
        # regular expression's may not (a log_format with "$2x" would not compile).
        parts.append(f"(?P<v_{group}>{body})")
    parts.append(re.escape(fmt[pos:]))
    return AccessLogFormat(name=name, format=fmt, escape=escape, variables=tuple(variables),
                           pattern=re.compile("".join(parts), re.DOTALL))


COMBINED: Final = compile_log_format(COMBINED_LOG_FORMAT, "combined")


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    line: int
    text: str
    format_name: str
    time: dt.datetime | None
    """Aware: from ``$time_local`` (with its offset), ``$time_iso8601`` or ``$msec`` (UTC)."""
    remote_addr: str | None
    request: str | None
    status: int | None
    host: str | None
    upstream_addrs: tuple[str, ...]
    """Every upstream tried, in order, across retries (``, ``) and internal redirects (`` : ``)."""
    upstream_statuses: tuple[int | None, ...]
    upstream_connect_times: tuple[float | None, ...]
    fields: dict[str, str]
    """Every variable of the format, unescaped; ``-`` as written."""


@dataclass(frozen=True, slots=True)
class AccessLog:
    source: str
    entries: tuple[AccessLogEntry, ...]
    anomalies: tuple[LogAnomaly, ...]
    lines: int
    entries_dropped: int
    anomalies_dropped: int


_RE_HEX_ESCAPE: Final = re.compile(r"\\x([0-9A-Fa-f]{2})")


def _unescape(value: str, escape: str) -> str:
    if escape == "json":
        try:
            decoded = json.loads(f'"{value}"')
            return decoded if isinstance(decoded, str) else value
        except ValueError:
            return value
    if escape == "default" and "\\x" in value:
        raw = _RE_HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
        return raw.encode("latin-1", "replace").decode("utf-8", "backslashreplace")
    return value


def upstream_list(value: str | None) -> tuple[str, ...]:
    """``a:443, b:443 : c:443`` -> ``("a:443", "b:443", "c:443")``; ``-`` or empty -> ``()``."""
    if value is None:
        return ()
    out = []
    for group in value.split(" : "):
        for item in group.split(", "):
            item = item.strip()
            if item and item != "-":
                out.append(item)
    return tuple(out)


def _list_of(value: str | None, convert: type[int] | type[float]) -> tuple[int | float | None, ...]:
    if value is None:
        return ()
    out: list[int | float | None] = []
    for group in value.split(" : "):
        for item in group.split(", "):
            item = item.strip()
            try:
                out.append(convert(item))
            except ValueError:
                out.append(None)
    return tuple(out)


_MONTHS: Final = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                              "Nov", "Dec"), 1)}


def _access_time(fields: dict[str, str]) -> dt.datetime | None:
    local = fields.get("time_local")
    if local:
        m = re.fullmatch(r"(\d\d)/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", local)
        if m is not None and m.group(2) in _MONTHS:
            sign = 1 if m.group(7) == "+" else -1
            zone = dt.timezone(sign * dt.timedelta(hours=int(m.group(8)), minutes=int(m.group(9))))
            try:
                return dt.datetime(int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)), int(m.group(4)),
                                   int(m.group(5)), int(m.group(6)), tzinfo=zone)
            except ValueError:
                pass
    iso = fields.get("time_iso8601")
    if iso:
        try:
            parsed = dt.datetime.fromisoformat(iso)
            if parsed.tzinfo is not None:
                return parsed
        except ValueError:
            pass
    msec = fields.get("msec")
    if msec:
        try:
            return dt.datetime.fromtimestamp(float(msec), dt.UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return None


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


def parse_access_line(text: str, fmt: AccessLogFormat, line: int = 1) -> AccessLogEntry | None:
    """One access-log line in format ``fmt``, or None when it does not match."""
    m = fmt.pattern.fullmatch(text)
    if m is None:
        return None
    fields = {k[2:]: _unescape(v, fmt.escape) for k, v in m.groupdict().items() if v is not None}
    upstream_addr = fields.get("upstream_addr")
    request = fields.get("request")
    return AccessLogEntry(
        line=line, text=text, format_name=fmt.name, time=_access_time(fields),
        remote_addr=fields.get("remote_addr"), request=request, status=_int_or_none(fields.get("status")),
        host=fields.get("host") or fields.get("http_host"), upstream_addrs=upstream_list(upstream_addr),
        upstream_statuses=tuple(v if isinstance(v, int) else None
                                for v in _list_of(fields.get("upstream_status"), int)),
        upstream_connect_times=tuple(float(v) if v is not None else None
                                     for v in _list_of(fields.get("upstream_connect_time"), float)),
        fields=fields)


def parse_access_log(lines: Iterable[str | bytes], source: str,
                     formats: Sequence[AccessLogFormat] = (COMBINED,)) -> AccessLog:
    """Parse an access log, trying each line against ``formats`` (the one that matched last first)."""
    anomalies = _Anomalies(source)
    order = list(formats)
    entries: list[AccessLogEntry] = []
    dropped = total = 0
    for number, text in _capped(lines, anomalies):
        total = number
        if not text.strip():
            continue
        entry = None
        for i, fmt in enumerate(order):
            entry = parse_access_line(text, fmt, number)
            if entry is not None:
                if i:
                    order.insert(0, order.pop(i))
                break
        if entry is None:
            anomalies.add("not_an_access_log_line", number, text)
        elif len(entries) < MAX_ACCESS_ENTRIES:
            entries.append(entry)
        else:
            if dropped == 0:
                anomalies.add("entries_capped", number, f"more than {MAX_ACCESS_ENTRIES} entries; the rest counted")
            dropped += 1
    return AccessLog(source=source, entries=tuple(entries), anomalies=tuple(anomalies.kept), lines=total,
                     entries_dropped=dropped, anomalies_dropped=anomalies.dropped)


def read_access_log(path: str | Path, formats: Sequence[AccessLogFormat] = (COMBINED,),
                    source: str | None = None) -> AccessLog:
    """The edge: stream an access-log file through ``parse_access_log``."""
    with open(path, "rb") as f:
        return parse_access_log(stream_lines(f), source if source is not None else str(path), formats)


# --- recognisers -----------------------------------------------------------------------------------

HEAD_LINES: Final = 20


def _head(head: Sequence[str | bytes]) -> list[str]:
    # No veto on binary bytes: nginx logs a ClientHello sent to a plain port raw, NULs included.
    lines = []
    for raw in head:
        text = _decode(raw[:MAX_LINE_BYTES]).rstrip("\r\n")
        if text.strip():
            lines.append(text)
        if len(lines) >= HEAD_LINES:
            break
    return lines


def looks_like_error_log(head: Sequence[str | bytes]) -> bool:
    """Whether the first non-empty lines read as an nginx error log: most of them (and at least one)
    have its ``YYYY/MM/DD HH:MM:SS [level] pid#tid:`` prefix (or ``nginx -t``'s ``nginx: [level]``)."""
    lines = _head(head)
    if not lines:
        return False
    hits = sum(1 for t in lines if _RE_ERROR_LINE.fullmatch(t) or _RE_NGINX_T_LINE.fullmatch(t))
    return hits >= 1 and hits * 2 >= len(lines)


def looks_like_access_log(head: Sequence[str | bytes], formats: Sequence[AccessLogFormat] = (COMBINED,)) -> bool:
    """Whether most of the first non-empty lines (and at least one) match one of ``formats``."""
    lines = _head(head)
    if not lines:
        return False
    hits = sum(1 for t in lines if any(f.pattern.fullmatch(t) for f in formats))
    return hits >= 1 and hits * 2 >= len(lines)
