"""Write a SYN flood: N connections that each send one SYN and never hear back (synthetic, no TLS).

    python bench/make_synflood.py OUT.pcap --count 200000

The adversarial case for memory (docs/performance.md, "A flood of connections that never end"): every
SYN opens a connection that neither closes nor idles out before the capture ends (one SYN every 20 us,
200,000 in 4 s, against a 300 s idle timeout), so all of them are alive at once, up to the engine's
``MAX_LIVE_CONNECTIONS``, and every one is a failure that ``diagnose`` keeps for its report. Client
addresses in 198.18.0.0/15, ports from 1024, server 203.0.113.10:443; Ethernet, IPv4, TCP with valid
checksums, classic little-endian pcap, microseconds. The same count gives the same file, byte for byte.
"""

from __future__ import annotations

import argparse
import random
import struct


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def syn_frame(i: int, isn: int) -> bytes:
    src = bytes([198, 18 + (i >> 16 & 1), i >> 8 & 0xFF, i & 0xFF])
    dst = bytes([203, 0, 113, 10])
    sport = 1024 + (i * 7) % 60000
    tcp = struct.pack("!HHIIBBHHH", sport, 443, isn, 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", _checksum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + b"\x08\x00" + ip + tcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=200_000, help="SYNs, one connection each (at most 131,072 "
                        "distinct client addresses; ports differ past that)")
    args = parser.parse_args()
    rng = random.Random(args.count)
    start = 1_700_000_000
    with open(args.out, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(args.count):
            frame = syn_frame(i, rng.getrandbits(32))
            us = i * 20
            out.write(struct.pack("<IIII", start + us // 1_000_000, us % 1_000_000, len(frame), len(frame)) + frame)


if __name__ == "__main__":
    main()
