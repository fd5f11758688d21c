"""An on-path SNI filter that forges resets, as the box of seed 004 does.

    python -m tests.lab.rst_injector IFACE NAME [--seconds S]

Run inside the middle (routing) namespace of a ``netlab.Topology``. It does not relay: the kernel goes
on forwarding every packet. It watches IFACE (the client-side veth) with an AF_PACKET socket, and when a
TCP segment to port 443 carries a ClientHello whose server_name is NAME, it forges two RSTs with raw IP:
one to the client "from the server" and one to the server "from the client", each with the sequence
number the receiver expects. The ClientHello itself still reaches the server, whose answer then meets a
client that has already seen a reset: each end sees the other reset. The forged packets carry TTL 64 and
IP-ID 0, unlike the real peers' packets, which is what a capture can tell apart. Exits after S seconds.
"""

from __future__ import annotations

import argparse
import socket
import struct
import time

from tlsdoctor.tls.messages import parse_client_hello

ETH_P_ALL = 0x0003


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _rst(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x14, 0, 0, 0)  # RST+ACK, window 0
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, socket.IPPROTO_TCP, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + tcp


MAX_HELLO_BYTES = 16 * 1024


def _sni(payload: bytes) -> str | bool | None:
    """The ClientHello's server_name; False while the record is still incomplete (it spans segments)."""
    if len(payload) < 9 or payload[0] != 0x16 or payload[5] != 1:
        return None
    record_len = int.from_bytes(payload[3:5], "big")
    if len(payload) < 5 + record_len:
        return False
    body_len = int.from_bytes(payload[6:9], "big")
    hello = parse_client_hello(payload[9 : 9 + body_len])
    return getattr(hello, "server_name", None)


def run(iface: str, name: str, seconds: float) -> int:
    sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sniff.bind((iface, 0))
    sniff.settimeout(0.2)
    send = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    injected = 0
    pending: dict[bytes, tuple[int, bytes]] = {}  # client address+port -> (first seq, ClientHello bytes so far)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            frame, addr = sniff.recvfrom(65535)
        except TimeoutError:
            continue
        if addr[2] == socket.PACKET_OUTGOING or len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue
        ihl = (frame[14] & 15) * 4
        t = 14 + ihl
        sport, dport, seq, ack, off = struct.unpack_from("!HHIIB", frame, t)
        total = struct.unpack_from("!H", frame, 16)[0]
        payload = frame[t + (off >> 4) * 4 : 14 + total]
        if dport != 443 or not payload:
            continue
        flow = frame[26:30] + struct.pack("!H", sport)
        start, held = pending.pop(flow, (seq, b""))
        hello = held + payload
        sni = _sni(hello)
        if sni is False and len(hello) < MAX_HELLO_BYTES:
            pending[flow] = (start, hello)  # a ClientHello over several segments: wait for the rest
            continue
        if sni != name:
            continue
        client, server = frame[26:30], frame[30:34]
        end = seq + len(payload)
        send.sendto(_rst(server, client, dport, sport, ack, end), (socket.inet_ntoa(client), 0))
        send.sendto(_rst(client, server, sport, dport, end, ack), (socket.inet_ntoa(server), 0))
        injected += 1
    return injected


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("iface")
    ap.add_argument("name")
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    print(run(args.iface, args.name, args.seconds), flush=True)


if __name__ == "__main__":
    main()
