"""From connection records (and the context other evidence gives) to a Report. Pure: no files.

Theory of operation. ``Diagnosis`` is fed the records of each capture as the engine streams them
(``add``). With one capture it keeps only the failing records, and counts the rest: memory follows the
failures, not the capture. With several captures it keeps every record (up to ``MAX_CORRELATED``) so
that ``correlate`` can match the views of one connection across vantage points; past the cap it keeps
the failing ones only and says so. ``conclude`` correlates, classifies each failing conversation with
the rules (each lands in exactly one finding), builds the findings, and the overview that counts one
per connection across vantage points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.correlate import CaptureRecords, correlate
from tlsdoctor.findings import Anomaly, Confidence, Evidence, Finding
from tlsdoctor.report.model import Input, Overview, Report
from tlsdoctor.rules import classify, findings
from tlsdoctor.rules.base import Context, Conversation, LogLine, Match, View, capture_time
from tlsdoctor.rules.tls_interception import intercepted

MAX_EXEMPLARS = 2_000
"""Healthy connections kept, one per server, to contrast with a failing one in reports."""

MAX_SEEN_CERTIFICATE_PROBLEMS = 100
"""Distinct certificates with a problem that the client accepted anyway, listed as observations."""

MAX_CORRELATED = 300_000
"""Records kept per capture for correlation when several captures are given (the failing ones are
always kept); each costs about 2-5 kB."""


@dataclass(slots=True)
class _Capture:
    name: str
    vantage: str | None
    kept: list[ConnectionRecord] = field(default_factory=list)
    connections: int = 0
    tls: int = 0
    completed: int = 0
    failed: int = 0
    not_judged: int = 0
    dropped_healthy: int = 0


class Diagnosis:
    def __init__(self, *, correlate_all: bool, verify_failed_servers: frozenset[str] = frozenset()) -> None:
        self.correlate_all = correlate_all
        # Servers for which nginx's error log reports a certificate verify error: nginx completes the
        # handshake (its verify callback accepts all), checks the result, then closes at once (seed 001).
        # Such a connection looks completed in the capture; the log says it failed.
        self.verify_failed_servers = verify_failed_servers
        self.failed_by_log: set[tuple[str, int]] = set()
        self._merging: _Capture | None = None
        # leaf sha256 -> (capture, record, problem): certificate problems on handshakes that completed
        self.seen_certificate_problems: dict[str, tuple[str, ConnectionRecord, str, str]] = {}
        self.captures: list[_Capture] = []
        # server ip:port -> [completed with SNI, completed without SNI]: the by-hand control (s_client with
        # and without -servername) that the capture itself may hold.
        self.completed_by_server: dict[str, list[int]] = {}
        self.anomalies: list[Anomaly] = []
        self.exemplars: dict[str, ConnectionRecord] = {}

    def _infer_vantages(self) -> str | None:
        """With exactly two unlabelled captures, tell which was taken nearer the client by the TTLs of the
        connections both show (each hop lowers the TTL by one), and label them ``client`` and ``server``."""
        if len(self.captures) != 2 or any(c.vantage is not None for c in self.captures):
            return None
        a, b = self.captures
        conversations = correlate([CaptureRecords(a.name, None, a.kept), CaptureRecords(b.name, None, b.kept)],
                                  pair_intercepted=False)
        votes = 0
        for conv in conversations:
            if len(conv.views) == 2:
                first, second = conv.views
                v = _client_side_votes(first.record, second.record)
                votes += v if first.capture == a.name else -v
        if votes == 0:
            return None
        near, far = (a, b) if votes > 0 else (b, a)
        near.vantage, far.vantage = "client", "server"
        return (f"{near.name} was taken nearer the client and {far.name} nearer the server (by the TTLs of the "
                "connections both show); say otherwise with --vantage.")

    def merge(self, other: Diagnosis, renumber: Callable[[ConnectionRecord], ConnectionRecord]) -> None:
        """Add one shard's state (``parallel``): its single capture joins the capture being merged, its
        records renumbered to the whole capture's tcp.stream numbers."""
        oc = other.captures[0]
        if self._merging is None:
            self._merging = _Capture(oc.name, oc.vantage)
        cap = self._merging
        mapping: dict[int, int] = {}
        for rec in oc.kept:
            new = renumber(rec)
            mapping[rec.tcp_stream] = new.tcp_stream
            cap.kept.append(new)
        cap.connections += oc.connections
        cap.tls += oc.tls
        cap.completed += oc.completed
        cap.failed += oc.failed
        cap.not_judged += oc.not_judged
        for server, (with_sni, without) in other.completed_by_server.items():
            slot = self.completed_by_server.setdefault(server, [0, 0])
            slot[0] += with_sni
            slot[1] += without
        for server, rec in other.exemplars.items():
            if server not in self.exemplars and len(self.exemplars) < MAX_EXEMPLARS:
                self.exemplars[server] = renumber(rec)
        self.failed_by_log.update((c, mapping[s]) for c, s in other.failed_by_log if s in mapping)
        self.anomalies.extend(other.anomalies)

    def finish_merge(self, name: str) -> None:
        if self._merging is None:
            self._merging = _Capture(name, None)
        self.captures.append(self._merging)
        self._merging = None

    def _note_certificate(self, capture: str, rec: ConnectionRecord) -> None:
        """A certificate problem on a handshake that completed was merely seen (the client did not check,
        or trusts it): an observation, never a finding (issue 4: caused vs seen)."""
        leaf = rec.tls.server_certificates[0]
        if leaf.sha256 in self.seen_certificate_problems or \
                len(self.seen_certificate_problems) >= MAX_SEEN_CERTIFICATE_PROBLEMS:
            return
        from tlsdoctor.tls.chain import name_matches

        at = capture_time(rec)  # None: the capture's clock is beyond a datetime's range, validity is not judged
        problem = None
        if at is not None and leaf.not_after is not None and at > leaf.not_after:
            problem = ("certificate_expired", f"{leaf.subject} expired on {leaf.not_after:%Y-%m-%d}, before the "
                                              "capture")
        elif at is not None and leaf.not_before is not None and at < leaf.not_before:
            problem = ("certificate_not_yet_valid", f"{leaf.subject} is valid only from {leaf.not_before:%Y-%m-%d}")
        elif rec.sni and leaf.parse_error is None and not name_matches(rec.sni, leaf):
            problem = ("certificate_name_mismatch", f"{leaf.subject} does not cover {rec.sni}")
        if problem is not None:
            self.seen_certificate_problems[leaf.sha256] = (capture, rec, *problem)

    def servers_seen(self) -> set[str]:
        """ip:port of every server a kept record talks to, plus the servers of completed handshakes."""
        out = set(self.completed_by_server)
        for c in self.captures:
            out.update(str(r.server) for r in c.kept)
        return out

    def add(self, capture: str, vantage: str | None, records: Iterable[ConnectionRecord]) -> None:
        cap = _Capture(capture, vantage)
        self.captures.append(cap)
        for rec in records:
            cap.connections += 1
            if rec.is_tls:
                cap.tls += 1
            if rec.handshake_stage == "mid_stream":
                cap.not_judged += 1
            failed = rec.failed
            if not failed and self.verify_failed_servers and _refused_after_verify(rec, self.verify_failed_servers):
                failed = True
                self.failed_by_log.add((capture, rec.tcp_stream))
            if failed:
                cap.failed += 1
            elif rec.handshake_completed:
                cap.completed += 1
                server = str(rec.server)
                slot = self.completed_by_server.setdefault(server, [0, 0])
                slot[0 if rec.sni else 1] += 1
                if server not in self.exemplars and len(self.exemplars) < MAX_EXEMPLARS:
                    self.exemplars[server] = rec
                if rec.tls.server_certificates:
                    self._note_certificate(capture, rec)
            if failed or (self.correlate_all and len(cap.kept) < MAX_CORRELATED):
                cap.kept.append(rec)
            elif self.correlate_all:
                cap.dropped_healthy += 1
        if cap.dropped_healthy:
            self.anomalies.append(Anomaly("cap_hit", capture, f"{cap.dropped_healthy} healthy connections were not "
                                          f"kept for matching across vantage points (cap {MAX_CORRELATED}); "
                                          "their counterparts in the other captures are counted on their own"))

    def conclude(self, inputs: Sequence[Input], ctx: Context, *, notes: Sequence[str] = (),
                 anomalies: Sequence[Anomaly] = (), log_findings: Sequence[Finding] = ()) -> Report:
        ctx = _with_controls(ctx, self.completed_by_server)
        all_anomalies = list(anomalies) + self.anomalies
        if self.correlate_all and len(self.captures) > 1:
            user_labelled = all(c.vantage is not None for c in self.captures)
            inferred = self._infer_vantages()
            all_notes_pre = [inferred] if inferred else []
            conversations = correlate([CaptureRecords(c.name, c.vantage, sorted(c.kept, key=lambda r: r.tcp_stream))
                                       for c in self.captures],
                                      pair_intercepted=user_labelled)
            overview_counts = _count(conversations, self.captures)
        else:
            conversations = [Conversation((View(c.name, c.vantage, r),))
                             for c in self.captures for r in sorted(c.kept, key=lambda r: r.tcp_stream)]
            overview_counts = None
            all_notes_pre = []
        matched: list[tuple[Conversation, Match]] = []
        observations: list[Finding] = []
        if self.failed_by_log:
            conversations = [Conversation(c.views, c.weak_match, failed_by_log=True)
                             if any((v.capture, v.record.tcp_stream) in self.failed_by_log for v in c.views) else c
                             for c in conversations]
        for conv in conversations:
            if conv.failed:
                matched.append((conv, classify(conv, ctx, all_anomalies)))
            elif len(conv.views) > 1:
                ev = intercepted(conv)
                if ev:
                    observations.append(_interception_observation(conv, ev))
        found = findings(matched, ctx, all_anomalies)
        observations.extend(_certificate_observations(self.seen_certificate_problems.values()))
        by_cause: dict[str, int] = {}
        for _, m in matched:
            by_cause[m.cause] = by_cause.get(m.cause, 0) + 1
        if overview_counts is None:
            overview = Overview(
                connections=sum(c.connections for c in self.captures),
                tls_connections=sum(c.tls for c in self.captures),
                handshakes_completed=sum(c.completed for c in self.captures),
                handshakes_failed=len(matched), by_cause=by_cause,
                not_judged=sum(c.not_judged for c in self.captures))
        else:
            total, tls, completed, not_judged = overview_counts
            overview = Overview(total, tls, completed, len(matched), by_cause, not_judged)
        all_notes = list(notes) + all_notes_pre
        for c in self.captures:
            if c.connections == 0:
                all_notes.append(f"{c.name}: no TCP connection in this capture.")
            elif c.tls == 0:
                all_notes.append(f"{c.name}: {c.connections} TCP connection(s), none carrying TLS (a ClientHello "
                                 "or TLS record): nothing to diagnose at the TLS level in it.")
        all_notes.extend(_conflicts(matched, ctx))
        cited: dict[tuple[str, int], ConnectionRecord] = {}
        causes: dict[tuple[str, int], str] = {}
        for conv, m in matched:
            for v in conv.views:
                cited[(v.capture, v.record.tcp_stream)] = v.record
                causes[(v.capture, v.record.tcp_stream)] = m.cause
        failing_servers = {str(conv.record.server) for conv, _ in matched}
        exemplars = {k: r for k, r in self.exemplars.items() if k in failing_servers}
        failing_captures = {cap for cap, _ in cited}
        contrasts: dict[str, ConnectionRecord] = {}
        for rec in self.exemplars.values():
            if rec.capture in failing_captures and rec.capture not in contrasts:
                contrasts[rec.capture] = rec
        return Report(tuple(inputs), overview, tuple(list(found) + list(log_findings)), tuple(all_anomalies),
                      tuple(all_notes), tuple(observations), records=cited, causes=causes, exemplars=exemplars,
                      contrasts=contrasts)


