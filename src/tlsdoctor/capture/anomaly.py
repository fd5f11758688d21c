"""Damage in a capture file, as data.

Theory of operation. The readers never raise for bad input (STYLE.md, habit 5): a cut-short file, a
record length past the end, a bogus block length, a packet on an interface that was never described
each become one ``CaptureAnomaly`` appended to an ``AnomalyLog``, and the reader goes on where the
framing still makes sense, or stops cleanly where it does not. The log is capped (``MAX_ANOMALIES``) so
that a file of garbage cannot grow it without bound; what is not kept is counted, and said.

``kind`` is a short stable code, for tests and for rules to match on:

=====================  =====================================================================
``truncated_header``   the file ends inside the pcap file header
``truncated_record``   the file ends inside a record or block (or trailing bytes are not one)
``bogus_caplen``       a record or packet block claims more bytes than MAX_CAPLEN or than it holds
``bogus_timestamp``    a classic pcap sub-second field out of range (a sign of misframing)
``bogus_block_length`` a pcapng block length < 12, not a multiple of 4, > MAX_BLOCK, or whose
                       trailing copy differs: the framing is lost, reading stops
``bogus_block``        a pcapng block too short for its own fields, or an SHB we cannot read
``bogus_option``       a pcapng option that runs past its block, or an out-of-range value
``unknown_interface``  a packet block names an interface that was never described
``unknown_linktype``   an interface's link type is not in the LINKTYPE registry
``cap_reached``        one of the capture reader's caps was hit (interfaces, secrets)
``gzip_truncated``     the gzip stream ends before its end marker (a file still being written?)
``gzip_corrupt``       the gzip stream cannot be decompressed past some point
``read_error``         the operating system failed a read
=====================  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

MAX_ANOMALIES: Final = 1000
"""Anomalies kept per capture; the rest are counted in ``AnomalyLog.dropped``."""


@dataclass(frozen=True, slots=True)
class CaptureAnomaly:
    kind: str
    """A stable short code (see the table in this module's docstring)."""
    frame: int | None
    """The frame it concerns (numbered even when that frame is skipped) or, for damage between frames,
    the last frame read before it; None before the first frame."""
    offset: int
    """Byte offset in the (decompressed) file where the damaged record or block starts."""
    detail: str
    """A sentence for a person."""

    def __str__(self) -> str:
        where = f"frame {self.frame}" if self.frame is not None else "before the first frame"
        return f"{where} (byte {self.offset}): {self.detail}"


@dataclass(slots=True)
class AnomalyLog:
    """The anomalies of one capture, capped at MAX_ANOMALIES."""

    kept: list[CaptureAnomaly] = field(default_factory=list)
    dropped: int = 0

    def add(self, kind: str, frame: int | None, offset: int, detail: str) -> None:
        if len(self.kept) < MAX_ANOMALIES:
            self.kept.append(CaptureAnomaly(kind, frame, offset, detail))
        else:
            self.dropped += 1

    def as_list(self) -> list[CaptureAnomaly]:
        """The kept anomalies, plus one that says how many were not kept, if any."""
        if not self.dropped:
            return list(self.kept)
        last = self.kept[-1]
        return [*self.kept, CaptureAnomaly(
            "cap_reached", last.frame, last.offset,
            f"{self.dropped} more anomalies were not kept (the cap MAX_ANOMALIES is {MAX_ANOMALIES})")]
