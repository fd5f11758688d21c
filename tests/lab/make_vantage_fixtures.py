"""Regenerate the multi-vantage captures: the same connections recorded at two or three points of a path
that has a middlebox in it (seeds 003 and 004, and their relatives).

    python -m tests.lab.make_vantage_fixtures OUTDIR [SCENARIO...]      (root; from the repository's root)

Each scenario builds ``netlab.Topology(middle=True)``: a client namespace (198.51.100.10), a middle
namespace (198.51.100.1 / 203.0.113.1) and a server namespace (203.0.113.10), joined by veth pairs, with
offloads off on every interface (each frame a real MSS-sized frame with its checksums) and permanent
neighbour entries (no ARP in the captures). In the middle runs a box from ``tests/lab/middlebox.py``:
an AF_PACKET relay with the kernel's forwarding off (it decides per packet) or, for interception, a
Python ssl proxy with policy routing. tcpdump records at the client's interface (in the client
namespace), at the server's (in the server namespace) and, where the evidence is the switch's, on the
middle's trunk. Files: ``<scenario>.client.pcap``, ``<scenario>.server.pcap``, ``<scenario>.switch.pcap``,
and side files (nginx's error.log). tests/fixtures/vantage/MANIFEST.md says what each one holds, and
tests/fixtures/expect/<scenario>.json which connections fail and why.

Ports, times, randoms and MAC addresses change from run to run; the structure does not. A scenario
whose clients do not end as it intends (a control that fails, a failure that succeeds) raises, so that
a broken lab never writes a misleading capture.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tests.lab.netlab import CertFactory, Issued, Topology, background, must, nginx, nginx_prefix, run, tcpdump

LAB = Path(__file__).resolve().parent
AGENTS = [sys.executable, str(LAB / "agents.py")]
MIDDLEBOX = [sys.executable, "-m", "tests.lab.middlebox"]
SERVER_IP, CLIENT_IP = "203.0.113.10", "198.51.100.10"
HANDSHAKE_TIMEOUT = 5  # seconds the servers wait for a ClientHello (nginx 1.22: client_header_timeout)


class InterceptionCA(CertFactory):
    """A second private CA, with names of its own (an inspection box's), for the interceptor's leaves.
    netlab.CertFactory names every CA alike; this one renames its root and intermediate."""

    def __init__(self, folder: Path, label: str = "Example Corp TLS Inspection") -> None:
        super().__init__(folder)
        now = dt.datetime.now(dt.UTC)
        root = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{label} Root")])
        self.ca = (x509.CertificateBuilder().subject_name(root).issuer_name(root)
                   .public_key(self.ca_key.public_key()).serial_number(11)
                   .not_valid_before(now - dt.timedelta(days=30)).not_valid_after(now + dt.timedelta(days=3650))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                   .sign(self.ca_key, hashes.SHA256()))
        inter = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{label} Intermediate")])
        self.intermediate = (x509.CertificateBuilder().subject_name(inter).issuer_name(self.ca.subject)
                             .public_key(self.int_key.public_key()).serial_number(12)
                             .not_valid_before(now - dt.timedelta(days=30))
                             .not_valid_after(now + dt.timedelta(days=3650))
                             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                             .sign(self.ca_key, hashes.SHA256()))
        self.ca_file.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        self.intermediate_file.write_bytes(self.intermediate.public_bytes(serialization.Encoding.PEM))


class VantageLab:
    def __init__(self, workdir: Path) -> None:
        self.work = workdir
        self.certs = CertFactory(workdir / "certs")
        self.origin = self.certs.leaf("origin.test", from_root=True)
        self.blocked = self.certs.leaf("blocked.test", from_root=True)
        self.allowed = self.certs.leaf("allowed.test", from_root=True)
        self.inspection = InterceptionCA(workdir / "inspection-ca")
        self.intercept_leaf = self.inspection.leaf("origin.test", from_root=True)
        self.outcomes: dict[str, list[str]] = {}

    def curl(self, topo: Topology, name: str | None, *, insecure: bool = False, cafile: Path | None = None,
             max_time: float = 5.0) -> str:
        """curl https://NAME/ (resolved to the server) or https://SERVER_IP/ (no SNI); the outcome as
        ``http CODE`` or ``exit N: stderr``."""
        url = f"https://{name}/" if name else f"https://{SERVER_IP}/"
        cmd = ["curl", "-sS", "--http1.1", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", str(max_time)]
        if name:
            cmd += ["--resolve", f"{name}:443:{SERVER_IP}"]
        cmd += ["-k"] if insecure else ["--cacert", str(cafile or self.certs.ca_file)]
        done = run([*cmd, url], netns=topo.client_ns, timeout=max_time + 5)
        if done.returncode == 0:
            return f"http {done.stdout.decode().strip()}"
        return f"exit {done.returncode}: {done.stderr.decode(errors='replace').strip()}"


# --- building blocks -----------------------------------------------------------------------------

def prepare(topo: Topology, *, forwarding: bool) -> None:
    """Offloads off on every hop, permanent neighbour entries on every hop, and the middle's forwarding
    on (the kernel routes) or off (a relay decides per packet)."""
    must([*AGENTS, "offloads-off", topo.client.iface], netns=topo.client_ns)
    must([*AGENTS, "offloads-off", topo.server.iface], netns=topo.server_ns)
    must([*AGENTS, "offloads-off", topo.middle_client_side.iface, topo.middle_server_side.iface], netns=topo.middle_ns)
    neighbours = [(topo.client, topo.middle_client_side), (topo.server, topo.middle_server_side),
                  (topo.middle_client_side, topo.client), (topo.middle_server_side, topo.server)]
    for me, peer in neighbours:
        must(["ip", "-n", me.netns, "neigh", "replace", peer.ip, "lladdr", topo.mac(peer), "dev", me.iface,
              "nud", "permanent"])
    must(["sysctl", "-q", "-w", f"net.ipv4.ip_forward={int(forwarding)}"], netns=topo.middle_ns)


def relay(topo: Topology, box: str, *extra: str, seconds: float = 60) -> list[str]:
    """The middlebox command for a two-port box between the client's and the server's subnets."""
    return [*MIDDLEBOX, "relay", box, "--port", f"c={topo.middle_client_side.iface}",
            "--port", f"s={topo.middle_server_side.iface}",
            "--route", f"198.51.100.0/24=c@{topo.mac(topo.client)}",
            "--route", f"203.0.113.0/24=s@{topo.mac(topo.server)}", "--seconds", str(seconds), *extra]


@contextlib.contextmanager
def two_point_capture(topo: Topology, stem: Path) -> Iterator[None]:
    with tcpdump(Path(f"{stem}.client.pcap"), interface=topo.client.iface, netns=topo.client_ns, bpf="tcp"), \
            tcpdump(Path(f"{stem}.server.pcap"), interface=topo.server.iface, netns=topo.server_ns, bpf="tcp"):
        yield


def tls_origin(folder: Path, leaf: Issued, name: str, *, extra_servers: str = "", listen: str = SERVER_IP) -> Path:
    """nginx as the origin: TLS 1.2 and 1.3, no session tickets (smaller captures), error_log at info,
    and seed 003's handshake timeout, shortened to HANDSHAKE_TIMEOUT (client_header_timeout is nginx
    1.22's timeout for the SSL handshake)."""
    return nginx_prefix(folder, f"""
    access_log off;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off;
    client_header_timeout {HANDSHAKE_TIMEOUT}s;
    server {{
        listen {listen}:443 ssl default_server;
        server_name {name};
        ssl_certificate {leaf.chain};
        ssl_certificate_key {leaf.key};
        location / {{ return 200 "ok\\n"; }}
    }}
    {extra_servers}""", error_level="info")


def keep_error_log(conf: Path, stem: Path) -> None:
    Path(f"{stem}.error.log").write_bytes((conf.parent / "logs" / "error.log").read_bytes())


def expect(outcome: str, *, ok: bool, what: str) -> None:
    if outcome.startswith("http 200") != ok:
        raise RuntimeError(f"{what}: {outcome!r} (the lab is not doing what it should)")


# --- scenarios -----------------------------------------------------------------------------------

def rst_injection(lab: VantageLab, stem: Path) -> None:
    """Seed 004: the middle relays every packet, but a ClientHello naming blocked.test is answered by
    two forged RSTs (to the client "from the server", to the server "from the client") and the flow is
    dropped from then on. nginx serves blocked.test (default server) and allowed.test."""
    with Topology("vinj", middle=True) as topo:
        prepare(topo, forwarding=False)
        conf = tls_origin(lab.work / "nginx-inj", lab.blocked, "blocked.test", extra_servers=f"""
    server {{
        listen {SERVER_IP}:443 ssl;
        server_name allowed.test;
        ssl_certificate {lab.allowed.chain};
        ssl_certificate_key {lab.allowed.key};
        location / {{ return 200 "ok\\n"; }}
    }}""")
        box = lab.work / "box-inj.log"
        with nginx(conf, netns=topo.server_ns, ready_port=(SERVER_IP, 443)), \
                background(relay(topo, "sni-reset", "--name", "blocked.test"), netns=topo.middle_ns, stdout=box,
                           settle=1.0), two_point_capture(topo, stem):
            outcomes = [lab.curl(topo, "blocked.test")]
            time.sleep(0.5)
            outcomes.append(lab.curl(topo, None, insecure=True))
            time.sleep(0.5)
            outcomes.append(lab.curl(topo, "allowed.test"))
            time.sleep(0.5)
            s_client = run(["openssl", "s_client", "-connect", f"{SERVER_IP}:443", "-servername", "blocked.test",
                            "-CAfile", str(lab.certs.ca_file)], netns=topo.client_ns, timeout=8)
            outcomes.append(f"exit {s_client.returncode}: {s_client.stdout.decode(errors='replace')[-200:]}")
            time.sleep(0.5)
    lab.outcomes["rst_injection"] = outcomes
    expect(outcomes[0], ok=False, what="curl blocked.test")
    expect(outcomes[1], ok=True, what="curl -k https://IP/ (no SNI)")
    expect(outcomes[2], ok=True, what="curl allowed.test")
    if "injected" not in box.read_text():
        raise RuntimeError("the injector never fired")
    keep_error_log(conf, stem)


def middlebox_clienthello_blackhole(lab: VantageLab, stem: Path) -> None:
    """Seed 003, as its client and server saw it: a transparent box lets every TCP handshake through,
    but for the second connection it ACKs the ClientHello to the client itself (TTL 253, twice) and
    drops it. The client waits for a ServerHello; nginx waits for a ClientHello and closes after its
    handshake timeout (FIN). The first connection is the healthy control through the same box."""
    with Topology("vbh", middle=True) as topo:
        prepare(topo, forwarding=False)
        conf = tls_origin(lab.work / "nginx-bh", lab.origin, "origin.test")
        box = lab.work / "box-bh.log"
        with nginx(conf, netns=topo.server_ns, ready_port=(SERVER_IP, 443)), \
                background(relay(topo, "hello-blackhole", "--ttl", "253", "--every", "2"), netns=topo.middle_ns,
                           stdout=box, settle=1.0), two_point_capture(topo, stem):
            outcomes = [lab.curl(topo, "origin.test")]
            time.sleep(0.5)
            outcomes.append(lab.curl(topo, "origin.test", max_time=HANDSHAKE_TIMEOUT + 3))
            time.sleep(1.0)
    lab.outcomes["middlebox_clienthello_blackhole"] = outcomes
    expect(outcomes[0], ok=True, what="the control")
    expect(outcomes[1], ok=False, what="the blackholed connection")
    if "blackholed" not in box.read_text():
        raise RuntimeError("the box never blackholed a ClientHello")
    keep_error_log(conf, stem)


def flow_split(lab: VantageLab, stem: Path) -> None:
    """Seed 003, as its switch saw it. The middle is an operator router and a switch in one relay
    (middlebox.py ``split``), joined by a veth trunk. The operator sprays the second connection per
    packet over the three line cards of its uplink (three source MACs; card N's path is N hops: TTL
    63, 62, 61 on arrival); the switch sends frames from cards 1 and 2 to node A (the server namespace:
    nginx) and frames from card 3 to node B (a second namespace with the same address 203.0.113.10,
    TTL 128, nothing listening, no state for the flow). Round robin puts the SYN on card 1, the
    handshake's ACK on card 2, the ClientHello on card 3: node B answers it with a RST, which reaches
    the client; node A has the connection from two MACs, without a ClientHello, and closes it after its
    handshake timeout. The first connection keeps to card 1 and completes. Captured at the client, at
    node A (server), at node B (node2) and on the trunk at the switch's ingress (switch)."""
    with Topology("vsplit", middle=True) as topo:
        prepare(topo, forwarding=False)
        trunk_a, trunk_b = topo.add_veth_pair(topo.middle_ns, "a", "b")
        node_b_ns = f"{topo.server_ns[:-2]}-b"
        base = topo.client.iface[:-1]
        to_b, b_if = f"{base}o", f"{base}p"
        try:
            must(["ip", "netns", "add", node_b_ns])
            must(["ip", "-n", node_b_ns, "link", "set", "lo", "up"])
            for key in ("default", "all"):
                must(["sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1"], netns=node_b_ns)
            must(["sysctl", "-q", "-w", "net.ipv4.ip_default_ttl=128"], netns=node_b_ns)
            must(["ip", "link", "add", to_b, "netns", topo.middle_ns, "type", "veth", "peer", "name", b_if, "netns",
                  node_b_ns])
            must(["ip", "-n", topo.middle_ns, "link", "set", to_b, "up"])
            must(["ip", "-n", node_b_ns, "addr", "add", f"{SERVER_IP}/24", "dev", b_if])
            must(["ip", "-n", node_b_ns, "link", "set", b_if, "up"])
            must(["ip", "-n", node_b_ns, "route", "add", "198.51.100.0/24", "via", "203.0.113.1"])
            mac_to_b = must(["cat", f"/sys/class/net/{to_b}/address"], netns=topo.middle_ns).strip()
            mac_b = must(["cat", f"/sys/class/net/{b_if}/address"], netns=node_b_ns).strip()
            must(["ip", "-n", node_b_ns, "neigh", "replace", "203.0.113.1", "lladdr", mac_to_b, "dev", b_if, "nud",
                  "permanent"])
            must([*AGENTS, "offloads-off", b_if], netns=node_b_ns)
            must([*AGENTS, "offloads-off", trunk_a, trunk_b, to_b], netns=topo.middle_ns)
            conf = tls_origin(lab.work / "nginx-split", lab.origin, "origin.test")
            box = lab.work / "box-split.log"
            cmd = [*relay(topo, "split", "--trunk-a", "ta", "--trunk-b", "tb", "--node-b", f"b@{mac_b}"),
                   "--port", f"ta={trunk_a}", "--port", f"tb={trunk_b}", "--port", f"b={to_b}"]
            with nginx(conf, netns=topo.server_ns, ready_port=(SERVER_IP, 443)), \
                    background(cmd, netns=topo.middle_ns, stdout=box, settle=1.0), \
                    two_point_capture(topo, stem), \
                    tcpdump(Path(f"{stem}.switch.pcap"), interface=trunk_b, netns=topo.middle_ns, bpf="tcp"), \
                    tcpdump(Path(f"{stem}.node2.pcap"), interface=b_if, netns=node_b_ns, bpf="tcp"):
                outcomes = [lab.curl(topo, "origin.test")]
                time.sleep(0.5)
                outcomes.append(lab.curl(topo, "origin.test", max_time=HANDSHAKE_TIMEOUT + 3))
                time.sleep(HANDSHAKE_TIMEOUT + 1.0)  # node A's timeout, its FIN, the client's RST
        finally:
            run(["ip", "netns", "del", node_b_ns])
    lab.outcomes["flow_split"] = outcomes
    expect(outcomes[0], ok=True, what="the control (one card)")
    expect(outcomes[1], ok=False, what="the split connection")
    if "card 3" not in box.read_text():
        raise RuntimeError("the operator never used its second card")
    keep_error_log(conf, stem)


def tls_interception(lab: VantageLab, stem: Path) -> None:
    """A transparent TLS-terminating proxy in the middle (tests/lab/middlebox.py intercept): policy
    routing delivers port-443 traffic to it from both sides, it connects to the server from the client's
    own address and port (the server sees the same 4-tuple), completes that handshake first, then
    answers the client with a leaf for origin.test from another CA ("Example Corp TLS Inspection").
    Both legs at most TLS 1.2, so both captures show the certificates. First client trusts only the
    real CA: it refuses the interceptor's certificate (alert 48 unknown_ca). Second client trusts the
    inspection CA (a managed machine): the request goes through, intercepted."""
    with Topology("vtls", middle=True) as topo:
        prepare(topo, forwarding=True)
        m = topo.middle_ns
        for iface in ("all", "default", topo.middle_client_side.iface, topo.middle_server_side.iface):
            must(["sysctl", "-q", "-w", f"net.ipv4.conf.{iface}.rp_filter=0"], netns=m)
        must(["ip", "-n", m, "rule", "add", "iif", topo.middle_client_side.iface, "ipproto", "tcp", "dport", "443",
              "lookup", "100", "pref", "100"])
        must(["ip", "-n", m, "rule", "add", "iif", topo.middle_server_side.iface, "ipproto", "tcp", "sport", "443",
              "lookup", "100", "pref", "101"])
        must(["ip", "-n", m, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100"])
        conf = tls_origin(lab.work / "nginx-tls", lab.origin, "origin.test")
        box = lab.work / "box-tls.log"
        proxy = [*MIDDLEBOX, "intercept", "--cert", str(lab.intercept_leaf.chain), "--key",
                 str(lab.intercept_leaf.key), "--upstream-ca", str(lab.certs.ca_file), "--seconds", "40"]
        with nginx(conf, netns=topo.server_ns, ready_port=(SERVER_IP, 443)), \
                background(proxy, netns=m, stdout=box, ready_port=("0.0.0.0", 443)), two_point_capture(topo, stem):
            outcomes = [lab.curl(topo, "origin.test")]
            time.sleep(0.5)
            outcomes.append(lab.curl(topo, "origin.test", cafile=lab.inspection.ca_file))
            time.sleep(0.5)
    lab.outcomes["tls_interception"] = outcomes
    expect(outcomes[0], ok=False, what="the client that trusts only the real CA")
    expect(outcomes[1], ok=True, what="the client that trusts the inspection CA")
    if "intercepting" not in box.read_text():
        raise RuntimeError("the proxy intercepted nothing")
    keep_error_log(conf, stem)


LONG_ALPN = ",".join([*(f"x-padding-protocol-{i:02d}-" + "p" * 180 for i in range(8)), "http/1.1"])


def clienthello_fragment_lost(lab: VantageLab, stem: Path) -> None:
    """A path that loses the later segments of a ClientHello longer than one segment (MSS 1448 here):
    s_client with a long ALPN list (a ~1.9 KB ClientHello, the size of a post-quantum one) gets its first
    segment through, never the second, however often it is retransmitted; nginx has a partial
    ClientHello, waits, and closes after its handshake timeout. The control, the same s_client without
    the ALPN list (one segment), completes first."""
    with Topology("vfrag", middle=True) as topo:
        prepare(topo, forwarding=False)
        conf = tls_origin(lab.work / "nginx-frag", lab.origin, "origin.test")
        box = lab.work / "box-frag.log"
        s_client = ["openssl", "s_client", "-connect", f"{SERVER_IP}:443", "-servername", "origin.test", "-CAfile",
                    str(lab.certs.ca_file)]
        with nginx(conf, netns=topo.server_ns, ready_port=(SERVER_IP, 443)), \
                background(relay(topo, "hello-tail-drop"), netns=topo.middle_ns, stdout=box, settle=1.0), \
                two_point_capture(topo, stem):
            small = run(s_client, netns=topo.client_ns, timeout=8)
            time.sleep(0.5)
            large = run([*s_client, "-alpn", LONG_ALPN], netns=topo.client_ns, timeout=HANDSHAKE_TIMEOUT + 4)
            time.sleep(1.0)
    outcomes = [f"exit {p.returncode}: {p.stdout.decode(errors='replace')[-300:]}" for p in (small, large)]
    lab.outcomes["clienthello_fragment_lost"] = outcomes
    if "Verify return code: 0 (ok)" not in small.stdout.decode(errors="replace"):
        raise RuntimeError(f"the control did not complete: {outcomes[0]}")
    if "Cipher is (NONE)" not in large.stdout.decode(errors="replace") and large.returncode == 0:
        raise RuntimeError(f"the long ClientHello got through: {outcomes[1]}")
    if "drop-tail" not in box.read_text():
        raise RuntimeError("the path never dropped a segment")
    keep_error_log(conf, stem)


def rst_after_clienthello_two_points(lab: VantageLab, stem: Path) -> None:
    """The control for rst_injection: an honest router (the same relay, forwarding every packet) and a
    Python server on 203.0.113.10 that resets right after the ClientHello (SO_LINGER 0, agents.py serve
    --mode reset), seen at both ends: the RST the client gets is the one the server sent. Then a healthy
    handshake with nginx on 203.0.113.11 through the same path."""
    second = "203.0.113.11"
    with Topology("vrst", middle=True) as topo:
        prepare(topo, forwarding=False)
        topo.add_address(topo.server, second)
        conf = tls_origin(lab.work / "nginx-rst", lab.origin, "origin.test", listen=second)
        reset_server = [*AGENTS, "serve", "--mode", "reset", "--bind", SERVER_IP, "--port", "443", "--linger", "30"]
        with nginx(conf, netns=topo.server_ns, ready_port=(second, 443)), \
                background(reset_server, netns=topo.server_ns, ready_port=(SERVER_IP, 443)), \
                background(relay(topo, "router"), netns=topo.middle_ns, settle=1.0), two_point_capture(topo, stem):
            outcomes = [lab.curl(topo, "origin.test")]
            time.sleep(0.5)
            done = run(["curl", "-sS", "--http1.1", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                        "--resolve", f"origin.test:443:{second}", "--cacert", str(lab.certs.ca_file),
                        "https://origin.test/"], netns=topo.client_ns, timeout=10)
            outcomes.append(f"http {done.stdout.decode().strip()}" if done.returncode == 0 else
                            f"exit {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
            time.sleep(0.5)
    lab.outcomes["rst_after_clienthello_two_points"] = outcomes
    expect(outcomes[0], ok=False, what="the resetting server")
    expect(outcomes[1], ok=True, what="the healthy control")


SCENARIOS: dict[str, Callable[[VantageLab, Path], None]] = {
    f.__name__: f for f in (rst_injection, middlebox_clienthello_blackhole, flow_split, tls_interception,
                            clienthello_fragment_lost, rst_after_clienthello_two_points)
}


def make(outdir: Path, names: list[str] | None = None) -> dict[str, list[str]]:
    """Run the named scenarios (all by default), writing their files into ``outdir``; return each
    scenario's client outcomes (curl's or s_client's), for the record."""
    unknown = [n for n in names or [] if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tlsdoctor-vantage-") as work:
        lab = VantageLab(Path(work))
        for name in names or list(SCENARIOS):
            SCENARIOS[name](lab, outdir / name)
            for path in sorted(outdir.glob(f"{name}.*")):
                path.chmod(0o644)
        return lab.outcomes


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/vantage")
    for scenario, outcome in make(target, sys.argv[2:] or None).items():
        print(scenario)
        for line in outcome:
            print("   ", line.replace("\n", " | ")[:300])
    for path in sorted(target.iterdir()):
        print(f"{path} {path.stat().st_size} bytes")
