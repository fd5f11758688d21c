"""Small real programs the lab runs inside its network namespaces, for behaviours no stock software has.

    python tests/lab/agents.py serve --mode reset|silent --bind IP --port P [--count N] [--linger S]
    python tests/lab/agents.py clients PLAN.json
    python tests/lab/agents.py offloads-off IFACE...
    python tests/lab/agents.py vlan-relay --vid N --client-side IF --tag-a IF --tag-b IF --server-side IF

Run as a script (``ip netns exec NS python .../agents.py ...``), standard library only. Every wait is
bounded: servers stop after --linger seconds, clients have per-connection timeouts, the relay after
--lifetime seconds (and is killed by its starter anyway).
"""

from __future__ import annotations

import argparse
import array
import fcntl
import json
import select
import socket
import ssl
import struct
import sys
import threading
import time
from typing import Any

# --- servers -------------------------------------------------------------------------------------


def _handle(conn: socket.socket, mode: str) -> None:
    conn.settimeout(8)
    try:
        conn.recv(65536)  # the ClientHello (or its first segment)
        if mode == "reset":
            # SO_LINGER on with a zero timeout: close() sends a RST instead of a FIN (RFC 9293 3.10.4 ABORT).
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:  # silent: never answer; read until the client gives up
            while conn.recv(65536):
                pass
    except OSError:
        pass
    finally:
        conn.close()


def serve(args: argparse.Namespace) -> None:
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(16)
    deadline = time.monotonic() + args.linger
    threads = []
    served = 0
    while served < args.count and time.monotonic() < deadline:
        srv.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            conn, _ = srv.accept()
        except OSError:
            break
        served += 1
        t = threading.Thread(target=_handle, args=(conn, args.mode), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    srv.close()


# --- clients -------------------------------------------------------------------------------------

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def _one_client(spec: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """One connection of a plan: TCP connect, TLS handshake (SNI, versions, verification as the spec
    says), an HTTP/1.0 request, a short read, close. The outcome is recorded, never raised."""
    time.sleep(spec.get("delay", 0.0))
    ctx = ssl.create_default_context(cafile=spec.get("cafile"))
    if not spec.get("verify", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if "max_version" in spec:
        ctx.maximum_version = _VERSIONS[spec["max_version"]]
    if "min_version" in spec:
        ctx.minimum_version = _VERSIONS[spec["min_version"]]
    host, port = spec["connect"]
    outcome = "ok"
    try:
        with socket.create_connection((host, port), timeout=spec.get("timeout", 5.0)) as raw:
            sni = spec.get("sni")
            if sni is None:  # no server_name extension at all
                ctx.check_hostname = False
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                tls.sendall(f"GET / HTTP/1.0\r\nHost: {sni or host}\r\n\r\n".encode())
                # Read to the server's close (HTTP/1.0): closing with unread data would send a RST.
                while tls.recv(4096):
                    pass
    except (OSError, ssl.SSLError) as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    results.append({**spec, "outcome": outcome})


def clients(args: argparse.Namespace) -> None:
    with open(args.plan, encoding="utf-8") as f:
        plan = json.load(f)
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=_one_client, args=(spec, results), daemon=True) for spec in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    json.dump(results, sys.stdout, indent=1)


# --- interfaces ----------------------------------------------------------------------------------

SIOCETHTOOL = 0x8946
# Legacy ethtool set-commands (linux/ethtool.h), each taking a struct ethtool_value {u32 cmd; u32 data;}.
ETHTOOL_STXCSUM, ETHTOOL_SSG, ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO = 0x17, 0x19, 0x1F, 0x24, 0x2C


def _ethtool_set(sock: socket.socket, iface: str, cmd: int, value: int) -> None:
    ev = array.array("I", [cmd, value])
    addr, _ = ev.buffer_info()
    ifreq = struct.pack("16sP", iface.encode(), addr).ljust(40, b"\0")
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)


def offloads_off(args: argparse.Namespace) -> None:
    """No TSO/GSO/GRO and no checksum offload: every frame on the wire is a real, MTU-sized frame with its
    checksum filled in (what a frame relayed by a packet socket must be), as on a physical link."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for iface in args.ifaces:
            for cmd in (ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO, ETHTOOL_STXCSUM):
                try:
                    _ethtool_set(sock, iface, cmd, 0)
                except OSError as exc:  # some are fixed on some devices; report, go on
                    print(f"{iface}: ethtool 0x{cmd:x}: {exc}", file=sys.stderr)


# --- an 802.1Q tagging relay ---------------------------------------------------------------------

ETH_P_ALL, ETH_P_8021Q = 0x0003, 0x8100
PACKET_OUTGOING = 4


def _raw(iface: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    return s


def vlan_relay(args: argparse.Namespace) -> None:
    """Two tagging switch ports back to back: frames from --client-side leave on --tag-a with an 802.1Q
    tag (VID --vid), arrive on --tag-b, leave untagged on --server-side; and the reverse. A capture on
    --tag-a sees every frame of the conversation tagged, both ways (the kernel moves a received tag into
    packet metadata; libpcap puts it back into the frame)."""
    client, tag_a, tag_b, server = (_raw(i) for i in (args.client_side, args.tag_a, args.tag_b, args.server_side))
    tci = struct.pack("!HH", ETH_P_8021Q, args.vid & 0x0FFF)
    route = {client: (tag_a, True), tag_b: (server, False), server: (tag_b, True), tag_a: (client, False)}
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        ready, _, _ = select.select(list(route), [], [], 0.5)
        for sock in ready:
            frame, addr = sock.recvfrom(65536)
            if addr[2] == PACKET_OUTGOING:  # our own transmission, seen again
                continue
            out, push = route[sock]
            if push:
                frame = frame[:12] + tci + frame[12:]
            elif frame[12:14] == tci[:2]:
                frame = frame[:12] + frame[16:]
            try:
                out.send(frame)
            except OSError as exc:
                print(f"relay: {len(frame)}-byte frame dropped: {exc}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="agents.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--mode", choices=("reset", "silent"), required=True)
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--linger", type=float, default=10.0)
    p.set_defaults(fn=serve)
    p = sub.add_parser("clients")
    p.add_argument("plan")
    p.set_defaults(fn=clients)
    p = sub.add_parser("offloads-off")
    p.add_argument("ifaces", nargs="+")
    p.set_defaults(fn=offloads_off)
    p = sub.add_parser("vlan-relay")
    for name in ("--client-side", "--tag-a", "--tag-b", "--server-side"):
        p.add_argument(name, required=True)
    p.add_argument("--vid", type=int, default=100)
    p.add_argument("--lifetime", type=float, default=60.0)
    p.set_defaults(fn=vlan_relay)
    args = ap.parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
