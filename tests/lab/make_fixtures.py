"""Regenerate the committed capture fixtures from real software on loopback.

    python -m tests.lab.make_fixtures OUTDIR [SCENARIO...]

Every capture is tcpdump's recording of real OpenSSL (s_server, s_client, Python's ssl) or nginx
handshakes on 127.0.0.1 / ::1; nothing is synthesised. tests/fixtures/captures/MANIFEST.md says what
each one holds. Timing and ports differ between runs; the structure (who sends which alert, RST or
FIN) does not, which is what tests/lab/test_lab.py checks on fresh captures.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.lab.netlab import CertFactory, background, run, tcpdump

BASE_PORT = 44300
S_SERVER = ["openssl", "s_server", "-quiet", "-naccept", "1000"]


class Lab:
    def __init__(self, workdir: Path) -> None:
        self.work = workdir
        self.certs = CertFactory(workdir / "certs")
        self.origin = self.certs.leaf("origin.test")
        self.ecdsa = self.certs.leaf("ecdsa.test", rsa_key=False)
        self.expired = self.certs.leaf("expired.test", expired=True)
        self.selfsigned = self.certs.leaf("self.test", self_signed=True)
        self.port = BASE_PORT

    def next_port(self) -> int:
        self.port += 1
        return self.port

    def s_server(self, port: int, *extra: str, leaf: object = None, host: str = "127.0.0.1") -> list[str]:
        issued = leaf or self.origin
        accept = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return [*S_SERVER, "-accept", accept, "-cert", str(issued.cert), "-key", str(issued.key),  # type: ignore[attr-defined]
                "-cert_chain", str(self.certs.folder / "intermediate.pem"), *extra]

    def s_client(self, port: int, *extra: str, host: str = "127.0.0.1", data: bytes = b"") -> None:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        run(["openssl", "s_client", "-connect", target, "-CAfile", str(self.certs.ca_file), *extra],
            stdin=data, timeout=8)


def _write_intermediate(lab: Lab) -> None:
    from cryptography.hazmat.primitives import serialization

    (lab.certs.folder / "intermediate.pem").write_bytes(lab.certs.intermediate.public_bytes(serialization.Encoding.PEM))


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


def no_shared_cipher(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", "-cipher", "AES128-SHA"),
                                       ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256")


def expired_cert_tls12(lab: Lab, out: Path) -> None:
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", leaf=lab.expired), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "expired.test", "-tls1_2", "-verify_return_error")


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
    # A listener that never accepts, with its backlog filled: Linux then drops new SYNs (no SYN-ACK),
    # so the client's SYN is retransmitted until it gives up: a real unanswered connect.
    p = lab.next_port()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", p))
    srv.listen(0)
    fillers = []
    try:
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", p))
            fillers.append(s)
        time.sleep(0.5)
        with tcpdump(out, [p]):
            probe = socket.socket()
            probe.settimeout(3.5)
            try:
                probe.connect(("127.0.0.1", p))
            except OSError:
                pass
            finally:
                probe.close()
    finally:
        for s in fillers:
            s.close()
        srv.close()


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
    with background(lab.s_server(p, "-www"), ready_port=("127.0.0.1", p)), tcpdump(out, [p], interface="any"):
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


def mixed_small(lab: Lab, out: Path) -> None:
    """Healthy TLS 1.2 and 1.3 handshakes to two servers, concurrently, with a few failures among them."""
    good1, good2, strict13, refused = lab.next_port(), lab.next_port(), lab.next_port(), lab.next_port()
    rst = lab.next_port()
    ctx = ssl.create_default_context(cafile=str(lab.certs.ca_file))

    def client(port: int, name: str, version: ssl.TLSVersion | None) -> None:
        c = ssl.create_default_context(cafile=str(lab.certs.ca_file)) if version else ctx
        if version is not None:
            c.maximum_version = version
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                    c.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
                tls.recv(200)
        except (OSError, ssl.SSLError):
            pass

    with background(lab.s_server(good1, "-www"), ready_port=("127.0.0.1", good1)), \
            background(lab.s_server(good2, "-www", leaf=lab.ecdsa), ready_port=("127.0.0.1", good2)), \
            background(lab.s_server(strict13, "-tls1_3", "-www"), ready_port=("127.0.0.1", strict13)), \
            tcpdump(out, [good1, good2, strict13, refused, rst]):
        rst_thread = _serve_once(rst, _reset_after_hello)
        threads = []
        for i in range(36):
            port, name = (good1, "origin.test") if i % 2 else (good2, "ecdsa.test")
            version = ssl.TLSVersion.TLSv1_2 if i % 3 == 0 else None
            threads.append(threading.Thread(target=client, args=(port, name, version)))
        threads.append(threading.Thread(target=client, args=(strict13, "origin.test", ssl.TLSVersion.TLSv1_2)))
        threads.append(threading.Thread(target=client, args=(refused, "origin.test", None)))
        threads.append(threading.Thread(target=client, args=(rst, "origin.test", None)))
        for t in threads:
            t.start()
            time.sleep(0.01)
        for t in threads:
            t.join(10)
        rst_thread.join(10)


def sni_required_nginx(lab: Lab, out: Path) -> None:
    """nginx with `ssl_reject_handshake on` in its default server: no SNI -> alert 112; the right SNI works."""
    import shutil

    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed")
    p = lab.next_port()
    prefix = lab.work / "nginx-sni"
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 64; }}
http {{
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
    }}
}}
""")
    with background(["nginx", "-p", str(prefix), "-c", str(conf)], ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-noservername")
        lab.s_client(p, "-servername", "origin.test", "-ign_eof", data=b"GET / HTTP/1.0\r\nHost: origin.test\r\n\r\n")


def not_tls_http(lab: Lab, out: Path) -> None:
    """A ClientHello sent to nginx listening in plain HTTP: nginx answers 400 Bad Request."""
    p = lab.next_port()
    prefix = lab.work / "nginx-http"
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    server {{ listen 127.0.0.1:{p}; location / {{ return 200 "plain\\n"; }} }}
}}
""")
    with background(["nginx", "-p", str(prefix), "-c", str(conf)], ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test")


SCENARIOS: dict[str, Callable[[Lab, Path], None]] = {
    f.__name__: f for f in (
        tls13_ok, tls12_ok, tls13_hrr, tls12_client_cert_required, tls13_client_cert_required, version_mismatch,
        no_shared_cipher, expired_cert_tls12, untrusted_cert_tls12, rst_after_clienthello, clienthello_unanswered,
        tcp_connect_refused, tcp_connect_timeout, port_reuse, multi_segment_clienthello, ipv6_tls13, linux_sll,
        linux_sll2, nanosecond_pcap, pcapng_dumpcap, mixed_small, sni_required_nginx, not_tls_http,
    )
}


def make(outdir: Path, names: list[str] | None = None) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory(prefix="tlsdoctor-lab-") as work:
        lab = Lab(Path(work))
        _write_intermediate(lab)
        for name in names or list(SCENARIOS):
            out = outdir / (f"{name}.pcapng" if name == "pcapng_dumpcap" else f"{name}.pcap")
            SCENARIOS[name](lab, out)
            made.append(out)
    return made


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/captures")
    for path in make(target, sys.argv[2:] or None):
        print(f"{path} {path.stat().st_size} bytes")