VERIFY_CLOSE_NS = 5_000_000_000
"""A connection that nginx closed within this time of its first packet, after a completed handshake, to a
server its log reports a verify error for, is the one that log line is about."""


def _refused_after_verify(rec: ConnectionRecord, servers: frozenset[str]) -> bool:
    return (rec.handshake_completed and str(rec.server) in servers and rec.end_sender == "client"
            and rec.last_ts_ns - rec.first_ts_ns <= VERIFY_CLOSE_NS)


def _client_side_votes(a: ConnectionRecord, b: ConnectionRecord) -> int:
    """+1 when ``a`` was captured nearer the client than ``b`` (the client's packets have lost fewer hops
    of TTL there, the server's more), -1 for the opposite, 0 when the TTLs do not say."""
    vote = 0
    if a.client_dir.ttls and b.client_dir.ttls:
        vote += (a.client_dir.ttls[0] > b.client_dir.ttls[0]) - (a.client_dir.ttls[0] < b.client_dir.ttls[0])
    if a.server_dir.ttls and b.server_dir.ttls:
        vote += (a.server_dir.ttls[0] < b.server_dir.ttls[0]) - (a.server_dir.ttls[0] > b.server_dir.ttls[0])
    return vote


def _count(conversations: Sequence[Conversation], captures: Sequence[_Capture]) -> tuple[int, int, int, int]:
    """Connections, TLS connections, completed handshakes, not judged: one per conversation. Records not
    kept for correlation (past the cap) are counted as their own connections."""
    total = len(conversations) + sum(c.dropped_healthy for c in captures)
    tls = completed = not_judged = 0
    for conv in conversations:
        recs = [v.record for v in conv.views]
        if any(r.is_tls for r in recs):
            tls += 1
        if any(r.handshake_stage == "mid_stream" for r in recs):
            not_judged += 1
        elif not conv.failed and any(r.handshake_completed for r in recs):
            completed += 1
    completed += sum(c.dropped_healthy for c in captures)  # dropped ones are healthy; most completed
    return total, tls, completed, not_judged


