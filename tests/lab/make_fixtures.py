"""Regenerate the committed capture fixtures from real software, on loopback or in network namespaces.

    python -m tests.lab.make_fixtures OUTDIR [SCENARIO...]      (root; from the repository's root)

Every capture is tcpdump's (or dumpcap's) recording of real OpenSSL (s_server, s_client, Python's ssl),
nginx or curl handshakes, on 127.0.0.1 / ::1 or inside network namespaces this run creates (documentation
addresses only; see tests/lab/netlab.py); nothing is synthesised. tests/fixtures/captures/MANIFEST.md says
what each one holds. Timing, ports and randoms differ between runs; the structure (which connections,
who sends which alert, RST or FIN) does not, which is what tests/lab/test_lab.py checks on fresh captures.
Scenarios that need namespaces say so in NAMESPACED; the others run on loopback.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.lab.netlab import (
    CertFactory,
    Topology,
    background,
    must,
    nginx,
    nginx_prefix,
    run,
    tcpdump,
)

BASE_PORT = 44300
S_SERVER = ["openssl", "s_server", "-quiet", "-naccept", "1000"]
AGENTS = [sys.executable, str(Path(__file__).resolve().parent / "agents.py")]


class Lab:
    def __init__(self, workdir: Path, base_port: int = BASE_PORT) -> None:
        self.work = workdir
        self.certs = CertFactory(workdir / "certs")
        self.origin = self.certs.leaf("origin.test")
        self.ecdsa = self.certs.leaf("ecdsa.test", rsa_key=False)
        self.expired = self.certs.leaf("expired.test", expired=True)
        self.selfsigned = self.certs.leaf("self.test", self_signed=True)
        self.port = base_port

    def next_port(self) -> int:
        self.port += 1
        return self.port

    def s_server(self, port: int, *extra: str, leaf: object = None, host: str = "127.0.0.1") -> list[str]:
        issued = leaf or self.origin
        accept = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return [*S_SERVER, "-accept", accept, "-cert", str(issued.cert), "-key", str(issued.key),  # type: ignore[attr-defined]
                "-cert_chain", str(self.certs.intermediate_file), *extra]

    def s_client(self, port: int, *extra: str, host: str = "127.0.0.1", data: bytes = b"") -> None:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        run(["openssl", "s_client", "-connect", target, "-CAfile", str(self.certs.ca_file), *extra],
            stdin=data, timeout=8)


# --- small real servers in Python (for behaviours no stock server has) --------------------------

def _serve_once(port: int, handler: Callable[[socket.socket], None], family: int = socket.AF_INET) -> threading.Thread:
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1" if family == socket.AF_INET else "::1", port))
    srv.listen(8)

    def loop() -> None:
        srv.settimeout(10)
        try:
            conn, _ = srv.accept()
            handler(conn)
        except OSError:
            pass
        finally:
            srv.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def _reset_after_hello(conn: socket.socket) -> None:
    conn.settimeout(5)
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close -> RST
    conn.close()


def _never_answer(conn: socket.socket) -> None:
    conn.settimeout(6)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()


# --- scenarios -----------------------------------------------------------------------------------

def tls13_ok(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-www"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-ign_eof", data=b"GET / HTTP/1.0\r\n\r\n")


def tls12_ok(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", "-www"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_2", "-verify_return_error", "-ign_eof",
                     data=b"GET / HTTP/1.0\r\n\r\n")


def tls13_hrr(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-groups", "P-256"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-groups", "X25519:P-256")


def tls12_client_cert_required(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", "-Verify", "1", "-CAfile", str(lab.certs.ca_file)),
                                       ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_2")


def tls13_client_cert_required(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-Verify", "1", "-CAfile", str(lab.certs.ca_file)),
                                       ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-ign_eof", data=b"x")


def version_mismatch(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_2")


HOSTILE_SNI = "<script>alert(1)</script>&\"'"


def hostile_sni(lab: Lab, out: Path) -> None:
    """Markup in the SNI, for the report writers' escaping (HTML, Markdown): s_client sends the name
    ``<script>alert(1)</script>&"'`` offering TLS 1.2 only to a TLS 1.3-only s_server, which refuses it
    (alert 70); then a healthy TLS 1.3 handshake with SNI origin.test to the same server."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-www"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", HOSTILE_SNI, "-tls1_2")
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-ign_eof", data=b"GET / HTTP/1.0\r\n\r\n")


