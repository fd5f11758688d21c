"""Servers that misbehave in exactly one way each, on loopback: nginx, openssl s_server and small
Python socket servers (silent, resetting, plain HTTP, hostile, an SNI-keyed RST relay, a relay that
loses the later segments of a large ClientHello). Every one is a context manager that stops what it
started; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tlsdoctor.tls.messages import ClientHello, parse_client_hello

WAIT = 5.0


def lab_skip_reason(need_nginx: bool = False) -> str | None:
    """Why the probe lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the probe lab runs as root (it starts nginx and servers)"
    if shutil.which("openssl") is None:
        return "openssl is not installed"
    if need_nginx and shutil.which("nginx") is None:
        return "nginx is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, deadline: float = WAIT) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline} s")


# --- certificates --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


class Certs:
    """A private CA and leaves signed by it (RSA or ECDSA, valid or expired, server or client)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        now = dt.datetime.now(dt.UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlsdoctor probe test CA")])
        self.ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.ca_key.public_key())
                   .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(self.ca_key, hashes.SHA256()))
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        self._serial = 10

    def leaf(self, name: str, *, rsa_key: bool = True, expired: bool = False) -> Issued:
        self._serial += 1
        now = dt.datetime.now(dt.UTC)
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048) if rsa_key
            else ec.generate_private_key(ec.SECP256R1()))
        start, end = ((now - dt.timedelta(days=60), now - dt.timedelta(days=30)) if expired
                      else (now - dt.timedelta(days=1), now + dt.timedelta(days=30)))
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(self.ca.subject).public_key(key.public_key()).serial_number(self._serial)
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .sign(self.ca_key, hashes.SHA256()))
        stem = f"{name}-{self._serial}"
        cert_file, key_file = self.folder / f"{stem}.pem", self.folder / f"{stem}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return Issued(cert_file, key_file)


# --- real TLS servers ----------------------------------------------------------------------------

@contextlib.contextmanager
def _process(argv: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(port)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=WAIT)


@contextlib.contextmanager
def openssl_server(folder: Path, leaf: Issued, *extra: str) -> Iterator[int]:
    """``openssl s_server`` (iterative: one connection at a time) on a free port."""
    port = free_port()
    argv = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(leaf.cert), "-key", str(leaf.key),
            "-quiet", "-naccept", "1000", *extra]
    with _process(argv, port, folder / f"s_server-{port}.log"):
        yield port


@contextlib.contextmanager
def nginx_strict_sni(folder: Path, name: str, leaf: Issued) -> Iterator[int]:
    """nginx with ``ssl_reject_handshake on`` as the default server and one named server."""
    port = free_port()
    prefix = folder / f"nginx-{port}"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process off;
worker_processes 1;
error_log {prefix}/error.log info;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy; fastcgi_temp_path {prefix}/fcgi;
    uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {name};
        ssl_certificate {leaf.cert};
        ssl_certificate_key {leaf.key};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
    argv = ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    with _process(argv, port, prefix / "stdout.log"):
        yield port


# --- Python socket servers -----------------------------------------------------------------------

class _Server:
    """A threaded TCP server on 127.0.0.1 calling ``handle(conn)`` for each connection."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.handle = handle
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.handle(conn)

    def __enter__(self) -> int:
        self.thread.start()
        return self.port

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=WAIT)
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()


def read_client_hello(conn: socket.socket, timeout: float = 2.0) -> bytes:
    """Read one whole ClientHello record (or whatever arrives before the timeout)."""
    conn.settimeout(timeout)
    data = b""
    with contextlib.suppress(OSError):
        while len(data) < 5 or len(data) < 5 + struct.unpack(">H", data[3:5])[0]:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def sni_of(record: bytes) -> str | None:
    if len(record) < 9 or record[0] != 22 or record[5] != 1:
        return None
    hello = parse_client_hello(record[9:9 + int.from_bytes(record[6:9], "big")])
    return hello.server_name if isinstance(hello, ClientHello) else None


