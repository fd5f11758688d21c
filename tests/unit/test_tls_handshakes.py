"""Real handshakes in memory: Python's ssl (OpenSSL) with MemoryBIOs on both ends, no sockets.

Each ``Transcript`` holds the exact bytes each side wrote, flight by flight, as a capture would
show them in TCP segments. Other ``test_tls_*`` modules import ``transcript(...)`` from here; the
tests in this module check the harness itself against what OpenSSL reports.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import ipaddress
import shutil
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Pki:
    directory: Path
    server_cert: Path
    server_key: Path
    expired_cert: Path
    expired_key: Path
    rsa_cert: Path
    rsa_key: Path
    client_cert: Path
    client_key: Path


def _write_cert(directory: Path, name: str, *, cn: str, days: tuple[int, int], rsa_key: bool = False,
                ca: bool = False) -> tuple[Path, Path]:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key = rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsdoctor tests")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(0x1234ABCD + days[0] * 7 + int(rsa_key))
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn), x509.DNSName("www." + cn),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{name}.pem"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@functools.cache
def pki() -> Pki:
    directory = Path(tempfile.mkdtemp(prefix="tlsdoctor-tls-"))
    atexit.register(shutil.rmtree, directory, True)
    server = _write_cert(directory, "server", cn="localhost", days=(-1, 30), ca=True)
    expired = _write_cert(directory, "expired", cn="expired.test", days=(-30, -2), ca=True)
    rsa_pair = _write_cert(directory, "rsa", cn="rsa.test", days=(-1, 30), rsa_key=True, ca=True)
    client = _write_cert(directory, "client", cn="client.test", days=(-1, 30), ca=True)
    return Pki(directory, *server, *expired, *rsa_pair, *client)


@dataclass
class Transcript:
    segments: list[tuple[bool, bytes]] = field(default_factory=list)
    """(from_client, bytes) in wire order; each entry is one write, like one TCP segment."""
    client_error: BaseException | None = None
    server_error: BaseException | None = None
    cipher: str | None = None
    version: str | None = None
    alpn: str | None = None
    client_done: bool = False
    server_done: bool = False

    def side(self, from_client: bool) -> list[bytes]:
        return [data for who, data in self.segments if who == from_client]

    def bytes_of(self, from_client: bool) -> bytes:
        return b"".join(self.side(from_client))


def client_context(*, min_version: ssl.TLSVersion | None = None, max_version: ssl.TLSVersion | None = None,
                   alpn: list[str] | None = None, verify: Path | None = None, cert: tuple[Path, Path] | None = None,
                   ciphers: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if verify is None:
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile=str(verify))
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    return ctx


def server_context(cert: tuple[Path, Path], *, min_version: ssl.TLSVersion | None = None,
                   max_version: ssl.TLSVersion | None = None, alpn: list[str] | None = None,
                   curve: str | None = None, require_client_cert: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    if min_version is not None:
        ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if curve is not None:
        ctx.set_ecdh_curve(curve)
    if require_client_cert is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(require_client_cert))
    return ctx


def run_handshake(client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, sni: str | None = None,
                  max_rounds: int = 20) -> Transcript:
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out, server_side=False, server_hostname=sni)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    t = Transcript()
    for _ in range(max_rounds):
        moved = False
        if not t.client_done and t.client_error is None:
            try:
                client.do_handshake()
                t.client_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                t.client_error = exc
        data = c_out.read()
        if data:
            moved = True
            t.segments.append((True, data))
            s_in.write(data)
        if not t.server_done and t.server_error is None:
            try:
                server.do_handshake()
                t.server_done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                t.server_error = exc
        data = s_out.read()
        if data:
            moved = True
            t.segments.append((False, data))
            c_in.write(data)
        if not moved and (t.client_done or t.client_error) and (t.server_done or t.server_error):
            break
    if t.client_done:
        cipher = client.cipher()
        t.cipher = cipher[0] if cipher else None
        t.version = client.version()
        t.alpn = client.selected_alpn_protocol()
    return t


def _certs() -> tuple[Path, Path]:
    p = pki()
    return p.server_cert, p.server_key


@functools.cache
def transcript(name: str) -> Transcript:
    """The named scenarios used across the TLS tests (computed once per test session)."""
    p = pki()
    server_pair = (p.server_cert, p.server_key)
    v12, v13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    if name == "tls13_sni_alpn":
        return run_handshake(client_context(alpn=["h2", "http/1.1"]), server_context(server_pair, alpn=["http/1.1"]),
                             sni="localhost")
    if name == "tls13_no_sni":
        return run_handshake(client_context(), server_context(server_pair))
    if name == "tls12_alpn":
        return run_handshake(client_context(max_version=v12, alpn=["h2", "http/1.1"]),
                             server_context(server_pair, alpn=["http/1.1"]), sni="localhost")
    if name == "tls12_sni":
        return run_handshake(client_context(max_version=v12), server_context(server_pair), sni="example.test")
    if name == "tls12_rsa_no_sni":
        return run_handshake(client_context(max_version=v12, ciphers="ECDHE-RSA-AES128-GCM-SHA256"),
                             server_context((p.rsa_cert, p.rsa_key)))
    if name == "tls13_hrr":
        return run_handshake(client_context(), server_context(server_pair, curve="prime256v1"), sni="localhost")
    if name == "tls12_client_cert":
        return run_handshake(client_context(max_version=v12, cert=(p.client_cert, p.client_key)),
                             server_context(server_pair, require_client_cert=p.client_cert), sni="localhost")
    if name == "tls12_client_cert_missing":
        return run_handshake(client_context(max_version=v12),
                             server_context(server_pair, require_client_cert=p.client_cert), sni="localhost")
    if name == "tls12_expired":
        return run_handshake(client_context(max_version=v12, verify=p.expired_cert),
                             server_context((p.expired_cert, p.expired_key)), sni="expired.test")
    if name == "tls13_expired":
        return run_handshake(client_context(verify=p.expired_cert),
                             server_context((p.expired_cert, p.expired_key)), sni="expired.test")
    if name == "version_mismatch":
        return run_handshake(client_context(max_version=v12), server_context(server_pair, min_version=v13),
                             sni="localhost")
    raise KeyError(name)


COMPLETING = ("tls13_sni_alpn", "tls13_no_sni", "tls12_alpn", "tls12_sni", "tls12_rsa_no_sni", "tls13_hrr",
              "tls12_client_cert")
SCENARIOS = (*COMPLETING, "tls12_client_cert_missing", "tls12_expired", "tls13_expired", "version_mismatch")


# --- the harness itself ---------------------------------------------------------------------------

def test_successful_scenarios_complete() -> None:
    for name in COMPLETING:
        t = transcript(name)
        assert t.client_done and t.server_done, (name, t.client_error, t.server_error)


def test_failing_scenarios_fail_as_intended() -> None:
    assert "CERTIFICATE_VERIFY_FAILED" in str(transcript("tls12_expired").client_error)
    assert "CERTIFICATE_VERIFY_FAILED" in str(transcript("tls13_expired").client_error)
    assert transcript("version_mismatch").server_error is not None
    assert transcript("tls12_client_cert_missing").server_error is not None