def _with_controls(ctx: Context, completed_by_server: dict[str, list[int]]) -> Context:
    from dataclasses import replace

    return replace(ctx, completed_by_server={k: (v[0], v[1]) for k, v in completed_by_server.items()})


def _interception_observation(conv: Conversation, evidence: list[Evidence]) -> Finding:
    from tlsdoctor.rules.base import connection_ref

    m = Match("tls_interception", Confidence.CERTAIN, "completed through an intercepting box")
    return Finding("tls_interception", f"TLS to {conv.record.server} is intercepted (the handshake completed)",
                   Confidence.CERTAIN if not conv.weak_match else Confidence.LIKELY,
                   "The vantage points saw different TLS sessions for this connection, yet it completed: the "
                   "client trusts the intercepting box. Not a failure; listed because it changes what each side "
                   "sees.", (connection_ref(conv, m),), tuple(evidence), "None needed unless the interception is "
                   "unexpected.")


def _certificate_observations(seen: Iterable[tuple[str, ConnectionRecord, str, str]]) -> list[Finding]:
    from tlsdoctor.rules.base import View, connection_ref, frame_filter

    out = []
    for capture, rec, cause, text in seen:
        conv = Conversation((View(capture, None, rec),))
        frame = rec.frames.get("certificate")
        ev = Evidence(capture, f"server Certificate: {text}", frame=frame,
                      display_filter=frame_filter(rec, frame, "tls.handshake.type == 11") if frame else None)
        out.append(Finding(cause, f"Seen but accepted: {text} ({rec.server})", Confidence.CERTAIN,
                           "The handshake completed although the certificate has this problem: the client does "
                           "not check it (curl -k, verify off, an old client) or pins it. Not a failure today; "
                           "a client that checks would refuse it.",
                           (connection_ref(conv, Match(cause, Confidence.CERTAIN, "completed")),), (ev,),
                           "Fix the certificate before a checking client meets it."))
    return out


