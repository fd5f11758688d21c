"""pcapng, sans-IO: a buffer in, frames, interfaces, TLS secrets and anomalies out.

Theory of operation (draft-ietf-opsawg-pcapng). The file is a sequence of blocks, each ``type, total
length, body, total length again`` (section 3.1), lengths a multiple of 4. A Section Header Block
(4.1, type 0x0A0D0D0A) starts a section; its byte-order magic says the byte order of every block of
that section, and a file may hold several sections, each in its own byte order, each with its own
interfaces. An Interface Description Block (4.2) describes the next interface of the section: link
type, snap length, and options, among them ``if_tsresol`` (code 9: 10**-n seconds, or 2**-n when the
top bit is set; 10**-6 by default) and ``if_tsoffset`` (code 14: seconds added to every time stamp).
Packets come in an Enhanced Packet Block (4.3: interface id, 64-bit time stamp, captured and original
length), a Simple Packet Block (4.4: no interface id, it is interface 0; no time stamp, we give 0; no
captured length, it is ``min(original length, snap length)`` bounded by the block) or the obsolete
Packet Block (appendix A, like an EPB with a 16-bit interface id and a drops count). Decryption Secrets
Blocks (4.7) carrying a TLS key log are kept (``secrets``); every other block (name resolution,
interface statistics, custom, unknown) carries no packet and is skipped. Every packet block is a frame,
numbered from 1 as Wireshark's ``frame.number``.

``PcapngParser.frames(buf, end, final)`` has the contract of ``PcapParser.frames``: it yields the
packets of the complete blocks of ``buf[pos:end]``, leaves ``pos`` on the first incomplete block and
``need`` at the bytes needed, and turns damage into anomalies. A block whose length field is impossible
(< 12, not a multiple of 4, > MAX_BLOCK) or whose trailing copy differs loses the framing: reading stops.
Damage inside a well-framed block (a caplen past the block, an unknown interface) costs only that frame.

The hot loop reads an EPB on a described interface with one ``unpack_from`` of its 28-byte head and
one of its trailing length; the time stamp is ``units * mul // div + offset`` with the interface's
resolution reduced to a fraction of 10**9 once, when its IDB is read. Any other block goes through the
careful path, one block at a time. With the engine's light table (the compiled build), runs of EPBs are
read by its C iterator instead (``LightTable.pcapng_records``, ``_lightpath.c``), which also consumes the
plain packets of established connections; it stops at any block this loop would leave to the careful
path (and at a clock that needs big integers), which this reader reads before a new C iterator goes on.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from tlsdoctor.capture.anomaly import AnomalyLog
from tlsdoctor.capture.formats import (
    KNOWN_LINKTYPES,
    MAX_BLOCK,
    MAX_CAPLEN,
    MAX_INTERFACES,
    MAX_SECRETS_BYTES,
    PCAPNG_BYTE_ORDER_MAGIC,
    PCAPNG_SHB,
    Buffer,
    CaptureInterface,
    FrameTuple,
)

if TYPE_CHECKING:
    from tlsdoctor._lightpath import LightTable, Records

BLOCK_IDB: Final = 0x00000001
BLOCK_OPB: Final = 0x00000002  # obsolete Packet Block, appendix A
BLOCK_SPB: Final = 0x00000003
BLOCK_EPB: Final = 0x00000006
BLOCK_DSB: Final = 0x0000000A
SECRETS_TLS_KEY_LOG: Final = 0x544C534B  # "TLSK", section 4.7
OPT_END: Final = 0
OPT_IF_NAME: Final = 2
OPT_IF_TSRESOL: Final = 9
OPT_IF_FCSLEN: Final = 13
OPT_IF_TSOFFSET: Final = 14
EPB_HEAD: Final = 28  # type, length, interface id, time stamp high and low, captured and original length
NS_PER_S: Final = 1_000_000_000

# Per byte order: block head, EPB head, one u32, OPB fields, SHB versions, option head, tsoffset.
_STRUCTS: Final = {
    e: (struct.Struct(e + "II"), struct.Struct(e + "IIIIIII"), struct.Struct(e + "I"), struct.Struct(e + "HHIIII"),
        struct.Struct(e + "HH"), struct.Struct(e + "HHI"), struct.Struct(e + "q"))
    for e in ("<", ">")
}

# The interface facts the hot loop needs: (linktype, mul, div, offset_ns); ts_ns = units * mul // div + offset_ns.
_Clock = tuple[int, int, int, int]


class PcapngParser:
    """The blocks of one pcapng file, fed as one buffer (an mmap) or successive buffers."""

    __slots__ = (
        "_clocks",
        "_endian",
        "_records",
        "_resume",
        "_secrets_bytes",
        "_snaplens",
        "anomalies",
        "base",
        "done",
        "interfaces",
        "light",
        "need",
        "number",
        "pos",
        "secrets",
        "section",
    )

    def __init__(self, anomalies: AnomalyLog) -> None:
        self.anomalies = anomalies
        self.base = 0
        self.pos = 0
        self.need = 12
        self.number = 0
        self.done = False
        self.section = -1
        """Index of the current section (0 for the first)."""
        self.interfaces: list[CaptureInterface] = []
        """Every interface of every section, in file order (at most MAX_INTERFACES)."""
        self.secrets: list[bytes] = []
        """TLS key logs (NSS key log format) from Decryption Secrets Blocks, at most MAX_SECRETS_BYTES."""
        self._secrets_bytes = 0
        self._clocks: list[_Clock] = []  # the current section's interfaces, by interface id
        self._snaplens: list[int] = []
        self._endian = "<"
        self.light: LightTable | None = None
        """The engine's table of established flows (``_lightpath.c``), as for ``PcapParser.light``."""
        self._records: Records | None = None
        """The C reader of a run of Enhanced Packet Blocks while it runs (``_pieces``)."""
        self._resume = False
        """The Python reader stopped for a C reader to go on (``_frames``)."""

    def rebase(self, dropped: int) -> None:
        self.base += dropped
        self.pos -= dropped

    def position(self) -> int:
        """Offset in the buffer of the first byte not yet consumed, also while the C reader runs
        (``PcapParser.position``)."""
        records = self._records
        return records.pos if records is not None else self.pos

    def frames(self, buf: Buffer, end: int, final: bool) -> Iterator[FrameTuple]:
        """The packets of the complete blocks of ``buf[self.pos:end]``; ``final``: nothing follows.

        With the engine's light table (``light``), runs of Enhanced Packet Blocks are read by its C
        iterator (``LightTable.pcapng_records``: it consumes the plain packets of light flows and yields
        the other packets as this reader does); ``_pieces`` says how it and this reader take turns."""
        return itertools.chain.from_iterable(self._pieces(buf, end, final))

    def _pieces(self, buf: Buffer, end: int, final: bool) -> Iterator[Iterator[FrameTuple]]:
        """The buffer as successive readers, for ``itertools.chain.from_iterable`` (as in
        ``PcapParser._pieces``): with the light table, a C iterator of the Enhanced Packet Blocks from
        ``pos``; then the Python reader, for the block the C iterator stopped at (any other block type, a
        block not well framed or not wholly in the buffer, an interface whose clock needs big integers),
        which hands the blocks after it back to a new C iterator; without the table, the Python reader
        alone, which hands over to C at its next block if the engine attaches the table meanwhile
        (``engine.embedded_keylog`` reads the first frame before the analyzer exists). ``pos`` and
        ``number`` are carried over between pieces, never per frame."""
        while not self.done:
            light = self.light
            if light is not None and self.pos + EPB_HEAD <= end:
                records = light.pcapng_records(buf, self.pos, end, self.number, self._endian == ">", self._clocks,
                                               MAX_CAPLEN)
                self._records = records
                yield records
                self._records = None
                self.pos = records.pos
                self.number = records.number
            self._resume = False
            yield self._frames(buf, end, final)
            if not self._resume:
                return  # the Python reader read to the end of the buffer, or needs more, or the file is done

    def _frames(self, buf: Buffer, end: int, final: bool) -> Iterator[FrameTuple]:
        """The Python reader: the blocks of ``buf[self.pos:end]``. With the light table it reads one block
        and stops, setting ``_resume``, for ``_pieces`` to hand the next to a C iterator."""
        if self.done:
            return
        pos = self.pos
        number = self.number
        add = self.anomalies.add
        fast_end = end - EPB_HEAD
        try:
            while True:
                head, epb, u32, opb, _hh, _hhi, _q = _STRUCTS[self._endian]
                epb_head = epb.unpack_from
                trailer = u32.unpack_from
                clocks = self._clocks
                nif = len(clocks)
                # Fast path: Enhanced Packet Blocks on described interfaces, well framed.
                while pos <= fast_end:
                    btype, blen, iid, high, low, caplen, origlen = epb_head(buf, pos)
                    nxt = pos + blen
                    if (btype != BLOCK_EPB or blen & 3 or caplen + 32 > blen or nxt > end or caplen > MAX_CAPLEN
                            or iid >= nif or trailer(buf, nxt - 4)[0] != blen):
                        break
                    linktype, mul, div, offset_ns = clocks[iid]
                    number += 1
                    self.pos = nxt
                    ts_ns = ((high << 32) | low) * mul // div + offset_ns
                    yield number, ts_ns, linktype, buf, pos + 28, caplen, origlen
                    pos = nxt
                    # ``light`` is read after each block: the engine may attach it after the first frame.
                    if self.light is not None and pos <= fast_end:
                        self._resume = True
                        return
                # Careful path: one block of any type.
                if pos + 12 > end:
                    self.need = 12
                    break
                btype, blen = head.unpack_from(buf, pos)
                if btype == PCAPNG_SHB:
                    (bom,) = struct.unpack_from("<I", buf, pos + 8)
                    if bom not in (PCAPNG_BYTE_ORDER_MAGIC, 0x4D3C2B1A):
                        add("bogus_block", number or None, self.base + pos,
                            f"a section header block after frame {number} has the byte-order magic 0x{bom:08x}: "
                            "the file is damaged here and is read no further")
                        self.done = True
                        return
                    # The new byte order applies from this block's own length on; it is kept (self._endian)
                    # only once the whole block is here and sound, so that a retry with more data sees the same.
                    endian = "<" if bom == PCAPNG_BYTE_ORDER_MAGIC else ">"
                    head, epb, u32, opb, _hh, _hhi, _q = _STRUCTS[endian]
                    (blen,) = u32.unpack_from(buf, pos + 4)
                    minimum = 28  # type, length, byte-order magic, versions, section length, length
                else:
                    minimum = 12
                if blen < minimum or blen & 3 or blen > MAX_BLOCK:
                    add("bogus_block_length", number or None, self.base + pos,
                        f"the block of type 0x{btype:08x} after frame {number} has a length of {blen} bytes (not a "
                        f"multiple of 4 from {minimum} to MAX_BLOCK, {MAX_BLOCK}): the file is damaged here and is "
                        "read no further")
                    self.done = True
                    return
                nxt = pos + blen
                if nxt > end:
                    self.need = blen
                    break
                (last,) = u32.unpack_from(buf, nxt - 4)
                if last != blen:
                    add("bogus_block_length", number or None, self.base + pos,
                        f"the block of type 0x{btype:08x} after frame {number} starts with the length {blen} and "
                        f"ends with {last}: the file is damaged here and is read no further")
                    self.done = True
                    return
                body = pos + 8
                room = blen - 12  # bytes of body
                if btype in (BLOCK_EPB, BLOCK_OPB):
                    number += 1
                    if room < 20:
                        add("bogus_block", number, self.base + pos,
                            f"frame {number}: its packet block is {blen} bytes, too short for its own fields; skipped")
                        pos = nxt
                        continue
                    if btype == BLOCK_EPB:
                        _t, _l, iid, high, low, caplen, origlen = epb.unpack_from(buf, pos)
                    else:
                        iid, _drops, high, low, caplen, origlen = opb.unpack_from(buf, body)
                    frame = self._packet(number, pos, iid, caplen, room - 20)
                    if frame is not None:
                        linktype, mul, div, offset_ns = clocks[iid]
                        self.pos = nxt
                        yield (number, ((high << 32) | low) * mul // div + offset_ns, linktype, buf, body + 20,
                               frame, origlen)
                elif btype == BLOCK_SPB:
                    number += 1
                    if room < 4:
                        add("bogus_block", number, self.base + pos,
                            f"frame {number}: its simple packet block is {blen} bytes, too short; skipped")
                        pos = nxt
                        continue
                    (origlen,) = u32.unpack_from(buf, body)
                    if nif:  # section 4.4: captured = min(original length, snap length), what the block holds
                        snaplen = self._snaplens[0]
                        want = min(origlen, room - 4, snaplen) if snaplen else min(origlen, room - 4)
                        frame = self._packet(number, pos, 0, want, room - 4)
                    else:
                        frame = self._packet(number, pos, 0, 0, 0)
                    if frame is not None:
                        # An SPB carries no time stamp (section 4.4): 0, the epoch.
                        self.pos = nxt
                        yield number, 0, clocks[0][0], buf, body + 4, frame, origlen
                elif btype == BLOCK_IDB:
                    self._interface(bytes(buf[body : body + room]), self.base + pos, number)
                elif btype == PCAPNG_SHB:
                    self._endian = endian
                    self.section += 1
                    self._clocks = []
                    self._snaplens = []
                    major, minor = _hh.unpack_from(buf, body + 4)
                    if major != 1:
                        add("bogus_block", number or None, self.base + pos,
                            f"section {self.section} is pcapng version {major}.{minor}; only 1.x is defined: "
                            "read no further")
                        self.done = True
                        pos = nxt
                        return
                elif btype == BLOCK_DSB and room >= 8:
                    self._secret(buf, body, room, number)
                # Every other block (name resolution, statistics, custom, unknown) carries no packet.
                pos = nxt
                if self.light is not None and pos <= fast_end:
                    self._resume = True
                    return
            if final and pos < end:
                self.anomalies.add(
                    "truncated_record", number or None, self.base + pos,
                    f"the file ends inside a block after frame {number} ({end - pos} bytes present, {self.need} "
                    "needed): it was cut short or has trailing bytes")
                self.done = True
        finally:
            self.pos = pos
            self.number = number

    def _packet(self, number: int, pos: int, iid: int, caplen: int, room: int) -> int | None:
        """The captured length to yield for a packet block, or None (with an anomaly) to skip it."""
        if iid >= len(self._clocks):
            self.anomalies.add("unknown_interface", number, self.base + pos,
                               f"frame {number}: interface {iid} of section {self.section} was never described "
                               f"({len(self._clocks)} were); skipped")
            return None
        if caplen > MAX_CAPLEN:
            self.anomalies.add("bogus_caplen", number, self.base + pos,
                               f"frame {number}: it claims {caplen} captured bytes, more than MAX_CAPLEN "
                               f"({MAX_CAPLEN}); skipped")
            return None
        if caplen > room:
            self.anomalies.add("bogus_caplen", number, self.base + pos,
                               f"frame {number}: it claims {caplen} captured bytes but its block holds {room}; "
                               "cut to the block")
            return room
        return caplen

    def _interface(self, body: bytes, offset: int, number: int) -> None:
        """An Interface Description Block (section 4.2)."""
        add = self.anomalies.add
        after = number or None
        if len(self._clocks) >= MAX_INTERFACES:
            add("cap_reached", after, offset, f"more than MAX_INTERFACES ({MAX_INTERFACES}) interfaces in section "
                f"{self.section}: this one is not kept, and its packets are reported on an unknown interface")
            return
        _head, _epb, _u32, _opb, hh, hhi, q = _STRUCTS[self._endian]
        if len(body) < 8:
            add("bogus_block", after, offset, f"an interface description block of {len(body)} body bytes is too "
                "short: it is kept with link type 0")
            linktype, snaplen = 0, 0
        else:
            linktype, _reserved, snaplen = hhi.unpack_from(body)
        units_per_second = 1_000_000
        tsoffset_s = 0
        fcs_bytes = 0
        name: str | None = None
        p = 8
        while p + 4 <= len(body):
            code, olen = hh.unpack_from(body, p)
            if code == OPT_END:
                break
            if p + 4 + olen > len(body):
                add("bogus_option", after, offset, f"option {code} of an interface description block runs past "
                    "the block: the rest of its options are ignored")
                break
            value = body[p + 4 : p + 4 + olen]
            if code == OPT_IF_TSRESOL and olen >= 1:
                exponent = value[0] & 0x7F
                if value[0] & 0x80 and exponent <= 63:
                    units_per_second = 1 << exponent
                elif not value[0] & 0x80 and exponent <= 18:
                    units_per_second = 10**exponent
                else:
                    add("bogus_option", after, offset, f"if_tsresol 0x{value[0]:02x} is out of range: microseconds "
                        "are assumed")
            elif code == OPT_IF_TSOFFSET and olen == 8:
                (tsoffset_s,) = q.unpack_from(value)
            elif code == OPT_IF_FCSLEN and olen >= 1:
                fcs_bytes = value[0]
            elif code == OPT_IF_NAME:
                name = value.decode("utf-8", "replace").rstrip("\0")
            p += 4 + ((olen + 3) & ~3)
        index = len(self._clocks)
        g = math.gcd(NS_PER_S, units_per_second)
        self._clocks.append((linktype, NS_PER_S // g, units_per_second // g, tsoffset_s * NS_PER_S))
        self._snaplens.append(snaplen)
        if len(self.interfaces) < MAX_INTERFACES:
            self.interfaces.append(CaptureInterface(max(self.section, 0), index, linktype, snaplen, units_per_second,
                                                    tsoffset_s, fcs_bytes, name))
        if linktype not in KNOWN_LINKTYPES:
            add("unknown_linktype", after, offset,
                f"interface {index} of section {max(self.section, 0)} has link type {linktype}, which is not in the "
                "LINKTYPE registry (tcpdump.org/linktypes.html): its frames cannot be decoded")

    def _secret(self, buf: Buffer, body: int, room: int, number: int) -> None:
        """A Decryption Secrets Block (section 4.7): keep a TLS key log, within MAX_SECRETS_BYTES."""
        stype, slen = _STRUCTS[self._endian][0].unpack_from(buf, body)
        if stype != SECRETS_TLS_KEY_LOG:
            return
        slen = min(slen, room - 8)
        if self._secrets_bytes + slen > MAX_SECRETS_BYTES:
            self.anomalies.add("cap_reached", number or None, self.base + body - 8,
                               f"TLS key logs in the file exceed MAX_SECRETS_BYTES ({MAX_SECRETS_BYTES}): the rest "
                               "are not kept")
            return
        self._secrets_bytes += slen
        self.secrets.append(bytes(buf[body + 8 : body + 8 + slen]))
