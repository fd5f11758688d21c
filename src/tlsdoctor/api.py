"""The Python API: the same words as the CLI.

>>> from tlsdoctor import api
>>> for rec in api.iter_connections("capture.pcap"):      # doctest: +SKIP
...     if rec.failed:
...         print(rec.tcp_stream, rec.sni, rec.ended_by)

With an SSLKEYLOGFILE, TLS 1.3 handshakes (and TLS 1.2 AEAD ones) are decrypted on the way: the
encrypted Certificate, CertificateRequest and alerts land on the records (``rec.tls.decryption`` says
whether it worked, ``Alert.decrypted`` marks an alert read that way):

>>> recs = api.connections("capture.pcap", keylog="keys.log")        # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from tlsdoctor.capture import open_capture
from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.engine import CaptureAnalyzer, EngineStats, embedded_keylog
from tlsdoctor.evidence.intake import printable
from tlsdoctor.progress import Progress, follow_capture
from tlsdoctor.tls.keylog import KeyLog, parse_keylog

KeyLogArg = KeyLog | str | os.PathLike[str] | None
"""A parsed key log, the path of an SSLKEYLOGFILE, or None."""


def load_keylog(keylog: KeyLog | str | os.PathLike[str]) -> KeyLog:
    """A key log given as a path is read here (the API is the edge); its bad lines are its anomalies."""
    if isinstance(keylog, KeyLog):
        return keylog
    with open(keylog, "rb") as fh:
        return parse_keylog(fh)


def capture_name(path: str) -> str:
    """The name a capture's records cite (``ConnectionRecord.capture``): ``-`` for standard input, else
    the file's base name, ``printable``."""
    return "-" if path == "-" else printable(os.path.basename(path))


class ConnectionStream:
    """Iterates the ConnectionRecords of one capture in one streaming pass.

    Records come out as connections end (not in tcp.stream order). After the iteration,
    ``anomalies`` holds the capture's own problems (truncation, caps hit) and ``stats`` the counts.
    """

    def __init__(self, path: str, name: str | None = None, keylog: KeyLogArg = None,
                 embedded_keylog: bool = False, progress: Progress | None = None) -> None:
        self.path = path
        self.name = name if name is not None else capture_name(path)
        self.anomalies: list[str] = []
        self.stats = EngineStats()
        self.keylog = load_keylog(keylog) if keylog is not None else None
        self.embedded_keylog = embedded_keylog or keylog is not None
        self.progress = progress

    def __iter__(self) -> Iterator[ConnectionRecord]:
        with open_capture(self.path) as source:
            keylog = self.keylog
            if self.embedded_keylog:
                frames, inside = embedded_keylog(source)
                if inside is not None:
                    keylog = inside if keylog is None else keylog.merged(inside)
            else:
                frames = source.frames()
            analyzer = CaptureAnalyzer(self.name, keylog)
            analyzer.attach(source)
            self.stats = analyzer.stats
            done = follow_capture(analyzer, source, self.name, self.progress)
            yield from analyzer.analyze(frames)
            done()
            kl_anomalies = [f"key log line {n}: {why}" for n, why in keylog.anomalies] if keylog is not None else []
            self.anomalies = [str(a) for a in source.anomalies] + kl_anomalies + analyzer.anomalies


def iter_connections(path: str, name: str | None = None, keylog: KeyLogArg = None, *,
                     embedded_keylog: bool = False, progress: Progress | None = None) -> ConnectionStream:
    """The connections of a capture, streamed. ``open_capture`` errors (not a capture) raise CaptureError.

    ``keylog``: a ``KeyLog`` or the path of an SSLKEYLOGFILE; the handshakes it has keys for are
    decrypted. The capture's own pcapng Decryption Secrets Blocks are added to it, and are used alone
    with ``embedded_keylog=True``. Without either, nothing is decrypted (the packet path is unchanged).
    ``progress(name, bytes read, total bytes)`` is called now and then (every 16,384 frames) while it reads.
    """
    return ConnectionStream(path, name, keylog, embedded_keylog, progress)


def connections(path: str, name: str | None = None, keylog: KeyLogArg = None, *,
                embedded_keylog: bool = False) -> list[ConnectionRecord]:
    """All connections of a capture, sorted by tcp.stream (holds them all in memory)."""
    return sorted(iter_connections(path, name, keylog, embedded_keylog=embedded_keylog), key=lambda r: r.tcp_stream)
