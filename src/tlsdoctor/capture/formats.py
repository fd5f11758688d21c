"""What the capture readers share: the frame tuple, the caps, the link-type registry, format recognition.

Theory of operation. A capture file is recognised by its first bytes (its magic number), never by its
name: classic pcap (draft-ietf-opsawg-pcap, section 4) starts with 0xA1B2C3D4 (microseconds) or
0xA1B23C4D (nanoseconds) in the writer's byte order; pcapng (draft-ietf-opsawg-pcapng, section 4.1)
starts with a Section Header Block, type 0x0A0D0D0A, a palindrome so that it reads the same in both byte
orders. ``sniff_format`` maps those bytes to ``"pcap"`` or ``"pcapng"``, and other well-known magics to a
sentence a person can act on ("compressed with xz: decompress it first").

Every reader yields the same plain tuple per frame, ``FrameTuple`` (see docs/design.md): no object per
packet, because this is the hot path. The caps below bound what hostile input can make us allocate or
believe; each is named in the anomaly it produces.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

Buffer = bytes | mmap.mmap
"""What a frame's bytes live in: the mmap of a whole file, or one bytes chunk of a stream."""

FrameTuple = tuple[int, int, int, Buffer, int, int, int]
"""``(number, ts_ns, linktype, buf, offset, caplen, origlen)``; the frame is ``buf[offset:offset+caplen]``."""

MAX_CAPLEN: Final = 256 * 1024
"""A record claiming more captured bytes than this is bogus. 256 KiB is libpcap's and Wireshark's
maximum snapshot length (MAXIMUM_SNAPLEN, WTAP_MAX_PACKET_SIZE_STANDARD). In classic pcap nothing else
frames a record, so the file is read no further; in pcapng the block length still frames it, so only
that frame is skipped."""

MAX_BLOCK: Final = 16 * 1024 * 1024
"""A pcapng block longer than this is bogus (a packet block needs at most MAX_CAPLEN plus its options;
Wireshark's own limit is 16 MiB too, MAX_BLOCK_SIZE). It bounds the bytes a stream reader buffers."""

MAX_INTERFACES: Final = 4096
"""Interface Description Blocks kept per pcapng file; more are counted in an anomaly and their packets
reported as packets on an unknown interface."""

MAX_SECRETS_BYTES: Final = 16 * 1024 * 1024
"""Bytes of TLS key log kept from pcapng Decryption Secrets Blocks."""

PCAP_MAGIC_US: Final = 0xA1B2C3D4
PCAP_MAGIC_NS: Final = 0xA1B23C4D
PCAP_MAGIC_KUZNETZOV: Final = 0xA1B2CD34
PCAPNG_SHB: Final = 0x0A0D0D0A
PCAPNG_BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
GZIP_MAGIC: Final = b"\x1f\x8b"


class LinkType(IntEnum):
    """LINKTYPE_* numbers from https://www.tcpdump.org/linktypes.html (the ones a TLS capture carries,
    and the common ones it may carry instead). A number not listed here is an ``unknown_linktype``
    anomaly, once per interface: its frames are still yielded, for a later stage to skip."""

    NULL = 0
    ETHERNET = 1
    AX25 = 3
    IEEE802_5 = 6
    ARCNET_BSD = 7
    SLIP = 8
    PPP = 9
    FDDI = 10
    RAW_OPENBSD = 12  # DLT_RAW on OpenBSD: raw IP
    RAW_BSDOS = 14  # DLT_RAW on BSD/OS: raw IP
    PPP_HDLC = 50
    PPP_ETHER = 51
    ATM_RFC1483 = 100
    RAW = 101
    C_HDLC = 104
    IEEE802_11 = 105
    FRELAY = 107
    LOOP = 108
    ENC = 109
    LINUX_SLL = 113
    PFLOG = 117
    IEEE802_11_PRISM = 119
    IP_OVER_FC = 122
    IEEE802_11_RADIOTAP = 127
    ARCNET_LINUX = 129
    LINUX_IRDA = 144
    IEEE802_11_AVS = 163
    BLUETOOTH_HCI_H4 = 187
    USB_LINUX = 189
    PPI = 192
    IEEE802_15_4_WITHFCS = 195
    USB_LINUX_MMAPPED = 220
    IPV4 = 228
    IPV6 = 229
    NFLOG = 239
    NETANALYZER = 240
    IPOIB = 242
    MPEG_2_TS = 243
    USBPCAP = 249
    NETLINK = 253
    PKTAP = 258
    EPON = 259
    IPMI_HPM_2 = 260
    DOCSIS31_XRA31 = 273
    LINUX_SLL2 = 276
    VSOCK = 271
    ETW = 290


