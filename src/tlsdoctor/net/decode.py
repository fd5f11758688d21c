"""Link, IP and TCP header decoding straight from a frame's buffer, with no per-layer objects.

Theory of operation: the packet path calls ``decode_ip`` for each frame that the engine's inlined
fast path (Ethernet + IPv4 without VLAN tags or IP options) does not take. It walks the link header
(Ethernet with any number of 802.1Q / 802.1ad tags, Linux cooked SLL and SLL2, raw IPv4/IPv6, BSD
null/loopback in both byte orders), then the IPv4 header (options skipped, RFC 791) or the IPv6 header
and its extension headers (RFC 8200 section 4), and returns a flat tuple, or a reason why the frame is
not a TCP segment we can use. It never raises for bad input: a short or inconsistent header is a
reason string, which the engine counts (and reports as an anomaly when it matters).

IP fragments are not reassembled: a fragmented TCP segment is rare in TLS traffic (PMTU discovery
sets DF) and is reported as the anomaly ``ip_fragment`` with its frame number.
"""

from __future__ import annotations

import struct
from typing import Final

from tlsdoctor.capture import Buffer

# LINKTYPE_* numbers (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL: Final = 0
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101
LINKTYPE_LOOP: Final = 108
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276
# Some old libpcap versions wrote DLT_RAW as 12 or 14.
_RAW_ALIASES: Final = frozenset({LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4, LINKTYPE_IPV6})

ETHERTYPE_IPV4: Final = 0x0800
ETHERTYPE_IPV6: Final = 0x86DD
_VLAN_TYPES: Final = frozenset({0x8100, 0x88A8, 0x9100, 0x9200})
IPPROTO_TCP: Final = 6

# IPv6 extension headers that can stand between the fixed header and TCP (RFC 8200 section 4).
_IPV6_EXT_HOP_BY_HOP: Final = 0
_IPV6_EXT_ROUTING: Final = 43
_IPV6_EXT_FRAGMENT: Final = 44
_IPV6_EXT_DEST_OPTS: Final = 60
_IPV6_EXT_AH: Final = 51
_IPV6_EXT_MOBILITY: Final = 135

_U16 = struct.Struct("!H")

# (ip_version, src, dst, ttl, ip_id, l4_offset, l4_end, src_mac, dst_mac)
# l4_offset/l4_end are absolute offsets into buf: the TCP header starts at l4_offset and the IP
# payload ends at l4_end as the IP header says (capped to what was captured is the caller's job).
Decoded = tuple[int, bytes, bytes, int, int | None, int, int, bytes | None, bytes | None]


def decode_ip(linktype: int, buf: Buffer, off: int, caplen: int) -> Decoded | str:
    """Decode link and IP headers of a frame. Returns the tuple above, or why it is not usable."""
    end = off + caplen
    src_mac: bytes | None = None
    dst_mac: bytes | None = None
    if linktype == LINKTYPE_ETHERNET:
        if caplen < 14:
            return "short_link_header"
        dst_mac = buf[off : off + 6]
        src_mac = buf[off + 6 : off + 12]
        (etype,) = _U16.unpack_from(buf, off + 12)
        p = off + 14
        while etype in _VLAN_TYPES:
            if p + 4 > end:
                return "short_link_header"
            (etype,) = _U16.unpack_from(buf, p + 2)
            p += 4
    elif linktype == LINKTYPE_LINUX_SLL:
        # 16-byte header: packet type, ARPHRD, address length, 8 address bytes, protocol (cooked v1)
        if caplen < 16:
            return "short_link_header"
        (alen,) = _U16.unpack_from(buf, off + 4)
        if 0 < alen <= 8:
            src_mac = buf[off + 6 : off + 6 + min(alen, 6)]
        (etype,) = _U16.unpack_from(buf, off + 14)
        p = off + 16
    elif linktype == LINKTYPE_LINUX_SLL2:
        # 20-byte header: protocol first, then reserved, ifindex, ARPHRD, type, address length, address
        if caplen < 20:
            return "short_link_header"
        (etype,) = _U16.unpack_from(buf, off)
        alen = buf[off + 11]
        if 0 < alen <= 8:
            src_mac = buf[off + 12 : off + 12 + min(alen, 6)]
        p = off + 20
    elif linktype in _RAW_ALIASES:
        if caplen < 1:
            return "short_link_header"
        v = buf[off] >> 4
        etype = ETHERTYPE_IPV4 if v == 4 else ETHERTYPE_IPV6 if v == 6 else 0
        p = off
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        # 4-byte address family, host byte order of the capturing machine for NULL, network for LOOP.
        if caplen < 4:
            return "short_link_header"
        family_be = int.from_bytes(buf[off : off + 4], "big")
        fam = family_be if family_be < 256 else int.from_bytes(buf[off : off + 4], "little")
        # AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
        if fam == 2:
            etype = ETHERTYPE_IPV4
        elif fam in (10, 24, 28, 30):
            etype = ETHERTYPE_IPV6
        else:
            return "not_ip"
        p = off + 4
    else:
        return "unsupported_link_type"

    if etype == ETHERTYPE_IPV4:
        return _decode_ipv4(buf, p, end, src_mac, dst_mac)
    if etype == ETHERTYPE_IPV6:
        return _decode_ipv6(buf, p, end, src_mac, dst_mac)
    return "not_ip"


