"""The finding: the one shape in which every part of tlsdoctor states a diagnosis.

``diagnose`` (rules over connection records and logs), ``probe`` (a live matrix) and ``nginx`` (config
checks) all conclude in ``Finding`` values; the report writers turn them into shared/REPORT.md's JSON
and into the terminal view. The types here are plain frozen data with no behaviour beyond ordering,
so that every stage can import them without importing any other stage.

A finding cites ``Evidence`` a person can check in under a minute: a capture file with the Wireshark
frame number and a display filter that isolates the packet, a log file with the line number and the
line, a configuration file with the line of the directive.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Confidence(enum.StrEnum):
    """How sure a finding is (REPORT.md): ``certain`` when the evidence shows the cause itself (an alert
    code, a log line that names it), ``likely`` when it is the best reading of what one vantage point
    shows, ``possible`` when other causes fit the evidence as well."""

    CERTAIN = "certain"
    LIKELY = "likely"
    POSSIBLE = "possible"

    @property
    def rank(self) -> int:
        return _CONFIDENCE_RANK[self]


_CONFIDENCE_RANK = {Confidence.CERTAIN: 0, Confidence.LIKELY: 1, Confidence.POSSIBLE: 2}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One fact to check: ``source`` is the file as the user named it (or ``probe NAME ADDR``)."""

    source: str
    text: str
    line: int | None = None  # 1-based line of a log or configuration file
    frame: int | None = None  # Wireshark's frame number in a capture
    display_filter: str | None = None  # isolates the frame (or the connection) in Wireshark

    @property
    def where(self) -> str:
        """Where to look, as people write it: ``a.pcap frame 5``, ``error.log:12``."""
        where = self.source
        if self.frame is not None:
            where += f" frame {self.frame}"
        if self.line is not None:
            where += f":{self.line}"
        return where


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionRef:
    """A finding's ``connections`` entry: one failing connection as one capture shows it (or one probe).

    ``client`` and ``server`` are ``ip:port`` as seen in that capture (IPv6 as ``[addr]:port``).
    ``also_seen`` names the same connection in the other vantage points' captures."""

    capture: str | None = None
    tcp_stream: int | None = None
    client: str | None
    server: str
    sni: str | None
    outcome: str
    vantage: str | None = None
    probe: str | None = None  # the probe's name, for findings of ``tlsdoctor probe``
    also_seen: tuple[tuple[str, int, str | None], ...] = ()  # (capture, tcp_stream, vantage)


@dataclass(frozen=True, slots=True)
class Finding:
    cause: str
    """A cause code of shared/REPORT.md (or a check code, for ``tlsdoctor nginx``)."""
    title: str
    confidence: Confidence
    explanation: str
    connections: tuple[ConnectionRef, ...]
    evidence: tuple[Evidence, ...]
    fix: str
    notes: tuple[str, ...] = field(default=())
    """What would settle a ``likely`` (a second capture, a key log), conflicts between sources."""
    patch: str = ""
    """The fix as a unified diff of the configuration (``patch -p0`` from its directory), when there is one."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A problem of the input, not a diagnosis: a truncated capture, a cap that was hit, a line no
    parser understood, an unreadable file. The rest of the input is still analysed."""

    kind: str
    source: str
    text: str
    line: int | None = None
    frame: int | None = None

    @property
    def where(self) -> str:
        """``capture.pcap frame 12``, ``error.log:3`` or just the source."""
        return self.source + (f":{self.line}" if self.line else "") + (f" frame {self.frame}" if self.frame else "")