KNOWN_LINKTYPES: Final = frozenset(int(t) for t in LinkType)


@dataclass(frozen=True, slots=True)
class CaptureInterface:
    """One capture interface: the pcap file header, or one pcapng Interface Description Block."""

    section: int
    """The pcapng section it belongs to (0 for the first, and for classic pcap)."""
    index: int
    """Its interface id within the section (what an Enhanced Packet Block refers to)."""
    linktype: int
    snaplen: int
    """0 means no limit (pcapng, section 4.2)."""
    units_per_second: int
    """Time-stamp resolution: 10**6 by default, 10**9 for nanosecond pcap, or from ``if_tsresol``."""
    tsoffset_s: int
    """``if_tsoffset``: seconds added to every time stamp of the interface."""
    fcs_bytes: int
    """Bytes of frame check sequence at the end of each frame (pcap FCS bits, ``if_fcslen``), 0 if none."""
    name: str | None = None
    """``if_name``, e.g. ``eth0`` or ``any``."""


# Magics of things that are not a capture we read, with what to tell the person who gave us one.
_OTHER_MAGICS: Final = (
    (b"\xfd7zXZ\x00", "it is compressed with xz: decompress it first (xz -d)"),
    (b"BZh", "it is compressed with bzip2: decompress it first (bunzip2)"),
    (b"\x28\xb5\x2f\xfd", "it is compressed with zstd: decompress it first (zstd -d)"),
    (b"\x04\x22\x4d\x18", "it is compressed with lz4: decompress it first (lz4 -d)"),
    (b"PK\x03\x04", "it is a zip archive: extract the capture from it first"),
    (b"snoop\x00\x00\x00", "it is a Solaris snoop capture: convert it with `editcap -F pcapng IN OUT`"),
    (b"GMBU", "it is a Microsoft Network Monitor capture: convert it with `editcap -F pcapng IN OUT`"),
    (b"XCP\x00", "it is a NetXray/Sniffer capture: convert it with `editcap -F pcapng IN OUT`"),
)


def sniff_format(head: bytes) -> str | None:
    """``"pcap"`` or ``"pcapng"`` from the first 4 bytes of a (decompressed) file, else None."""
    if len(head) < 4:
        return None
    for order in ("little", "big"):
        if int.from_bytes(head[:4], order) in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
            return "pcap"
    if int.from_bytes(head[:4], "little") == PCAPNG_SHB:
        return "pcapng"
    return None


def why_not_a_capture(head: bytes) -> str:
    """A sentence saying what the bytes look like instead of a capture."""
    if not head:
        return "it is empty"
    if len(head) < 4:
        return f"it is only {len(head)} bytes long"
    if PCAP_MAGIC_KUZNETZOV in (int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big")):
        return "it is a modified (Kuznetzov) pcap: convert it with `editcap -F pcap IN OUT`"
    for magic, sentence in _OTHER_MAGICS:
        if head.startswith(magic):
            return sentence
    printable = head[:16]
    if all(32 <= b < 127 or b in (9, 10, 13) for b in printable):
        return f"it starts with text ({printable.decode('ascii')!r}), not a pcap or pcapng magic number"
    return f"it starts with {head[:8].hex(' ')}, not a pcap or pcapng magic number"
