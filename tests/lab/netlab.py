"""The lab's tools: certificates, network namespaces, real servers and clients, and tcpdump.

Everything here starts real software (openssl s_server / s_client, nginx, curl, Python's ssl) either on
127.0.0.1 / ::1 at ports the caller names, or inside network namespaces this module creates
(:class:`Topology`: a client namespace, an optional middle one that routes, a server namespace, joined by
veth pairs). Captures are tcpdump's (or dumpcap's), started and awaited until they listen, stopped with
SIGINT. Everything started is stopped, every namespace made is deleted, in ``finally`` blocks; every
wait is bounded.

Where traffic may go: loopback, and addresses inside our own namespaces, taken only from the
documentation and benchmarking ranges 198.51.100.0/24, 203.0.113.0/24, 198.18.0.0/15 and 2001:db8::/32.
A namespace has no interface but the veths we give it, so nothing can leave it. Namespace and interface
names start with ``tdlab`` and carry our pid, so parallel runs do not collide and we delete only ours.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
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


def lab_available(*, namespaces: bool = True) -> tuple[bool, str]:
    """Whether this machine can run the lab, and if not, why (for pytest.skip): root, tcpdump, openssl,
    and (unless ``namespaces=False``) a network namespace that can actually be made and removed."""
    if os.geteuid() != 0:
        return False, "the lab needs root (tcpdump, network namespaces)"
    for tool in ("tcpdump", "openssl", *(("ip",) if namespaces else ())):
        if shutil.which(tool) is None:
            return False, f"{tool} is not installed (scripts/test.sh installs it)"
    if namespaces:
        probe = f"tdlab-{os.getpid()}-probe"
        try:
            made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"ip netns does not work here: {exc}"
        if made.returncode != 0:
            return False, f"network namespaces do not work here: {made.stderr.strip()}"
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10, check=False)
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
        self.intermediate_file = folder / "intermediate.pem"
        self.intermediate_file.write_bytes(self.intermediate.public_bytes(serialization.Encoding.PEM))
        self._serial = 100

    def leaf(self, name: str, *, rsa_key: bool = True, expired: bool = False, self_signed: bool = False,
             client: bool = False, from_root: bool = False, not_yet_valid: bool = False) -> Issued:
        """A leaf for ``name`` (also its only SAN): RSA 2048 or ECDSA P-256; valid for 90 days from yesterday,
        or expired 35 days ago (``expired``); issued by the intermediate (the chain file holds leaf +
        intermediate), by the root directly (``from_root``: a short chain, for small captures), or
        self-signed."""
        self._serial += 1
        now = dt.datetime.now(dt.UTC)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if rsa_key \
            else ec.generate_private_key(ec.SECP256R1())
        if expired:
            nb, na = now - dt.timedelta(days=400), now - dt.timedelta(days=35)
        elif not_yet_valid:  # a certificate issued with a notBefore in the future (a wrong clock at the CA)
            nb, na = now + dt.timedelta(days=2), now + dt.timedelta(days=92)
        else:
            nb, na = now - dt.timedelta(days=1), now + dt.timedelta(days=90)
        if self_signed:
            issuer, signer = _name(name), key
        elif from_root:
            issuer, signer = self.ca.subject, self.ca_key
        else:
            issuer, signer = self.intermediate.subject, self.int_key
        usage = x509.ExtendedKeyUsageOID.CLIENT_AUTH if client else x509.ExtendedKeyUsageOID.SERVER_AUTH
        cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(issuer).public_key(key.public_key())
                .serial_number(self._serial).not_valid_before(nb).not_valid_after(na)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .sign(signer, hashes.SHA256()))
        stem = self.folder / (f"{name}{'-expired' if expired else ''}{'-future' if not_yet_valid else ''}"
                              f"{'-self' if self_signed else ''}"
                              f"{'-root' if from_root else ''}{'-ec' if not rsa_key else ''}")
        cert_file, key_file, chain_file = Path(f"{stem}.crt"), Path(f"{stem}.key"), Path(f"{stem}.chain.pem")
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        chain_file.write_bytes(cert_pem + (b"" if self_signed or from_root else
                                           self.intermediate.public_bytes(serialization.Encoding.PEM)))
        return Issued(cert_file, key_file, chain_file)


# --- processes -----------------------------------------------------------------------------------

def in_ns(netns: str | None, cmd: list[str]) -> list[str]:
    """``cmd`` as run inside network namespace ``netns`` (or as is, for the host's)."""
    return cmd if netns is None else ["ip", "netns", "exec", netns, *cmd]


def wait_port(host: str, port: int, timeout: float = 5.0, *, netns: str | None = None) -> None:
    """Wait (bounded) until something listens on host:port: by connecting on the host, or, inside a
    namespace (where our sockets cannot reach), by asking ``ss`` there for a listening socket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if netns is not None:
            listening = subprocess.run(in_ns(netns, ["ss", "-Hltn", f"sport = :{port}"]), capture_output=True,
                                       text=True, timeout=5, check=False).stdout
            if listening.strip():
                return
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(0.2)
                if s.connect_ex((host, port)) == 0:
                    return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the process group we started (and only it): ``sig``, then SIGKILL after 5 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextlib.contextmanager
def background(cmd: list[str], *, ready_port: tuple[str, int] | None = None, settle: float = 0.0,
               netns: str | None = None, stdout: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in the background (in ``netns``, if given) for the duration of the block; wait until
    it listens on ``ready_port``; stop it (its whole process group) afterwards."""
    out = stdout.open("wb") if stdout is not None else subprocess.DEVNULL
    proc = subprocess.Popen(in_ns(netns, cmd), stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT
                            if stdout is not None else subprocess.DEVNULL, start_new_session=True)
    try:
        if ready_port is not None:
            wait_port(*ready_port, netns=netns)
        if settle:
            time.sleep(settle)
        yield proc
    finally:
        _stop(proc)
        if stdout is not None and not isinstance(out, int):
            out.close()


def run(cmd: list[str], *, stdin: bytes = b"", timeout: float = 10.0,
        netns: str | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a client to completion (bounded; a timeout is a result, returncode -1, not an exception)."""
    try:
        return subprocess.run(in_ns(netns, cmd), input=stdin, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(cmd, -1, exc.stdout or b"", exc.stderr or b"")


def must(cmd: list[str], *, netns: str | None = None, timeout: float = 10.0) -> str:
    """Run a set-up command that has to work; raise with its stderr if it does not."""
    done = subprocess.run(in_ns(netns, cmd), capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(in_ns(netns, cmd))}: {done.stderr.strip()}")
    return done.stdout


def port_filter(ports: list[int]) -> str:
    return " or ".join(f"tcp port {p}" for p in ports)


@contextlib.contextmanager
def tcpdump(out: Path, ports: list[int] | None = None, *, interface: str = "lo", extra: list[str] | None = None,
            netns: str | None = None, bpf: str | None = None) -> Iterator[None]:
    """Capture ``tcp port P1 or tcp port P2 ...`` (or the filter ``bpf``) on ``interface`` (in network
    namespace ``netns``, if given) into ``out`` for the block: wait until tcpdump says it is listening,
    and stop it with SIGINT, so that it flushes and closes the file."""
    flt = bpf if bpf is not None else port_filter(ports or [])
    # --immediate-mode: without it libpcap holds packets in its ring buffer for up to a second, and
    # those still there when tcpdump gets SIGINT are lost (the capture came out empty).
    cmd = ["tcpdump", "-i", interface, "--immediate-mode", "-U", "-n", "-s", "0", "-w", str(out), *(extra or []),
           *([flt] if flt else [])]
    proc = subprocess.Popen(in_ns(netns, cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
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
        _stop(proc, signal.SIGINT)
    with contextlib.suppress(OSError):
        out.chmod(0o644)


@contextlib.contextmanager
def dumpcap(out: Path, bpf: str, *, interface: str = "lo", netns: str | None = None) -> Iterator[None]:
    """Capture natively as pcapng with Wireshark's dumpcap. It says nothing when it is ready with -q, so
    we wait for the file to appear with its section header, then a little."""
    proc = subprocess.Popen(in_ns(netns, ["dumpcap", "-q", "-i", interface, "-f", bpf, "-w", str(out)]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 0):
            time.sleep(0.05)
        time.sleep(1.0)
        yield
        time.sleep(1.0)
    finally:
        _stop(proc, signal.SIGINT)
    with contextlib.suppress(OSError):
        out.chmod(0o644)


# --- network namespaces --------------------------------------------------------------------------

@dataclass(frozen=True)
class Host:
    """One end of the topology: its namespace, its interface towards the other side, its address(es)."""

    netns: str
    iface: str
    ip: str
    ip6: str | None = None


class Topology:
    """client ns <-> [middle ns, routing] <-> server ns, joined by veth pairs, for the block.

    Without a middle: one /24 of ``subnet`` (client .1, server .2). With one: the client's side is
    198.51.100.0/24 (client .10, middle .1), the server's 203.0.113.0/24 (middle .1, server .10); the
    middle forwards, the ends route through it. IPv6 (``ipv6=True``): 2001:db8:N::/64 likewise, without
    duplicate address detection. Offloads are left as they are. Extra addresses for servers with
    :meth:`add_address`. Names: ``tdlab-<pid>-<tag>-c|m|s`` for namespaces, ``tdlab<pid><n><x>`` for
    interfaces (at most 15 characters). Deleting a namespace deletes the veth ends in it.
    """

    _count = 0

    def __init__(self, tag: str, *, middle: bool = False, wire: bool = False, ipv6: bool = False,
                 subnet: str = "198.51.100") -> None:
        Topology._count += 1
        pid = os.getpid()
        self.tag, self.has_middle, self.ipv6, self.subnet = tag, middle or wire, ipv6, subnet
        self.wire = wire  # a middle that is a wire (for an L2 relay): no addresses, ends on one subnet
        self._n = Topology._count % 100
        self._ns_made: list[str] = []
        prefix = f"tdlab-{pid}-{tag}"
        self.client_ns, self.middle_ns, self.server_ns = f"{prefix}-c", f"{prefix}-m", f"{prefix}-s"
        self._if = f"tdlab{pid}{self._n:02d}"
        if wire:
            self.client = Host(self.client_ns, f"{self._if}c", f"{subnet}.1", None)
            self.server = Host(self.server_ns, f"{self._if}s", f"{subnet}.2", None)
            self.middle_client_side = Host(self.middle_ns, f"{self._if}m", "")
            self.middle_server_side = Host(self.middle_ns, f"{self._if}n", "")
        elif middle:
            self.client = Host(self.client_ns, f"{self._if}c", "198.51.100.10", "2001:db8:1::10" if ipv6 else None)
            self.server = Host(self.server_ns, f"{self._if}s", "203.0.113.10", "2001:db8:2::10" if ipv6 else None)
            self.middle_client_side = Host(self.middle_ns, f"{self._if}m", "198.51.100.1",
                                           "2001:db8:1::1" if ipv6 else None)
            self.middle_server_side = Host(self.middle_ns, f"{self._if}n", "203.0.113.1",
                                           "2001:db8:2::1" if ipv6 else None)
        else:
            self.client = Host(self.client_ns, f"{self._if}c", f"{subnet}.1", "2001:db8:1::1" if ipv6 else None)
            self.server = Host(self.server_ns, f"{self._if}s", f"{subnet}.2", "2001:db8:1::2" if ipv6 else None)

    # -- life cycle
    def __enter__(self) -> Topology:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _netns(self, name: str) -> None:
        must(["ip", "netns", "add", name])
        self._ns_made.append(name)
        must(["ip", "-n", name, "link", "set", "lo", "up"])
        if not self.ipv6:  # no router solicitations, MLD reports or ND in the captures
            for key in ("default", "all"):
                must(["sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1"], netns=name)

    def _veth(self, a: Host, b: Host, prefix_len: int) -> None:
        must(["ip", "link", "add", a.iface, "netns", a.netns, "type", "veth", "peer", "name", b.iface,
              "netns", b.netns])
        for h in (a, b):
            if h.ip:
                must(["ip", "-n", h.netns, "addr", "add", f"{h.ip}/{prefix_len}", "dev", h.iface])
            if h.ip6 is not None:
                must(["ip", "-n", h.netns, "-6", "addr", "add", f"{h.ip6}/64", "dev", h.iface, "nodad"])
            must(["ip", "-n", h.netns, "link", "set", h.iface, "up"])

    def _build(self) -> None:
        for ns in (self.client_ns, *((self.middle_ns,) if self.has_middle else ()), self.server_ns):
            self._netns(ns)
        if not self.has_middle:
            self._veth(self.client, self.server, 24)
            return
        self._veth(self.client, self.middle_client_side, 24)
        self._veth(self.middle_server_side, self.server, 24)
        if self.wire:
            return
        must(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], netns=self.middle_ns)
        must(["ip", "-n", self.client_ns, "route", "add", "203.0.113.0/24", "via", self.middle_client_side.ip])
        must(["ip", "-n", self.server_ns, "route", "add", "198.51.100.0/24", "via", self.middle_server_side.ip])
        if self.ipv6:
            must(["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"], netns=self.middle_ns)
            must(["ip", "-n", self.client_ns, "-6", "route", "add", "2001:db8:2::/64", "via",
                  str(self.middle_client_side.ip6)])
            must(["ip", "-n", self.server_ns, "-6", "route", "add", "2001:db8:1::/64", "via",
                  str(self.middle_server_side.ip6)])

    def close(self) -> None:
        for ns in reversed(self._ns_made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10, check=False)
        self._ns_made.clear()

    # -- helpers
    def add_address(self, host: Host, ip: str) -> str:
        """Another address on ``host``'s interface (in its own /24 or /64), e.g. for a second server."""
        six = ":" in ip
        must(["ip", "-n", host.netns, *(["-6"] if six else []), "addr", "add", f"{ip}/{64 if six else 24}", "dev",
              host.iface, *(["nodad"] if six else [])])
        return ip

    def mac(self, host: Host) -> str:
        return str(json.loads(must(["ip", "-j", "-n", host.netns, "link", "show", "dev", host.iface]))[0]["address"])

    def static_neighbours(self) -> None:
        """Permanent ARP entries on both ends for each other: no ARP in the captures, whatever the timing."""
        for me, peer in ((self.client, self.server), (self.server, self.client)):
            must(["ip", "-n", me.netns, "neigh", "replace", peer.ip, "lladdr", self.mac(peer), "dev", me.iface,
                  "nud", "permanent"])

    def add_veth_pair(self, netns: str, suffix_a: str, suffix_b: str) -> tuple[str, str]:
        """A veth pair with both ends in ``netns`` (for a relay that needs a wire of its own)."""
        a, b = f"{self._if}{suffix_a}", f"{self._if}{suffix_b}"
        must(["ip", "link", "add", a, "netns", netns, "type", "veth", "peer", "name", b, "netns", netns])
        for name in (a, b):
            must(["ip", "-n", netns, "link", "set", name, "up"])
        return a, b


# --- nginx ---------------------------------------------------------------------------------------

NGINX_MAIN = """\
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log {error_level};
events {{ worker_connections 256; }}
http {{
{http}
}}
"""


def nginx_prefix(folder: Path, http: str, *, error_level: str = "info") -> Path:
    """Write ``folder/nginx.conf`` (paths relative to the prefix ``folder``) around an ``http`` block body;
    return the config's path. Run it with :func:`nginx`."""
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_MAIN.format(error_level=error_level, http=http))
    return conf


@contextlib.contextmanager
def nginx(conf: Path, *, netns: str | None = None, ready_port: tuple[str, int] | None = None
          ) -> Iterator[subprocess.Popen[bytes]]:
    """nginx in the foreground (``daemon off``) with prefix = the config's folder, checked with -t first."""
    prefix = f"{conf.parent}/"
    check = run(["nginx", "-t", "-q", "-p", prefix, "-c", str(conf)], netns=netns)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t: {check.stderr.decode(errors='replace')}")
    with background(["nginx", "-p", prefix, "-c", str(conf), "-g", "daemon off;"], netns=netns,
                    ready_port=ready_port) as proc:
        yield proc
