"""Capture readers: pcap and pcapng (gzip or not, files or stdin) -> frames. See docs/design.md."""

from tlsdoctor.capture.formats import MAX_CAPLEN, CaptureAnomaly, FrameTuple
from tlsdoctor.capture.source import CaptureError, CaptureSource, open_capture

__all__ = ["MAX_CAPLEN", "CaptureAnomaly", "CaptureError", "CaptureSource", "FrameTuple", "open_capture"]