def _conflicts(matched: Sequence[tuple[Conversation, Match]], ctx: Context) -> list[str]:
    """A log that names a cause for an upstream whose connections in the capture were diagnosed as
    something else: said, not hidden (issue 4, bad input)."""
    out: list[str] = []
    by_server: dict[str, set[str]] = {}
    for conv, m in matched:
        by_server.setdefault(str(conv.record.server), set()).add(m.cause)
    seen: set[tuple[str, str]] = set()
    for ln in ctx.error_log:
        if ln.upstream_address is None or not ln.causes or ln.upstream_address not in by_server:
            continue
        diagnosed = by_server[ln.upstream_address]
        if diagnosed & set(ln.causes):
            continue
        key = (ln.upstream_address, ln.causes[0])
        if key in seen:
            continue
        seen.add(key)
        out.append(f"Conflicting evidence: {ln.source}:{ln.line} points to {', '.join(ln.causes[:2])} for "
                   f"{ln.upstream_address}, but the capture's failing connections to it were diagnosed as "
                   f"{', '.join(sorted(diagnosed))}. The log may be from another time than the capture.")
    return out


def log_lines_without_capture(lines: Sequence[LogLine], captured_servers: set[str]) -> list[LogLine]:
    """Error-log lines about upstreams that no capture shows: they make findings of their own."""
    return [ln for ln in lines if ln.causes and (ln.upstream_address is None or
                                                 ln.upstream_address not in captured_servers)]
