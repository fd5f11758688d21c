"""Capture readers: pcap and pcapng (gzip-compressed or not, files or stdin) -> frames. See docs/design.md.

``open_capture(path)`` is the whole public face; ``pcap``, ``pcapng`` and ``gunzip`` are the sans-IO cores
(bytes in, frames and anomalies out) and ``source`` the one module that does I/O.
"""

from tlsdoctor.capture.anomaly import MAX_ANOMALIES, CaptureAnomaly
from tlsdoctor.capture.formats import (
    MAX_BLOCK,
    MAX_CAPLEN,
    MAX_INTERFACES,
    MAX_SECRETS_BYTES,
    Buffer,
    CaptureInterface,
    FrameTuple,
    LinkType,
)
from tlsdoctor.capture.source import CaptureError, CaptureSource, open_capture

__all__ = [
    "MAX_ANOMALIES",
    "MAX_BLOCK",
    "MAX_CAPLEN",
    "MAX_INTERFACES",
    "MAX_SECRETS_BYTES",
    "Buffer",
    "CaptureAnomaly",
    "CaptureError",
    "CaptureInterface",
    "CaptureSource",
    "FrameTuple",
    "LinkType",
    "open_capture",
]
