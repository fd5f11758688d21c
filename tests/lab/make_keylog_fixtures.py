"""Captures with the client's SSLKEYLOGFILE, for decryption (real OpenSSL 3.0 on loopback).

    python -m tests.lab.make_keylog_fixtures [OUTDIR]      (root; from the repository's root)

Each scenario runs ``openssl s_server`` and ``openssl s_client -keylogfile K`` on 127.0.0.1 and records
the connection with tcpdump; the key log is the client's own, written by OpenSSL (NSS key log format).
Outputs ``<name>.pcap`` and ``<name>.keys`` into ``tests/fixtures/keylog/`` (see its MANIFEST.md).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.lab.make_fixtures import Lab
from tests.lab.netlab import background, tcpdump

BASE_PORT = 44700


def client_certificate_required_tls13(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3, the server requires a client certificate (-Verify 1), the client has none: the server's
    CertificateRequest is encrypted, and so is its alert 116 certificate_required after the client's
    Finished."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-Verify", "1", "-CAfile", str(lab.certs.ca_file)),
                    ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-keylogfile", str(keys), "-ign_eof", data=b"x")


def ok_tls13_chacha(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3 with TLS_CHACHA20_POLY1305_SHA256, completed: the server's encrypted Certificate is
    readable with the keys."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", "-www"),
                    ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-keylogfile", str(keys), "-ign_eof",
                     data=b"GET / HTTP/1.0\r\n\r\n")


def ok_tls13_aes256(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3 with TLS_AES_256_GCM_SHA384 (SHA-384 key schedule), completed."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384", "-www"),
                    ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-keylogfile", str(keys), "-ign_eof",
                     data=b"GET / HTTP/1.0\r\n\r\n")


def ok_tls12_gcm(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.2 with ECDHE-RSA-AES128-GCM-SHA256: the key log's CLIENT_RANDOM master secret decrypts the
    Finished messages and the close_notify alerts."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-www"),
                    ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_2", "-keylogfile", str(keys), "-ign_eof",
                     data=b"GET / HTTP/1.0\r\n\r\n")


def ok_tls12_chacha(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.2 with ECDHE-RSA-CHACHA20-POLY1305 (RFC 7905 nonces)."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305", "-www"),
                    ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_2", "-keylogfile", str(keys), "-ign_eof",
                     data=b"GET / HTTP/1.0\r\n\r\n")


SCENARIOS = {f.__name__: f for f in (client_certificate_required_tls13, ok_tls13_chacha, ok_tls13_aes256,
                                     ok_tls12_gcm, ok_tls12_chacha)}


def make(outdir: Path, names: list[str] | None = None) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory(prefix="tlsdoctor-keylog-") as work:
        lab = Lab(Path(work), BASE_PORT)
        for name in names or list(SCENARIOS):
            out, keys = outdir / f"{name}.pcap", outdir / f"{name}.keys"
            keys.unlink(missing_ok=True)
            SCENARIOS[name](lab, out, keys)
            made += [out, keys]
    return made


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/keylog")
    for path in make(target, sys.argv[2:] or None):
        print(f"{path} {path.stat().st_size} bytes")
