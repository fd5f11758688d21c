"""The lab's tools: certificates, real servers and clients, and tcpdump, on loopback.

Everything here starts real software (openssl s_server / s_client, nginx, Python's ssl) on 127.0.0.1
or ::1 at ports the caller names, captures with tcpdump on ``lo`` with a filter on those ports only,
and stops what it started. Waits are bounded. Traffic never leaves the machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def lab_available() -> tuple[bool, str]:
    """Whether this machine can run the lab, and if not, why (for pytest.skip)."""
    if os.geteuid() != 0:
        return False, "the lab needs root (tcpdump on lo)"
    for tool in ("tcpdump", "openssl"):
        if shutil.which(tool) is None:
            return False, f"{tool} is not installed (scripts/test.sh installs it)"
    return True, ""


# --- certificates --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path
    chain: Path  # leaf + intermediates, for servers


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class CertFactory:
    """A private CA, an intermediate, and leaves for the names a scenario needs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        root = _name("tlsdoctor lab root")
        self.ca = (x509.CertificateBuilder().subject_name(root).issuer_name(root)
                   .public_key(self.ca_key.public_key()).serial_number(1)
                   .not_valid_before(now - dt.timedelta(days=30)).not_valid_after(now + dt.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                   .sign(self.ca_key, hashes.SHA256()))
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = (x509.CertificateBuilder().subject_name(_name("tlsdoctor lab intermediate"))
                             .issuer_name(self.ca.subject).public_key(self.int_key.public_key()).serial_number(2)
                             .not_valid_before(now - dt.timedelta(days=30))
                             .not_valid_after(now + dt.timedelta(days=3650))
                             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                             .sign(self.ca_key, hashes.SHA256()))
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        self._serial = 100

    def leaf(self, name: str, *, rsa_key: bool = True, expired: bool = False, self_signed: bool = False,
             client: bool = False) -> Issued:
        self._serial += 1
        now = dt.datetime.now(dt.UTC)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if rsa_key \
            else ec.generate_private_key(ec.SECP256R1())
        if expired:
            nb, na = now - dt.timedelta(days=400), now - dt.timedelta(days=35)
        else:
            nb, na = now - dt.timedelta(days=1), now + dt.timedelta(days=90)
        issuer, signer = (_name(name), key) if self_signed else (self.intermediate.subject, self.int_key)
        usage = x509.ExtendedKeyUsageOID.CLIENT_AUTH if client else x509.ExtendedKeyUsageOID.SERVER_AUTH
        cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(issuer).public_key(key.public_key())
                .serial_number(self._serial).not_valid_before(nb).not_valid_after(na)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(signer, hashes.SHA256()))
        stem = self.folder / f"{name}{'-expired' if expired else ''}{'-self' if self_signed else ''}"
        cert_file, key_file, chain_file = Path(f"{stem}.crt"), Path(f"{stem}.key"), Path(f"{stem}.chain.pem")
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        chain_file.write_bytes(cert_pem + (b"" if self_signed else
                                           self.intermediate.public_bytes(serialization.Encoding.PEM)))
        return Issued(cert_file, key_file, chain_file)


# --- processes -----------------------------------------------------------------------------------

def wait_port(host: str, port: int, timeout: float = 5.0) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


@contextlib.contextmanager
def background(cmd: list[str], *, ready_port: tuple[str, int] | None = None,
               settle: float = 0.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in the background for the duration of the block; stop it afterwards."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        if ready_port is not None:
            wait_port(*ready_port)
        if settle:
            time.sleep(settle)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def run(cmd: list[str], *, stdin: bytes = b"", timeout: float = 10.0) -> subprocess.CompletedProcess[bytes]:
    """Run a client to completion (bounded)."""
    try:
        return subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(cmd, -1, exc.stdout or b"", exc.stderr or b"")


@contextlib.contextmanager
def tcpdump(out: Path, ports: list[int], *, interface: str = "lo", extra: list[str] | None = None,
            netns: str | None = None) -> Iterator[None]:
    """Capture ``tcp port P1 or tcp port P2 ...`` on ``interface`` (in network namespace ``netns``, if
    given) into ``out`` for the block."""
    flt = " or ".join(f"tcp port {p}" for p in ports)
    # --immediate-mode: without it libpcap holds packets in its ring buffer for up to a second, and
    # those still there when tcpdump gets SIGINT are lost (the capture came out empty).
    cmd = ["tcpdump", "-i", interface, "--immediate-mode", "-U", "-n", "-s", "0", "-w", str(out), *(extra or []), flt]
    if netns is not None:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 10
        line = b""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if b"listening on" in line or not line:
                break
        if b"listening on" not in line:
            raise RuntimeError(f"tcpdump did not start: {line!r}")
        time.sleep(0.3)
        yield
        time.sleep(1.0)  # let the last packets reach the file
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    with contextlib.suppress(OSError):
        out.chmod(0o644)