def no_shared_cipher(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", "-cipher", "AES128-SHA"),
                                       ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")


def expired_cert_tls12(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", leaf=lab.expired), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "expired.test", "-tls1_2", "-verify_return_error")


def not_yet_valid_cert_tls12(lab: Lab, out: Path) -> None:
    """A leaf whose notBefore is two days after the capture; s_client verifies and refuses it."""
    p = lab.next_port()
    future = lab.certs.leaf("future.test", not_yet_valid=True)
    with background(lab.s_server(p, "-tls1_2", leaf=future), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "future.test", "-tls1_2", "-verify_return_error")


def untrusted_cert_tls12(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", leaf=lab.selfsigned),
                                       ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "self.test", "-tls1_2", "-verify_return_error")


def rst_after_clienthello(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with tcpdump(out, [p]):
        t = _serve_once(p, _reset_after_hello)
        lab.s_client(p, "-servername", "origin.test")
        t.join(10)


def clienthello_unanswered(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with tcpdump(out, [p]):
        t = _serve_once(p, _never_answer)
        run(["timeout", "2", "openssl", "s_client", "-connect", f"127.0.0.1:{p}", "-servername", "origin.test"],
            timeout=8)
        t.join(10)


def tcp_connect_refused(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test")


def tcp_connect_timeout(lab: Lab, out: Path) -> None:
    """client ns -> router ns -> server ns; the router has a blackhole route for the server's address, so
    the SYNs vanish silently (no ICMP). curl gives up after its 2 s connect timeout. Captured in the
    client's namespace on its veth."""
    with Topology("cto", middle=True) as topo:
        must(["ip", "route", "add", "blackhole", f"{topo.server.ip}/32"], netns=topo.middle_ns)
        with tcpdump(out, interface=topo.client.iface, netns=topo.client_ns, bpf="tcp"):
            run(["curl", "-sS", "--connect-timeout", "2", "--max-time", "4", "--resolve",
                 f"origin.test:443:{topo.server.ip}", "https://origin.test/"], netns=topo.client_ns, timeout=8)


def port_reuse(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    ctx = ssl.create_default_context(cafile=str(lab.certs.ca_file))
    with background(lab.s_server(p, "-www"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        src_port = lab.next_port() + 1000
        for _ in range(2):
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            raw.bind(("127.0.0.1", src_port))
            raw.settimeout(5)
            raw.connect(("127.0.0.1", p))
            with ctx.wrap_socket(raw, server_hostname="origin.test") as tls:
                tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
                tls.recv(100)
                # Close with a RST (no TIME_WAIT) so that the same 4-tuple can be used again.
                tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            time.sleep(0.3)


def multi_segment_clienthello(lab: Lab, out: Path) -> None:
    """A real OpenSSL ClientHello (large: 40 ALPN names) written in three TCP segments, then the handshake
    completes. Loopback hands tcpdump unsegmented buffers, so the split is made by the writer: the TLS
    bytes come from Python's ssl through a MemoryBIO and go out in three send() calls with TCP_NODELAY."""
    p = lab.next_port()
    ctx = ssl.create_default_context(cafile=str(lab.certs.ca_file))
    ctx.set_alpn_protocols([f"proto-{i:03d}-padding-to-make-the-hello-large" for i in range(40)])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="origin.test")
    with background(lab.s_server(p, "-www"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        raw = socket.create_connection(("127.0.0.1", p), timeout=5)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.do_handshake()
        hello = outgoing.read()
        third = len(hello) // 3
        for part in (hello[:third], hello[third : 2 * third], hello[2 * third :]):
            raw.sendall(part)
            time.sleep(0.05)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    raw.sendall(outgoing.read())
                data = raw.recv(65536)
                if not data:
                    break
                incoming.write(data)
        if outgoing.pending:
            raw.sendall(outgoing.read())
        tls.write(b"GET / HTTP/1.0\r\n\r\n")
        raw.sendall(outgoing.read())
        raw.recv(65536)
        raw.close()


def ipv6_tls13(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-www", host="::1"), ready_port=("::1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-ign_eof", host="::1",
                     data=b"GET / HTTP/1.0\r\n\r\n")


def linux_sll(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    # tcpdump 4.99 writes LINUX_SLL2 for -i any unless told otherwise: ask for version 1 explicitly.
    with background(lab.s_server(p, "-www"), ready_port=("127.0.0.1", p)), \
            tcpdump(out, [p], interface="any", extra=["-y", "LINUX_SLL"]):
        lab.s_client(p, "-servername", "origin.test", "-ign_eof", data=b"GET / HTTP/1.0\r\n\r\n")


def linux_sll2(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-www"), ready_port=("127.0.0.1", p)), \
            tcpdump(out, [p], interface="any", extra=["-y", "LINUX_SLL2"]):
        lab.s_client(p, "-servername", "origin.test", "-ign_eof", data=b"GET / HTTP/1.0\r\n\r\n")


def nanosecond_pcap(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2"), ready_port=("127.0.0.1", p)), \
            tcpdump(out, [p], extra=["--time-stamp-precision", "nano"]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_2")


def pcapng_dumpcap(lab: Lab, out: Path) -> None:
    """As tls12_ok, captured natively as pcapng by Wireshark's dumpcap (section header, interface
    description with if_tsresol, enhanced packet blocks)."""
    import contextlib
    import os
    import signal
    import subprocess

    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", "-www"), ready_port=("127.0.0.1", p)):
        proc = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", f"tcp port {p}", "-w", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            time.sleep(1.5)  # dumpcap prints nothing with -q: give it time to open the interface
            lab.s_client(p, "-servername", "origin.test", "-tls1_2", "-ign_eof", data=b"GET / HTTP/1.0\r\n\r\n")
            time.sleep(1.0)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=10)


MIXED_HEALTHY = 30


def mixed_small(lab: Lab, out: Path) -> None:
    """36 connections from one client namespace to seven server addresses in another: 30 healthy
    handshakes (TLS 1.3, and TLS 1.2 for every third) to two nginx virtual servers (RSA origin.test on .10,
    ECDSA ecdsa.test on .11), interleaved with six failures: no SNI to .10 (alert 112), TLS 1.2 max to a
    TLS 1.3-only s_server on .20 (alert 70), nothing listening on .21 (RST), a Python server on .22 that
    resets after the ClientHello, a self-signed s_server on .23 (client alert 48), a Python server on .24
    that never answers (client gives up after 1.5 s). Leaves are issued by the root directly, so each
    Certificate message is short. Clients: one Python process, one thread per connection."""
    rsa_leaf = lab.certs.leaf("origin.test", from_root=True)
    ec_leaf = lab.certs.leaf("ecdsa.test", rsa_key=False, from_root=True)
    with Topology("mix") as topo:
        ip = {n: topo.add_address(topo.server, f"{topo.subnet}.{n}") for n in (10, 11, 20, 21, 22, 23, 24)}
        conf = nginx_prefix(lab.work / "nginx-mixed", f"""
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;  # no NewSessionTicket: smaller handshakes
    ssl_session_cache off;
    server {{
        listen {ip[10]}:443 ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen {ip[10]}:443 ssl;
        server_name origin.test;
        ssl_certificate {rsa_leaf.chain};
        ssl_certificate_key {rsa_leaf.key};
        location / {{ return 200 "ok\\n"; }}
    }}
    server {{
        listen {ip[11]}:443 ssl;
        server_name ecdsa.test;
        ssl_certificate {ec_leaf.chain};
        ssl_certificate_key {ec_leaf.key};
        location / {{ return 200 "ok\\n"; }}
    }}""")
        ca = str(lab.certs.ca_file)
        plan: list[dict[str, object]] = []
        for k in range(MIXED_HEALTHY):
            n, name = (10, "origin.test") if k % 2 == 0 else (11, "ecdsa.test")
            spec: dict[str, object] = {"connect": [ip[n], 443], "sni": name, "cafile": ca}
            if k % 3 == 0:
                spec["max_version"] = "1.2"
            plan.append(spec)
        failures: list[dict[str, object]] = [
            {"connect": [ip[10], 443], "sni": None, "cafile": ca, "verify": False},  # alert 112
            {"connect": [ip[20], 443], "sni": "origin.test", "cafile": ca, "max_version": "1.2"},  # alert 70
            {"connect": [ip[21], 443], "sni": "origin.test", "cafile": ca},  # refused
            {"connect": [ip[22], 443], "sni": "origin.test", "cafile": ca},  # RST after ClientHello
            {"connect": [ip[23], 443], "sni": "self.test", "cafile": ca, "max_version": "1.2"},  # alert 48
            {"connect": [ip[24], 443], "sni": "origin.test", "cafile": ca, "timeout": 1.5},  # unanswered
        ]
        for pos, spec in zip((3, 9, 15, 21, 27, 33), failures, strict=True):
            plan.insert(pos, spec)
        for k, spec in enumerate(plan):
            spec["delay"] = round(0.04 * k, 2)
        plan_file = lab.work / "mixed-plan.json"
        plan_file.write_text(json.dumps(plan))
        sv = topo.server_ns
        with nginx(conf, netns=sv, ready_port=(ip[10], 443)), \
                background([*S_SERVER, "-accept", f"{ip[20]}:443", "-tls1_3", "-cert", str(rsa_leaf.cert),
                            "-key", str(rsa_leaf.key)], netns=sv, ready_port=(ip[20], 443)), \
                background([*S_SERVER, "-accept", f"{ip[23]}:443", "-tls1_2", "-cert", str(lab.selfsigned.cert),
                            "-key", str(lab.selfsigned.key)], netns=sv, ready_port=(ip[23], 443)), \
                background([*AGENTS, "serve", "--mode", "reset", "--bind", ip[22], "--port", "443", "--linger", "20"],
                           netns=sv, ready_port=(ip[22], 443)), \
                background([*AGENTS, "serve", "--mode", "silent", "--bind", ip[24], "--port", "443", "--linger",
                            "20"], netns=sv, ready_port=(ip[24], 443)), \
                tcpdump(out, interface=topo.client.iface, netns=topo.client_ns, bpf="tcp"):
            done = run([*AGENTS, "clients", str(plan_file)], netns=topo.client_ns, timeout=40)
            (lab.work / "mixed-results.json").write_bytes(done.stdout)


def sni_required_nginx(lab: Lab, out: Path) -> None:
    """nginx with `ssl_reject_handshake on` in its default server: no SNI -> alert 112; the right SNI works."""
    p = lab.next_port()
    conf = nginx_prefix(lab.work / "nginx-sni", f"""
    access_log off;
    server {{
        listen 127.0.0.1:{p} ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen 127.0.0.1:{p} ssl;
        server_name origin.test;
        ssl_certificate {lab.origin.chain};
        ssl_certificate_key {lab.origin.key};
        location / {{ return 200 "ok\\n"; }}
    }}""")
    with nginx(conf, ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-noservername")
        lab.s_client(p, "-servername", "origin.test", "-ign_eof", data=b"GET / HTTP/1.0\r\nHost: origin.test\r\n\r\n")


def not_tls_http(lab: Lab, out: Path) -> None:
    """A ClientHello sent to nginx listening in plain HTTP: nginx answers 400 Bad Request."""
    p = lab.next_port()
    conf = nginx_prefix(lab.work / "nginx-http", f"""
    access_log off;
    server {{ listen 127.0.0.1:{p}; location / {{ return 200 "plain\\n"; }} }}""")
    with nginx(conf, ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test")


UPSTREAM_ORIGIN_HTTP = """
    access_log off;
    server {{
        listen 443 ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen 443 ssl;
        server_name origin.test;
        ssl_certificate {chain};
        ssl_certificate_key {key};
        location / {{ return 200 "hello from origin.test\\n"; }}
    }}"""

# Seed 002's mistake: an HTTPS upstream group without proxy_ssl_server_name, so nginx sends no SNI.
UPSTREAM_PROXY_HTTP = """
    log_format upstreamlog '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                           '"$http_referer" "$http_user_agent" upstream_addr="$upstream_addr" '
                           'upstream_status="$upstream_status" request_time=$request_time';
    access_log logs/access.log upstreamlog;
    upstream origin_pool {{
        server {a}:443;
        server {b}:443;
    }}
    server {{
        listen 127.0.0.1:8080;
        server_name gateway.test;
        location / {{
            proxy_pass https://origin_pool/;
            proxy_set_header Host origin.test;
        }}
    }}"""


def nginx_upstream_no_sni(lab: Lab, out: Path) -> None:
    """Seeds 000/002: nginx as reverse proxy (proxy ns) with `proxy_pass https://origin_pool/` and no
    proxy_ssl_server_name; the origin nginx (origin ns, two addresses, both in the group) requires SNI
    (`ssl_reject_handshake on` in its default server). curl through the proxy gets 502; the proxy tried
    both upstream addresses, each answered alert 112. The capture is the upstream leg, on the proxy's
    veth. The proxy's nginx.conf, error.log and access.log are kept beside the capture."""
    with Topology("ups") as topo:
        second = topo.add_address(topo.server, f"{topo.subnet}.3")
        origin_conf = nginx_prefix(lab.work / "nginx-origin", UPSTREAM_ORIGIN_HTTP.format(
            chain=lab.origin.chain, key=lab.origin.key))
        proxy_conf = nginx_prefix(lab.work / "nginx-proxy", UPSTREAM_PROXY_HTTP.format(a=topo.server.ip, b=second),
                                  error_level="info")
        with nginx(origin_conf, netns=topo.server_ns, ready_port=(topo.server.ip, 443)):
            with nginx(proxy_conf, netns=topo.client_ns, ready_port=("127.0.0.1", 8080)), \
                    tcpdump(out, interface=topo.client.iface, netns=topo.client_ns, bpf="tcp port 443"):
                status = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                              "http://127.0.0.1:8080/"], netns=topo.client_ns, timeout=10)
            if status.stdout.strip() != b"502":
                raise RuntimeError(f"expected a 502 through the proxy, got {status.stdout!r}")
    stem = out.name[: -len(out.suffix)]
    for src, suffix in ((proxy_conf, "nginx.conf"), (proxy_conf.parent / "logs" / "error.log", "error.log"),
                        (proxy_conf.parent / "logs" / "access.log", "access.log")):
        (out.parent / f"{stem}.{suffix}").write_bytes(src.read_bytes())


def vlan_8021q(lab: Lab, out: Path) -> None:
    """A TLS 1.3 handshake (s_client -> s_server) whose frames cross an 802.1Q trunk: the kernel here has
    no VLAN devices, so the trunk is a veth pair in a middle namespace between two tagging relay ports
    (tests/lab/agents.py vlan-relay, a Python AF_PACKET program: VID 100 pushed on the way in, popped on
    the way out). Captured on the trunk, so every frame carries its tag. Offloads off on every hop (so
    frames are real MTU-sized frames with checksums) and static ARP (no ARP in the capture)."""
    p = 443
    with Topology("vlan", wire=True) as topo:
        trunk_a, trunk_b = topo.add_veth_pair(topo.middle_ns, "a", "b")
        for host in (topo.client, topo.server):
            must([*AGENTS, "offloads-off", host.iface], netns=host.netns)
        must([*AGENTS, "offloads-off", topo.middle_client_side.iface, topo.middle_server_side.iface, trunk_a,
              trunk_b], netns=topo.middle_ns)
        topo.static_neighbours()
        relay = [*AGENTS, "vlan-relay", "--vid", "100", "--client-side", topo.middle_client_side.iface,
                 "--tag-a", trunk_a, "--tag-b", trunk_b, "--server-side", topo.middle_server_side.iface]
        with background(relay, netns=topo.middle_ns, settle=0.5), \
                background([*S_SERVER, "-accept", f"{topo.server.ip}:{p}", "-tls1_3", "-cert", str(lab.origin.cert),
                            "-key", str(lab.origin.key), "-cert_chain", str(lab.certs.intermediate_file)],
                           netns=topo.server_ns, ready_port=(topo.server.ip, p)), \
                tcpdump(out, interface=trunk_a, netns=topo.middle_ns, bpf=""):
            run(["openssl", "s_client", "-connect", f"{topo.server.ip}:{p}", "-servername", "origin.test",
                 "-tls1_3", "-CAfile", str(lab.certs.ca_file)], netns=topo.client_ns, timeout=8)


# --- helpers for the scenarios below (what netlab.py does not have) -----------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]

# An nginx access-log format with the upstream fields (seeds 000 and 002 read them).
UPSTREAM_LOG_FORMAT = """
    log_format upstreamlog '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                           '"$http_referer" "$http_user_agent" upstream_addr="$upstream_addr" '
                           'upstream_status="$upstream_status" request_time=$request_time';
    access_log logs/access.log upstreamlog;"""


def _agent_cmd(*args: str) -> list[str]:
    """This module's own small servers (``_agent``), as a command for :func:`background` in a namespace."""
    return ["env", f"PYTHONPATH={REPO_ROOT}", sys.executable, "-c",
            "import sys; from tests.lab.make_fixtures import _agent; _agent(sys.argv[1:])", *args]


def _sni_gate(binds: list[str], port: int, cert: str, key: str, alert: int, when: str, linger: float) -> None:
    """A Python ``ssl`` TLS server on ``binds``:``port`` whose SNI callback ends the handshake with fatal
    alert ``alert`` (OpenSSL sends it) when the ClientHello has no server_name (``when="no-sni"``: what
    Cloudflare does) or always (``when="always"``); otherwise the handshake completes and an HTTP/1.0
    request gets ``200 ok``. Stops after ``linger`` seconds."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def on_sni(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> int | None:
        return alert if name is None or when == "always" else None

    ctx.sni_callback = on_sni  # type: ignore[assignment]
    listeners = []
    for ip in binds:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((ip, port))
        srv.listen(16)
        listeners.append(srv)

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    import select
    deadline = time.monotonic() + linger
    while time.monotonic() < deadline:
        ready, _, _ = select.select(listeners, [], [], 0.2)
        for srv in ready:
            conn, _ = srv.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
    for srv in listeners:
        srv.close()


def _agent(argv: list[str]) -> None:
    """Entry point of ``_agent_cmd``: ``sni-gate PORT CERT KEY ALERT WHEN LINGER IP...``."""
    if argv[0] == "sni-gate":
        port, cert, key, alert, when, linger, *binds = argv[1:]
        _sni_gate(binds, int(port), cert, key, int(alert), when, float(linger))
    else:
        raise SystemExit(f"unknown agent {argv[0]}")


@contextlib.contextmanager
def _netns_hosts(netns: str, lines: list[str]):  # type: ignore[no-untyped-def]
    """``/etc/netns/NS/hosts`` for the block (``ip netns exec`` bind-mounts it over /etc/hosts), so that
    nginx in ``netns`` resolves our names; removes only what it created."""
    import os
    top = Path("/etc/netns")
    made_top = not top.exists()
    folder = top / netns
    folder.mkdir(parents=True, exist_ok=False)
    try:
        (folder / "hosts").write_text("127.0.0.1 localhost\n" + "".join(f"{line}\n" for line in lines))
        yield
    finally:
        (folder / "hosts").unlink(missing_ok=True)
        folder.rmdir()
        if made_top:
            with contextlib.suppress(OSError):  # another run may have put its own folder there meanwhile
                os.rmdir(top)


def _keep_nginx_files(proxy_conf: Path, out: Path) -> None:
    """The proxy's nginx.conf, error.log and access.log beside the capture, as ``<stem>.<suffix>``."""
    stem = out.name[: -len(out.suffix)]
    for src, suffix in ((proxy_conf, "nginx.conf"), (proxy_conf.parent / "logs" / "error.log", "error.log"),
                        (proxy_conf.parent / "logs" / "access.log", "access.log")):
        (out.parent / f"{stem}.{suffix}").write_bytes(src.read_bytes())


def _curl_status(url: str, netns: str) -> str:
    done = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "8", url], netns=netns,
               timeout=12)
    return done.stdout.decode().strip()


# --- upstream scenarios (the seeds) ----------------------------------------------------------------

def sni_not_hostname(lab: Lab, out: Path) -> None:
    """nginx proxy with `proxy_pass https://origin_pool;` and `proxy_ssl_server_name on;` but no
    proxy_ssl_name: the SNI it sends is the group's name, `origin_pool`. The origin nginx picks its
    certificate by SNI and rejects unknown names in its default server (`ssl_reject_handshake on`): fatal
    alert 112 unrecognized_name. Captured on the proxy's veth (the upstream leg); conf and logs beside."""
    with Topology("sng") as topo:
        origin_conf = nginx_prefix(lab.work / "nginx-sng-origin", UPSTREAM_ORIGIN_HTTP.format(
            chain=lab.origin.chain, key=lab.origin.key))
        proxy_conf = nginx_prefix(lab.work / "nginx-sng-proxy", UPSTREAM_LOG_FORMAT + f"""
    upstream origin_pool {{
        server {topo.server.ip}:443;
    }}
    server {{
        listen 127.0.0.1:8080;
        server_name gateway.test;
        location / {{
            proxy_pass https://origin_pool;
            proxy_ssl_server_name on;
            proxy_set_header Host origin.test;
        }}
    }}""")
        with nginx(origin_conf, netns=topo.server_ns, ready_port=(topo.server.ip, 443)), \
                nginx(proxy_conf, netns=topo.client_ns, ready_port=("127.0.0.1", 8080)), \
                tcpdump(out, interface=topo.client.iface, netns=topo.client_ns, bpf="tcp port 443"):
            status = _curl_status("http://127.0.0.1:8080/", topo.client_ns)
        if status != "502":
            raise RuntimeError(f"expected a 502 through the proxy, got {status!r}")
    _keep_nginx_files(proxy_conf, out)


def seed000_cdn_upstream(lab: Lab, out: Path) -> None:
    """Seed 000: `location /proxy/cn/ { proxy_pass https://backend_group/; }` with `upstream backend_group
    { server origin.test:443; keepalive 100; }` (the name resolved through the proxy namespace's hosts file),
    no proxy_ssl_server_name: no SNI. The origin behaves as Cloudflare: a Python ssl server whose SNI
    callback answers a ClientHello without server_name with fatal alert 40 handshake_failure."""
    with Topology("s000") as topo:
        proxy_conf = nginx_prefix(lab.work / "nginx-s000-proxy", UPSTREAM_LOG_FORMAT + """
    upstream backend_group {
        server origin.test:443;
        keepalive 100;
    }
    server {
        listen 127.0.0.1:8080;
        server_name gateway.test;
        location /proxy/cn/ {
            proxy_pass https://backend_group/;
            proxy_http_version 1.1;
            proxy_set_header Host "origin.test";
            proxy_set_header Connection "keep-alive";
            proxy_connect_timeout 5;
            proxy_send_timeout 10;
            proxy_read_timeout 10;
        }
    }""")
        gate = _agent_cmd("sni-gate", "443", str(lab.origin.chain), str(lab.origin.key), "40", "no-sni", "30",
                          topo.server.ip)
        with _netns_hosts(topo.client_ns, [f"{topo.server.ip} origin.test"]), \
                background(gate, netns=topo.server_ns, ready_port=(topo.server.ip, 443)), \
                nginx(proxy_conf, netns=topo.client_ns, ready_port=("127.0.0.1", 8080)), \
                tcpdump(out, interface=topo.client.iface, netns=topo.client_ns, bpf="tcp port 443"):
            status = _curl_status("http://127.0.0.1:8080/proxy/cn/", topo.client_ns)
        if status != "502":
            raise RuntimeError(f"expected a 502 through the proxy, got {status!r}")
    _keep_nginx_files(proxy_conf, out)


def seed001_expired_upstream(lab: Lab, out: Path) -> None:
    """Seed 001: nginx proxy verifying its upstream (`proxy_ssl_verify on; proxy_ssl_trusted_certificate
    ca.pem; proxy_ssl_server_name on; proxy_ssl_name origin.test`), the origin (s_server, TLS 1.2 so the
    certificate is in plaintext) serving an expired leaf for origin.test. The origin's leaf is saved as
    `<stem>.origin.pem`."""
    expired = lab.certs.leaf("origin.test", expired=True)
    with Topology("s001") as topo:
        proxy_conf = nginx_prefix(lab.work / "nginx-s001-proxy", UPSTREAM_LOG_FORMAT + f"""
    upstream origin_backend {{
        server {topo.server.ip}:443;
    }}
    server {{
        listen 127.0.0.1:8080;
        server_name gateway.test;
        location /test {{
            proxy_pass https://origin_backend/test;
            proxy_http_version 1.1;
            proxy_set_header Host origin.test;
            proxy_ssl_server_name on;
            proxy_ssl_name origin.test;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate {lab.certs.ca_file};
        }}
    }}""")
        with background([*S_SERVER, "-accept", f"{topo.server.ip}:443", "-tls1_2", "-www", "-cert",
                         str(expired.cert), "-key", str(expired.key), "-cert_chain", str(lab.certs.intermediate_file)],
                        netns=topo.server_ns, ready_port=(topo.server.ip, 443)), \
                nginx(proxy_conf, netns=topo.client_ns, ready_port=("127.0.0.1", 8080)), \
                tcpdump(out, interface=topo.client.iface, netns=topo.client_ns, bpf="tcp port 443"):
            status = _curl_status("http://127.0.0.1:8080/test", topo.client_ns)
        if status != "502":
            raise RuntimeError(f"expected a 502 through the proxy, got {status!r}")
    _keep_nginx_files(proxy_conf, out)
    (out.parent / f"{out.name[: -len(out.suffix)]}.origin.pem").write_bytes(expired.cert.read_bytes())


def seed002_upstream_hostname_no_sni(lab: Lab, out: Path) -> None:
    """Seed 002: `location /api/ { proxy_pass https://origin.test/api/; }` (a host name, not a group) and no
    proxy_ssl_server_name. origin.test resolves (the proxy namespace's hosts file) to four addresses of the
    origin namespace, where a Python ssl server refuses every ClientHello without SNI with alert 40: nginx
    tries all four, each 502. A second location, `/other/ -> https://other.test/` (one more address, an
    nginx origin whose only server has a default certificate and needs no SNI), works: 200."""
    other_leaf = lab.certs.leaf("other.test")
    with Topology("s002") as topo:
        cdn = [topo.server.ip] + [topo.add_address(topo.server, f"{topo.subnet}.{n}") for n in (3, 4, 5)]
        other_ip = topo.add_address(topo.server, f"{topo.subnet}.6")
        other_conf = nginx_prefix(lab.work / "nginx-s002-other", f"""
    access_log off;
    server {{
        listen {other_ip}:443 ssl default_server;
        server_name other.test;
        ssl_certificate {other_leaf.chain};
        ssl_certificate_key {other_leaf.key};
        location / {{ return 200 "hello from other.test\\n"; }}
    }}""")
        proxy_conf = nginx_prefix(lab.work / "nginx-s002-proxy", UPSTREAM_LOG_FORMAT + """
    server {
        listen 127.0.0.1:8080;
        server_name gateway.test;
        location /api/ {
            proxy_pass https://origin.test/api/;
        }
        location /other/ {
            proxy_pass https://other.test/;
        }
    }""")
        gate = _agent_cmd("sni-gate", "443", str(lab.origin.chain), str(lab.origin.key), "40", "no-sni", "40", *cdn)
        hosts = [f"{ip} origin.test" for ip in cdn] + [f"{other_ip} other.test"]
        with _netns_hosts(topo.client_ns, hosts), \
                background(gate, netns=topo.server_ns, ready_port=(cdn[-1], 443)), \
                nginx(other_conf, netns=topo.server_ns, ready_port=(other_ip, 443)), \
                nginx(proxy_conf, netns=topo.client_ns, ready_port=("127.0.0.1", 8080)), \
                tcpdump(out, interface=topo.client.iface, netns=topo.client_ns, bpf="tcp port 443"):
            failing = _curl_status("http://127.0.0.1:8080/api/", topo.client_ns)
            time.sleep(0.3)
            working = _curl_status("http://127.0.0.1:8080/other/", topo.client_ns)
        if (failing, working) != ("502", "200"):
            raise RuntimeError(f"expected 502 then 200 through the proxy, got {failing!r}, {working!r}")
    _keep_nginx_files(proxy_conf, out)


# --- single-connection failures on loopback --------------------------------------------------------

def certificate_name_mismatch_tls13(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "other.test", "-verify_hostname", "other.test", "-verify_return_error",
                     "-tls1_3")


def certificate_name_mismatch_tls12(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "other.test", "-verify_hostname", "other.test", "-verify_return_error",
                     "-tls1_2")


def certificate_chain_incomplete(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    leaf_only = [*S_SERVER, "-accept", f"127.0.0.1:{p}", "-cert", str(lab.origin.cert), "-key", str(lab.origin.key),
                 "-tls1_2"]
    with background(leaf_only, ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_2", "-verify_return_error")


def expired_cert_tls13(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", leaf=lab.expired), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "expired.test", "-tls1_3", "-verify_return_error")


def no_shared_group(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-groups", "P-384"), ready_port=("127.0.0.1", p)), \
            tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-groups", "X25519:P-256")


def server_internal_error(lab: Lab, out: Path) -> None:
    """A Python ssl server whose SNI callback returns ALERT_DESCRIPTION_INTERNAL_ERROR (a server that fails
    to pick its certificate): OpenSSL sends fatal alert 80 after the ClientHello."""
    p = lab.next_port()
    args = (["127.0.0.1"], p, str(lab.origin.chain), str(lab.origin.key), int(ssl.ALERT_DESCRIPTION_INTERNAL_ERROR),
            "always", 6.0)
    t = threading.Thread(target=_sni_gate, args=args, daemon=True)
    t.start()
    wait = time.monotonic() + 5
    while time.monotonic() < wait:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", p)) == 0:
                break
        time.sleep(0.05)
    with tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test")
    t.join(10)


def _stalling_relay(listen_port: int, server_port: int, hold: float) -> threading.Thread:
    """A TCP relay on 127.0.0.1:``listen_port`` to ``server_port`` for one connection: it forwards the
    client's first flight (the ClientHello) and everything from the server, swallows the client's later
    bytes (its second flight never reaches the server), and ``hold`` seconds after the first swallowed
    byte closes both sides with FIN."""
    import select
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(1)

    def loop() -> None:
        srv.settimeout(10)
        try:
            client, _ = srv.accept()
        except OSError:
            srv.close()
            return
        srv.close()
        upstream = socket.create_connection(("127.0.0.1", server_port), timeout=5)
        forwarded_hello, stall_from = False, None
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                if stall_from is not None and time.monotonic() - stall_from >= hold:
                    break
                ready, _, _ = select.select([client, upstream], [], [], 0.1)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        raise EOFError
                    if sock is upstream:
                        client.sendall(data)
                    elif not forwarded_hello:
                        upstream.sendall(data)
                        forwarded_hello = True
                    elif stall_from is None:
                        stall_from = time.monotonic()
        except (OSError, EOFError):
            pass
        finally:
            client.close()
            upstream.close()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def handshake_stalled(lab: Lab, out: Path) -> None:
    """Python ssl client (TLS 1.2, verifying) -> a Python relay -> s_server. The relay passes the ClientHello
    and the server's whole first flight, keeps the client's second flight (ClientKeyExchange,
    ChangeCipherSpec, Finished) from the server, and closes (FIN) 3 s later. The client sees EOF in the
    handshake and closes (Python's ssl sends no alert then): no alert, no RST. Captured on the client's
    side only (the relay's port)."""
    p, q = lab.next_port(), lab.next_port()
    ctx = ssl.create_default_context(cafile=str(lab.certs.ca_file))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with background(lab.s_server(q, "-tls1_2"), ready_port=("127.0.0.1", q)), tcpdump(out, [p]):
        t = _stalling_relay(p, q, 3.0)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", p), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="origin.test"):
            pass
        t.join(10)


def alert_unexplained(lab: Lab, out: Path) -> None:
    """A ClientHello built with tlsdoctor.probe.clienthello that carries the supported_groups extension
    twice (RFC 8446 section 4.2 forbids duplicates), written by a Python socket to a real s_server: OpenSSL
    refuses it with a fatal alert; the client then closes."""
    from tlsdoctor.probe.clienthello import ClientHelloSpec, build
    from tlsdoctor.tls.registry import ExtensionType

    p = lab.next_port()
    spec = ClientHelloSpec(server_name="origin.test",
                           extra_extensions=((int(ExtensionType.SUPPORTED_GROUPS), b"\x00\x02\x00\x1d"),))
    hello = build(spec)
    with background(lab.s_server(p), ready_port=("127.0.0.1", p)), tcpdump(out, [p]), \
            socket.create_connection(("127.0.0.1", p), timeout=5) as raw:
        raw.sendall(hello)
        with contextlib.suppress(OSError):
            while raw.recv(65536):
                pass


# --- one large mixed capture -----------------------------------------------------------------------

MIXED_LARGE_HEALTHY = 320


def mixed_large(lab: Lab, out: Path) -> None:
    """320 healthy handshakes and six failures from one client namespace to ten server addresses; see
    MANIFEST.md. Clients: one `agents.py clients` process (a thread per connection, started 30 ms apart)."""
    rsa_leaf = lab.certs.leaf("origin.test", from_root=True)
    ec_leaf = lab.certs.leaf("ecdsa.test", rsa_key=False, from_root=True)
    s12_leaf = lab.certs.leaf("s12.test", from_root=True)
    s13_leaf = lab.certs.leaf("s13.test", rsa_key=False, from_root=True)
    expired_leaf = lab.certs.leaf("expired.test", expired=True, from_root=True)
    with Topology("mxl") as topo:
        ip = {n: topo.add_address(topo.server, f"{topo.subnet}.{n}") for n in (10, 11, 12, 13, 20, 21, 22, 23)}
        conf = nginx_prefix(lab.work / "nginx-mixed-large", f"""
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    ssl_session_cache off;
    server {{
        listen {ip[10]}:443 ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen {ip[10]}:443 ssl;
        server_name origin.test;
        ssl_certificate {rsa_leaf.chain};
        ssl_certificate_key {rsa_leaf.key};
        location / {{ return 200 "ok\\n"; }}
    }}
    server {{
        listen {ip[11]}:443 ssl;
        server_name ecdsa.test;
        ssl_certificate {ec_leaf.chain};
        ssl_certificate_key {ec_leaf.key};
        location / {{ return 200 "ok\\n"; }}
    }}""")
        ca = str(lab.certs.ca_file)
        targets = [(10, "origin.test"), (11, "ecdsa.test"), (10, "origin.test"), (11, "ecdsa.test"),
                   (12, "s12.test"), (13, "s13.test")]
        plan: list[dict[str, object]] = []
        for k in range(MIXED_LARGE_HEALTHY):
            n, name = targets[k % len(targets)]
            spec: dict[str, object] = {"connect": [ip[n], 443], "sni": name, "cafile": ca}
            if n == 12 or (n in (10, 11) and k % 3 == 0):
                spec["max_version"] = "1.2"
            plan.append(spec)
        failures: list[dict[str, object]] = [
            {"connect": [ip[10], 443], "sni": None, "cafile": ca, "verify": False},  # alert 112
            {"connect": [ip[20], 443], "sni": "expired.test", "cafile": ca, "max_version": "1.2"},  # alert 45
            {"connect": [ip[21], 443], "sni": "origin.test", "cafile": ca, "max_version": "1.2"},  # alert 70
            {"connect": [ip[22], 443], "sni": "origin.test", "cafile": ca},  # RST after ClientHello
            {"connect": [ip[10], 443], "sni": None, "cafile": ca, "verify": False},  # alert 112
            {"connect": [ip[23], 443], "sni": "origin.test", "cafile": ca},  # refused
        ]
        for pos, spec in zip((17, 71, 129, 188, 243, 301), failures, strict=True):
            plan.insert(pos, spec)
        for k, spec in enumerate(plan):
            spec["delay"] = round(0.03 * k, 2)
        plan_file = lab.work / "mixed-large-plan.json"
        plan_file.write_text(json.dumps(plan))
        sv = topo.server_ns

        def s_srv(n: int, leaf: object, *extra: str) -> list[str]:
            return [*S_SERVER, "-accept", f"{ip[n]}:443", "-cert", str(leaf.cert), "-key",  # type: ignore[attr-defined]
                    str(leaf.key), *extra]  # type: ignore[attr-defined]

        with nginx(conf, netns=sv, ready_port=(ip[10], 443)), \
                background(s_srv(12, s12_leaf, "-www", "-no_ticket"), netns=sv, ready_port=(ip[12], 443)), \
                background(s_srv(13, s13_leaf, "-www", "-no_ticket"), netns=sv, ready_port=(ip[13], 443)), \
                background(s_srv(20, expired_leaf, "-tls1_2"), netns=sv, ready_port=(ip[20], 443)), \
                background(s_srv(21, rsa_leaf, "-tls1_3"), netns=sv, ready_port=(ip[21], 443)), \
                background([*AGENTS, "serve", "--mode", "reset", "--bind", ip[22], "--port", "443", "--linger", "40"],
                           netns=sv, ready_port=(ip[22], 443)), \
                tcpdump(out, interface=topo.client.iface, netns=topo.client_ns, bpf="tcp"):
            done = run([*AGENTS, "clients", str(plan_file)], netns=topo.client_ns, timeout=60)
            (lab.work / "mixed-large-results.json").write_bytes(done.stdout)


SCENARIOS: dict[str, Callable[[Lab, Path], None]] = {
    f.__name__: f for f in (
        tls13_ok, tls12_ok, tls13_hrr, tls12_client_cert_required, tls13_client_cert_required, version_mismatch,
        no_shared_cipher, expired_cert_tls12, not_yet_valid_cert_tls12, untrusted_cert_tls12, rst_after_clienthello,
        clienthello_unanswered,
        tcp_connect_refused, tcp_connect_timeout, port_reuse, multi_segment_clienthello, ipv6_tls13, linux_sll,
        linux_sll2, nanosecond_pcap, pcapng_dumpcap, mixed_small, sni_required_nginx, not_tls_http,
        nginx_upstream_no_sni, vlan_8021q,
        sni_not_hostname, seed000_cdn_upstream, seed001_expired_upstream, seed002_upstream_hostname_no_sni,
        certificate_name_mismatch_tls13, certificate_name_mismatch_tls12, certificate_chain_incomplete,
        expired_cert_tls13, no_shared_group, server_internal_error, handshake_stalled, alert_unexplained,
        mixed_large, hostile_sni,
    )
}
# Scenarios that build network namespaces (the others use loopback only).
NAMESPACED = frozenset({"tcp_connect_timeout", "mixed_small", "nginx_upstream_no_sni", "vlan_8021q",
                        "sni_not_hostname", "seed000_cdn_upstream", "seed001_expired_upstream",
                        "seed002_upstream_hostname_no_sni", "mixed_large"})


def make(outdir: Path, names: list[str] | None = None, *, base_port: int = BASE_PORT) -> list[Path]:
    """Run the named scenarios (all by default) and write their captures into ``outdir``; loopback
    servers listen on ``base_port`` + 1, + 2, ... in scenario order."""
    unknown = [n for n in names or [] if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    outdir.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory(prefix="tlsdoctor-lab-") as work:
        lab = Lab(Path(work), base_port)
        for name in names or list(SCENARIOS):
            out = outdir / (f"{name}.pcapng" if name == "pcapng_dumpcap" else f"{name}.pcap")
            SCENARIOS[name](lab, out)
            made.append(out)
    return made


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/captures")
    for path in make(target, sys.argv[2:] or None):
        print(f"{path} {path.stat().st_size} bytes")
