"""Capture writers, sans-IO: frames in, the bytes of a classic pcap or a pcapng file out.

Theory of operation. The readers' mirror image (``pcap.py``, ``pcapng.py``), for ``diagnose --export``:
each writer is a small state machine that returns the bytes to append to the file for each frame, and
never touches a file itself (the I/O edge is ``tlsdoctor.export``). Every frame keeps its captured bytes,
its original length, its link type and its time stamp to the nanosecond, so that Wireshark shows the
exported frame exactly as it showed the original.

* ``PcapWriter`` (draft-ietf-opsawg-pcap, sections 4 and 5): the file header is written in little-endian
  byte order with the nanosecond magic 0xA1B23C4D, version 2.4, snap length SNAPLEN and one link type
  for the whole file, with the FCS length in the link-type field's top bits when the frames carry one
  (section 4: FCS length in 16-bit words in bits 28-31, bit 26 set when present; libpcap's
  LT_FCS_DATALINK_EXT). Each record is ``seconds, nanoseconds, captured length, original length`` and
  the bytes. Classic pcap holds one link type per file: a frame of another is refused, not written.
* ``PcapngWriter`` (draft-ietf-opsawg-pcapng): a Section Header Block (4.1, little-endian, version 1.0,
  section length -1 "not given", since the file is written as a stream), then for each distinct
  interface (link type, FCS length), at its first frame, an Interface Description Block (4.2) with
  ``if_tsresol`` = 9 (nanoseconds), and each frame as an Enhanced Packet Block (4.3) on that interface,
  with an optional ``opt_comment`` (3.5; Wireshark shows it as ``frame.comment``). Every block length is
  a multiple of 4: the packet bytes and every option value are padded with zero bytes to 32 bits (3.1,
  3.5), and the length is repeated at the block's end.

A frame has two outcomes, as a parser has (STYLE.md): its bytes, or a ``Refused`` that says, as data,
why this format cannot hold it (another link type in classic pcap, a time stamp the format cannot
represent, more bytes than SNAPLEN, a link type too wide for the format). Nothing here raises for a frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from tlsdoctor.capture.formats import MAX_CAPLEN, MAX_INTERFACES, PCAP_MAGIC_NS, PCAPNG_BYTE_ORDER_MAGIC, PCAPNG_SHB

SNAPLEN: Final = MAX_CAPLEN
"""The snap length written in the file header and in every interface: 262144, libpcap's and Wireshark's
maximum (what our readers accept as MAX_CAPLEN). A longer frame is refused."""

MAX_OPTION_BYTES: Final = 0xFFFF
"""A pcapng option's length is 16 bits (section 3.5): a longer comment is cut, at a UTF-8 boundary."""

NS_PER_S: Final = 1_000_000_000
_PCAP_MAX_TS_NS: Final = (1 << 32) * NS_PER_S  # 32-bit seconds: the year 2106
_PCAPNG_MAX_TS_NS: Final = 1 << 64  # 64-bit units of 10**-9 s: the year 2554
_MAX_LINKTYPE: Final = 0xFFFF  # the LINKTYPE registry is 16 bits, and so is a pcapng IDB's field
_PCAP_MAX_LINKTYPE: Final = 0x03FFFFFF  # classic pcap: the low 26 bits, what libpcap and our reader keep
_MAX_LENGTH: Final = 0xFFFFFFFF

# pcapng block types and option codes (draft-ietf-opsawg-pcapng, sections 3.5, 4.1-4.3).
BLOCK_IDB: Final = 0x00000001
BLOCK_EPB: Final = 0x00000006
OPT_ENDOFOPT: Final = 0
OPT_COMMENT: Final = 1
OPT_SHB_USERAPPL: Final = 4
OPT_IF_TSRESOL: Final = 9
OPT_IF_FCSLEN: Final = 13
TSRESOL_NS: Final = 9  # if_tsresol: 10**-9 s

_PCAP_FILE_HEADER: Final = struct.Struct("<IHHiIII")
_PCAP_RECORD: Final = struct.Struct("<IIII")
_BLOCK_HEAD: Final = struct.Struct("<II")
_U32: Final = struct.Struct("<I")
_OPTION_HEAD: Final = struct.Struct("<HH")
_SHB_BODY: Final = struct.Struct("<IHHq")
_IDB_BODY: Final = struct.Struct("<HHI")
_EPB_BODY: Final = struct.Struct("<IIIII")

