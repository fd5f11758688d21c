"""The I/O edge of ``diagnose``: read every piece of evidence, stream the captures, conclude.

Theory of operation. ``investigate`` recognises each file by content (``evidence.intake``), reads the
non-capture evidence first (nginx configuration, error and access logs, certificates, key logs: all
small), because the captures' records are judged against it; then streams each capture through the
engine once, feeding ``Diagnosis``, which keeps what the rules need; then builds the rules' ``Context``
and concludes. Nothing here decides a cause: that is the rules' job, on data.

Key logs are read before the captures so that the one pass over each capture decrypts: the merged key
log, plus what a pcapng carries in its Decryption Secrets Blocks, is given to the engine
(``CaptureAnalyzer(name, keylog)``, in every worker of a sharded read too), whose handshake tracker
puts the decrypted certificates, CertificateRequest and alerts on the records as it goes. There is no
second pass over a capture.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tlsdoctor.capture import CaptureError, open_capture
from tlsdoctor.diagnosis import Diagnosis
from tlsdoctor.engine import CaptureAnalyzer, embedded_keylog
from tlsdoctor.evidence.intake import InputKind, Sniffed, display_names, gather
from tlsdoctor.evidence.nginx_logs import AccessLogFormat
from tlsdoctor.findings import Anomaly
from tlsdoctor.logfindings import log_only_findings
from tlsdoctor.parallel import default_jobs
from tlsdoctor.progress import Progress, follow_capture
from tlsdoctor.report.model import Input, Report
from tlsdoctor.rules.base import ConfigFact, Context, LogLine
from tlsdoctor.tls.certificates import CertificateFacts
from tlsdoctor.tls.keylog import KeyLog


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
    error_lines: list[LogLine] = field(default_factory=list)
    keylog: KeyLog | None = None  # the key log files given, merged
    embedded_randoms: int = 0  # client randoms of key logs embedded in the captures (Decryption Secrets Blocks)
    decrypted: int = 0  # failing handshakes the engine decrypted
    access_lines: list[LogLine] = field(default_factory=list)


def investigate(paths: Sequence[str], *, vantages: Mapping[str, str] | None = None, ca_bundle: str | None = None,
                progress: Progress | None = None, jobs: int | None = None) -> Report:
    """Diagnose the evidence in ``paths`` (files and folders, any mix) and ``vantages`` (label -> capture).
    ``jobs``: worker processes for a single large capture (default: the cores, from 64 MB up)."""
    started = time.monotonic()
    vantage_of = {os.path.abspath(p): label for label, p in (vantages or {}).items()}
    files, problems = gather([*paths, *[p for p in (vantages or {}).values() if p not in paths]])
    names = display_names([f.path for f in files])
    ev = _Evidence()
    ev.anomalies.extend(Anomaly("unreadable", source, text) for source, text in problems)
    by_kind: dict[str, list[Sniffed]] = {}
    for f in files:
        by_kind.setdefault(f.kind, []).append(f)

    for f in by_kind.get(InputKind.NGINX_CONFIG, []):
        _read_nginx_config(f, names[f.path], ev, skip={os.path.abspath(i.path) for i in ev.inputs})
    for f in by_kind.get(InputKind.CERTIFICATE, []):
        _read_certificates(f, names[f.path], ev)
    formats = _access_formats(ev)
    for f in by_kind.get(InputKind.UNRECOGNIZED, []):
        # An access log in a custom log_format is recognised once the configuration has told us its format.
        if ev.log_formats and _looks_like_custom_access_log(f.path, formats):
            by_kind.setdefault(InputKind.NGINX_ACCESS_LOG, []).append(
                Sniffed(f.path, InputKind.NGINX_ACCESS_LOG, "nginx access log (a log_format of the configuration)"))
        else:
            ev.inputs.append(Input(names[f.path], InputKind.UNRECOGNIZED, detail=f.detail))
    for f in by_kind.get(InputKind.NGINX_ERROR_LOG, []):
        _read_error_log(f, names[f.path], ev)
    for f in by_kind.get(InputKind.NGINX_ACCESS_LOG, []):
        _read_access_log(f, names[f.path], ev, formats)
    for f in by_kind.get(InputKind.KEYLOG, []):
        _read_keylog(f, names[f.path], ev)

    captures = by_kind.get(InputKind.CAPTURE, [])
    labelled = any(os.path.abspath(f.path) in vantage_of for f in captures)
    verify_failed = frozenset(ln.upstream_address for ln in ev.error_lines if ln.upstream_address is not None
                              and any(c.startswith("certificate_") for c in ln.causes)
                              and ln.rule.startswith("upstream_cert"))
    diagnosis = Diagnosis(correlate_all=len(captures) > 1, verify_failed_servers=verify_failed)
    for f in captures:
        label = vantage_of.get(os.path.abspath(f.path))
        size = os.path.getsize(f.path) if f.path != "-" and os.path.isfile(f.path) else 0
        n = (jobs if jobs is not None else default_jobs(size)) if len(captures) == 1 and f.path != "-" else 1
        if n > 1:
            _read_capture_sharded(f, names[f.path], label, n, diagnosis, ev, verify_failed, progress)
        else:
            _read_capture(f, names[f.path], label, diagnosis, ev, progress)
        if diagnosis.captures and diagnosis.captures[-1].name == names[f.path]:
            ev.decrypted += _decrypted_failing(diagnosis)
    if len(captures) > 1 and not labelled:
        ev.notes.append("Several captures without --vantage labels: a connection that two of them show (same "
                        "ClientHello random, or same 4-tuple and time) is counted once; label them --vantage "
                        "client=FILE --vantage server=FILE to compare what each end saw.")
    if not captures:
        ev.notes.append("No capture among the evidence: findings come from the logs and configuration alone.")
    if (ev.keylog is not None or ev.embedded_randoms) and captures:
        given = f"{len(ev.keylog)} client random(s)" if ev.keylog is not None else ""
        inside = f"{ev.embedded_randoms} client random(s) embedded in the capture(s)" if ev.embedded_randoms else ""
        randoms = " and ".join(x for x in (given, inside) if x)
        ev.notes.append(f"Key log: {randoms}; {ev.decrypted} failing TLS 1.3 handshake(s) "
                        "decrypted with it (their encrypted certificates, requests and alerts are read, not "
                        "inferred).")
    elif any(r.tls_version == "TLSv1.3" and any(a.encrypted for a in r.tls.alerts)
             for c in diagnosis.captures for r in c.kept):
        ev.notes.append("No key log given: encrypted TLS 1.3 alerts are inferred from record sizes and timing, "
                        "with less confidence; an SSLKEYLOGFILE (SSLKEYLOGFILE=/path curl ..., or the server's) "
                        "would let tlsdoctor read them.")

    from tlsdoctor.tls.trust import load_trust_store

    trust, trust_warnings = load_trust_store(ca_bundle)
    ev.notes.extend(f"trust store {trust.source}: {w}" for w in trust_warnings[:5])
    ctx = Context(vantages=tuple(sorted(set(vantage_of.values()))), config=tuple(ev.config),
                  trust_store=trust,
                  error_log=tuple(ev.error_lines), access_log=tuple(ev.access_lines),
                  upstream_group_names=frozenset(ev.group_names), ca_bundle=ca_bundle,
                  certificates=tuple(ev.certificates), certificate_sources=dict(ev.certificate_sources))
    captured = diagnosis.servers_seen()
    report = diagnosis.conclude(_ordered_inputs(ev.inputs, [names[f.path] for f in files]), ctx,
                                notes=ev.notes, anomalies=ev.anomalies,
                                log_findings=log_only_findings(ev.error_lines, ctx, captured))
    from dataclasses import replace

    return replace(report, elapsed_s=time.monotonic() - started)


def _ordered_inputs(inputs: list[Input], order: list[str]) -> list[Input]:
    pos = {name: i for i, name in enumerate(order)}
    return sorted(inputs, key=lambda i: pos.get(i.path, len(pos)))


def _read_capture(f: Sniffed, name: str, vantage: str | None, diagnosis: Diagnosis, ev: _Evidence,
                  progress: Progress | None) -> None:
    try:
        with open_capture(f.path) as source:
            frames, embedded = embedded_keylog(source)
            analyzer = CaptureAnalyzer(name, _keylog_for_capture(name, embedded, ev))
            analyzer.attach(source)
            done = follow_capture(analyzer, source, name, progress)
            diagnosis.add(name, vantage, analyzer.analyze(frames))
            done()
            for a in source.anomalies:
                ev.anomalies.append(Anomaly(a.kind, name, a.detail, frame=a.frame))
            for text in analyzer.anomalies:
                ev.anomalies.append(Anomaly("engine", name, text))
            detail = f"{source.format}, {analyzer.stats.frames} frames{_embedded(len(embedded or ()))}"
            ev.inputs.append(Input(name, InputKind.CAPTURE, vantage, detail=detail, file=f.path))
    except CaptureError as exc:
        ev.inputs.append(Input(name, InputKind.UNRECOGNIZED, vantage, detail=f"not a readable capture: {exc}"))
        ev.anomalies.append(Anomaly("unreadable_capture", name, str(exc)))


def _read_keylog(f: Sniffed, name: str, ev: _Evidence) -> None:
    from tlsdoctor.tls.keylog import parse_keylog

    try:
        with open(f.path, "rb") as fh:
            keylog = parse_keylog(fh)
    except OSError as exc:
        ev.inputs.append(Input(name, InputKind.UNRECOGNIZED, detail=f"unreadable: {exc.strerror or exc}"))
        return
    for line, why in keylog.anomalies:
        ev.anomalies.append(Anomaly("keylog", name, why, line=line))
    if ev.keylog is None:
        ev.keylog = keylog
    else:  # several key logs: one set of secrets
        merged = dict(ev.keylog.secrets)
        for random, labels in keylog.secrets.items():
            merged.setdefault(random, {}).update(labels)
        ev.keylog = KeyLog(merged, ev.keylog.anomalies + keylog.anomalies, ev.keylog.lines + keylog.lines)
    ev.inputs.append(Input(name, InputKind.KEYLOG, detail=f"{len(keylog)} client random(s), {keylog.lines} lines"))


def _keylog_for_capture(name: str, embedded: KeyLog | None, ev: _Evidence) -> KeyLog | None:
    """The key log to decrypt capture ``name`` with: the files given, merged with the one the capture
    carries in its Decryption Secrets Blocks (whose bad lines are the capture's anomalies)."""
    if embedded is None:
        return ev.keylog
    _note_embedded(name, len(embedded), embedded.anomalies, ev)
    return embedded if ev.keylog is None else ev.keylog.merged(embedded)


def _note_embedded(name: str, randoms: int, anomalies: Sequence[tuple[int, str]], ev: _Evidence) -> None:
    ev.embedded_randoms += randoms
    # The line numbers count across the capture's Decryption Secrets Blocks: they go in the text, since
    # an anomaly's ``line`` would point into the capture file.
    ev.anomalies.extend(Anomaly("keylog", name, f"key log in a Decryption Secrets Block, line {n}: {why}")
                        for n, why in anomalies)


def _embedded(randoms: int) -> str:
    return f", a key log of {randoms} client random(s) embedded" if randoms else ""


def _decrypted_failing(diagnosis: Diagnosis) -> int:
    """Failing handshakes of the capture just read that the engine decrypted with the key log."""
    cap = diagnosis.captures[-1]
    return sum(1 for r in cap.kept if r.tls.decryption == "decrypted"
               and (r.failed or (cap.name, r.tcp_stream) in diagnosis.failed_by_log))


def _read_capture_sharded(f: Sniffed, name: str, vantage: str | None, jobs: int, diagnosis: Diagnosis,
                          ev: _Evidence, verify_failed: frozenset[str], progress: Progress | None) -> None:
    from tlsdoctor.parallel import analyze_sharded

    try:
        read = analyze_sharded(f.path, name, jobs, diagnosis, verify_failed, ev.keylog, progress)
    except CaptureError as exc:
        ev.inputs.append(Input(name, InputKind.UNRECOGNIZED, vantage, detail=f"not a readable capture: {exc}"))
        ev.anomalies.append(Anomaly("unreadable_capture", name, str(exc)))
        return
    ev.anomalies.extend(read.anomalies)
    _note_embedded(name, read.embedded_randoms, read.embedded_anomalies, ev)
    ev.inputs.append(Input(name, InputKind.CAPTURE, vantage, file=f.path,
                           detail=f"{read.format}, {read.frames} frames{_embedded(read.embedded_randoms)}, "
                                  f"{jobs} workers"))


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
            prefix = loc.location if loc.location and not loc.location.startswith(("=", "~", "@")) else None
            if loc.location and loc.location.startswith("^~ "):
                prefix = loc.location[3:]
            ev.config.append(ConfigFact(
                source=os.path.basename(ref.file) if ref.file else name, line=ref.line,
                text=ref.text, upstream_addresses=addresses, sni_sent=target.sni,
                sni_kind=target.sni_kind.value, real_host=choice.name, fix=fix.text,
                group=target.upstream.name if target.upstream else None, location=where, patch=patch,
                location_path=prefix))
    n = len([x for x in analysis.findings])
    if n:
        ev.notes.append(f"{name}: tlsdoctor nginx {name} reports {n} configuration problem(s) "
                        f"({', '.join(sorted({x.cause for x in analysis.findings}))}).")


def _read_certificates(f: Sniffed, name: str, ev: _Evidence) -> None:
    from tlsdoctor.tls.trust import read_pem_certificates

    try:
        with open(f.path, "rb") as fh:
            data = fh.read(16 * 1024 * 1024)
    except OSError as exc:
        ev.inputs.append(Input(name, InputKind.UNRECOGNIZED, detail=f"unreadable: {exc.strerror or exc}"))
        return
    certs, warnings = read_pem_certificates(data)
    for w in warnings[:20]:
        ev.anomalies.append(Anomaly("pem", name, w))
    if not certs:
        ev.inputs.append(Input(name, InputKind.UNRECOGNIZED, detail="PEM without a readable certificate"))
        return
    chain = tuple(certs)
    ev.certificates.append(chain)
    for c in chain:
        ev.certificate_sources.setdefault(c.sha256, name)
    what = f"{len(chain)} certificate(s), first {chain[0].subject}"
    ev.inputs.append(Input(name, InputKind.CERTIFICATE, detail=what))



def _access_formats(ev: _Evidence) -> list[AccessLogFormat]:
    from tlsdoctor.evidence.nginx_logs import COMBINED, compile_log_format

    out = [compile_log_format(fmt, name, escape) for name, fmt, escape in ev.log_formats]
    return [*out, COMBINED]


def _looks_like_custom_access_log(path: str, formats: Sequence[AccessLogFormat]) -> bool:
    from tlsdoctor.evidence.nginx_logs import looks_like_access_log

    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024).splitlines()[:20]
    except OSError:
        return False
    return looks_like_access_log(head, formats)


