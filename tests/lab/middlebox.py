"""Userspace middleboxes for the multi-vantage lab: the boxes of seeds 003 and 004, in Python.

    python -m tests.lab.middlebox relay BOX --port NAME=IFACE... --route CIDR=PORT@MAC... [options]
    python -m tests.lab.middlebox intercept --cert C --key K --upstream-ca CA [--seconds S]

This kernel has no iptables, nft, netem or bridge VLAN filtering, so a box that must decide per packet
is a program. ``relay`` runs in the middle namespace of a ``netlab.Topology`` with the kernel's
forwarding off there: it reads every frame on its ports with AF_PACKET sockets and forwards, drops,
answers or forges, like a router (TTL decremented, Ethernet addresses rewritten: its own port's MAC as
source, the next hop's as destination). The ends must not need ARP (the starter installs permanent
neighbour entries) and every hop must have its offloads off, so that each frame is a real MSS-sized
frame with its checksums filled in (``agents.py offloads-off``). The BOX decides per packet:

``router``
    forwards everything (the honest path; the control).
``sni-reset --name N``
    seed 004's on-path filter: when a ClientHello (reassembled over segments) names N, it forwards it,
    forges a RST+ACK to the client "from the server" and one to the server "from the client", each with
    the sequence number its receiver expects, and from then on drops the flow both ways. Forged packets
    carry the box's own IP behaviour (``--ttl``, default the namespace's ip_default_ttl; IP-IDs from the
    box's own counter; no DF), unlike the peers' packets, which it forwards with TTL - 1.
``hello-blackhole --ttl 253 --every K``
    seed 003's transparent proxy: for every K-th flow (counted by SYN from 0: flows 1, 1+K, ...; K=1 is
    every flow) it lets the TCP handshake through, ACKs the ClientHello segment to the client itself,
    with TTL 253, its own IP-ID, the server's window and timestamp, again 0.2 s later (the duplicate
    ACK of seed 003), and drops it (and any later copy): the server never gets it.
``hello-tail-drop``
    a path that loses the later segments of a ClientHello longer than one segment, every time, including
    every retransmission; the first segment, and ClientHellos that fit one segment, pass.
``split --trunk-a A --trunk-b B --node-b PORT@MAC``
    seed 003's switch view: an operator router and a switch in one process, joined by a veth trunk
    (A, the operator's end; B, the switch's ingress port). The operator's uplink is a LAG whose three
    members sit on three line cards, each with its own source MAC (card 1: trunk A's MAC, cards 2 and 3:
    ``CARD_MACS``) and its own path upstream (card N: TTL - N). Even flows (counted by SYN from 0) keep
    to card 1; odd flows are sprayed per packet, round robin over cards 1, 2, 3 (the per-packet hashing
    of seed 003). The switch, an L2 device that keeps source MACs, sends each frame by its ingress card:
    cards 1 and 2 share a chip whose hash picks node A (the route for the destination); card 3 has
    another chip, whose hash picks node B (``--node-b``), a second server with the same service address
    and no state for the flow. Nodes' answers go up the trunk with their own source MACs.

``intercept`` is not a relay: it is a transparent TLS-terminating proxy (a Python ssl relay) for the
middle namespace, with the kernel's forwarding on and policy routing that delivers port-443 traffic to
local sockets (the starter sets that up). It accepts with IP_TRANSPARENT, reads the ClientHello's
server_name with MSG_PEEK, connects to the real destination from the client's own address and port
(IP_TRANSPARENT), completes the upstream handshake (TLS 1.2 at most, verified against --upstream-ca),
then answers the client with its own certificate (--cert, from another CA; TLS 1.2 at most, so that
both captures show the certificates), and relays the bytes. Server first, as inspection boxes do.

Every loop is bounded (--seconds); the starter kills the box anyway. Each action is one line on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tlsdoctor.tls.messages import parse_client_hello

ETH_P_ALL, ETH_P_IP = 0x0003, 0x0800
PACKET_OUTGOING = 4
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
CARD_MACS = ("02:00:5e:00:53:02", "02:00:5e:00:53:03")  # the operator's line cards 2 and 3 (locally administered)
MAX_HELLO_BYTES = 16 * 1024
IP_TRANSPARENT = 19


def log(*words: object) -> None:
    print(f"{time.monotonic():.3f}", *words, flush=True)


# --- packets -------------------------------------------------------------------------------------

def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


@dataclass
class Packet:
    """One IPv4/TCP frame as received, with the fields the boxes decide on (offsets into ``frame``)."""

    frame: bytearray
    ingress: str
    src_mac: bytes
    ttl: int
    src: bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    ip_end: int
    payload: bytes
    tsval: int | None

    @property
    def flow(self) -> tuple[bytes, int, bytes, int]:
        """The connection, client side first (the server's port is 443 in this lab)."""
        if self.dport == 443:
            return (self.src, self.sport, self.dst, self.dport)
        return (self.dst, self.dport, self.src, self.sport)

    @property
    def to_server(self) -> bool:
        return self.dport == 443


def parse(frame: bytes, ingress: str) -> Packet | None:
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[14] >> 4 != 4 or frame[23] != socket.IPPROTO_TCP:
        return None
    ihl = (frame[14] & 15) * 4
    total = struct.unpack_from("!H", frame, 16)[0]
    t = 14 + ihl
    sport, dport, seq, ack, off, flags, window = struct.unpack_from("!HHIIBBH", frame, t)
    opts = frame[t + 20 : t + (off >> 4) * 4]
    tsval = None
    i = 0
    while i < len(opts):  # RFC 9293 3.2: kind 0 ends the list, kind 1 is one byte, others kind+length
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        if kind == 8 and opts[i + 1] == 10:  # timestamps (RFC 7323 3.2)
            tsval = struct.unpack_from("!I", opts, i + 2)[0]
        i += opts[i + 1]
    return Packet(bytearray(frame), ingress, bytes(frame[6:12]), frame[22], bytes(frame[26:30]), bytes(frame[30:34]),
                  sport, dport, seq, ack, flags, window, 14 + total, bytes(frame[t + (off >> 4) * 4 : 14 + total]),
                  tsval)


def tcp_packet(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int, *, ttl: int,
               ip_id: int, window: int = 0, timestamps: tuple[int, int] | None = None) -> bytes:
    """An IPv4 packet carrying one TCP segment without payload, checksums filled in, DF clear."""
    options = b"" if timestamps is None else struct.pack("!BBBBII", 1, 1, 8, 10, *timestamps)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, (5 + len(options) // 4) << 4,
                      flags, window, 0, 0) + options
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id & 0xFFFF, 0, ttl, socket.IPPROTO_TCP, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def client_hello_sni(data: bytes) -> str | Literal[False] | None:
    """The server_name of the ClientHello at the start of ``data``; None if there is none (or it is no
    ClientHello); False while the handshake record is still incomplete."""
    if len(data) < 9 or data[0] != 0x16 or data[5] != 1:
        return None
    record_len = int.from_bytes(data[3:5], "big")
    if len(data) < 5 + record_len:
        return False
    hello = parse_client_hello(data[9 : 9 + int.from_bytes(data[6:9], "big")])
    return getattr(hello, "server_name", None)


# --- the relay -----------------------------------------------------------------------------------

@dataclass
class Port:
    name: str
    iface: str
    sock: socket.socket
    mac: bytes


@dataclass
class Flow:
    index: int
    server_window: int = 0
    server_tsval: int | None = None
    hello: bytes = b""        # the ClientHello bytes so far (sni-reset)
    hello_start: int = -1     # its first sequence number
    hello_end: int = -1       # one past its last byte (hello-tail-drop, hello-blackhole)
    first_len: int = 0
    blocked: bool = False
    blackholed: bool = False


@dataclass
class Relay:
    ports: dict[str, Port]
    routes: list[tuple[ipaddress.IPv4Network, str, bytes]]
    ttl: int = 64
    ip_id: int = 0x5A00
    flows: dict[tuple[bytes, int, bytes, int], Flow] = field(default_factory=dict)
    timers: list[tuple[float, str, bytes]] = field(default_factory=list)
    syns: int = 0

    def route(self, dst: bytes) -> tuple[str, bytes]:
        address = ipaddress.IPv4Address(dst)
        for net, port, mac in self.routes:
            if address in net:
                return port, mac
        raise LookupError(f"no route to {address}")

    def flow(self, pkt: Packet) -> Flow:
        key = pkt.flow
        if pkt.flags & SYN and not pkt.flags & ACK and key not in self.flows:
            self.flows[key] = Flow(self.syns)
            self.syns += 1
        flow = self.flows.setdefault(key, Flow(-1))
        if not pkt.to_server:
            flow.server_window = pkt.window
            flow.server_tsval = pkt.tsval if pkt.tsval is not None else flow.server_tsval
        return flow

    def send(self, port: str, frame: bytes) -> None:
        try:
            self.ports[port].sock.send(frame)
        except OSError as exc:
            log("send-failed", port, len(frame), exc)

    def forward(self, pkt: Packet, *, ttl_drop: int = 1, port: str | None = None, dst_mac: bytes | None = None,
                src_mac: bytes | None = None) -> None:
        """Route ``pkt`` (as a router: TTL down, Ethernet header new), or send it where told."""
        if port is None or dst_mac is None:
            port, dst_mac = self.route(pkt.dst)
        frame = pkt.frame[: pkt.ip_end]
        if ttl_drop:
            if pkt.ttl <= ttl_drop:
                return
            frame[22] = pkt.ttl - ttl_drop
            frame[24:26] = b"\0\0"
            frame[24:26] = struct.pack("!H", checksum(bytes(frame[14 : 14 + (frame[14] & 15) * 4])))
        frame[0:12] = dst_mac + (src_mac or self.ports[port].mac)
        self.send(port, bytes(frame))

    def forge(self, packet: bytes, *, delay: float = 0.0) -> None:
        """Send a packet of the box's own making to the next hop towards its destination."""
        port, mac = self.route(packet[16:20])
        frame = mac + self.ports[port].mac + b"\x08\x00" + packet
        if delay:
            self.timers.append((time.monotonic() + delay, port, frame))
        else:
            self.send(port, frame)

    def next_ip_id(self) -> int:
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        return self.ip_id

    def run(self, decide: Callable[[Relay, Packet], None], seconds: float) -> None:
        by_fd = {p.sock.fileno(): p for p in self.ports.values()}
        deadline = time.monotonic() + seconds
        while (now := time.monotonic()) < deadline:
            for due in [t for t in self.timers if t[0] <= now]:
                self.timers.remove(due)
                self.send(due[1], due[2])
            wait = min([0.5, *(t[0] - now for t in self.timers)])
            ready, _, _ = select.select(list(by_fd), [], [], max(0.0, wait))
            for fd in ready:
                port = by_fd[fd]
                frame, addr = port.sock.recvfrom(65536)
                if addr[2] == PACKET_OUTGOING:  # our own transmission, seen again
                    continue
                pkt = parse(frame, port.name)
                if pkt is None:
                    continue
                decide(self, pkt)


# --- the boxes -----------------------------------------------------------------------------------

def router(relay: Relay, pkt: Packet) -> None:
    relay.forward(pkt)


def sni_reset(name: str) -> Callable[[Relay, Packet], None]:
    def decide(relay: Relay, pkt: Packet) -> None:
        flow = relay.flow(pkt)
        if flow.blocked:
            log("drop-blocked", pkt.sport, pkt.dport, len(pkt.payload))
            return
        if not (pkt.to_server and pkt.payload) or flow.hello_start == -2:
            relay.forward(pkt)
            return
        if flow.hello_start == -1:
            flow.hello_start = pkt.seq
        flow.hello = flow.hello + pkt.payload if pkt.seq == flow.hello_start + len(flow.hello) else flow.hello
        sni = client_hello_sni(flow.hello)
        if sni is False and len(flow.hello) < MAX_HELLO_BYTES:
            relay.forward(pkt)  # the ClientHello continues in the next segment
            return
        flow.hello_start = -2  # decided: nothing more to look at in this flow
        if sni != name:
            relay.forward(pkt)
            return
        end = pkt.seq + len(pkt.payload)
        relay.forge(tcp_packet(pkt.dst, pkt.src, pkt.dport, pkt.sport, pkt.ack, end, RST | ACK, ttl=relay.ttl,
                               ip_id=relay.next_ip_id()))
        relay.forward(pkt)
        relay.forge(tcp_packet(pkt.src, pkt.dst, pkt.sport, pkt.dport, end, pkt.ack, RST | ACK, ttl=relay.ttl,
                               ip_id=relay.next_ip_id()))
        flow.blocked = True
        log("injected", name, pkt.sport, "rst-to-client seq", pkt.ack, "rst-to-server seq", end)
    return decide


def hello_blackhole(ttl: int, every: int) -> Callable[[Relay, Packet], None]:
    def decide(relay: Relay, pkt: Packet) -> None:
        flow = relay.flow(pkt)
        chosen = flow.index >= 0 and flow.index % every == (1 % every)
        if not (chosen and pkt.to_server and pkt.payload):
            relay.forward(pkt)
            return
        end = pkt.seq + len(pkt.payload)
        if flow.blackholed and pkt.seq < flow.hello_end:
            log("drop-again", pkt.sport, pkt.seq, len(pkt.payload))
            return
        if flow.blackholed or not (pkt.payload[0] == 0x16 and len(pkt.payload) > 5 and pkt.payload[5] == 1):
            relay.forward(pkt)
            return
        flow.blackholed, flow.hello_end = True, end
        stamps = None if pkt.tsval is None or flow.server_tsval is None else (flow.server_tsval, pkt.tsval)
        for delay in (0.0, 0.2):
            relay.forge(tcp_packet(pkt.dst, pkt.src, pkt.dport, pkt.sport, pkt.ack, end, ACK, ttl=ttl,
                                   ip_id=relay.next_ip_id(), window=flow.server_window, timestamps=stamps),
                        delay=delay)
        log("blackholed", pkt.sport, "hello bytes", len(pkt.payload), "acked with ttl", ttl)
    return decide


def hello_tail_drop(relay: Relay, pkt: Packet) -> None:
    flow = relay.flow(pkt)
    if not (pkt.to_server and pkt.payload):
        relay.forward(pkt)
        return
    if flow.hello_end == -1:  # the connection's first data: a ClientHello longer than this segment?
        flow.hello_end = 0
        if pkt.payload[0] == 0x16 and len(pkt.payload) >= 5:
            need = 5 + int.from_bytes(pkt.payload[3:5], "big")
            if need > len(pkt.payload):
                flow.hello_start, flow.first_len, flow.hello_end = pkt.seq, len(pkt.payload), pkt.seq + need
                log("long-hello", pkt.sport, need, "bytes, first segment", len(pkt.payload))
    tail_start = flow.hello_start + flow.first_len
    if flow.hello_end and pkt.seq + len(pkt.payload) > tail_start and pkt.seq < flow.hello_end:
        log("drop-tail", pkt.sport, pkt.seq - flow.hello_start, len(pkt.payload))
        return
    relay.forward(pkt)


def split(trunk_a: str, trunk_b: str, node_b: tuple[str, bytes]) -> Callable[[Relay, Packet], None]:
    cards = [b"", *(mac_bytes(m) for m in CARD_MACS)]  # card 1's MAC is trunk A's own
    sent: dict[tuple[bytes, int, bytes, int], int] = {}

    def decide(relay: Relay, pkt: Packet) -> None:
        ta, tb = relay.ports[trunk_a], relay.ports[trunk_b]
        cards[0] = ta.mac
        if pkt.ingress == trunk_a:  # operator, from the switch: route towards the client
            relay.forward(pkt)
            return
        if pkt.ingress == trunk_b:  # switch ingress from the operator; L2: the source MAC stays
            card = cards.index(pkt.src_mac) if pkt.src_mac in cards else 0
            port, mac = node_b if card == 2 else relay.route(pkt.dst)
            relay.forward(pkt, ttl_drop=0, port=port, dst_mac=mac, src_mac=pkt.src_mac)
            return
        if pkt.to_server:  # operator, from the client: onto the trunk through one of its cards
            flow = relay.flow(pkt)
            card = 0
            if flow.index % 2 == 1:  # sprayed: per packet, round robin over the three cards
                card = sent.get(pkt.flow, 0) % 3
                sent[pkt.flow] = sent.get(pkt.flow, 0) + 1
                log("sprayed", pkt.sport, "card", card + 1, "payload", len(pkt.payload))
            relay.forward(pkt, ttl_drop=card + 1, port=trunk_a, dst_mac=tb.mac, src_mac=cards[card])
            return
        # a node's answer: the switch sends it up the trunk to the operator, its source MAC unchanged
        relay.forward(pkt, ttl_drop=0, port=trunk_b, dst_mac=ta.mac, src_mac=pkt.src_mac)
    return decide


def open_port(name: str, iface: str) -> Port:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return Port(name, iface, sock, sock.getsockname()[4][:6])


def relay_main(args: argparse.Namespace) -> None:
    ports = {}
    for spec in args.port:
        name, iface = spec.split("=", 1)
        ports[name] = open_port(name, iface)
    routes = []
    for spec in args.route:
        cidr, rest = spec.split("=", 1)
        port, mac = rest.split("@", 1)
        routes.append((ipaddress.IPv4Network(cidr), port, mac_bytes(mac)))
    ttl = args.ttl
    if ttl is None:
        with open("/proc/sys/net/ipv4/ip_default_ttl", encoding="ascii") as f:
            ttl = int(f.read())
    relay = Relay(ports, routes, ttl=ttl)
    boxes: dict[str, Callable[[], Callable[[Relay, Packet], None]]] = {
        "router": lambda: router,
        "sni-reset": lambda: sni_reset(args.name),
        "hello-blackhole": lambda: hello_blackhole(args.ttl or 253, args.every),
        "hello-tail-drop": lambda: hello_tail_drop,
        "split": lambda: split(args.trunk_a, args.trunk_b,
                               (args.node_b.split("@")[0], mac_bytes(args.node_b.split("@")[1]))),
    }
    log("ready", args.box, " ".join(f"{p.name}={p.iface}/{p.mac.hex(':')}" for p in ports.values()))
    relay.run(boxes[args.box](), args.seconds)


# --- a transparent TLS-terminating proxy ---------------------------------------------------------

def _peek_sni(conn: socket.socket, deadline: float) -> str | None:
    data = b""
    while time.monotonic() < deadline:
        conn.settimeout(max(0.1, deadline - time.monotonic()))
        data = conn.recv(MAX_HELLO_BYTES, socket.MSG_PEEK)
        sni = client_hello_sni(data)
        if sni is not False:
            return sni
        if len(data) >= MAX_HELLO_BYTES:
            break
        time.sleep(0.01)
    return None


def _pump(a: ssl.SSLSocket, b: ssl.SSLSocket, deadline: float) -> None:
    """Copy application data both ways until either side closes (or the deadline)."""
    pairs = {a.fileno(): (a, b), b.fileno(): (b, a)}
    while time.monotonic() < deadline:
        ready = [pairs[fd][0] for fd in pairs if pairs[fd][0].pending()]
        if not ready:
            ready, _, _ = select.select([a, b], [], [], 0.5)
        for src in ready:
            dst = pairs[src.fileno()][1]
            try:
                data = src.recv(16384)
            except (ssl.SSLError, OSError):
                return
            if not data:
                return
            dst.sendall(data)


def _intercept_one(conn: socket.socket, peer: tuple[str, int], front: ssl.SSLContext, back: ssl.SSLContext) -> None:
    deadline = time.monotonic() + 20
    original = conn.getsockname()  # with IP_TRANSPARENT: the address the client meant
    up: socket.socket | None = None
    try:
        sni = _peek_sni(conn, deadline)
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        up.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
        up.bind(peer)  # the client's own address and port: the server sees the same 4-tuple
        up.settimeout(5)
        up.connect(original)
        upstream = back.wrap_socket(up, server_hostname=sni or original[0])
        log("upstream", peer, "->", original, "sni", sni, upstream.version(),
            (upstream.getpeercert() or {}).get("issuer"))
        conn.settimeout(5)
        try:
            client = front.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log("client-refused", peer, exc)
            upstream.close()
            return
        log("intercepting", peer, client.version())
        _pump(client, upstream, deadline)
        with contextlib.suppress(ssl.SSLError, OSError):
            client.unwrap()
        client.close()
        upstream.close()
    except (ssl.SSLError, OSError) as exc:
        log("failed", peer, exc)
    finally:
        conn.close()
        if up is not None:
            up.close()


def intercept_main(args: argparse.Namespace) -> None:
    front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    front.maximum_version = ssl.TLSVersion.TLSv1_2
    front.load_cert_chain(args.cert, args.key)
    back = ssl.create_default_context(cafile=args.upstream_ca)
    back.maximum_version = ssl.TLSVersion.TLSv1_2
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.SOL_IP, IP_TRANSPARENT, 1)
    srv.bind(("0.0.0.0", args.port))
    srv.listen(16)
    log("ready", "intercept", args.port)
    deadline = time.monotonic() + args.seconds
    threads = []
    while time.monotonic() < deadline:
        srv.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            conn, peer = srv.accept()
        except TimeoutError:
            break
        t = threading.Thread(target=_intercept_one, args=(conn, peer, front, back), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(5)
    srv.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.lab.middlebox")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("relay")
    p.add_argument("box", choices=("router", "sni-reset", "hello-blackhole", "hello-tail-drop", "split"))
    p.add_argument("--port", action="append", required=True, help="NAME=IFACE")
    p.add_argument("--route", action="append", required=True, help="CIDR=PORT@MAC")
    p.add_argument("--name", default="blocked.test")
    p.add_argument("--ttl", type=int, default=None)
    p.add_argument("--every", type=int, default=2)
    p.add_argument("--trunk-a")
    p.add_argument("--trunk-b")
    p.add_argument("--node-b", help="PORT@MAC")
    p.add_argument("--seconds", type=float, default=60.0)
    p.set_defaults(fn=relay_main)
    p = sub.add_parser("intercept")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--upstream-ca", required=True)
    p.add_argument("--port", type=int, default=443)
    p.add_argument("--seconds", type=float, default=60.0)
    p.set_defaults(fn=intercept_main)
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
