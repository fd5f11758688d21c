"""``ConnectionRecord`` -> a JSON object (``tlsdoctor connections --json``) and a one-line summary.

The JSON Lines form is versioned with the report (``tlsdoctor.report/1``); its fields are a public
contract: ``capture``, ``tcp_stream``, ``client``, ``server`` (``ip:port``, IPv6 as ``[addr]:port``),
``sni``, ``handshake_completed``, ``tls_version``, ``alert`` (``{code, name, sender, frame}`` or null),
``ended_by``, ``history``, ``frames`` (milestone -> Wireshark frame number), and more.
"""

from __future__ import annotations

import json
import time
from typing import Any, Final, cast

import orjson

from tlsdoctor.connection import FLAG_LETTERS, Alert, ConnectionRecord, DirectionFacts, EndedBy
from tlsdoctor.tls.certificates import CertificateFacts


def _alert_json(a: Alert | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"code": a.code, "name": a.name, "sender": a.sender, "frame": a.frame, "encrypted": a.encrypted}


_ISO_SECONDS: Final[dict[int, str]] = {}
"""Second -> its ``YYYY-MM-DDTHH:MM:SS`` text: a capture's packets share few seconds (emptied when full)."""
_ISO_SECONDS_MAX: Final = 4096


_THREE_DIGITS: Final = tuple(f"{i:03d}" for i in range(1000))


class _LastSecond:
    """The second ``_iso`` wrote last and its text: consecutive times mostly share it."""

    def __init__(self) -> None:
        self.sec = -1
        self.head = ""


_LAST_SECOND: Final = _LastSecond()


def _iso(ts_ns: int) -> str:
    """UTC time with microseconds, e.g. 2026-11-24T09:35:33.448950Z (written out: datetime is slow here).
    Compiled, no tuple, no int-to-text conversion on the way: the second's text is remembered, the
    microseconds are two table lookups."""
    sec = ts_ns // 1_000_000_000
    us = (ts_ns - sec * 1_000_000_000) // 1000
    last = _LAST_SECOND
    if sec == last.sec:
        head = last.head
    else:
        known = _ISO_SECONDS.get(sec)
        if known is None:
            t = time.gmtime(sec)
            known = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
            if len(_ISO_SECONDS) >= _ISO_SECONDS_MAX:
                _ISO_SECONDS.clear()
            _ISO_SECONDS[sec] = known
        head = known
        last.sec = sec
        last.head = known
    return f"{head}.{_THREE_DIGITS[us // 1000]}{_THREE_DIGITS[us % 1000]}Z"


def _direction_json(d: DirectionFacts) -> dict[str, Any]:
    return {
        "packets": d.packets, "payload_bytes": d.payload_bytes, "ttls": list(d.ttls),
        "first_ip_id": d.first_ip_id, "last_ip_id": d.last_ip_id, "src_macs": list(d.src_macs),
        "dst_macs": list(d.dst_macs), "isn": d.isn, "window": d.window, "mss": d.mss,
        "window_scale": d.window_scale, "sack_permitted": d.sack_permitted, "timestamps": d.timestamps,
        "acked_bytes": d.acked_bytes, "retransmissions": d.retransmissions,
    }


_CERT_JSON: Final[dict[int, tuple[CertificateFacts, dict[str, Any]]]] = {}
"""``id(facts)`` -> (the facts, their JSON object). A server sends the same certificates on every
connection and ``certificate_facts`` returns one facts object per DER (its cache), so most lookups hit.
Each entry holds its facts object, so that an id cannot be reused while it is here (emptied when full)."""
_CERT_JSON_MAX: Final = 256


def _certificate_json(cert: CertificateFacts) -> dict[str, Any]:
    """The JSON object of a certificate: a copy of the one made for the same facts object before, if any
    (its lists copied too: the caller owns what it gets)."""
    entry = _CERT_JSON.get(id(cert))
    if entry is None or entry[0] is not cert:
        if len(_CERT_JSON) >= _CERT_JSON_MAX:
            _CERT_JSON.clear()
        entry = (cert, _new_certificate_json(cert))
        _CERT_JSON[id(cert)] = entry
    data = dict(entry[1])
    data["san_dns"] = list(data["san_dns"])
    data["san_ips"] = list(data["san_ips"])
    return data