def _decode_ipv4(buf: Buffer, p: int, end: int, src_mac: bytes | None, dst_mac: bytes | None) -> Decoded | str:
    if p + 20 > end:
        return "short_ip_header"
    vihl = buf[p]
    if vihl >> 4 != 4:
        return "bad_ip_version"
    ihl = (vihl & 15) * 4
    if ihl < 20 or p + ihl > end:
        return "bad_ip_header_length"
    if buf[p + 9] != IPPROTO_TCP:
        return "not_tcp"
    (total_len,) = _U16.unpack_from(buf, p + 2)
    (frag,) = _U16.unpack_from(buf, p + 6)
    if frag & 0x3FFF:  # MF set or a fragment offset: a fragment
        return "ip_fragment"
    (ip_id,) = _U16.unpack_from(buf, p + 4)
    # total_len 0 happens with TSO on the capturing host: then trust the captured length.
    l4_end = p + total_len if total_len >= ihl else end
    return (4, buf[p + 12 : p + 16], buf[p + 16 : p + 20], buf[p + 8], ip_id, p + ihl, l4_end,
            src_mac, dst_mac)


def _decode_ipv6(buf: Buffer, p: int, end: int, src_mac: bytes | None, dst_mac: bytes | None) -> Decoded | str:
    if p + 40 > end:
        return "short_ip_header"
    if buf[p] >> 4 != 6:
        return "bad_ip_version"
    (payload_len,) = _U16.unpack_from(buf, p + 4)
    nxt = buf[p + 6]
    hop_limit = buf[p + 7]
    src = buf[p + 8 : p + 24]
    dst = buf[p + 24 : p + 40]
    l4_end = p + 40 + payload_len if payload_len else end  # 0: a jumbogram or TSO; trust the capture
    q = p + 40
    for _ in range(8):  # bounded: a hostile chain of extension headers cannot loop us
        if nxt == IPPROTO_TCP:
            return (6, src, dst, hop_limit, None, q, l4_end, src_mac, dst_mac)
        if nxt in (_IPV6_EXT_HOP_BY_HOP, _IPV6_EXT_ROUTING, _IPV6_EXT_DEST_OPTS, _IPV6_EXT_MOBILITY):
            if q + 2 > end:
                return "short_ip_header"
            nxt, hlen = buf[q], (buf[q + 1] + 1) * 8
        elif nxt == _IPV6_EXT_FRAGMENT:
            if q + 8 > end:
                return "short_ip_header"
            (fo,) = _U16.unpack_from(buf, q + 2)
            if fo & 0xFFF9:  # an offset or M set: a real fragment
                return "ip_fragment"
            nxt, hlen = buf[q], 8  # an atomic fragment (RFC 6946): the whole packet is here
        elif nxt == _IPV6_EXT_AH:
            if q + 2 > end:
                return "short_ip_header"
            nxt, hlen = buf[q], (buf[q + 1] + 2) * 4
        else:
            return "not_tcp"
        q += hlen
        if q > end:
            return "short_ip_header"
    return "ipv6_extension_chain_too_long"


