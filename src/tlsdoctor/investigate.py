"""The I/O edge of ``diagnose``: read every piece of evidence, stream the captures, conclude.

Theory of operation. ``investigate`` recognises each file by content (``evidence.intake``), reads the
non-capture evidence first (nginx configuration, error and access logs, certificates, key logs: all
small), because the captures' records are judged against it; then streams each capture through the
engine once, feeding ``Diagnosis``, which keeps what the rules need; then builds the rules' ``Context``
and concludes. Nothing here decides a cause: that is the rules' job, on data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from tlsdoctor.capture import CaptureError, open_capture
from tlsdoctor.diagnosis import Diagnosis
from tlsdoctor.engine import CaptureAnalyzer
from tlsdoctor.evidence.intake import InputKind, Sniffed, display_names, gather
from tlsdoctor.findings import Anomaly
from tlsdoctor.report.model import Input, Report
from tlsdoctor.rules.base import ConfigFact, Context
from tlsdoctor.tls.certificates import CertificateFacts, certificate_facts

Progress = Callable[[str, int, int], None]
"""progress(capture name, bytes read, total bytes) — called now and then while a capture is read."""

PROGRESS_EVERY_FRAMES = 20_000


@dataclass(slots=True)
class _Evidence:
    config: list[ConfigFact] = field(default_factory=list)
    group_names: set[str] = field(default_factory=set)
    log_formats: list[tuple[str, str, str]] = field(default_factory=list)  # (name, format, escape)
    certificates: list[tuple[CertificateFacts, ...]] = field(default_factory=list)
    certificate_sources: dict[str, str] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)


def investigate(paths: Sequence[str], *, vantages: Mapping[str, str] | None = None, ca_bundle: str | None = None,
                progress: Progress | None = None) -> Report:
    """Diagnose the evidence in ``paths`` (files and folders, any mix) and ``vantages`` (label -> capture)."""
    started = time.monotonic()
    vantage_of = {os.path.abspath(p): label for label, p in (vantages or {}).items()}
    files, problems = gather([*paths, *[p for p in (vantages or {}).values() if p not in paths]])
    names = display_names([f.path for f in files])
    ev = _Evidence()
    ev.anomalies.extend(Anomaly("unreadable", "", p) for p in problems)
    by_kind: dict[str, list[Sniffed]] = {}
    for f in files:
        by_kind.setdefault(f.kind, []).append(f)

    for f in by_kind.get(InputKind.NGINX_CONFIG, []):
        _read_nginx_config(f, names[f.path], ev, skip={os.path.abspath(i.path) for i in ev.inputs})
    for f in by_kind.get(InputKind.CERTIFICATE, []):
        _read_certificates(f, names[f.path], ev)
    for kind in (InputKind.NGINX_ERROR_LOG, InputKind.NGINX_ACCESS_LOG, InputKind.KEYLOG):
        for f in by_kind.get(kind, []):
            ev.inputs.append(Input(names[f.path], kind, detail=f.detail))
    for f in by_kind.get(InputKind.UNRECOGNIZED, []):
        ev.inputs.append(Input(names[f.path], InputKind.UNRECOGNIZED, detail=f.detail))

    captures = by_kind.get(InputKind.CAPTURE, [])
    labelled = any(os.path.abspath(f.path) in vantage_of for f in captures)
    diagnosis = Diagnosis(correlate_all=len(captures) > 1)
    for f in captures:
        label = vantage_of.get(os.path.abspath(f.path))
        _read_capture(f, names[f.path], label, diagnosis, ev, progress)
    if len(captures) > 1 and not labelled:
        ev.notes.append("Several captures without --vantage labels: a connection that two of them show (same "
                        "ClientHello random, or same 4-tuple and time) is counted once; label them --vantage "
                        "client=FILE --vantage server=FILE to compare what each end saw.")
    if not captures:
        ev.notes.append("No capture among the evidence: findings come from the logs and configuration alone.")

    ctx = Context(vantages=tuple(sorted(set(vantage_of.values()))), config=tuple(ev.config),
                  upstream_group_names=frozenset(ev.group_names), ca_bundle=ca_bundle,
                  certificates=tuple(ev.certificates), certificate_sources=dict(ev.certificate_sources))
    report = diagnosis.conclude(_ordered_inputs(ev.inputs, [names[f.path] for f in files]), ctx,
                                notes=ev.notes, anomalies=ev.anomalies)
    from dataclasses import replace

    return replace(report, elapsed_s=time.monotonic() - started)


def _ordered_inputs(inputs: list[Input], order: list[str]) -> list[Input]:
    pos = {name: i for i, name in enumerate(order)}
    return sorted(inputs, key=lambda i: pos.get(i.path, len(pos)))


def _frames_with_progress(frames: Iterator[tuple[int, int, int, object, int, int, int]], name: str,
                          source_bytes: Callable[[], int], total: int,
                          progress: Progress) -> Iterator[tuple[int, int, int, object, int, int, int]]:
    for n, frame in enumerate(frames, 1):
        if n % PROGRESS_EVERY_FRAMES == 0:
            progress(name, source_bytes(), total)
        yield frame
    progress(name, total, total)


def _read_capture(f: Sniffed, name: str, vantage: str | None, diagnosis: Diagnosis, ev: _Evidence,
                  progress: Progress | None) -> None:
    try:
        with open_capture(f.path) as source:
            analyzer = CaptureAnalyzer(name)
            frames = source.frames()
            if progress is not None:
                frames = _frames_with_progress(frames, name, lambda: source.bytes_read,  # type: ignore[assignment]
                                               source.size or 0, progress)
            diagnosis.add(name, vantage, analyzer.analyze(frames))
            for a in source.anomalies:
                ev.anomalies.append(Anomaly(a.kind, name, a.detail, frame=a.frame))
            for text in analyzer.anomalies:
                ev.anomalies.append(Anomaly("engine", name, text))
            ev.inputs.append(Input(name, InputKind.CAPTURE, vantage,
                                   detail=f"{source.format}, {analyzer.stats.frames} frames"))
    except CaptureError as exc:
        ev.inputs.append(Input(name, InputKind.UNRECOGNIZED, vantage, detail=f"not a readable capture: {exc}"))
        ev.anomalies.append(Anomaly("unreadable_capture", name, str(exc)))


def _read_nginx_config(f: Sniffed, name: str, ev: _Evidence, skip: set[str]) -> None:
    from tlsdoctor.evidence.nginx import analyze_config
    from tlsdoctor.evidence.nginx_checks import proper_name, sni_fix
    from tlsdoctor.evidence.nginx_patch import unified_diff

    sni_checks = ("upstream_sni_off", "upstream_sni_is_group_name", "upstream_host_sni_mismatch")

    if os.path.abspath(f.path) in skip:
        return
    analysis = analyze_config(f.path)
    ev.inputs.append(Input(name, InputKind.NGINX_CONFIG, detail=f"{len(analysis.files)} file(s), "
                                                                f"{len(analysis.locations)} proxied location(s)"))
    for a in analysis.anomalies:
        ev.anomalies.append(Anomaly(a.kind.value, a.file or name, a.message, line=a.line))
    ev.group_names.update(u.name for u in analysis.upstreams)
    ev.log_formats.extend((lf.name, lf.format, lf.escape) for lf in analysis.log_formats)
    for loc in analysis.locations:
        ref = loc.pass_ref
        for target in loc.targets:
            if not target.tls:
                continue
            if target.upstream is not None:
                addresses = tuple(s.address if ":" in s.address.rsplit("]", 1)[-1] else f"{s.address}:443"
                                  for s in target.upstream.servers)
            else:
                addresses = (f"{target.host}:{target.port or 443}",)
            fix = sni_fix(analysis, loc, [target], enable=not loc.sni_enabled)
            choice = proper_name(loc, target)
            own = [x for x in analysis.findings if x.location is loc and x.cause in sni_checks]
            patch = unified_diff(own, analysis.texts, os.path.dirname(analysis.path)) if own else ""
            where = f"server {' '.join(loc.server_names) or '_'}, location {loc.location}"
            ev.config.append(ConfigFact(
                source=os.path.basename(ref.file) if ref.file else name, line=ref.line,
                text=f"{ref.text} ({where})", upstream_addresses=addresses, sni_sent=target.sni,
                sni_kind=target.sni_kind.value, real_host=choice.name, fix=fix.text,
                group=target.upstream.name if target.upstream else None, location=where, patch=patch))
    n = len([x for x in analysis.findings])
    if n:
        ev.notes.append(f"{name}: tlsdoctor nginx {name} reports {n} configuration problem(s) "
                        f"({', '.join(sorted({x.cause for x in analysis.findings}))}).")


def _read_certificates(f: Sniffed, name: str, ev: _Evidence) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        with open(f.path, "rb") as fh:
            data = fh.read(16 * 1024 * 1024)
        certs = x509.load_pem_x509_certificates(data)
    except (OSError, ValueError) as exc:
        ev.inputs.append(Input(name, InputKind.UNRECOGNIZED, detail=f"PEM that cryptography cannot read: {exc}"))
        return
    chain = tuple(certificate_facts(c.public_bytes(Encoding.DER)) for c in certs)
    ev.certificates.append(chain)
    for c in chain:
        ev.certificate_sources.setdefault(c.sha256, name)
    leaf = chain[0] if chain else None
    what = f"{len(chain)} certificate(s)" + (f", first {leaf.subject}" if leaf is not None else "")
    ev.inputs.append(Input(name, InputKind.CERTIFICATE, detail=what))
