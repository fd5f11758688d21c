"""The nginx checks, live: a faulty proxy config breaks the upstream handshake; tlsdoctor's --patch mends it.

Two network namespaces of our own (``tdnginx<pid>p``: the proxy and its client; ``tdnginx<pid>o``: the
origin), joined by a veth pair on 198.51.100.0/24. The origin is nginx requiring SNI as a CDN does: its
default server has ``ssl_reject_handshake on`` (alert 112 unrecognized_name for a missing or unknown
name) and the server ``origin.test`` has a certificate from a private CA. The proxy is nginx with seed
000's mistake (``proxy_pass https://backend_group/;``, the group's one server being origin.test:443,
resolved through /etc/netns/<ns>/hosts, which ``ip netns exec`` binds over /etc/hosts).

For each faulty config (SNI off; SNI on but the group's name): curl through the proxy gets 502, and
tshark reads from the capture of the upstream leg the ClientHello without SNI (or with SNI
backend_group) and the origin's fatal alert 112. Then ``tlsdoctor nginx --patch | patch -p0`` in the
config's directory, a reload (SIGHUP), and the same curl gets 200, the new ClientHello carrying SNI
origin.test. Every wait is bounded; we remove only the namespaces and files we made.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.netlab import CertFactory
from tlsdoctor.api import connections
from tlsdoctor.evidence.nginx import analyze_config
from tlsdoctor.evidence.nginx_patch import unified_diff

PROXY_IP, ORIGIN_IP = "198.51.100.1", "198.51.100.2"
TOOLS = ("ip", "nginx", "tcpdump", "tshark", "curl", "patch")


def _lab_available() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "the nginx lab needs root (network namespaces, tcpdump)"
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return False, f"{tool} is not installed (scripts/test.sh installs it)"
    probe = f"tdnginx{os.getpid()}x"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=10, check=False)
    if made.returncode != 0:
        return False, f"network namespaces do not work here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10, check=False)
    return True, ""


available, why = _lab_available()
pytestmark = [pytest.mark.lab, pytest.mark.skipif(not available, reason=why)]


def _run(cmd: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def _must(cmd: list[str]) -> None:
    result = _run(cmd)
    assert result.returncode == 0, f"{' '.join(cmd)}: {result.stderr}"


@dataclass(frozen=True)
class Lab:
    proxy_ns: str
    origin_ns: str
    proxy_if: str
    folder: Path


@contextlib.contextmanager
def _namespaces(folder: Path) -> Iterator[Lab]:
    pid = os.getpid()
    proxy_ns, origin_ns = f"tdnginx{pid}p", f"tdnginx{pid}o"
    proxy_if, origin_if = f"tdn{pid}p", f"tdn{pid}o"
    hosts_dir = Path("/etc/netns") / proxy_ns
    netns_etc_existed = hosts_dir.parent.exists()
    made: list[str] = []
    try:
        for ns in (proxy_ns, origin_ns):
            _must(["ip", "netns", "add", ns])
            made.append(ns)
            _must(["ip", "-n", ns, "link", "set", "lo", "up"])
        _must(["ip", "link", "add", proxy_if, "netns", proxy_ns, "type", "veth", "peer", "name", origin_if,
               "netns", origin_ns])
        for ns, ifname, ip in ((proxy_ns, proxy_if, PROXY_IP), (origin_ns, origin_if, ORIGIN_IP)):
            _must(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", ifname])
            _must(["ip", "-n", ns, "link", "set", ifname, "up"])
        hosts_dir.mkdir(parents=True)
        (hosts_dir / "hosts").write_text(f"127.0.0.1 localhost\n{ORIGIN_IP} origin.test\n")
        yield Lab(proxy_ns, origin_ns, proxy_if, folder)
    finally:
        shutil.rmtree(hosts_dir, ignore_errors=True)
        if not netns_etc_existed:
            with contextlib.suppress(OSError):
                hosts_dir.parent.rmdir()  # only if we made it and it is empty
        for ns in made:  # deleting a namespace deletes the veth end in it, and so the pair
            _run(["ip", "netns", "del", ns])


@contextlib.contextmanager
def _nginx(ns: str, conf: Path) -> Iterator[subprocess.Popen[bytes]]:
    (conf.parent / "logs").mkdir(exist_ok=True)
    check = _run(["ip", "netns", "exec", ns, "nginx", "-t", "-q", "-p", f"{conf.parent}/", "-c", str(conf)])
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "nginx", "-p", f"{conf.parent}/", "-c", str(conf),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while not (conf.parent / "nginx.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextlib.contextmanager
def _capture(lab: Lab, out: Path) -> Iterator[None]:
    """tcpdump on the proxy's veth: the upstream leg only."""
    proc = subprocess.Popen(["ip", "netns", "exec", lab.proxy_ns, "tcpdump", "-i", lab.proxy_if, "--immediate-mode",
                             "-U", "-n", "-s", "0", "-w", str(out), "tcp port 443"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stderr is not None
        deadline, line = time.monotonic() + 10, b""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if b"listening on" in line or not line:
                break
        assert b"listening on" in line, f"tcpdump did not start: {line!r}"
        time.sleep(0.2)
        yield
        time.sleep(0.5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _curl(lab: Lab) -> str:
    result = _run(["ip", "netns", "exec", lab.proxy_ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                   "--max-time", "5", "http://127.0.0.1:8080/"], timeout=10)
    return result.stdout.strip()


def _tshark(capture: Path, display_filter: str, *fields: str) -> list[list[str]]:
    cmd = ["tshark", "-r", str(capture), "-Y", display_filter, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = _run(cmd, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line.split("\t") for line in out.stdout.splitlines()]


ORIGIN_CONF = """\
pid nginx.pid;
error_log logs/error.log info;
events {{}}
http {{
    access_log off;
    server {{
        listen {ip}:443 ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen {ip}:443 ssl;
        server_name origin.test;
        ssl_certificate {chain};
        ssl_certificate_key {key};
        location / {{
            return 200 "hello from origin.test\\n";
        }}
    }}
}}
"""

PROXY_CONF = """\
pid nginx.pid;
error_log logs/error.log info;
events {{}}
http {{
    access_log logs/access.log;
    upstream backend_group {{
        server origin.test:443;
    }}
    server {{
        listen 127.0.0.1:8080;
        server_name gateway.test;
        location / {{
            proxy_pass https://backend_group/;{extra}
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate {ca};
            proxy_ssl_verify_depth 2;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("nginx_lab")
    with _namespaces(folder) as made:
        yield made


@pytest.fixture(scope="module")
def origin(lab: Lab) -> Iterator[None]:
    factory = CertFactory(lab.folder / "origin-pki")
    leaf = factory.leaf("origin.test")
    conf = lab.folder / "origin" / "nginx.conf"
    conf.parent.mkdir()
    conf.write_text(ORIGIN_CONF.format(ip=ORIGIN_IP, chain=leaf.chain, key=leaf.key))
    shutil.copy(factory.ca_file, lab.folder / "origin-ca.pem")
    with _nginx(lab.origin_ns, conf):
        yield


@pytest.mark.parametrize(("scenario", "extra", "cause", "bad_sni"), [
    ("sni_off", "", "upstream_sni_off", ""),
    ("sni_group_name", "\n            proxy_ssl_server_name on;", "upstream_sni_is_group_name", "backend_group"),
])
def test_patch_mends_the_upstream_handshake(lab: Lab, origin: None, scenario: str, extra: str, cause: str,
                                            bad_sni: str) -> None:
    conf = lab.folder / scenario / "nginx.conf"
    conf.parent.mkdir()
    conf.write_text(PROXY_CONF.format(extra=extra, ca=lab.folder / "origin-ca.pem"))

    analysis = analyze_config(str(conf))
    assert [f.cause for f in analysis.findings] == [cause]
    assert analysis.findings[0].evidence[0].text == "proxy_pass https://backend_group/;"

    with _nginx(lab.proxy_ns, conf) as proxy:
        before = lab.folder / f"{scenario}-before.pcap"
        with _capture(lab, before):
            assert _curl(lab) == "502"
        hellos = _tshark(before, "tls.handshake.type == 1", "tls.handshake.extensions_server_name")
        assert hellos and all(h == [bad_sni] for h in hellos), hellos
        alerts = _tshark(before, "tls.alert_message", "ip.src", "tls.alert_message.level", "tls.alert_message.desc")
        assert [ORIGIN_IP, "2", "112"] in alerts, alerts  # fatal unrecognized_name, from the origin
        failed = [r for r in connections(str(before)) if r.failed]
        assert failed and failed[0].alert is not None and (failed[0].alert.code, failed[0].alert.sender) == (
            112, "server")

        diff = unified_diff(analysis.findings, analysis.texts, str(conf.parent))
        cli = _run([sys.executable, "-m", "tlsdoctor.cli", "nginx", str(conf), "--patch"])
        assert cli.returncode == 1 and cli.stdout == diff
        applied = subprocess.run(["patch", "-p0", "--batch"], input=diff, cwd=conf.parent, text=True,
                                 capture_output=True, timeout=30, check=False)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert analyze_config(str(conf)).findings == ()
        check = _run(["ip", "netns", "exec", lab.proxy_ns, "nginx", "-t", "-q", "-p", f"{conf.parent}/",
                      "-c", str(conf)])
        assert check.returncode == 0, check.stderr

        os.kill(proxy.pid, signal.SIGHUP)  # reload: new workers with the patched configuration
        after = lab.folder / f"{scenario}-after.pcap"
        with _capture(lab, after):
            deadline, status = time.monotonic() + 10, ""
            while time.monotonic() < deadline:
                status = _curl(lab)
                if status == "200":
                    break
                time.sleep(0.2)
            assert status == "200"
        hellos = _tshark(after, "tls.handshake.type == 1", "tls.handshake.extensions_server_name")
        assert hellos and hellos[-1] == ["origin.test"], hellos
        assert _tshark(after, "tls.alert_message.level == 2", "tls.alert_message.desc") == []