def _new_certificate_json(cert: CertificateFacts) -> dict[str, Any]:
    return {
        "subject": cert.subject, "issuer": cert.issuer, "serial": cert.serial,
        "not_before": cert.not_before.isoformat() if cert.not_before else None,
        "not_after": cert.not_after.isoformat() if cert.not_after else None,
        "san_dns": list(cert.san_dns), "san_ips": list(cert.san_ips), "key_type": cert.key_type,
        "key_size": cert.key_size, "signature_algorithm": cert.signature_algorithm, "sha256": cert.sha256,
        "self_signed": cert.is_self_signed, "is_ca": cert.is_ca, "parse_error": cert.parse_error,
    }


def _tcp_events(rec: ConnectionRecord) -> list[dict[str, Any]]:
    """Every SYN, FIN and RST of the timeline: who sent it, when, with which TTL and IP-ID.

    The entries are read as plain tuples: compiled, an entry typed as ``TimelineEntry`` is checked and
    unboxed whole, its twelve fields, and the ints put back in the dict are boxed again; here only the
    flags and the time are unboxed, and only for the entries that are events."""
    out = []
    first_is_client = rec.first_side_is_client
    for entry in cast("tuple[tuple[object, ...], ...]", rec.timeline):
        flags = cast(int, entry[3])
        if flags & 0x07:
            out.append({"frame": entry[0], "flags": FLAG_LETTERS[flags & 0x1F],
                        "from": "client" if cast(bool, entry[2]) == first_is_client else "server",
                        "time": _iso(cast(int, entry[1])), "ttl": entry[7], "ip_id": entry[8]})
    return out


def _in_frame_order(frames: dict[str, int]) -> dict[str, int]:
    """The milestones in frame order, ties by name. An insertion sort into two lists: a dozen milestones,
    mostly in order already; compiled, it builds no tuple, key or bound method per milestone, as
    ``sorted(items, key=...)`` does, and takes half its time. The frame numbers are moved as the objects
    the dict holds and only unboxed to be compared: an int put into a list or dict from compiled code is
    boxed anew, a new object for every number above 256."""
    names: list[str] = []
    numbers: list[object] = []
    for name, value in cast("dict[str, object]", frames).items():
        number = cast(int, value)
        i = len(numbers)
        while i > 0:
            before = cast(int, numbers[i - 1])
            if before < number or (before == number and names[i - 1] <= name):
                break
            i -= 1
        names.insert(i, name)
        numbers.insert(i, value)
    ordered: dict[str, object] = {}
    for i in range(len(names)):
        ordered[names[i]] = numbers[i]
    return cast("dict[str, int]", ordered)


