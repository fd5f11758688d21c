"""The I/O edge of the capture readers: files, gzip, standard input -> the sans-IO parsers.

A regular uncompressed file is mapped into memory (``mmap``) and parsed in place: frames point into
the map, no packet byte is copied, and the kernel pages the file in and out, so memory does not grow
with the file's size. A gzip file (recognised by its magic bytes, not its name) or a pipe
(``-`` is standard input) is read in ``CHUNK_BYTES`` chunks into a rolling buffer; a record that
straddles two chunks is carried over.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import mmap
import os
import sys
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO, Final

from tlsdoctor.capture.formats import (
    PCAP_MAGIC_NS,
    PCAP_MAGIC_US,
    PCAPNG_SHB,
    Anomalies,
    CaptureAnomaly,
    FrameTuple,
    NotACapture,
    PcapngState,
    PcapState,
    pcap_frames,
    pcap_header,
    pcapng_frames,
)

CHUNK_BYTES: Final = 1 << 20
DROP_BEHIND_BYTES: Final = 32 << 20
_GZIP_MAGIC: Final = b"\x1f\x8b"


class CaptureError(ValueError):
    """The input is not a capture at all, or cannot be opened. Said as a sentence for a person."""


def _kind(head: bytes) -> str:
    if len(head) >= 4:
        for order in ("little", "big"):
            magic = int.from_bytes(head[:4], order)
            if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                return "pcap"
        if int.from_bytes(head[:4], "little") == PCAPNG_SHB:
            return "pcapng"
    return "unknown"


class CaptureSource:
    """An open capture. Use as a context manager; iterate ``frames()`` once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.format = "unknown"
        self.compressed = False
        self.bytes_read = 0
        self._anomalies = Anomalies()
        self._file: BinaryIO | None = None
        self._map: mmap.mmap | None = None
        self._stream: _Prefixed | None = None
        self._pcapng = PcapngState()
        self._open()

    # -- opening ----------------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            if self.path == "-":
                raw: BinaryIO = sys.stdin.buffer
            else:
                raw = open(self.path, "rb")  # noqa: SIM115 - closed in close()
                self._file = raw
        except OSError as exc:
            raise CaptureError(f"cannot open {self.path}: {exc.strerror or exc}") from exc
        head = _peek(raw, 4)
        if head.startswith(_GZIP_MAGIC):
            self.compressed = True
            stream = gzip.GzipFile(fileobj=_Prefixed(head, raw), mode="rb")
            try:
                head = stream.read(4)
            except (OSError, EOFError) as exc:
                raise CaptureError(f"{self.path} is gzip-compressed but cannot be decompressed: {exc}") from exc
            self._stream = _Prefixed(head, stream)
        elif self._file is not None and _is_regular(self._file) and os.fstat(self._file.fileno()).st_size > 0:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        else:
            self._stream = _Prefixed(head, raw)
        self.format = _kind(head)
        if self.format == "unknown":
            self.close()
            what = "empty" if not head else f"starts with {head.hex()}"
            raise CaptureError(f"{self.path} is not a pcap or pcapng capture (it {what})")

    # -- reading ----------------------------------------------------------------------------------
    @property
    def anomalies(self) -> list[CaptureAnomaly]:
        extra = []
        if self._anomalies.dropped:
            extra.append(CaptureAnomaly("anomaly_cap", None, 0,
                                        f"{self._anomalies.dropped} more anomalies were not kept"))
        return self._anomalies.kept + extra

    @property
    def decryption_secrets(self) -> list[bytes]:
        """TLS key logs embedded in pcapng Decryption Secrets Blocks."""
        return list(self._pcapng.secrets)

    def frames(self) -> Iterator[FrameTuple]:
        if self._map is not None:
            yield from self._frames_from(self._map, len(self._map))
        else:
            yield from self._frames_streamed()

    def _frames_from(self, buf: mmap.mmap, end: int) -> Iterator[FrameTuple]:
        if self.format == "pcap":
            try:
                st = pcap_header(bytes(buf[:24]))
            except NotACapture as exc:
                self._anomalies.add("truncated_header", None, 0, f"the pcap file header is incomplete: {exc}")
                return
            frames = pcap_frames(st, buf, end, True, 0, self._anomalies)
        else:
            frames = pcapng_frames(self._pcapng, buf, end, True, 0, self._anomalies)
        # Pages of the map already read are dropped from this process every DROP_BEHIND_BYTES (they stay
        # in the page cache): otherwise the resident size grows with the file, though nothing holds them.
        # Safe because a frame's buffer is only valid until the next frame is asked for (docs/design.md).
        drop_at = DROP_BEHIND_BYTES
        for frame in frames:
            yield frame
            if frame[4] > drop_at:
                upto = (frame[4] - (1 << 20)) & ~(mmap.PAGESIZE - 1)
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    buf.madvise(mmap.MADV_DONTNEED, 0, upto)
                self.bytes_read = frame[4]
                drop_at = frame[4] + DROP_BEHIND_BYTES
        self.bytes_read = end

    def _frames_streamed(self) -> Iterator[FrameTuple]:
        assert self._stream is not None
        stream = self._stream
        buf = b""
        base = 0  # file offset of buf[0]
        pcap: PcapState | None = None
        eof = False
        while not eof:
            try:
                chunk = stream.read(CHUNK_BYTES)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                self._anomalies.add("read_error", None, base + len(buf),
                                    f"reading stopped: {exc} (a damaged or cut-short compressed file)")
                chunk = b""
            eof = not chunk
            self.bytes_read += len(chunk)
            pos = pcap.pos if pcap is not None else self._pcapng.pos
            # Keep the unread tail, then append the new chunk: a record may straddle chunks.
            buf = buf[pos:] + chunk
            base += pos
            if pcap is not None:
                pcap.pos = 0
            else:
                self._pcapng.pos = 0
            if self.format == "pcap":
                if pcap is None:
                    if len(buf) < 24 and not eof:
                        continue
                    try:
                        pcap = pcap_header(buf[:24])
                    except NotACapture as exc:
                        self._anomalies.add("truncated_header", None, 0, f"the pcap file header is incomplete: {exc}")
                        return
                    pcap.pos = 24
                yield from pcap_frames(pcap, buf, len(buf), eof, base, self._anomalies)
            else:
                yield from pcapng_frames(self._pcapng, buf, len(buf), eof, base, self._anomalies)

    # -- closing ----------------------------------------------------------------------------------
    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> CaptureSource:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_capture(path: str) -> CaptureSource:
    """Open a pcap or pcapng file (gzip-compressed or not); ``-`` is standard input."""
    return CaptureSource(path)


def _is_regular(f: BinaryIO) -> bool:
    try:
        import stat

        return stat.S_ISREG(os.fstat(f.fileno()).st_mode)
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def _peek(f: BinaryIO, n: int) -> bytes:
    data = b""
    while len(data) < n:
        more = f.read(n - len(data))
        if not more:
            break
        data += more
    return data


class _Prefixed(io.RawIOBase):
    """A stream with some bytes already read from it put back in front."""

    def __init__(self, prefix: bytes, rest: BinaryIO | gzip.GzipFile) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size < 0:
                out = self._prefix + self._rest.read()
                self._prefix = b""
                return out
            out, self._prefix = self._prefix[:size], self._prefix[size:]
            if len(out) < size:
                out += self._rest.read(size - len(out)) or b""
            return out
        return self._rest.read(size) or b""

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)
