"""gzip, sans-IO: compressed bytes in, bounded pieces of the capture out, damage as anomalies.

Theory of operation (RFC 1952). A gzip file is one or more members, each a header, a DEFLATE stream and
a CRC-32/length trailer; ``gzip`` and ``zcat`` read concatenated members as one file, and so do we.
``zlib.decompressobj(wbits=31)`` decodes one member; at its end (``eof``) the bytes after it start the
next member. Output is bounded: ``decompress(data, max_length)`` returns at most ``piece_bytes`` at a
time and keeps the rest of the input in ``unconsumed_tail``, so a small file that inflates enormously
(a "zip bomb") is read piece by piece like any other, never all at once.

Unlike ``gzip.GzipFile``, a file cut short (a capture still being written, a partial download) yields
every byte that could be decompressed, and then one ``gzip_truncated`` anomaly; corrupt data yields what
came before it and a ``gzip_corrupt`` anomaly. Nothing here raises for bad input.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from tlsdoctor.capture.anomaly import AnomalyLog

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer are required


class GzipDecoder:
    """Decompress a gzip stream fed in pieces of any size."""

    __slots__ = ("_member_out", "_z", "anomalies", "done", "members", "offset", "piece_bytes", "produced")

    def __init__(self, anomalies: AnomalyLog, piece_bytes: int) -> None:
        self.anomalies = anomalies
        self.piece_bytes = piece_bytes
        self.offset = 0
        """Compressed bytes consumed so far."""
        self.produced = 0
        """Decompressed bytes produced so far (the offset of the next one in the capture)."""
        self.members = 0
        self.done = False
        self._member_out = 0
        self._z: zlib._Decompress | None = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield the decompressed pieces (each at most ``piece_bytes``, never empty) that ``data`` completes."""
        while data and not self.done:
            if self._z is None:
                self._z = zlib.decompressobj(_GZIP_WBITS)
                self.members += 1
                self._member_out = 0
            z = self._z
            try:
                out = z.decompress(data, self.piece_bytes)
            except zlib.error as exc:
                if self.members > 1 and self._member_out == 0:
                    self.anomalies.add("gzip_corrupt", None, self.produced,
                                       f"bytes after the end of the gzip data are not another gzip member ({exc}): "
                                       "they are ignored")
                else:
                    self.anomalies.add("gzip_corrupt", None, self.produced,
                                       f"the gzip data is corrupt after {self.produced} decompressed bytes ({exc}): "
                                       "the capture is read no further")
                self.done = True
                return
            self.offset += len(data) - len(z.unconsumed_tail) - len(z.unused_data)
            if out:
                self.produced += len(out)
                self._member_out += len(out)
                yield out
            if z.eof:
                data = z.unused_data
                self._z = None  # the next bytes, if any, start another member
            else:
                data = z.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        """The input has ended: yield what is left, and report a member cut short."""
        if self.done:
            return
        self.done = True
        z = self._z
        if z is None:
            return
        try:
            rest = z.flush()
        except zlib.error:  # pragma: no cover - flush after a clean decompress does not fail in practice
            rest = b""
        if rest:
            self.produced += len(rest)
            yield rest
        if not z.eof:
            self.anomalies.add("gzip_truncated", None, self.produced,
                               f"the gzip stream ends after {self.produced} decompressed bytes, before its end "
                               "marker: the file was cut short (or is still being written)")
