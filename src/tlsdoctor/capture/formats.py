"""The sans-IO core of the capture readers: classic pcap and pcapng, bytes -> frames.

Theory of operation. Both formats are a file header followed by length-prefixed records (pcap) or
blocks (pcapng). The parsers here never do I/O: they are given a buffer (an mmap of the whole file, or
a chunk of a stream) and the range of it to read, and they yield frames until the next record is not
complete in that range. They keep their progress (offset, frame number, interfaces) in a state object,
so that the I/O edge (``source.py``) can append the next chunk and call them again. When the caller
says the input is final, an incomplete record is a ``truncated`` anomaly, never an exception.

Frames are plain tuples ``(number, ts_ns, linktype, buf, offset, caplen, origlen)`` pointing into the
buffer: no copy of packet bytes is made here (the hot path of the product; see docs/performance.md).

References: pcap, draft-ietf-opsawg-pcap; pcapng, draft-ietf-opsawg-pcapng (sections 4.1 SHB, 4.2 IDB,
4.3 EPB, 4.4 SPB, appendix A OPB, 4.7 DSB; if_tsresol and if_tsoffset in 4.2).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from tlsdoctor.net.decode import Buffer

MAX_CAPLEN: Final = 256 * 1024
"""A record or packet block claiming more captured bytes than this is bogus (Wireshark's own limit for
Ethernet is 256 KiB); the file is read no further, with an anomaly."""
MAX_BLOCK: Final = 16 * 1024 * 1024
"""A pcapng block longer than this is bogus (no standard block needs it)."""
MAX_ANOMALIES: Final = 1000
"""Anomalies kept per capture; the rest are counted."""

PCAP_MAGIC_US: Final = 0xA1B2C3D4
PCAP_MAGIC_NS: Final = 0xA1B23C4D
PCAPNG_SHB: Final = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D

_BT_IDB: Final = 0x00000001
_BT_OPB: Final = 0x00000002
_BT_SPB: Final = 0x00000003
_BT_EPB: Final = 0x00000006
_BT_DSB: Final = 0x0000000A
_SECRETS_TLS_KEY_LOG: Final = 0x544C534B

FrameTuple = tuple[int, int, int, Buffer, int, int, int]


@dataclass(frozen=True, slots=True)
class CaptureAnomaly:
    kind: str
    """A stable short code: ``truncated_record``, ``bogus_caplen``, ``bogus_block_length``, ..."""
    frame: int | None
    """The frame it concerns or follows (Wireshark's number), when there is one."""
    offset: int
    """Byte offset in the (decompressed) file."""
    detail: str

    def __str__(self) -> str:
        where = f"frame {self.frame}" if self.frame is not None else f"offset {self.offset}"
        return f"{where}: {self.detail}"


@dataclass(slots=True)
class Anomalies:
    kept: list[CaptureAnomaly] = field(default_factory=list)
    dropped: int = 0

    def add(self, kind: str, frame: int | None, offset: int, detail: str) -> None:
        if len(self.kept) < MAX_ANOMALIES:
            self.kept.append(CaptureAnomaly(kind, frame, offset, detail))
        else:
            self.dropped += 1


class NotACapture(ValueError):
    """The bytes do not start like a pcap or pcapng file."""


# --- classic pcap ------------------------------------------------------------------------------

@dataclass(slots=True)
class PcapState:
    endian: str
    nano: bool
    linktype: int
    snaplen: int
    pos: int = 24  # offset in the current buffer of the next record
    number: int = 0
    stopped: bool = False


def pcap_header(head: bytes) -> PcapState:
    """Parse the 24-byte file header (needs 24 bytes)."""
    if len(head) < 24:
        raise NotACapture("shorter than a pcap file header")
    magic_le = struct.unpack_from("<I", head)[0]
    for endian in ("<", ">"):
        magic = struct.unpack_from(endian + "I", head)[0]
        if magic in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            _maj, _min, _zone, _sig, snaplen, network = struct.unpack_from(endian + "HHiIII", head, 4)
            # The upper bits of the link-type field may carry FCS information (pcap draft, section 4).
            return PcapState(endian, magic == PCAP_MAGIC_NS, network & 0x0FFFFFFF, snaplen)
    raise NotACapture(f"unknown magic 0x{magic_le:08x}")


def pcap_frames(st: PcapState, buf: Buffer, end: int, final: bool, base: int,
                anomalies: Anomalies) -> Iterator[FrameTuple]:
    """Yield the complete records of ``buf[st.pos:end]``; ``base`` is the file offset of ``buf[0]``."""
    if st.stopped:
        return
    unpack = struct.Struct(st.endian + "IIII").unpack_from
    mult = 1 if st.nano else 1000
    frac_limit = 1_000_000_000 if st.nano else 1_000_000
    linktype = st.linktype
    pos = st.pos
    number = st.number
    try:
        while pos + 16 <= end:
            sec, frac, caplen, origlen = unpack(buf, pos)
            if caplen > MAX_CAPLEN:
                anomalies.add("bogus_caplen", number or None, base + pos,
                              f"record after frame {number} claims {caplen} captured bytes (more than "
                              f"{MAX_CAPLEN}): the file is damaged here and is read no further")
                st.stopped = True
                return
            nxt = pos + 16 + caplen
            if nxt > end:
                break
            if frac >= frac_limit:
                anomalies.add("bogus_timestamp", number + 1, base + pos,
                              f"frame {number + 1}: sub-second timestamp field {frac} is out of range")
            number += 1
            yield number, sec * 1_000_000_000 + frac * mult, linktype, buf, pos + 16, caplen, origlen
            pos = nxt
        if final and pos < end:
            anomalies.add("truncated_record", number or None, base + pos,
                          f"the capture ends inside the record after frame {number} "
                          f"({end - pos} bytes of it present): the file was cut short")
            st.stopped = True
    finally:
        st.pos = pos
        st.number = number


# --- pcapng ------------------------------------------------------------------------------------

@dataclass(slots=True)
class Interface:
    linktype: int
    snaplen: int
    units_per_second: int = 1_000_000
    tsoffset_ns: int = 0


@dataclass(slots=True)
class PcapngState:
    endian: str = "<"
    pos: int = 0
    number: int = 0
    interfaces: list[Interface] = field(default_factory=list)
    stopped: bool = False
    secrets: list[bytes] = field(default_factory=list)
    blocks: int = 0


_MAX_SECRETS_BYTES: Final = 16 * 1024 * 1024


def _idb(st: PcapngState, body: bytes, base: int, anomalies: Anomalies) -> None:
    e = st.endian
    if len(body) < 8:
        anomalies.add("bogus_block", st.number or None, base, "interface description block shorter than 8 bytes")
        st.interfaces.append(Interface(0, 0))
        return
    linktype, _res, snaplen = struct.unpack_from(e + "HHI", body)
    iface = Interface(linktype, snaplen)
    p = 8
    while p + 4 <= len(body):
        code, olen = struct.unpack_from(e + "HH", body, p)
        if code == 0:
            break
        value = body[p + 4 : p + 4 + olen]
        if code == 9 and olen >= 1:  # if_tsresol
            v = value[0]
            iface.units_per_second = (2 ** (v & 0x7F)) if v & 0x80 else 10 ** v
            if iface.units_per_second == 0 or (v & 0x7F) > 63:
                anomalies.add("bogus_option", st.number or None, base, f"if_tsresol {v} is out of range")
                iface.units_per_second = 1_000_000
        elif code == 14 and olen == 8:  # if_tsoffset, seconds
            iface.tsoffset_ns = struct.unpack_from(e + "q", value)[0] * 1_000_000_000
        p += 4 + ((olen + 3) & ~3)
    st.interfaces.append(iface)


def _ts_ns(iface: Interface, high: int, low: int) -> int:
    units = (high << 32) | low
    ups = iface.units_per_second
    if ups == 1_000_000:
        ns = units * 1000
    elif ups == 1_000_000_000:
        ns = units
    else:
        ns = units * 1_000_000_000 // ups
    return ns + iface.tsoffset_ns


_STRUCTS: Final = {
    e: (struct.Struct(e + "II").unpack_from, struct.Struct(e + "IIIII").unpack_from, struct.Struct(e + "I").unpack_from)
    for e in ("<", ">")
}


def pcapng_frames(st: PcapngState, buf: Buffer, end: int, final: bool, base: int,
                  anomalies: Anomalies) -> Iterator[FrameTuple]:
    """Yield the packets of the complete blocks of ``buf[st.pos:end]``."""
    if st.stopped:
        return
    pos = st.pos
    number = st.number
    e = st.endian
    head2, epb5, u32 = _STRUCTS[e]
    try:
        while pos + 12 <= end:
            btype, blen = head2(buf, pos)
            if btype == PCAPNG_SHB:
                # A new section: its byte order may differ (section 4.1); interfaces start over.
                if pos + 12 > end:
                    break
                (bom,) = struct.unpack_from("<I", buf, pos + 8)
                if bom == PCAPNG_BYTE_ORDER_MAGIC:
                    e = "<"
                elif bom == 0x4D3C2B1A:
                    e = ">"
                else:
                    anomalies.add("bogus_block", number or None, base + pos,
                                  "section header block with an unknown byte-order magic: read no further")
                    st.stopped = True
                    return
                st.endian = e
                head2, epb5, u32 = _STRUCTS[e]
                (blen,) = u32(buf, pos + 4)
                st.interfaces = []
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                anomalies.add("bogus_block_length", number or None, base + pos,
                              f"block of type 0x{btype:08x} after frame {number} has length {blen}: the file "
                              "is damaged here and is read no further")
                st.stopped = True
                return
            nxt = pos + blen
            if nxt > end:
                break
            (trailer,) = u32(buf, nxt - 4)
            if trailer != blen:
                anomalies.add("bogus_block_length", number or None, base + pos,
                              f"block of type 0x{btype:08x} after frame {number}: its trailing length {trailer} "
                              f"differs from its leading length {blen}: read no further")
                st.stopped = True
                return
            st.blocks += 1
            body_start = pos + 8
            body_end = nxt - 4
            if btype in (_BT_EPB, _BT_OPB):
                if body_end - body_start < 20:
                    anomalies.add("bogus_block", number + 1, base + pos, "packet block shorter than its header")
                    number += 1
                    pos = nxt
                    continue
                if btype == _BT_EPB:
                    iface_id, high, low, caplen, origlen = epb5(buf, body_start)
                else:
                    iface_id, _drops, high, low, caplen, origlen = struct.unpack_from(e + "HHIIII", buf, body_start)
                number += 1
                data = body_start + 20
                if caplen > body_end - data:
                    anomalies.add("bogus_caplen", number, base + pos,
                                  f"frame {number}: captured length {caplen} runs past its block; cut to the block")
                    caplen = max(0, body_end - data)
                if iface_id >= len(st.interfaces):
                    anomalies.add("unknown_interface", number, base + pos,
                                  f"frame {number}: interface {iface_id} was never described; frame skipped")
                    pos = nxt
                    continue
                iface = st.interfaces[iface_id]
                yield number, _ts_ns(iface, high, low), iface.linktype, buf, data, caplen, origlen
            elif btype == _BT_SPB:
                number += 1
                if not st.interfaces:
                    anomalies.add("unknown_interface", number, base + pos,
                                  f"frame {number}: simple packet block before any interface; skipped")
                    pos = nxt
                    continue
                iface = st.interfaces[0]
                (origlen,) = struct.unpack_from(e + "I", buf, body_start)
                room = body_end - body_start - 4
                caplen = min(origlen, room, iface.snaplen) if iface.snaplen else min(origlen, room)
                # An SPB has no timestamp: Wireshark shows it as time 0 (draft section 4.4).
                yield number, 0, iface.linktype, buf, body_start + 4, max(caplen, 0), origlen
            elif btype == _BT_IDB:
                _idb(st, bytes(buf[body_start:body_end]), base + pos, anomalies)
            elif btype == _BT_DSB and body_end - body_start >= 8:
                stype, slen = struct.unpack_from(e + "II", buf, body_start)
                if stype == _SECRETS_TLS_KEY_LOG and sum(map(len, st.secrets)) + slen <= _MAX_SECRETS_BYTES:
                    st.secrets.append(bytes(buf[body_start + 8 : body_start + 8 + slen]))
            # Other blocks (NRB, ISB, custom, unknown) carry no packets: skipped (section 3.1).
            pos = nxt
        if final and pos < end:
            anomalies.add("truncated_record", number or None, base + pos,
                          f"the capture ends inside a block after frame {number} ({end - pos} bytes of it "
                          "present): the file was cut short")
            st.stopped = True
    finally:
        st.pos = pos
        st.number = number