def _milliseconds(ns: int) -> float:
    """``round(ns / 1e6, 3)``: milliseconds to the microsecond. A capture's times are mostly whole
    microseconds (pcap's default resolution); then it is ``(ns // 1000) / 1000``, the same float (both are
    the double nearest to a decimal of three places, as long as ns is below 2**53) without ``round``'s
    decimal conversion, which costs a thousand instructions a call."""
    if ns % 1000 == 0 and 0 <= ns < (1 << 53):
        return (ns // 1000) / 1000
    return round(ns / 1e6, 3)


def record_to_json(rec: ConnectionRecord) -> dict[str, Any]:
    t = rec.tls
    not_tls = None
    if t.not_tls is not None:
        sender, guess, first = t.not_tls
        not_tls = {"sender": sender, "guess": guess, "first_bytes": first[:64].decode("latin-1")}
    return {
        "capture": rec.capture,
        "tcp_stream": rec.tcp_stream,
        "client": str(rec.client),
        "server": str(rec.server),
        "ip_version": rec.ip_version,
        "start": _iso(rec.first_ts_ns),
        "duration_ms": _milliseconds(rec.last_ts_ns - rec.first_ts_ns),
        "failed": rec.failed,
        "is_tls": rec.is_tls,
        "sni": rec.sni,
        "handshake_completed": rec.handshake_completed,
        "handshake_stage": rec.handshake_stage,
        "tls_version": rec.tls_version,
        "versions_offered": list(rec.versions_offered),
        "cipher_suite": rec.cipher_suite,
        "alpn_offered": list(rec.alpn_offered),
        "alpn_chosen": rec.alpn_chosen,
        "ja4": t.ja4,
        "alert": _alert_json(rec.alert),
        "alerts": [_alert_json(a) for a in t.alerts],
        "ended_by": rec.ended_by._value_,  # .value is a property written in Python, called per record
        "end_sender": rec.end_sender,
        "history": rec.history,
        "tcp_history": rec.tcp_history,
        "frames": _in_frame_order(rec.frames),
        "not_tls": not_tls,
        "server_certificates": [_certificate_json(c) for c in t.server_certificates],
        "client_certificates": (None if t.client_certificates is None
                                else [_certificate_json(c) for c in t.client_certificates]),
        "encrypted_records": {"client": list(t.encrypted_records_client),
                              "server": list(t.encrypted_records_server)},
        "tcp": {"syn_seen": rec.syn_seen, "established": rec.tcp_established,
                "client": _direction_json(rec.client_dir), "server": _direction_json(rec.server_dir)},
        "tcp_events": _tcp_events(rec),
        "anomalies": list(rec.anomalies),
    }


def json_line(data: dict[str, Any]) -> bytes:
    """One JSON Lines line (UTF-8, newline included) of ``record_to_json``'s object, written by ``orjson``
    (about nine times as fast as ``json.dumps`` with ``ensure_ascii=False`` on these objects, which took
    a seventh of a ``connections --json`` pass). Compact: no space after ``,`` and ``:``. What orjson refuses (an
    integer beyond 64 bits, a string with a lone surrogate) goes through ``json.dumps`` with ASCII
    escapes instead, so that every record is written."""
    try:
        return orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return (json.dumps(data, separators=(",", ":")) + "\n").encode("ascii")


def ending(rec: ConnectionRecord) -> str:
    """How it ended, in a few words: 'alert 40 handshake_failure from server', 'RST from server'."""
    a = rec.alert
    if rec.ended_by is EndedBy.ALERT and a is not None:
        if a.code is None:
            return f"encrypted alert from {a.sender}"
        return f"alert {a.code} {a.name} from {a.sender}"
    if rec.ended_by is EndedBy.RST:
        return f"RST from {rec.end_sender or '?'}"
    if rec.ended_by is EndedBy.FIN:
        return f"FIN from {rec.end_sender or '?'} first"
    if rec.ended_by is EndedBy.IDLE:
        return "idle (evicted)"
    return "open at capture end"


def _short(version: str) -> str:
    """'TLSv1.3' -> '1.3', 'TLSv1' -> '1.0', 'SSLv3' -> 'ssl3'."""
    if version == "TLSv1":
        return "1.0"
    return version.replace("TLSv", "").replace("SSLv", "ssl")


def summary_line(rec: ConnectionRecord, *, with_capture: bool = False) -> str:
    """The table's line of a connection (``HEADER`` names its columns)."""
    head, tail = summary_parts(rec, with_capture=with_capture)
    return f"{head}{rec.tcp_stream:>6}{tail}"


def summary_parts(rec: ConnectionRecord, *, with_capture: bool = False) -> tuple[str, str]:
    """``summary_line`` without its tcp.stream column: what comes before it and what comes after. A flow
    shard's worker (``parallel.py``) writes these, and the parent puts in the number it gives the
    connection over the whole capture."""
    status = "FAIL" if rec.failed else "ok  "
    versions = ",".join(_short(v) for v in rec.versions_offered) or "-"
    chosen = _short(rec.tls_version) if rec.tls_version else "-"
    if rec.tls.not_tls is not None:
        chosen = f"not-TLS:{rec.tls.not_tls[1]}"
    sni = rec.sni if rec.sni is not None else "(no SNI)" if rec.is_tls else "-"
    hist = f"{rec.tcp_history}/{rec.history}" if rec.history else rec.tcp_history
    where = f"{rec.capture} " if with_capture else ""
    return (f"{status} {where}", f" {rec.client!s:>22} -> {rec.server!s:<22} {sni:<24} "
            f"{versions + '>' + chosen:<20} {rec.handshake_stage:<19} {ending(rec):<42} {hist}")


HEADER = (f"{'':4} {'stream':>6} {'client':>22}    {'server':<22} {'sni':<24} {'offered>chosen':<20} "
          f"{'reached':<19} {'ended':<42} history (tcp/tls)")