def _read_error_log(f: Sniffed, name: str, ev: _Evidence) -> None:
    from tlsdoctor.evidence.nginx_logs import classify, read_error_log

    try:
        log = read_error_log(f.path, name)
    except OSError as exc:
        ev.inputs.append(Input(name, InputKind.UNRECOGNIZED, detail=f"unreadable: {exc.strerror or exc}"))
        return
    flavors: set[str] = set()
    unknown = 0
    for entry in log.entries:
        c = classify(entry)
        if entry.openssl is not None:
            flavors.add(entry.openssl.flavor)
        if c is None:
            if entry.level in ("error", "crit", "alert", "emerg"):
                unknown += 1
            continue
        path = entry.request.split()[1] if entry.request and len(entry.request.split()) > 1 else None
        ev.error_lines.append(LogLine(name, entry.line, entry.text, c.causes, upstream_address=entry.upstream_address,
                                      client_address=entry.client, time=entry.time, request_path=path,
                                      rule=c.rule))
    for a in log.anomalies:
        ev.anomalies.append(Anomaly(a.kind, name, a.text, line=a.line))
    ev.inputs.append(Input(name, InputKind.NGINX_ERROR_LOG, detail=f"{log.lines} lines, {len(log.entries)} kept, "
                                                                   f"{len(ev.error_lines)} tied to TLS causes"))
    old = sorted(fl for fl in flavors if not fl.startswith("3"))
    if old:
        ev.notes.append(f"{name}: written by an nginx built with OpenSSL {', '.join(old)} (error codes such as "
                        "14094410); its messages are read with that version's meaning.")
    if unknown:
        ev.notes.append(f"{name}: {unknown} error line(s) whose message tlsdoctor does not know (another nginx "
                        "version or module?); they are not used. tlsdoctor explain \"<the message>\" may help.")