def flow_shard(linktype: int, buf: Buffer, off: int, caplen: int, jobs: int) -> int:
    """The shard (``0 <= shard < jobs``) of a frame's TCP connection, for flow-sharded workers
    (``parallel.py``): its 4-tuple taken in the same order from both directions (so that every frame of
    a connection falls in one shard), read as a big-endian integer and mixed (``SHARD_MIX``), modulo
    ``jobs``. 0 for anything that is not TCP over IP."""
    if linktype == LINKTYPE_ETHERNET and caplen >= 54:
        h = buf[off : off + 38]  # bytes: compiled, its items are C ints
        if h[12] == 8 and h[13] == 0 and h[14] == 0x45 and h[23] == IPPROTO_TCP:
            return ipv4_flow_shard((h[26] << 24) | (h[27] << 16) | (h[28] << 8) | h[29],
                                   (h[30] << 24) | (h[31] << 16) | (h[32] << 8) | h[33],
                                   (h[34] << 8) | h[35], (h[36] << 8) | h[37], jobs)
    d = decode_ip(linktype, buf, off, caplen)
    if isinstance(d, str):
        return 0
    src, dst, l4, l4_end = d[1], d[2], d[5], d[6]
    if l4 + 4 > min(l4_end, off + caplen):
        return 0
    a = src + buf[l4 : l4 + 2]
    z = dst + buf[l4 + 2 : l4 + 4]
    key = a + z if a <= z else z + a
    return (int.from_bytes(key, "big") % SHARD_PRIME * SHARD_MIX >> 29) % jobs


def ipv4_flow_shard(src: int, dst: int, sport: int, dport: int, jobs: int) -> int:
    """``flow_shard`` of a TCP over IPv4 packet from its addresses and ports, in C ints when compiled (the
    engine's loop calls it for every such frame of a flow-sharded worker): the 12-byte key's value modulo
    ``SHARD_PRIME``, folded in 24-bit steps so that no intermediate passes 62 bits."""
    a = (src << 16) | sport  # the 6 bytes of one end, as an integer: their order is the bytes' order
    z = (dst << 16) | dport
    lo, hi = (a, z) if a <= z else (z, a)
    h = lo % SHARD_PRIME
    h = ((h << 24) | (hi >> 24)) % SHARD_PRIME
    h = ((h << 24) | (hi & 0xFFFFFF)) % SHARD_PRIME
    return (h * SHARD_MIX >> 29) % jobs


SHARD_PRIME: Final = 2_147_483_647
SHARD_MIX: Final = 0x2545F491
"""``flow_shard`` is a hash of our own rather than ``hash()``, so that the C light path
(``_lightpath.c``, ``frame_shard``) computes the same shard and skips other workers' frames: the
4-tuple modulo 2**31 - 1, times an odd constant below 2**30 (all within 62 bits, so compiled code
never boxes), whose upper bits pick the shard. Without the multiplication, flows whose ports follow
one another would all fall in one shard."""


_DECIMAL: Final = tuple(str(i) for i in range(256))
"""The text of each byte value: a dotted quad is four lookups and one join, no int-to-text conversion."""


def format_ip(raw: bytes) -> str:
    """Dotted quad for 4 bytes, RFC 5952 text for 16 bytes."""
    if len(raw) == 4:
        return f"{_DECIMAL[raw[0]]}.{_DECIMAL[raw[1]]}.{_DECIMAL[raw[2]]}.{_DECIMAL[raw[3]]}"
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


def parse_tcp_options(buf: Buffer, start: int, end: int) -> tuple[int | None, int | None, bool, bool]:
    """MSS, window scale, SACK permitted, timestamps present (RFC 9293 section 3.1, RFC 7323, RFC 2018).
    A malformed option list stops the walk; what was read so far is returned."""
    mss: int | None = None
    wscale: int | None = None
    sack = False
    ts = False
    # One slice, then bytes: compiled, each opts[p] is a C read (an index of a bytes | mmap is a generic call).
    opts = buf[start:end] if end > start else b""
    end = len(opts)
    p = 0
    while p < end:
        kind = opts[p]
        if kind == 0:
            break
        if kind == 1:
            p += 1
            continue
        if p + 1 >= end:
            break
        olen = opts[p + 1]
        if olen < 2 or p + olen > end:
            break
        if kind == 2 and olen == 4:
            mss = (opts[p + 2] << 8) | opts[p + 3]
        elif kind == 3 and olen == 3:
            wscale = opts[p + 2]
        elif kind == 4:
            sack = True
        elif kind == 8:
            ts = True
        p += olen
    return mss, wscale, sack, ts
