"""The Report: what ``diagnose`` concludes, as frozen data; the writers (JSON, terminal) read only this.

Its shape follows shared/REPORT.md (schema ``tlsdoctor.report/1``): the inputs and what each was taken
for, an overview of the connections, the findings (one per root cause, most important first), the
anomalies of the input. Beyond the contract: ``notes`` (sentences about the evidence as a whole: no
TLS in a capture, no key log, a log that contradicts a capture) and ``observations`` (facts about
healthy connections worth knowing, e.g. an interception the client accepted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.findings import Anomaly, ConnectionRef, Finding

SCHEMA = "tlsdoctor.report/1"


@dataclass(frozen=True, slots=True)
class Input:
    path: str  # as the user gave it
    kind: str  # ``tlsdoctor.evidence.intake.InputKind``: capture, nginx_config, ..., unrecognized
    vantage: str | None = None
    detail: str = ""  # what was read: "pcapng, 1204 frames", "38 lines", why it was not recognised
    file: str = field(default="", compare=False)
    """The path as it was opened (``path`` is the name the report cites it by): what ``--export`` re-reads.
    Set for captures; ``-`` for standard input."""


@dataclass(frozen=True, slots=True)
class Overview:
    connections: int = 0  # TCP connections, one per connection across vantage points
    tls_connections: int = 0
    handshakes_completed: int = 0
    handshakes_failed: int = 0  # failed connections (TCP or TLS), each in exactly one finding
    by_cause: dict[str, int] = field(default_factory=dict)  # failed connections per cause code
    not_judged: int = 0  # connections that began before the capture (their handshake was not seen)


@dataclass(frozen=True, slots=True)
class Report:
    inputs: tuple[Input, ...]
    overview: Overview
    findings: tuple[Finding, ...]
    anomalies: tuple[Anomaly, ...] = ()
    notes: tuple[str, ...] = ()
    observations: tuple[Finding, ...] = ()
    elapsed_s: float = 0.0
    records: dict[tuple[str, int], ConnectionRecord] = field(default_factory=dict, compare=False, repr=False)
    """(capture name, tcp_stream) -> the record of every connection a finding or observation cites (all
    its vantage points' views), for the writers that draw packets (HTML ladders, pcap export)."""
    causes: dict[tuple[str, int], str] = field(default_factory=dict, compare=False, repr=False)
    """(capture name, tcp_stream) -> the cause of every failing connection, in every view: also those past
    a finding's listing cap (``rules.base.MAX_FINDING_CONNECTIONS``), for ``--export``."""
    exemplars: dict[str, ConnectionRecord] = field(default_factory=dict, compare=False, repr=False)
    """server ip:port -> one healthy (completed) connection to it, to draw beside a failing one."""
    contrasts: dict[str, ConnectionRecord] = field(default_factory=dict, compare=False, repr=False)
    """capture name -> one completed connection in it, to any server: the contrast when no connection to
    the failing server completed (seed 002: every address of the CDN fails, another site works)."""

    def views(self, ref: ConnectionRef) -> list[tuple[str, str | None, ConnectionRecord]]:
        """A finding's connection as each capture shows it, (capture, vantage, record), in the finding's
        order (the view nearest the client first); the views whose record the report does not hold are
        left out."""
        keys = [(ref.capture, ref.tcp_stream, ref.vantage), *ref.also_seen]
        return [(cap, vantage, self.records[(cap, stream)]) for cap, stream, vantage in keys
                if cap is not None and stream is not None and (cap, stream) in self.records]

    def contrast(self, ref: ConnectionRef) -> ConnectionRecord | None:
        """A completed handshake to draw beside ``ref``: with the same server, else with another server in
        the same capture, else None."""
        return self.exemplars.get(ref.server) or (self.contrasts.get(ref.capture) if ref.capture else None)

    @property
    def failed(self) -> bool:
        """Whether any failure was found (exit status 1)."""
        return bool(self.findings)