FrameBytes = bytes | bytearray | memoryview
"""A frame's captured bytes, as the writers take them."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A frame the writer cannot put in its format, and why: ``kind`` is a short stable code
    (``linktype``, ``timestamp``, ``caplen``, ``length``, ``interfaces``), ``detail`` a sentence."""

    kind: str
    detail: str


def _check_frame(ts_ns: int, max_ts_ns: int, data: FrameBytes, origlen: int, fmt: str) -> Refused | None:
    if not 0 <= ts_ns < max_ts_ns:
        return Refused("timestamp", f"its time stamp ({ts_ns} ns since the epoch) cannot be written in {fmt}, "
                                    f"which counts from 1970 up to {max_ts_ns // NS_PER_S} s")
    if len(data) > SNAPLEN:
        return Refused("caplen", f"its {len(data)} captured bytes are more than the snap length SNAPLEN ({SNAPLEN})")
    if not 0 <= origlen <= _MAX_LENGTH:
        return Refused("length", f"its original length {origlen} does not fit in 32 bits")
    return None


def pcap_fcs_field(fcs_bytes: int) -> int:
    """The FCS bits of a classic pcap link-type field (section 4) for ``fcs_bytes`` bytes of FCS, or 0
    when there is none or the length cannot be said there (it counts 16-bit words, at most 15)."""
    if fcs_bytes <= 0 or fcs_bytes % 2 or fcs_bytes // 2 > 15:
        return 0
    return 0x04000000 | (fcs_bytes // 2) << 28


class PcapWriter:
    """A classic pcap file with nanosecond time stamps and one link type: ``header()`` once, then
    ``packet()`` for each frame, in order; append what each returns to the file."""

    __slots__ = ("fcs_bytes", "linktype", "snaplen")

    def __init__(self, linktype: int, fcs_bytes: int = 0) -> None:
        self.linktype = linktype
        """The link type of every frame of the file (the first exported frame's)."""
        self.fcs_bytes = fcs_bytes
        """Bytes of FCS at the end of each frame, 0 if none (said in the header when it can be)."""
        self.snaplen = SNAPLEN

    def header(self) -> bytes:
        """The 24-byte file header (section 4). A link type beyond 26 bits is written as 0 (NULL); its frames
        are refused anyway."""
        linktype = self.linktype if 0 <= self.linktype <= _PCAP_MAX_LINKTYPE else 0
        return _PCAP_FILE_HEADER.pack(PCAP_MAGIC_NS, 2, 4, 0, 0, self.snaplen,
                                      linktype | pcap_fcs_field(self.fcs_bytes))

    def packet(self, ts_ns: int, linktype: int, data: FrameBytes, origlen: int, fcs_bytes: int = 0) -> bytes | Refused:
        """One record (section 5), or why the frame cannot be one."""
        if not 0 <= linktype <= _PCAP_MAX_LINKTYPE:
            return Refused("linktype", f"its link type {linktype} does not fit the 26 bits of a pcap link type")
        if linktype != self.linktype or pcap_fcs_field(fcs_bytes) != pcap_fcs_field(self.fcs_bytes):
            fcs = f" with {fcs_bytes} bytes of FCS" if fcs_bytes else ""
            return Refused("linktype", f"its link type is {linktype}{fcs}, and a classic pcap file holds one link "
                                       f"type, {self.linktype}, for all its frames")
        refused = _check_frame(ts_ns, _PCAP_MAX_TS_NS, data, origlen, "classic pcap")
        if refused is not None:
            return refused
        sec, nsec = divmod(ts_ns, NS_PER_S)
        return _PCAP_RECORD.pack(sec, nsec, len(data), origlen) + bytes(data)


def _option(code: int, value: bytes) -> bytes:
    """One pcapng option (section 3.5): code, length, value padded with zeros to 32 bits."""
    return _OPTION_HEAD.pack(code, len(value)) + value + b"\0" * (-len(value) % 4)


def _options(options: list[tuple[int, bytes]]) -> bytes:
    """An option list, ended by opt_endofopt; no bytes at all when there is no option (section 3.5)."""
    if not options:
        return b""
    return b"".join(_option(code, value) for code, value in options) + _option(OPT_ENDOFOPT, b"")


def _block(btype: int, body: bytes) -> bytes:
    """A block (section 3.1): type, total length, body padded to 32 bits, total length again."""
    body += b"\0" * (-len(body) % 4)
    total = len(body) + 12
    return _BLOCK_HEAD.pack(btype, total) + body + _U32.pack(total)


def utf8_option_value(text: str) -> bytes:
    """``text`` as a UTF-8 option value, cut at a character boundary to MAX_OPTION_BYTES."""
    raw = text.encode("utf-8")
    if len(raw) <= MAX_OPTION_BYTES:
        return raw
    return raw[:MAX_OPTION_BYTES].decode("utf-8", "ignore").encode("utf-8")


class PcapngWriter:
    """A pcapng file of one section: ``header()`` once, then ``packet()`` for each frame, in order;
    append what each returns to the file (an Interface Description Block comes with the first frame of
    each interface). Interfaces are numbered in the order their first frame arrives."""

    __slots__ = ("_interfaces", "snaplen", "user_application")

    def __init__(self, user_application: str = "") -> None:
        self.user_application = user_application
        """``shb_userappl``: the program that wrote the file (e.g. ``tlsdoctor 0.1.0``), if not empty."""
        self.snaplen = SNAPLEN
        self._interfaces: dict[tuple[int, int], int] = {}  # (linktype, fcs bytes) -> interface id

    @property
    def interfaces(self) -> tuple[tuple[int, int], ...]:
        """The ``(linktype, fcs_bytes)`` of each interface described so far, by interface id."""
        return tuple(self._interfaces)

    def header(self, comment: str = "") -> bytes:
        """The Section Header Block (section 4.1), with ``shb_userappl`` and an ``opt_comment`` if given."""
        options = []
        if comment:
            options.append((OPT_COMMENT, utf8_option_value(comment)))
        if self.user_application:
            options.append((OPT_SHB_USERAPPL, utf8_option_value(self.user_application)))
        return _block(PCAPNG_SHB, _SHB_BODY.pack(PCAPNG_BYTE_ORDER_MAGIC, 1, 0, -1) + _options(options))

    def packet(self, ts_ns: int, linktype: int, data: FrameBytes, origlen: int, fcs_bytes: int = 0,
               comment: str = "") -> bytes | Refused:
        """An Enhanced Packet Block (section 4.3), preceded by the interface's IDB at its first frame; or
        why the frame cannot be written."""
        if not 0 <= linktype <= _MAX_LINKTYPE:
            return Refused("linktype", f"its link type {linktype} is not a 16-bit LINKTYPE number")
        refused = _check_frame(ts_ns, _PCAPNG_MAX_TS_NS, data, origlen, "pcapng with nanosecond resolution")
        if refused is not None:
            return refused
        fcs_bytes = fcs_bytes if 0 < fcs_bytes <= 0xFF else 0
        key = (linktype, fcs_bytes)
        iid = self._interfaces.get(key)
        idb = b""
        if iid is None:
            if len(self._interfaces) >= MAX_INTERFACES:
                return Refused("interfaces", f"it needs interface number {len(self._interfaces)}, beyond the "
                                             f"MAX_INTERFACES ({MAX_INTERFACES}) a pcapng reader keeps")
            iid = self._interfaces[key] = len(self._interfaces)
            idb = self._interface(linktype, fcs_bytes)
        options = [(OPT_COMMENT, utf8_option_value(comment))] if comment else []
        body = (_EPB_BODY.pack(iid, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(data), origlen) + bytes(data)
                + b"\0" * (-len(data) % 4) + _options(options))
        return idb + _block(BLOCK_EPB, body)

    def _interface(self, linktype: int, fcs_bytes: int) -> bytes:
        """An Interface Description Block (section 4.2): nanosecond time stamps; ``if_fcslen`` with the
        value the reader reports as the FCS length (the draft leaves its unit, bits or bytes, open: pcapng
        issue 60; Wireshark does not use it, so it is kept for a faithful round trip, not for display)."""
        options = [(OPT_IF_TSRESOL, bytes([TSRESOL_NS]))]
        if fcs_bytes:
            options.append((OPT_IF_FCSLEN, bytes([fcs_bytes])))
        return _block(BLOCK_IDB, _IDB_BODY.pack(linktype, 0, self.snaplen) + _options(options))
