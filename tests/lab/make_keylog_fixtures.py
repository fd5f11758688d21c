"""Captures with the client's SSLKEYLOGFILE, for decryption (real OpenSSL 3.0 on loopback).

    python -m tests.lab.make_keylog_fixtures [OUTDIR]      (root; from the repository's root)

Each scenario runs ``openssl s_server`` and ``openssl s_client -keylogfile K`` on 127.0.0.1 and records
the connection with tcpdump; the key log is the client's own, written by OpenSSL (NSS key log format).
Outputs ``<name>.pcap`` and ``<name>.keys`` into ``tests/fixtures/keylog/`` (see its MANIFEST.md).
The first five scenarios use ports 44701 and up, the later ones 44601 and up (``LATER_BASE_PORT``), so
that making one again does not change the others. One file is derived, not captured:
``server_certificate_expired_tls13.corrupted.keys`` (one hex digit of each handshake traffic secret
flipped, for the wrong-keys case). The pcapng with a Decryption Secrets Block is made by the test itself
(``editcap --inject-secrets``), not committed: tshark would decrypt it on its own, and the other oracle
tests compare with tshark without keys.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.lab.make_fixtures import Lab
from tests.lab.netlab import background, tcpdump

BASE_PORT = 44700
LATER_BASE_PORT = 44600


def client_certificate_required_tls13(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3, the server requires a client certificate (-Verify 1), the client has none: the server's
    CertificateRequest is encrypted, and so is its alert 116 certificate_required after the client's
    Finished."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-Verify", "1", "-CAfile", str(lab.certs.ca_file)),
                    ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-keylogfile", str(keys), "-ign_eof", data=b"x")


def _ok_www(lab: Lab, out: Path, keys: Path, version: str, suites: tuple[str, str]) -> None:
    """A completed handshake with one suite forced on the server (``-ciphersuites`` for TLS 1.3,
    ``-cipher`` for 1.2), s_client logging its keys and sending one request to ``-www``."""
    p = lab.next_port()
    with background(lab.s_server(p, version, *suites, "-www"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", version, "-keylogfile", str(keys), "-ign_eof",
                     data=b"GET / HTTP/1.0\r\n\r\n")


def ok_tls13_chacha(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3 with TLS_CHACHA20_POLY1305_SHA256, completed: the server's encrypted Certificate is
    readable with the keys."""
    _ok_www(lab, out, keys, "-tls1_3", ("-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"))


def ok_tls13_aes256(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3 with TLS_AES_256_GCM_SHA384 (SHA-384 key schedule), completed."""
    _ok_www(lab, out, keys, "-tls1_3", ("-ciphersuites", "TLS_AES_256_GCM_SHA384"))


def ok_tls12_gcm(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.2 with ECDHE-RSA-AES128-GCM-SHA256: the key log's CLIENT_RANDOM master secret decrypts the
    Finished messages and the close_notify alerts."""
    _ok_www(lab, out, keys, "-tls1_2", ("-cipher", "ECDHE-RSA-AES128-GCM-SHA256"))


def ok_tls12_chacha(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.2 with ECDHE-RSA-CHACHA20-POLY1305 (RFC 7905 nonces)."""
    _ok_www(lab, out, keys, "-tls1_2", ("-cipher", "ECDHE-RSA-CHACHA20-POLY1305"))


def ok_tls13_aes128(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3 with TLS_AES_128_GCM_SHA256, completed."""
    _ok_www(lab, out, keys, "-tls1_3", ("-ciphersuites", "TLS_AES_128_GCM_SHA256"))


def ok_tls13_ccm(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3 with TLS_AES_128_CCM_SHA256 (offered by neither side by default: both are told to)."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256"),
                    ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256",
                     "-keylogfile", str(keys))


def ok_tls12_ccm(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.2 with ECDHE-ECDSA-AES128-CCM (RFC 7251; the lab's ECDSA certificate)."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-CCM", leaf=lab.ecdsa),
                    ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "ecdsa.test", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-CCM",
                     "-keylogfile", str(keys))


def server_certificate_expired_tls13(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3, the server's certificate expired; s_client -verify_return_error refuses it: its alert
    (45 certificate_expired) is encrypted under the client's handshake traffic secret."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3", leaf=lab.expired), ready_port=("127.0.0.1", p)), \
            tcpdump(out, [p]):
        lab.s_client(p, "-servername", "expired.test", "-tls1_3", "-verify_return_error", "-keylogfile", str(keys))


def server_name_mismatch_tls13(lab: Lab, out: Path, keys: Path) -> None:
    """TLS 1.3, the certificate is for origin.test, the client checks other.test
    (-verify_hostname -verify_return_error): its encrypted alert."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "other.test", "-tls1_3", "-verify_hostname", "other.test",
                     "-verify_return_error", "-keylogfile", str(keys))


def one_of_two_keyed_tls13(lab: Lab, out: Path, keys: Path) -> None:
    """Two TLS 1.3 connections to one server; only the first client wrote a key log, so the key log
    lacks the second connection's client random."""
    p = lab.next_port()
    with background(lab.s_server(p, "-tls1_3"), ready_port=("127.0.0.1", p)), tcpdump(out, [p]):
        lab.s_client(p, "-servername", "origin.test", "-tls1_3", "-keylogfile", str(keys))
        lab.s_client(p, "-servername", "origin.test", "-tls1_3")


def corrupt(keys: Path, out: Path) -> None:
    """The key log with one hex digit of each handshake traffic secret flipped (the wrong-keys case)."""
    lines = []
    for line in keys.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].endswith("HANDSHAKE_TRAFFIC_SECRET"):
            parts[2] = ("1" if parts[2][0] == "0" else "0") + parts[2][1:]
        lines.append(" ".join(parts))
    out.write_text("\n".join(lines) + "\n")


SCENARIOS = {f.__name__: f for f in (client_certificate_required_tls13, ok_tls13_chacha, ok_tls13_aes256,
                                     ok_tls12_gcm, ok_tls12_chacha)}
LATER_SCENARIOS = {f.__name__: f for f in (ok_tls13_aes128, server_certificate_expired_tls13,
                                           server_name_mismatch_tls13, one_of_two_keyed_tls13, ok_tls13_ccm,
                                           ok_tls12_ccm)}


def make(outdir: Path, names: list[str] | None = None) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    made = []
    with tempfile.TemporaryDirectory(prefix="tlsdoctor-keylog-") as work:
        lab = Lab(Path(work) / "first", BASE_PORT)
        later = Lab(Path(work) / "later", LATER_BASE_PORT)
        for name in names or [*SCENARIOS, *LATER_SCENARIOS]:
            out, keys = outdir / f"{name}.pcap", outdir / f"{name}.keys"
            keys.unlink(missing_ok=True)
            if name in SCENARIOS:
                SCENARIOS[name](lab, out, keys)
            else:
                LATER_SCENARIOS[name](later, out, keys)
            made += [out, keys]
            if name == "server_certificate_expired_tls13":
                corrupt(keys, outdir / f"{name}.corrupted.keys")
                made.append(outdir / f"{name}.corrupted.keys")
    return made


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/keylog")
    for path in make(target, sys.argv[2:] or None):
        print(f"{path} {path.stat().st_size} bytes")
