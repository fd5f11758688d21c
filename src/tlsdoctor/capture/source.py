"""The I/O edge of the capture readers: a path (or ``-``, standard input) -> the sans-IO parsers -> frames.

Theory of operation. ``open_capture`` opens the input and looks at its first bytes: gzip is recognised
by its magic (1f 8b), also on standard input, never by a file name; then the decompressed bytes must
start like pcap or pcapng (``formats.sniff_format``), or ``CaptureError`` says, in a sentence, what the
input is instead. That is the only exception for bad input: from there on, damage is an anomaly.

Two ways to feed the parsers (``pcap.PcapParser``, ``pcapng.PcapngParser``, which never do I/O):

* A regular uncompressed file is mapped (``mmap``) and parsed in place: every frame's ``buf`` is the
  map itself, no packet byte is copied. The parser is called on windows of MMAP_WINDOW bytes (a record
  that straddles a window's end waits for the next call, which sees the whole map), and between windows
  the pages already read are dropped from our mapping (``MADV_DONTNEED``; the data stays in the page
  cache and the map stays valid), so the resident memory does not grow with the file's size.
* gzip, standard input and other pipes are read in pieces (at most CHUNK_BYTES each) into a bytes
  buffer: the unread tail of the previous buffer (at most one record or block, bounded by MAX_CAPLEN
  and MAX_BLOCK) is joined with the new pieces once the parser's ``need`` is met and STREAM_BUFFER bytes
  are there, so a record that straddles pieces is carried over, a long block arriving in small pieces
  is joined only once, and most of each buffer is far enough from its end for the C reader.

``frames()`` chains the parsers' generators with ``itertools.chain``, so the consumer's ``next()``
goes straight to the parser's loop, with no generator of ours in between.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import stat
import sys
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Final

from tlsdoctor.capture.anomaly import AnomalyLog, CaptureAnomaly
from tlsdoctor.capture.formats import GZIP_MAGIC, CaptureInterface, FrameTuple, sniff_format, why_not_a_capture
from tlsdoctor.capture.gunzip import GzipDecoder
from tlsdoctor.capture.pcap import PcapParser
from tlsdoctor.capture.pcapng import PcapngParser

if TYPE_CHECKING:
    from tlsdoctor._lightpath import LightTable

CHUNK_BYTES: Final = 1 << 20
"""Bytes read (or decompressed) at a time from a stream."""
STREAM_BUFFER: Final = 2 * CHUNK_BYTES
"""Bytes gathered from a stream before they are parsed (at most a record or block more is held)."""
MMAP_WINDOW: Final = 64 << 20
"""Bytes of a mapped file parsed per call; the pages before each window's end are then released."""


class CaptureError(ValueError):
    """The input is not a capture at all, or cannot be opened; ``str()`` is a sentence for a person."""


