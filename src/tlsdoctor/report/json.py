"""Report -> the JSON object of shared/REPORT.md (schema ``tlsdoctor.report/1``).

Field names and order follow the contract; keys that have no value for an entry (a log line has no
frame, a capture packet no line) are left out rather than written as null, except the connection
fields the contract lists, which are always there (``sni`` is null when the ClientHello had none).
Beyond the contract: ``inputs[].detail``, ``overview.not_judged``, ``connections[].vantage`` and
``also_seen``, ``findings[].notes``, top-level ``notes`` and ``observations``.
"""

from __future__ import annotations

from typing import Any

from tlsdoctor import __version__
from tlsdoctor.findings import Anomaly, ConnectionRef, Evidence, Finding
from tlsdoctor.report.model import SCHEMA, Input, Report


def _input(i: Input) -> dict[str, Any]:
    out: dict[str, Any] = {"path": i.path, "kind": i.kind}
    if i.vantage is not None:
        out["vantage"] = i.vantage
    if i.detail:
        out["detail"] = i.detail
    return out


def connection_to_json(c: ConnectionRef) -> dict[str, Any]:
    out: dict[str, Any] = {"capture": c.capture, "tcp_stream": c.tcp_stream, "client": c.client,
                           "server": c.server, "sni": c.sni, "outcome": c.outcome}
    if c.vantage is not None:
        out["vantage"] = c.vantage
    if c.also_seen:
        out["also_seen"] = [{"capture": cap, "tcp_stream": s, "vantage": v} for cap, s, v in c.also_seen]
    return out


def evidence_to_json(e: Evidence) -> dict[str, Any]:
    out: dict[str, Any] = {"source": e.source}
    if e.frame is not None:
        out["frame"] = e.frame
    if e.display_filter is not None:
        out["display_filter"] = e.display_filter
    if e.line is not None:
        out["line"] = e.line
    out["text"] = e.text
    return out


def finding_to_json(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cause": f.cause, "title": f.title, "confidence": f.confidence.value, "explanation": f.explanation,
        "connections": [connection_to_json(c) for c in f.connections],
        "evidence": [evidence_to_json(e) for e in f.evidence],
        "fix": f.fix,
    }
    if f.notes:
        out["notes"] = list(f.notes)
    if f.patch:
        out["patch"] = f.patch
    return out


def anomaly_to_json(a: Anomaly) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": a.kind, "source": a.source}
    if a.frame is not None:
        out["frame"] = a.frame
    if a.line is not None:
        out["line"] = a.line
    out["text"] = a.text
    return out


def report_to_json(r: Report) -> dict[str, Any]:
    o = r.overview
    return {
        "schema": SCHEMA,
        "tool": {"name": "tlsdoctor", "version": __version__},
        "inputs": [_input(i) for i in r.inputs],
        "overview": {
            "connections": o.connections, "tls_connections": o.tls_connections,
            "handshakes_completed": o.handshakes_completed, "handshakes_failed": o.handshakes_failed,
            "by_cause": dict(sorted(o.by_cause.items(), key=lambda kv: (-kv[1], kv[0]))),
            "not_judged": o.not_judged,
        },
        "findings": [finding_to_json(f) for f in r.findings],
        "anomalies": [anomaly_to_json(a) for a in r.anomalies],
        "notes": list(r.notes),
        "observations": [finding_to_json(f) for f in r.observations],
    }
