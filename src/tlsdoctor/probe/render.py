"""A probe report as JSON (schema ``tlsdoctor.probe/1``, documented in docs/probe.md) and as a terminal table."""

from __future__ import annotations

from typing import IO, Any, Final

from tlsdoctor import __version__
from tlsdoctor.findings import Finding
from tlsdoctor.probe.model import HandshakeReport, ProbeReport, ProbeResult
from tlsdoctor.tls.alerts import alert_name
from tlsdoctor.tls.registry import cipher_suite_name, group_name, version_name

SCHEMA: Final = "tlsdoctor.probe/1"


def _probe_json(p: ProbeResult) -> dict[str, Any]:
    o, a = p.outcome, p.outcome.answer
    out: dict[str, Any] = {
        "name": p.name, "description": p.description, "server": p.server, "sni": p.sni,
        "client_hello_bytes": p.client_hello_bytes,
        "outcome": {"kind": o.kind.value, "text": o.describe(), "client": o.local, "connect_ms": o.connect_ms,
                    "elapsed_ms": o.elapsed_ms, "bytes_received": o.bytes_received, "error": o.error},
    }
    if a is not None:
        extra: dict[str, Any] = {}
        if a.version is not None:
            extra["version"] = version_name(a.version)
        if a.cipher_suite is not None:
            extra["cipher_suite"] = cipher_suite_name(a.cipher_suite)
        if a.key_share_group is not None:
            extra["group"] = group_name(a.key_share_group)
        if a.alpn is not None:
            extra["alpn"] = a.alpn
        if a.alert_code is not None:
            extra["alert"] = {"code": a.alert_code, "name": alert_name(a.alert_code), "level": a.alert_level}
        if a.preview:
            extra["preview"] = a.preview.decode("latin-1")
        out["outcome"].update(extra)
    return out


def _handshake_json(h: HandshakeReport) -> dict[str, Any]:
    return {
        "server": f"{h.address}:{h.port}", "sni": h.sni, "completed": h.completed, "version": h.version,
        "cipher": h.cipher, "error": h.error,
        "alert": ({"code": h.alert_code, "name": alert_name(h.alert_code)} if h.alert_code is not None else None),
        "post_handshake_alert": h.post_handshake_alert, "trust_store": h.trust_store,
        "verify": {"checked": h.trust_checked, "code": h.verify_code, "message": h.verify_message},
        "chain": [{"subject": c.subject, "issuer": c.issuer, "not_before": c.not_before, "not_after": c.not_after,
                   "dns_names": list(c.dns_names), "ip_addresses": list(c.ip_addresses),
                   "self_issued": c.self_issued, "sha256": c.sha256} for c in h.chain],
        "problems": [{"cause": c, "text": t, "confidence": k} for c, t, k in h.problems],
    }


def finding_json(f: Finding) -> dict[str, Any]:
    """A finding in the form of shared/REPORT.md."""
    return {
        "cause": f.cause, "title": f.title, "confidence": f.confidence.value, "explanation": f.explanation,
        "connections": [{"probe": c.probe, "client": c.client, "server": c.server, "sni": c.sni,
                         "outcome": c.outcome} for c in f.connections],
        "evidence": [{"source": e.source, "text": e.text} for e in f.evidence],
        "fix": f.fix,
    }


def report_json(report: ProbeReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "tool": {"name": "tlsdoctor", "version": __version__},
        "target": {"host": report.host, "port": report.port, "sni": report.sni, "wrong_sni": report.wrong_sni,
                   "timeout_s": report.timeout_s},
        "duration_ms": report.duration_ms,
        "addresses": [{"address": a.address, "probes": [_probe_json(p) for p in a.results],
                       "handshake": _handshake_json(a.handshake) if a.handshake is not None else None}
                      for a in report.addresses],
        "findings": [finding_json(f) for f in report.findings],
        "notes": list(report.notes),
        "anomalies": list(report.anomalies),
    }


def print_terminal(report: ProbeReport, file: IO[str] | None = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=file, highlight=False, soft_wrap=True)
    ok_style = {True: "green", False: "red"}
    for a in report.addresses:
        table = Table(title=f"{escape(report.host)}:{report.port} at {escape(a.address)}"
                            + (f"  (SNI {escape(report.sni)})" if report.sni else ""), title_justify="left")
        table.add_column("probe")
        table.add_column("offer")
        table.add_column("bytes", justify="right")
        table.add_column("connect", justify="right")
        table.add_column("outcome")
        for p in a.results:
            connect = f"{p.outcome.connect_ms:.0f} ms" if p.outcome.connect_ms is not None else "-"
            table.add_row(p.name, escape(p.description), str(p.client_hello_bytes), connect,
                          f"[{ok_style[p.outcome.ok]}]{escape(p.outcome.describe())}[/]")
        console.print(table)
        h = a.handshake
        if h is not None:
            if h.completed:
                console.print(f"full handshake: [green]{escape(h.version or '')} {escape(h.cipher or '')}[/]")
            else:
                console.print(f"full handshake: [red]{escape(h.error or 'failed')}[/]")
            for i, c in enumerate(h.chain):
                names = ", ".join((*c.dns_names, *c.ip_addresses))
                console.print(f"  cert {i}: {escape(c.subject)}  [dim]issuer[/] {escape(c.issuer)}  "
                              f"[dim]valid[/] {c.not_before} .. {c.not_after}" + (f"  [dim]names[/] {escape(names)}"
                                                                                  if names else ""))
            if h.verify_code is not None:
                console.print(f"  trust ({escape(h.trust_store)}): [red]{escape(h.verify_message or '')}[/] "
                              f"(X509_V_ERR {h.verify_code})")
            elif h.chain and h.trust_checked:
                console.print(f"  trust ({escape(h.trust_store)}): [green]verified[/]")
        console.print()
    style = {"certain": "bold red", "likely": "red", "possible": "yellow"}
    for n, f in enumerate(report.findings, 1):
        console.print(f"[{style[f.confidence.value]}]{n}. {escape(f.cause)}[/] [bold]{escape(f.title)}[/]"
                      f"  [dim]({f.confidence.value})[/]")
        console.print(f"   {escape(f.explanation)}")
        for e in f.evidence:
            console.print(f"   [dim]{escape(e.source)}[/]  {escape(e.text)}")
        console.print(f"   [green]fix:[/] {escape(f.fix)}")
        console.print()
    for note in report.notes:
        console.print(f"[dim]note:[/] {escape(note)}")
    for anomaly in report.anomalies:
        console.print(f"[yellow]anomaly:[/] {escape(anomaly)}")
    verdict = (f"[red]{len(report.findings)} finding(s)[/]" if report.findings else "[green]no problem found[/]")
    took = f"{report.duration_ms / 1000:.1f} s" if report.duration_ms >= 1000 else f"{report.duration_ms:.0f} ms"
    console.print(f"{len(report.addresses)} address(es), {sum(len(a.results) for a in report.addresses)} probes "
                  f"in {took}: {verdict}")