class CaptureSource:
    """An open capture: use it as a context manager and iterate ``frames()`` once.

    ``anomalies`` fills while the frames are read; ``bytes_read`` against ``size`` is the progress (in
    the file's own bytes, compressed if it is compressed; ``size`` is None for a pipe).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.format = ""
        """``"pcap"`` or ``"pcapng"``."""
        self.compressed = False
        """True for a gzip-compressed capture."""
        self.size: int | None = None
        """The file's size in bytes, or None for a pipe or standard input."""
        self._log = AnomalyLog()
        self._file: BinaryIO | None = None
        self._map: mmap.mmap | None = None
        self._read: Callable[[int], bytes] | None = None  # the stream's read, for pipes and gzip
        self._gzip: GzipDecoder | None = None
        self._pieces: list[bytes] = []  # (decompressed) bytes read while sniffing, not parsed yet
        self._raw_read = 0
        self._eof = False
        self._started = False
        self._parser: PcapParser | PcapngParser
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    # -- opening --------------------------------------------------------------------------------------------
    def _open(self) -> None:
        if self.path == "-":
            stdin = sys.stdin
            raw: BinaryIO | None = getattr(stdin, "buffer", None) if stdin is not None else None
            if raw is None:
                raise CaptureError("cannot read the capture from standard input: there is none")
        else:
            try:
                raw = open(self.path, "rb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise CaptureError(f"cannot open {self.path}: {exc.strerror or exc}") from exc
            self._file = raw
        regular = False
        try:
            st = os.fstat(raw.fileno())
            regular = stat.S_ISREG(st.st_mode)
            if regular:
                self.size = st.st_size
        except (OSError, ValueError, AttributeError):  # BytesIO stand-ins for stdin have no file descriptor
            pass
        # read1 returns what a pipe has now (a live capture is not held back); a file gets whole chunks.
        read1 = getattr(raw, "read1", None)
        self._read = raw.read if regular or read1 is None else read1
        head = self._read_head()
        if head[:2] == GZIP_MAGIC:
            self.compressed = True
            self._gzip = GzipDecoder(self._log, CHUNK_BYTES)
            head = self._sniff_gzip(head)
        elif regular and self.size and self._file is not None:
            try:
                self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # e.g. a file system that cannot map: read it as a stream
                self._pieces.append(head)
            else:
                if hasattr(self._map, "madvise"):
                    self._map.madvise(mmap.MADV_SEQUENTIAL)
                self._read = None
        else:
            self._pieces.append(head)
        fmt = sniff_format(head)
        if fmt is None:
            what = why_not_a_capture(head)
            if self.compressed:
                what = f"it is gzip-compressed, and decompressed {what.removeprefix('it ')}"
                if not head:
                    what = "it is gzip-compressed but nothing could be decompressed from it: " + (
                        "; ".join(a.detail for a in self._log.kept) or "it is empty")
            raise CaptureError(f"{self.path} is not a pcap or pcapng capture: {what}")
        self.format = fmt
        self._parser = PcapParser(self._log) if fmt == "pcap" else PcapngParser(self._log)

    def _read_once(self, size: int) -> bytes:
        """One read of the file or pipe (b"" at its end); a read error ends the input, with an anomaly."""
        if self._eof or self._read is None:
            return b""
        try:
            data = self._read(size)
        except OSError as exc:
            self._log.add("read_error", None, self._raw_read, f"reading {self.path} failed after {self._raw_read} "
                          f"bytes: {exc.strerror or exc}; the capture is read no further")
            data = b""
        if not data:
            self._eof = True
        self._raw_read += len(data)
        return data

    def _read_head(self) -> bytes:
        head = b""
        while len(head) < 16:  # enough to name what a non-capture is (xz's magic is 6 bytes)
            more = self._read_once(16 - len(head))
            if not more:
                break
            head += more
        return head

    def _sniff_gzip(self, first: bytes) -> bytes:
        """Decompress until the first 4 bytes of the capture are known; keep what was decompressed."""
        assert self._gzip is not None
        have = 0
        data = first
        while have < 16:
            for piece in self._gzip.feed(data):
                self._pieces.append(piece)
                have += len(piece)
            if have >= 16 or self._eof or self._gzip.done:
                break
            data = self._read_once(CHUNK_BYTES)
            if not data:
                self._pieces.extend(self._gzip.finish())
                break
        return b"".join(self._pieces)[:16]

    # -- what is known about the capture ---------------------------------------------------------------------
    @property
    def anomalies(self) -> list[CaptureAnomaly]:
        """The damage found so far (at most MAX_ANOMALIES, then one that counts the rest)."""
        return self._log.as_list()

    @property
    def anomalies_dropped(self) -> int:
        """Anomalies not kept because of the MAX_ANOMALIES cap."""
        return self._log.dropped

    @property
    def interfaces(self) -> list[CaptureInterface]:
        """The pcap file header, or every pcapng interface described so far."""
        return list(self._parser.interfaces)

    @property
    def snaplen(self) -> int | None:
        """The first interface's snap length (0: none), None before it is read."""
        return self._parser.interfaces[0].snaplen if self._parser.interfaces else None

    def use_light_table(self, table: LightTable | None) -> None:
        """Let the engine's table of established flows (``CaptureAnalyzer.light``) consume their plain
        packets in C (classic pcap records, pcapng Enhanced Packet Blocks). Also after the first frames
        were read (``engine.embedded_keylog`` reads the first frame before the analyzer exists): either
        reader takes it up at its next frame."""
        self._parser.light = table

    @property
    def decryption_secrets(self) -> list[bytes]:
        """TLS key logs embedded in pcapng Decryption Secrets Blocks, read so far."""
        return list(self._parser.secrets) if isinstance(self._parser, PcapngParser) else []

    @property
    def frames_read(self) -> int:
        """The number of the last frame read (frames skipped for damage count, as in Wireshark)."""
        return self._parser.number

    @property
    def bytes_read(self) -> int:
        """Bytes of the file consumed so far (compressed bytes for gzip), for a progress bar against ``size``."""
        if self._map is not None:
            return self._parser.base + self._parser.position()
        return self._raw_read

    # -- reading --------------------------------------------------------------------------------------------
    def frames(self) -> Iterator[FrameTuple]:
        """The frames, in file order: ``(number, ts_ns, linktype, buf, offset, caplen, origlen)``.

        ``buf`` stays valid only until the next frame is requested: copy what you keep."""
        if self._started:
            raise RuntimeError("CaptureSource.frames() can be iterated only once")
        self._started = True
        if self._map is not None:
            return itertools.chain.from_iterable(self._mapped_windows(self._map))
        return itertools.chain.from_iterable(self._stream_buffers())

    def _mapped_windows(self, m: mmap.mmap) -> Iterator[Iterator[FrameTuple]]:
        parser = self._parser
        size = len(m)
        released = 0
        can_release = hasattr(m, "madvise") and hasattr(mmap, "MADV_DONTNEED")
        while not parser.done:
            limit = min(size, parser.pos + max(MMAP_WINDOW, parser.need))
            yield parser.frames(m, limit, limit == size)
            if limit == size:
                break
            # The consumer has asked for the frame after this window's: it holds no earlier bytes. Releasing
            # pages of a read-only file mapping only lowers our resident set; they are re-read if touched.
            upto = parser.pos - parser.pos % mmap.PAGESIZE
            if can_release and upto > released:
                m.madvise(mmap.MADV_DONTNEED, released, upto - released)
                released = upto

    def _stream_buffers(self) -> Iterator[Iterator[FrameTuple]]:
        parser = self._parser
        pieces = self._pieces
        avail = sum(map(len, pieces))
        buf = b""
        final = False
        while not parser.done:
            tail = len(buf) - parser.pos
            # At least STREAM_BUFFER bytes a buffer: a pipe's reads give 64 KiB, less than the last 256 KiB
            # of a buffer that the readers read record by record, and nothing would reach the C reader.
            while not final and (tail + avail < max(parser.need, STREAM_BUFFER) or not pieces):
                more = self._next_pieces()
                if more is None:
                    final = True
                else:
                    pieces.extend(more)
                    avail += sum(map(len, more))
            if parser.pos or pieces:
                buf = b"".join([memoryview(buf)[parser.pos :], *pieces])
                parser.rebase(parser.pos)
                pieces.clear()
                avail = 0
            yield parser.frames(buf, len(buf), final)
            if final:
                break

    def _next_pieces(self) -> list[bytes] | None:
        """The next bytes of the capture, decompressed if need be; None at the end of the input."""
        while True:
            if self._eof:
                if self._gzip is not None:
                    rest = list(self._gzip.finish())
                    if rest:
                        return rest
                return None
            data = self._read_once(CHUNK_BYTES)
            if self._gzip is None:
                return [data] if data else None
            if self._gzip.done:
                return None
            out = list(self._gzip.feed(data))
            if out:
                return out

    # -- closing --------------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._map is not None:
            with contextlib.suppress(BufferError):  # a consumer still holds a view: the map goes with the view
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
    """Open a pcap or pcapng capture, gzip-compressed or not; ``-`` is standard input.

    Raises ``CaptureError`` only when the input cannot be opened or is not a capture at all."""
    return CaptureSource(path)
