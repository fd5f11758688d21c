"""Recognising evidence files by their content, never by their names.

``sniff(head)`` is pure: given the first bytes of a file, it says what the file is. ``gather(paths)`` is
the edge: it walks the folders it is given (sorted, hidden files skipped, at most ``MAX_FILES``), reads
the head of each file and sniffs it. An unrecognised file is returned as such, with the reason: it is
listed in the report, never fatal.

The order of the tests matters: binary magic numbers first (pcap, pcapng, gzip), then the text forms
whose first lines are unmistakable (key log, PEM, nginx error log, access log), nginx configuration
last (its test is the loosest).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass


class InputKind:
    """``inputs[].kind`` values of REPORT.md."""

    CAPTURE = "capture"
    NGINX_CONFIG = "nginx_config"
    NGINX_ERROR_LOG = "nginx_error_log"
    NGINX_ACCESS_LOG = "nginx_access_log"
    KEYLOG = "keylog"
    CERTIFICATE = "certificate"
    UNRECOGNIZED = "unrecognized"


HEAD_BYTES = 64 * 1024
MAX_FILES = 10_000
"""Files taken from the folders given (a whole /var/log tree is not evidence); the rest is reported."""

_PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1")
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_GZIP_MAGIC = b"\x1f\x8b"
# NSS key log format (https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/):
# <label> <client_random hex 64> <secret hex>.
_KEYLOG_LINE = re.compile(r"^(CLIENT_RANDOM|RSA|CLIENT_EARLY_TRAFFIC_SECRET|CLIENT_HANDSHAKE_TRAFFIC_SECRET|"
                          r"SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|"
                          r"EARLY_EXPORTER_SECRET|EXPORTER_SECRET|ECH_SECRET|ECH_CONFIG) "
                          r"[0-9A-Fa-f]{16,} [0-9A-Fa-f]+$")
# nginx error log (src/core/ngx_log.c): "2026/11/24 10:44:14 [error] 10870#10870: ..."
_ERROR_LOG_LINE = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[(debug|info|notice|warn|error|crit|alert|"
                             r"emerg)\] \d+#\d+: ")
# An access-log line in the default "combined" form, or any form with [$time_local] and a quoted request.
_ACCESS_LOG_LINE = re.compile(r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]|"
                              r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}")
_REQUEST = re.compile(r'"(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE|PRI|-) ?[^"]*"|"-"')
_NGINX_DIRECTIVE = re.compile(r"^\s*(http|events|server|upstream|location|stream|map|worker_processes|"
                              r"user|include|proxy_pass|listen|server_name|ssl_certificate|error_log|"
                              r"access_log|log_format|pid|proxy_ssl_\w+|grpc_pass|uwsgi_pass|root|"
                              r"worker_connections|load_module)\b[^\n]*[;{]\s*(#.*)?$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Sniffed:
    path: str
    kind: str  # an InputKind value
    detail: str = ""  # for unrecognised files: why; for others: a short description


def _text_lines(head: bytes, limit: int = 40) -> list[str] | None:
    """The first non-empty lines, or None when the head is not text."""
    if b"\x00" in head[:4096]:
        return None
    text = head.decode("utf-8", "replace")
    if text.count("\ufffd") > len(text) // 20 + 1:
        return None
    out = []
    for line in text.splitlines():
        if line.strip():
            out.append(line.rstrip("\r"))
        if len(out) >= limit:
            break
    return out


def sniff(head: bytes) -> tuple[str, str]:
    """(kind, detail) for a file that begins with ``head``."""
    if head[:4] in _PCAP_MAGICS:
        return InputKind.CAPTURE, "pcap"
    if head[:4] == _PCAPNG_MAGIC:
        return InputKind.CAPTURE, "pcapng"
    if head[:2] == _GZIP_MAGIC:
        return InputKind.CAPTURE, "gzip (a compressed capture, checked when read)"
    if not head:
        return InputKind.UNRECOGNIZED, "empty file"
    lines = _text_lines(head)
    if lines is None:
        return InputKind.UNRECOGNIZED, "binary data that is neither pcap, pcapng nor gzip"
    content = [ln for ln in lines if not ln.lstrip().startswith("#")]
    if content and sum(bool(_KEYLOG_LINE.match(ln.strip())) for ln in content) >= max(1, len(content) * 3 // 4):
        return InputKind.KEYLOG, "TLS key log (SSLKEYLOGFILE)"
    if any(ln.startswith("-----BEGIN CERTIFICATE-----") for ln in lines):
        return InputKind.CERTIFICATE, "PEM certificate(s)"
    if any(ln.startswith("-----BEGIN") for ln in lines):
        return InputKind.UNRECOGNIZED, "a PEM file without certificates (a key? not used, and better not shared)"
    if lines and sum(bool(_ERROR_LOG_LINE.match(ln)) for ln in lines) >= max(1, len(lines) // 2):
        return InputKind.NGINX_ERROR_LOG, "nginx error log"
    if lines and sum(bool(_ACCESS_LOG_LINE.search(ln) and _REQUEST.search(ln)) for ln in lines) >= \
            max(1, len(lines) // 2):
        return InputKind.NGINX_ACCESS_LOG, "nginx access log"
    text = "\n".join(lines)
    if len(_NGINX_DIRECTIVE.findall(text)) >= 2 or re.search(r"^\s*(http|events|stream)\s*\{", text, re.MULTILINE):
        return InputKind.NGINX_CONFIG, "nginx configuration"
    return InputKind.UNRECOGNIZED, "text that is not a capture, nginx configuration or log, key log or PEM"


def _walk(path: str) -> Iterator[str]:
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for f in sorted(files):
                if not f.startswith("."):
                    yield os.path.join(root, f)
    else:
        yield path


def gather(paths: Iterable[str]) -> tuple[list[Sniffed], list[tuple[str, str]]]:
    """Every file under ``paths``, sniffed; and the problems, as (the path given or "", what): a path that
    does not exist, the cap on files."""
    out: list[Sniffed] = []
    problems: list[tuple[str, str]] = []
    for given in paths:
        if given != "-" and not os.path.exists(given):
            problems.append((printable(given), "no such file or directory"))
            continue
        for path in _walk(given):
            if len(out) >= MAX_FILES:
                problems.append(("", f"more than {MAX_FILES} files given; the rest were not read"))
                return out, problems
            if path == "-":
                out.append(Sniffed(path, InputKind.CAPTURE, "standard input"))
                continue
            try:
                with open(path, "rb") as f:
                    head = f.read(HEAD_BYTES)
            except OSError as exc:
                out.append(Sniffed(path, InputKind.UNRECOGNIZED, f"unreadable: {exc.strerror or exc}"))
                continue
            kind, detail = sniff(head)
            out.append(Sniffed(path, kind, detail))
    return out, problems


def display_names(paths: Sequence[str]) -> dict[str, str]:
    """The name each file is cited by: its base name when unique among the inputs, else the path
    (``printable``)."""
    bases: dict[str, int] = {}
    for p in paths:
        b = os.path.basename(p)
        bases[b] = bases.get(b, 0) + 1
    return {p: printable(os.path.basename(p) if bases[os.path.basename(p)] == 1 else p) for p in paths}


def printable(path: str) -> str:
    """A path or file name from the command line as text that any UTF-8 output can hold (a report, a
    table line, JSON): the bytes of a name that are not UTF-8, which Python gives as surrogate escapes
    (``os.fsdecode``), written as ``\\xff``, as ``ls -b`` shows them. Other names are returned as they
    are. The path itself still opens the file; this is only the name the output cites."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file system gave
        return path.encode("utf-8", "backslashreplace").decode("utf-8")
