"""``NginxAnalysis`` -> the JSON form of REPORT.md (schema ``tlsdoctor.report/1``).

The top level is the report's: ``schema``, ``tool``, ``inputs`` (one ``nginx_config`` per file read),
``overview`` (no capture: the connection counts are zero, ``by_cause`` is empty; the finding counts per
check code are in ``findings_by_check``), ``findings`` and ``anomalies``. A finding has the report's
fields (``cause`` is the check code, ``connections`` is empty, ``evidence`` cites
``{source, line, text}``, ``fix`` is the patch text) and, beyond them, ``nginx``: where it is (server,
location, the ``*_pass`` line) and what nginx would send (targets, SNI, Host), for scripts.
``diagnose`` can reuse ``finding_to_json`` for the nginx part of its report.
"""

from __future__ import annotations

from typing import Any

from tlsdoctor import __version__
from tlsdoctor.evidence.nginx_model import NginxAnalysis, NginxAnomaly, NginxFinding, ProxiedLocation, SourceRef

SCHEMA = "tlsdoctor.report/1"


def _ref(ref: SourceRef | None) -> dict[str, Any] | None:
    return None if ref is None else {"source": ref.file, "line": ref.line, "text": ref.text}


def location_to_json(loc: ProxiedLocation) -> dict[str, Any]:
    return {
        "module": loc.module,
        "server_names": list(loc.server_names),
        "location": loc.location,
        "pass": _ref(loc.pass_ref),
        "targets": [{
            "url": t.url, "scheme": t.scheme, "host": t.host, "port": t.port,
            "upstream": None if t.upstream is None else {
                "name": t.upstream.name, "source": t.upstream.ref.file, "line": t.upstream.ref.line,
                "servers": [{"address": s.address, "source": s.ref.file, "line": s.ref.line}
                            for s in t.upstream.servers]},
            "sni": t.sni, "sni_kind": t.sni_kind.value, "host_header": t.host_header,
            "via": [_ref(v) for v in t.via],
        } for t in loc.targets],
        "sni_enabled": loc.sni_enabled,
        "sni_name": loc.sni_name,
        "verify": loc.verify,
    }


def finding_to_json(f: NginxFinding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cause": f.cause,
        "title": f.title,
        "confidence": f.confidence.value,
        "explanation": f.explanation,
        "connections": [],
        "evidence": [{"source": e.source, "line": e.line, "text": e.text} for e in f.evidence],
        "fix": f.fix,
        "fix_in_patch": f.fix_is_patchable and bool(f.changes or f.insertions),
    }
    if f.location is not None:
        out["nginx"] = location_to_json(f.location)
    if f.certificate is not None:
        c = f.certificate
        out["certificate"] = {"path": c.path, "subject": c.subject, "dns_names": list(c.dns_names),
                              "not_before": c.not_before.isoformat() if c.not_before else None,
                              "not_after": c.not_after.isoformat() if c.not_after else None}
    return out


def anomaly_to_json(a: NginxAnomaly) -> dict[str, Any]:
    return {"kind": a.kind.value, "source": a.file, "line": a.line, "text": a.message}


def report_json(analysis: NginxAnalysis) -> dict[str, Any]:
    by_check: dict[str, int] = {}
    for f in analysis.findings:
        by_check[f.cause] = by_check.get(f.cause, 0) + 1
    return {
        "schema": SCHEMA,
        "tool": {"name": "tlsdoctor", "version": __version__},
        "inputs": [{"path": p, "kind": "nginx_config"} for p in analysis.files],
        "overview": {
            "connections": 0, "tls_connections": 0, "handshakes_completed": 0, "handshakes_failed": 0,
            "by_cause": {},
            "findings_by_check": by_check,
            "upstream_locations": len(analysis.locations),
        },
        "findings": [finding_to_json(f) for f in analysis.findings],
        "anomalies": [anomaly_to_json(a) for a in analysis.anomalies],
    }