def _reset(conn: socket.socket) -> None:
    # SO_LINGER with a zero timeout: close() sends a RST instead of a FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def silent_server() -> _Server:
    """Accepts, reads the ClientHello (the kernel ACKs it), never answers."""
    def handle(conn: socket.socket) -> None:
        read_client_hello(conn, timeout=30)
        time.sleep(30)
    return _Server(handle)


def reset_server() -> _Server:
    """Reads the ClientHello, then resets the connection."""
    def handle(conn: socket.socket) -> None:
        read_client_hello(conn)
        _reset(conn)
    return _Server(handle)


def http_server() -> _Server:
    """Plain HTTP on the TLS port: answers any bytes with a 400, as nginx does."""
    def handle(conn: socket.socket) -> None:
        read_client_hello(conn)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.shutdown(socket.SHUT_WR)
        time.sleep(0.5)
    return _Server(handle)


def endless_server() -> _Server:
    """A ServerHello header announcing 16 MB, then bytes for ever (as fast as the client reads)."""
    def handle(conn: socket.socket) -> None:
        read_client_hello(conn)
        conn.sendall(struct.pack(">BHH", 22, 0x0303, 16384) + b"\x02\x00\x3f\xff")
        block = bytes(65536)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            conn.sendall(block)
    return _Server(handle)


def dripping_server() -> _Server:
    """One byte of a ServerHello a second."""
    def handle(conn: socket.socket) -> None:
        read_client_hello(conn)
        for byte in struct.pack(">BHH", 22, 0x0303, 90) + b"\x02" + bytes(40):
            conn.sendall(bytes((byte,)))
            time.sleep(1.0)
    return _Server(handle)


def relay(upstream_port: int, *, reset_sni: str | None = None, forward_limit: int | None = None) -> _Server:
    """A TCP relay to 127.0.0.1:upstream_port standing for a box on the path.

    ``reset_sni``: when the ClientHello names this server, reset both sides instead of forwarding (a
    SNI filter that forges RSTs: each end sees the other reset). ``forward_limit``: forward only that
    many bytes of the client's first flight and drop the rest (a path that loses the later segments
    of a large ClientHello).
    """
    def handle(conn: socket.socket) -> None:
        first = read_client_hello(conn)
        if reset_sni is not None and sni_of(first) == reset_sni:
            _reset(conn)
            return
        up = socket.create_connection(("127.0.0.1", upstream_port), timeout=WAIT)
        if forward_limit is not None and len(first) > forward_limit:
            up.sendall(first[:forward_limit])
            time.sleep(30)
            return
        up.sendall(first)
        _pump(conn, up)
    return _Server(handle)


def _pump(a: socket.socket, b: socket.socket) -> None:
    def one_way(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            src.settimeout(30)
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=one_way, args=(b, a), daemon=True)
    t.start()
    one_way(a, b)
    t.join(timeout=30)
    for s in (a, b):
        with contextlib.suppress(OSError):
            s.close()


def huge_certificate_server() -> _Server:
    """A plausible TLS 1.2 ServerHello, then a Certificate message announcing 100 MB, streamed for ever."""
    def handle(conn: socket.socket) -> None:
        read_client_hello(conn)
        renegotiation_info = b"\xff\x01\x00\x01\x00"  # RFC 5746, else OpenSSL 3 refuses the server outright
        body = (struct.pack(">H", 0x0303) + os.urandom(32) + b"\x00"
                + struct.pack(">HBH", 0xC02F, 0, len(renegotiation_info)) + renegotiation_info)
        hello = b"\x02" + len(body).to_bytes(3, "big") + body
        # 100 MB does not fit a handshake length (24 bits): announce the largest, 16 MB, and keep sending.
        cert_header = b"\x0b\xff\xff\xff"
        conn.sendall(struct.pack(">BHH", 22, 0x0303, len(hello)) + hello)
        chunk = bytes(16384 - len(cert_header))
        conn.sendall(struct.pack(">BHH", 22, 0x0303, 16384) + cert_header + chunk)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            conn.sendall(struct.pack(">BHH", 22, 0x0303, 16384) + bytes(16384))
    return _Server(handle)
