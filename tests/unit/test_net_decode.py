"""Link/IP header decoding. Headers here are built by hand (synthetic, on purpose: each test isolates one
header layout); real captures of every link type are covered by the tshark oracle test."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor.net.decode import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    SHARD_MIX,
    SHARD_PRIME,
    decode_ip,
    flow_shard,
    format_ip,
    ipv4_flow_shard,
    parse_tcp_options,
)

SRC4 = bytes([198, 51, 100, 1])
DST4 = bytes([203, 0, 113, 10])
SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")
TCP = struct.pack("!HHIIHHHH", 40000, 443, 1, 0, (5 << 12) | 0x02, 64240, 0, 0)
MACS = bytes.fromhex("0200000000aa" "0200000000bb")


def ipv4(payload: bytes, *, ttl: int = 64, ipid: int = 7, frag: int = 0x4000, options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), ipid, frag, ttl, 6, 0, SRC4, DST4)
    return hdr + options + payload


def ipv6(payload: bytes, nxt: int = 6, ext: bytes = b"") -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(ext) + len(payload), nxt, 57, SRC6, DST6) + ext + payload


def test_ethernet_ipv4() -> None:
    frame = MACS + b"\x08\x00" + ipv4(TCP, ttl=61, ipid=99)
    dec = decode_ip(LINKTYPE_ETHERNET, frame, 0, len(frame))
    assert not isinstance(dec, str)
    ver, src, dst, ttl, ipid, l4, l4_end, smac, dmac = dec
    assert (ver, src, dst, ttl, ipid) == (4, SRC4, DST4, 61, 99)
    assert (l4, l4_end) == (34, 54)
    assert smac == MACS[6:] and dmac == MACS[:6]


def test_ethernet_padding_is_not_payload() -> None:
    frame = MACS + b"\x08\x00" + ipv4(TCP) + b"\x00" * 6  # padded to the 60-byte minimum
    dec = decode_ip(LINKTYPE_ETHERNET, frame, 0, len(frame))
    assert not isinstance(dec, str)
    assert dec[6] == 54


def test_stacked_vlan_tags() -> None:
    frame = MACS + b"\x88\xa8\x00\x64" + b"\x81\x00\x00\xc8" + b"\x08\x00" + ipv4(TCP)
    dec = decode_ip(LINKTYPE_ETHERNET, frame, 0, len(frame))
    assert not isinstance(dec, str)
    assert dec[5] == 14 + 8 + 20


def test_ipv4_options_are_skipped() -> None:
    frame = MACS + b"\x08\x00" + ipv4(TCP, options=b"\x01\x01\x01\x00")
    dec = decode_ip(LINKTYPE_ETHERNET, frame, 0, len(frame))
    assert not isinstance(dec, str)
    assert dec[5] == 14 + 24


def test_ipv4_fragment_is_reported() -> None:
    frame = MACS + b"\x08\x00" + ipv4(TCP, frag=0x2000)  # MF
    assert decode_ip(LINKTYPE_ETHERNET, frame, 0, len(frame)) == "ip_fragment"


def test_ipv6_with_extension_headers() -> None:
    hop_by_hop = bytes([60, 0]) + b"\x01\x04\x00\x00\x00\x00"  # next: destination options
    dest_opts = bytes([6, 0]) + b"\x01\x04\x00\x00\x00\x00"  # next: TCP
    frame = MACS + b"\x86\xdd" + ipv6(TCP, nxt=0, ext=hop_by_hop + dest_opts)
    dec = decode_ip(LINKTYPE_ETHERNET, frame, 0, len(frame))
    assert not isinstance(dec, str)
    ver, src, dst, hop, ipid, l4, _end, _s, _d = dec
    assert (ver, src, dst, hop, ipid, l4) == (6, SRC6, DST6, 57, None, 14 + 40 + 16)
    assert format_ip(src) == "2001:db8::1"


def test_ipv6_fragment_is_reported() -> None:
    frag = bytes([6, 0]) + struct.pack("!HI", 0x0001, 1)  # M flag set
    frame = ipv6(TCP, nxt=44, ext=frag)
    assert decode_ip(LINKTYPE_RAW, frame, 0, len(frame)) == "ip_fragment"


def test_linux_sll_and_sll2() -> None:
    sll = struct.pack("!HHH8sH", 0, 1, 6, MACS[6:] + b"\0\0", 0x0800) + ipv4(TCP)
    dec = decode_ip(LINKTYPE_LINUX_SLL, sll, 0, len(sll))
    assert not isinstance(dec, str) and dec[5] == 16 + 20 and dec[7] == MACS[6:]
    sll2 = struct.pack("!HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, MACS[6:] + b"\0\0") + ipv6(TCP)
    dec2 = decode_ip(LINKTYPE_LINUX_SLL2, sll2, 0, len(sll2))
    assert not isinstance(dec2, str) and dec2[0] == 6 and dec2[5] == 20 + 40


def test_bsd_null_in_both_byte_orders_and_loop() -> None:
    for header in (struct.pack("<I", 2), struct.pack(">I", 2)):
        frame = header + ipv4(TCP)
        dec = decode_ip(LINKTYPE_NULL, frame, 0, len(frame))
        assert not isinstance(dec, str) and dec[0] == 4
    frame6 = struct.pack(">I", 30) + ipv6(TCP)  # macOS AF_INET6
    dec6 = decode_ip(LINKTYPE_LOOP, frame6, 0, len(frame6))
    assert not isinstance(dec6, str) and dec6[0] == 6


def test_not_tcp_and_not_ip() -> None:
    udp = bytearray(ipv4(b"\0" * 8))
    udp[9] = 17
    assert decode_ip(LINKTYPE_RAW, bytes(udp), 0, len(udp)) == "not_tcp"
    arp = MACS + b"\x08\x06" + b"\0" * 28
    assert decode_ip(LINKTYPE_ETHERNET, arp, 0, len(arp)) == "not_ip"
    assert decode_ip(9999, b"\0" * 60, 0, 60) == "unsupported_link_type"


def test_frame_at_an_offset_inside_a_larger_buffer() -> None:
    frame = MACS + b"\x08\x00" + ipv4(TCP)
    buf = b"garbage!" + frame + b"trailing"
    dec = decode_ip(LINKTYPE_ETHERNET, buf, 8, len(frame))
    assert not isinstance(dec, str) and dec[5] == 8 + 34


def test_tcp_options() -> None:
    opts = b"\x02\x04\x05\xb4" + b"\x04\x02" + b"\x08\x0a" + b"\0" * 8 + b"\x01" + b"\x03\x03\x07"
    assert parse_tcp_options(opts, 0, len(opts)) == (1460, 7, True, True)
    assert parse_tcp_options(b"\x02\xff\x05", 0, 3) == (None, None, False, False)  # bogus length stops


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=300), st.binary(max_size=120))
def test_random_bytes_never_raise(linktype: int, data: bytes) -> None:
    for lt in (linktype, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL):
        result = decode_ip(lt, data, 0, len(data))
        if not isinstance(result, str):
            assert result[5] <= len(data)


def test_every_truncation_of_a_frame_is_handled() -> None:
    frame = MACS + b"\x81\x00\x00\x01" + b"\x86\xdd" + ipv6(TCP)
    for cut in range(len(frame)):
        result = decode_ip(LINKTYPE_ETHERNET, frame[:cut], 0, cut)
        assert isinstance(result, str) or result[5] <= cut


def _tcp4(src: bytes, dst: bytes, sport: int, dport: int, vlan: bool) -> bytes:
    tcp = struct.pack("!HHIIHHHH", sport, dport, 1, 0, (5 << 12) | 0x10, 512, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0x4000, 64, 6, 0, src, dst) + tcp
    return MACS + (b"\x81\x00\x00\x64" if vlan else b"") + b"\x08\x00" + ip


@given(st.binary(min_size=4, max_size=4), st.binary(min_size=4, max_size=4), st.integers(0, 65535),
       st.integers(0, 65535), st.booleans(), st.integers(1, 8))
def test_flow_shard_is_the_same_both_ways(src: bytes, dst: bytes, sport: int, dport: int, vlan: bool,
                                          jobs: int) -> None:
    # The fast path (Ethernet, IPv4 without options) and the generic one (a VLAN tag) agree, both ways.
    out = _tcp4(src, dst, sport, dport, vlan)
    back = _tcp4(dst, src, dport, sport, not vlan)
    shard = flow_shard(LINKTYPE_ETHERNET, out, 0, len(out), jobs)
    assert 0 <= shard < jobs
    assert flow_shard(LINKTYPE_ETHERNET, back, 0, len(back), jobs) == shard


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 65535), st.integers(0, 65535),
       st.integers(1, 64))
def test_ipv4_flow_shard_is_the_hash_of_the_key_bytes(src: int, dst: int, sport: int, dport: int, jobs: int) -> None:
    # The engine's C-integer form (folded in 24-bit steps) against the definition: the canonical 12-byte key
    # as one big-endian integer, modulo SHARD_PRIME, mixed, modulo jobs (and the C light path's frame_shard).
    a = struct.pack("!IH", src, sport)
    z = struct.pack("!IH", dst, dport)
    key = a + z if a <= z else z + a
    want = (int.from_bytes(key, "big") % SHARD_PRIME * SHARD_MIX >> 29) % jobs
    assert ipv4_flow_shard(src, dst, sport, dport, jobs) == want == ipv4_flow_shard(dst, src, dport, sport, jobs)


def test_flow_shard_spreads_flows_and_puts_the_rest_in_shard_zero() -> None:
    shards = {flow_shard(LINKTYPE_ETHERNET, f, 0, len(f), 4)
              for f in (_tcp4(SRC4, DST4, port, 443, False) for port in range(40000, 40064))}
    assert shards == {0, 1, 2, 3}
    arp = MACS + b"\x08\x06" + bytes(28)
    assert flow_shard(LINKTYPE_ETHERNET, arp, 0, len(arp), 4) == 0
    v6 = MACS + b"\x86\xdd" + ipv6(TCP)
    assert 0 <= flow_shard(LINKTYPE_ETHERNET, v6, 0, len(v6), 4) < 4