def _read_access_log(f: Sniffed, name: str, ev: _Evidence, formats: Sequence[AccessLogFormat]) -> None:
    from tlsdoctor.evidence.nginx_logs import read_access_log

    try:
        log = read_access_log(f.path, formats, name)
    except OSError as exc:
        ev.inputs.append(Input(name, InputKind.UNRECOGNIZED, detail=f"unreadable: {exc.strerror or exc}"))
        return
    failed = 0
    for entry in log.entries:
        bad: list[tuple[str | None, int | None]] = [
            (a, st) for a, st in zip(entry.upstream_addrs, entry.upstream_statuses, strict=False)
            if st is not None and st >= 500]
        if not bad and not (entry.status is not None and entry.status >= 500):
            continue
        failed += 1
        for address, _status in bad or [(None, entry.status)]:
            ev.access_lines.append(LogLine(name, entry.line, entry.text, (), upstream_address=address,
                                           client_address=entry.remote_addr, time=entry.time))
    for a in log.anomalies:
        ev.anomalies.append(Anomaly(a.kind, name, a.text, line=a.line))
    ev.inputs.append(Input(name, InputKind.NGINX_ACCESS_LOG, detail=f"{log.lines} lines, {len(log.entries)} "
                                                                    f"parsed, {failed} answered 5xx"))
