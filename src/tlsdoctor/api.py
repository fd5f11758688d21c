"""The Python API: the same words as the CLI.

>>> from tlsdoctor import api
>>> for rec in api.iter_connections("capture.pcap"):      # doctest: +SKIP
...     if rec.failed:
...         print(rec.tcp_stream, rec.sni, rec.ended_by)
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from tlsdoctor.capture import open_capture
from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.engine import CaptureAnalyzer, EngineStats


class ConnectionStream:
    """Iterates the ConnectionRecords of one capture in one streaming pass.

    Records come out as connections end (not in tcp.stream order). After the iteration,
    ``anomalies`` holds the capture's own problems (truncation, caps hit) and ``stats`` the counts.
    """

    def __init__(self, path: str, name: str | None = None) -> None:
        self.path = path
        self.name = name if name is not None else ("-" if path == "-" else os.path.basename(path))
        self.anomalies: list[str] = []
        self.stats = EngineStats()

    def __iter__(self) -> Iterator[ConnectionRecord]:
        with open_capture(self.path) as source:
            analyzer = CaptureAnalyzer(self.name)
            self.stats = analyzer.stats
            yield from analyzer.analyze(source.frames())
            self.anomalies = [str(a) for a in source.anomalies] + analyzer.anomalies


def iter_connections(path: str, name: str | None = None) -> ConnectionStream:
    """The connections of a capture, streamed. ``open_capture`` errors (not a capture) raise CaptureError."""
    return ConnectionStream(path, name)


def connections(path: str, name: str | None = None) -> list[ConnectionRecord]:
    """All connections of a capture, sorted by tcp.stream (holds them all in memory)."""
    return sorted(iter_connections(path, name), key=lambda r: r.tcp_stream)
