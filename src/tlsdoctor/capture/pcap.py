"""Classic pcap, sans-IO: a buffer in, frames and anomalies out.

Theory of operation (draft-ietf-opsawg-pcap, sections 4 and 5). The file is a 24-byte header (magic,
version, two unused fields, snap length, link type) followed by records, each a 16-byte header (seconds,
sub-seconds, captured length, original length) and the captured bytes. The magic says the writer's byte
order and whether sub-seconds are micro- (0xA1B2C3D4) or nanoseconds (0xA1B23C4D). The link-type field
carries the FCS length in its top bits (section 4: FCS len in bits 28-31, present if bit 26 is set);
like libpcap (LT_LINKTYPE) we keep the low 26 bits as the link type.

``PcapParser.frames(buf, end, final)`` yields every complete record of ``buf[parser.pos:end]`` and stops
at the first incomplete one, leaving ``parser.pos`` on it and ``parser.need`` at the bytes it needs, so
the I/O edge can append more input (``rebase``) and call again. There are three outcomes, as in h11: a
frame, "need more data", or damage, which is an anomaly: with ``final`` an incomplete record is a
truncated file; a captured length above MAX_CAPLEN means the framing is lost (nothing else in classic
pcap delimits records), so reading stops there.

The hot loop. Records that start more than ``16 + MAX_CAPLEN`` bytes before ``end`` cannot run past it,
so there a record costs one ``unpack_from``, one test and the yielded tuple; the careful loop handles
the last records of the buffer and anything suspicious, one record at a time. With the engine's light
table (the compiled build), that fast zone is read by its C iterator instead (``LightTable.records``,
``_lightpath.c``), which also consumes the plain packets of established connections. It stops at the
end of the fast zone, where this reader reads the rest, or at a record the careful loop must look at (a
damaged one): this reader reads it, and a new C iterator goes on after it. ``frames`` chains these
pieces with ``itertools.chain.from_iterable``, so that the consumer's ``next()`` goes straight to the C
iterator, with no generator of ours in between.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from tlsdoctor.capture.anomaly import AnomalyLog
from tlsdoctor.capture.formats import (
    KNOWN_LINKTYPES,
    MAX_CAPLEN,
    PCAP_MAGIC_NS,
    PCAP_MAGIC_US,
    Buffer,
    CaptureInterface,
    FrameTuple,
)

if TYPE_CHECKING:
    from tlsdoctor._lightpath import LightTable, Records

FILE_HEADER: Final = 24
RECORD_HEADER: Final = 16


class PcapParser:
    """The records of one classic pcap file, fed as one buffer (an mmap) or successive buffers."""

    __slots__ = (
        "_big_endian",
        "_record",
        "_records",
        "anomalies",
        "base",
        "done",
        "interfaces",
        "light",
        "linktype",
        "need",
        "number",
        "pos",
        "units_per_second",
    )

    def __init__(self, anomalies: AnomalyLog) -> None:
        self.anomalies = anomalies
        self.base = 0
        """File offset of ``buf[0]`` of the buffer being parsed."""
        self.pos = 0
        """Offset in that buffer of the first byte not yet consumed."""
        self.need = FILE_HEADER
        """Bytes needed from ``pos`` before the next call can make progress."""
        self.number = 0
        """Frames read so far (the number of the last one)."""
        self.done = False
        self.linktype = -1
        self.units_per_second = 1_000_000
        self.interfaces: list[CaptureInterface] = []
        self._record: struct.Struct | None = None
        self._big_endian = False
        self._records: Records | None = None
        """The C reader of the current buffer's fast zone while it runs (``frames``)."""
        self.light: LightTable | None = None
        """The engine's table of established flows (``_lightpath.c``), when the compiled build has it: the
        records of their plain packets are consumed there, in C, and never yielded."""

    def rebase(self, dropped: int) -> None:
        """The caller dropped the first ``dropped`` bytes of the buffer (all before ``pos``)."""
        self.base += dropped
        self.pos -= dropped

    def _header(self, buf: Buffer) -> None:
        p = self.pos
        for endian in ("<", ">"):
            (magic,) = struct.unpack_from(endian + "I", buf, p)
            if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
                break
        else:  # the I/O edge sniffed the magic first; this is only reached through misuse
            self.anomalies.add("truncated_header", None, self.base + p, "the pcap magic number is not there")
            self.done = True
            return
        _major, _minor, _zone, _sigfigs, snaplen, network = struct.unpack_from(endian + "HHiIII", buf, p + 4)
        self._record = struct.Struct(endian + "IIII")
        self._big_endian = endian == ">"
        self.units_per_second = 1_000_000_000 if magic == PCAP_MAGIC_NS else 1_000_000
        self.linktype = network & 0x03FFFFFF
        fcs_bytes = 2 * (network >> 28) if network & 0x04000000 else 0
        self.interfaces.append(CaptureInterface(0, 0, self.linktype, snaplen, self.units_per_second, 0, fcs_bytes))
        if self.linktype not in KNOWN_LINKTYPES:
            self.anomalies.add("unknown_linktype", None, self.base + p + 20,
                               f"the file header gives link type {self.linktype}, which is not in the LINKTYPE "
                               "registry (tcpdump.org/linktypes.html): its frames cannot be decoded")
        self.pos = p + FILE_HEADER
        self.need = RECORD_HEADER

    def frames(self, buf: Buffer, end: int, final: bool) -> Iterator[FrameTuple]:
        """The complete records of ``buf[self.pos:end]``; ``final``: no byte follows ``end``.

        With the engine's light table (``light``), the fast zone is read by its C iterator
        (``LightTable.records``: it consumes the plain packets of light flows and yields the other records
        as this reader does); ``_pieces`` says how the C iterator and this reader take turns."""
        light = self.light
        if light is not None and not self.done and self._record is None and end - self.pos >= FILE_HEADER:
            self._header(buf)  # read now, so that the first buffer's records go through C too
        return itertools.chain.from_iterable(self._pieces(buf, end, final))

    def _pieces(self, buf: Buffer, end: int, final: bool) -> Iterator[Iterator[FrameTuple]]:
        """The buffer as successive readers, for ``itertools.chain.from_iterable``: with the light table, a C
        iterator of the fast zone; then the Python reader, for the record the C iterator stopped at (a
        damaged one: a new C iterator reads on after it) or for the records from the end of the fast zone to
        the end of the buffer. Without the table, the Python reader alone; if the engine attaches the table
        meanwhile (``engine.embedded_keylog`` reads the first frame before the analyzer exists), the Python
        reader stops at the next record of the fast zone and a C iterator reads on from there.

        A piece is asked for only when the one before is exhausted: ``pos`` and ``number`` are carried over
        here, between pieces, never per frame. While a C iterator runs, ``_records`` holds it (``position``)."""
        fast_end = end - RECORD_HEADER - MAX_CAPLEN
        while not self.done:
            light = self.light
            if light is not None and self._record is not None and self.pos < fast_end:
                records = light.records(buf, self.pos, fast_end, self.number, self.linktype, self._big_endian,
                                        1 if self.units_per_second == 1_000_000_000 else 1000,
                                        self.units_per_second, MAX_CAPLEN)
                self._records = records
                yield records
                self._records = None
                self.pos = records.pos
                self.number = records.number
            yield self._frames(buf, end, final)
            if self.pos >= fast_end:
                return  # the Python reader read on to the end of the buffer (it stops early only before it)

    def position(self) -> int:
        """Offset in the buffer of the first byte not yet consumed, also while the C reader runs."""
        records = self._records
        return records.pos if records is not None else self.pos

    def _frames(self, buf: Buffer, end: int, final: bool) -> Iterator[FrameTuple]:
        """The Python reader: the records of ``buf[self.pos:end]``, the fast zone's and then, one at a time,
        the careful loop's. It stops early, for ``_pieces`` to go on, at a record of the fast zone when the
        engine has attached its light table, and after a record of the careful loop when the next one
        starts in the fast zone (with the table, a new C iterator reads on from there)."""
        if self.done:
            return
        if self._record is None:
            if end - self.pos < FILE_HEADER:
                if final:
                    self.anomalies.add("truncated_header", None, self.base + self.pos,
                                       f"the file ends inside the pcap file header ({end - self.pos} of its "
                                       f"{FILE_HEADER} bytes present): there are no frames")
                    self.done = True
                return
            self._header(buf)
        record = self._record  # a local: the header (just read, or not) may have set it
        if record is None:
            return
        unpack = record.unpack_from
        linktype = self.linktype
        scale = 1 if self.units_per_second == 1_000_000_000 else 1000
        frac_limit = self.units_per_second
        pos = self.pos
        number = self.number
        fast_end = end - RECORD_HEADER - MAX_CAPLEN
        # Declared, so that compiled they are C ints, not the objects struct's tuples hold.
        sec: int
        frac: int
        caplen: int
        origlen: int
        try:
            while True:
                # Fast zone: any record starting here fits before ``end`` if its caplen is sane.
                while pos < fast_end:
                    sec, frac, caplen, origlen = unpack(buf, pos)
                    if caplen > MAX_CAPLEN or frac >= frac_limit:
                        break
                    if self.light is not None:
                        return  # attached while this loop ran (the first buffer): C reads on from here
                    number += 1
                    data = pos + 16
                    pos = data + caplen
                    self.pos = pos  # progress for bytes_read, while the consumer holds this frame
                    yield number, sec * 1_000_000_000 + frac * scale, linktype, buf, data, caplen, origlen
                # Careful: one record near the end of the buffer, or a suspicious one.
                if pos + RECORD_HEADER > end:
                    self.need = RECORD_HEADER
                    break
                sec, frac, caplen, origlen = unpack(buf, pos)
                if caplen > MAX_CAPLEN:
                    self.anomalies.add("bogus_caplen", number or None, self.base + pos,
                                       f"the record after frame {number} claims {caplen} captured bytes, more than "
                                       f"MAX_CAPLEN ({MAX_CAPLEN}): the file is damaged here and is read no further")
                    self.done = True
                    return
                nxt = pos + RECORD_HEADER + caplen
                if nxt > end:
                    self.need = RECORD_HEADER + caplen
                    break
                number += 1
                if frac >= frac_limit:
                    self.anomalies.add("bogus_timestamp", number, self.base + pos,
                                       f"frame {number}: its sub-second field {frac} is not below {frac_limit} "
                                       "(a damaged record, or misframed bytes read as one)")
                data = pos + 16
                pos = nxt
                self.pos = pos
                yield number, sec * 1_000_000_000 + frac * scale, linktype, buf, data, caplen, origlen
                if pos < fast_end:
                    return  # back in the fast zone: ``_pieces`` goes on (with the light table, in C)
            if final and pos < end:
                left = end - pos
                if left < RECORD_HEADER:
                    what = f"its last {left} bytes are not a whole record header"
                else:
                    what = f"the record after frame {number} has {left - RECORD_HEADER} of its {self.need - 16} bytes"
                self.anomalies.add("truncated_record", number or None, self.base + pos,
                                   f"the file ends inside a record ({what}): it was cut short or has trailing bytes")
                self.done = True
        finally:
            self.pos = pos
            self.number = number
