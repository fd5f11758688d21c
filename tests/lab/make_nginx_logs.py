"""Regenerate the nginx error and access logs of tests/fixtures/nginx_logs/ from a real nginx on loopback.

    python -m tests.lab.make_nginx_logs [OUTDIR]        (from the repository's root; no root needed)

Two nginx (1.22, OpenSSL 3.0 here) run with their own temporary prefix (``nginx -p PREFIX -c CONF -g
'daemon off;'``, see tests/lab/netlab.py), on 127.0.0.1 ports 44500-44530 only:

- the *origin* nginx requires SNI as a CDN does (default server ``ssl_reject_handshake on``, server
  ``origin.test``) on 44501 and answers plain HTTP on 44503;
- the *proxy* nginx (``gateway.test``) proxies one location per failure to real upstreams: the origin
  without SNI, with the group's name as SNI; ``openssl s_server`` with an expired, a self-signed, a
  chainless and a wrong-name certificate (``proxy_ssl_verify on``), requiring a client certificate (TLS
  1.2 and 1.3), TLS 1.3 only (nginx allows 1.2 only), a cipher nginx does not offer; plain HTTP; a
  refused port; a Python listener that accepts and never answers (handshake timeout); a listener whose
  accept queue is full (connect timeout); listeners that close or reset after the ClientHello; an
  upstream group whose three servers each fail (then "no live upstreams"); an internal redirect across
  two upstreams. Its TLS listener 44502 gets clients that fail (plain HTTP, TLS 1.1, a cipher it lacks,
  a client that does not trust it, a silent one, one that resets) and 44504 requires a client certificate.

Clients are curl, ``openssl s_client`` and Python sockets. Logs: the proxy's error log (level info), its
access log in a custom ``log_format`` with ``$upstream_addr``/``$upstream_status``, the same requests in an
``escape=json`` format and in ``combined``, and the origin's error log; the two configs are copied beside
them (certificates are named relative to the prefix). Times, pids and ports of clients differ between
runs; which line says what does not (tests/unit/test_nginx_logs.py checks that on the committed files).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tests.lab`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.lab.netlab import CertFactory, Issued, background, nginx, nginx_prefix, run

HOST = "127.0.0.1"
P_PROXY, P_STRICT, P_PROXY_TLS, P_PLAIN, P_MTLS_LISTENER = 44500, 44501, 44502, 44503, 44504
P_EXPIRED, P_SELF, P_NOCHAIN, P_OTHER_NAME = 44510, 44511, 44512, 44513
P_MTLS12, P_MTLS13, P_TLS13_ONLY, P_CIPHER = 44514, 44515, 44516, 44517
P_SILENT, P_REFUSED, P_FULL_BACKLOG, P_RESET, P_CLOSE = 44518, 44519, 44520, 44521, 44522

S_SERVER = ["openssl", "s_server", "-quiet", "-www", "-naccept", "100"]

# A TCP peer that behaves badly after accepting (or never accepts): argv = port, mode, backlog.
PEER = r"""
import socket, struct, sys, time
port, mode, backlog = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(backlog)
if mode in ("silent", "full"):  # never accept: the kernel completes handshakes (and ACKs data) until the
    time.sleep(3600)            # accept queue is full ("full": backlog 0), then drops SYNs
while True:
    c, _ = s.accept(); c.settimeout(2)
    try:
        c.recv(65536)           # the ClientHello
    except OSError:
        pass
    if mode == "reset":       # SO_LINGER 0: close() sends a RST
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
"""

ORIGIN_HTTP = """\
    access_log off;
    server {{
        listen {host}:{strict} ssl default_server;
        ssl_reject_handshake on;
    }}
    server {{
        listen {host}:{strict} ssl;
        server_name origin.test;
        ssl_certificate certs/origin.test.chain.pem;
        ssl_certificate_key certs/origin.test.key;
        location / {{ return 200 "origin ok\\n"; }}
    }}
    server {{
        listen {host}:{plain};
        location / {{ return 200 "plain http\\n"; }}
    }}
"""

PROXY_HTTP = """\
    log_format diag '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                    '"$http_referer" "$http_user_agent" ua="$upstream_addr" us="$upstream_status" '
                    'uct="$upstream_connect_time" rt=$request_time host=$host';
    log_format diagjson escape=json '{{"time":"$time_iso8601","msec":"$msec","remote_addr":"$remote_addr",'
                    '"request":"$request","status":"$status","host":"$host","ua":"$http_user_agent",'
                    '"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status"}}';
    access_log logs/access.log diag;
    access_log logs/access.json.log diagjson;
    access_log logs/access.combined.log combined;
    client_header_timeout 2s;

    proxy_ssl_trusted_certificate certs/ca.pem;
    proxy_ssl_verify_depth 3;
    proxy_connect_timeout 1s;
    proxy_read_timeout 2s;
    proxy_next_upstream error timeout;
    # Every upstream handshake a full one: with reuse on, /nosni resumed the session /ok had made with SNI
    # (same implicit upstream 127.0.0.1:44501) and the origin let it in without SNI.
    proxy_ssl_session_reuse off;

    upstream strict_pool {{ server {host}:{strict}; }}
    upstream failing_pool {{
        server {host}:{refused} max_fails=1 fail_timeout=60s;
        server {host}:{strict} max_fails=1 fail_timeout=60s;
        server {host}:{plain} max_fails=1 fail_timeout=60s;
    }}

    server {{
        listen {host}:{proxy};
        server_name gateway.test;

        location /ok {{ proxy_pass https://{host}:{strict}/; proxy_ssl_server_name on;
                       proxy_ssl_name origin.test; proxy_ssl_verify on; proxy_set_header Host origin.test; }}
        location /nosni {{ proxy_pass https://{host}:{strict}/; }}
        location /groupname {{ proxy_pass https://strict_pool/; proxy_ssl_server_name on; }}
        location /expired {{ proxy_pass https://{host}:{expired}/; proxy_ssl_verify on;
                            proxy_ssl_server_name on; proxy_ssl_name origin.test; }}
        location /selfsigned {{ proxy_pass https://{host}:{self}/; proxy_ssl_verify on;
                               proxy_ssl_name origin.test; }}
        location /nochain {{ proxy_pass https://{host}:{nochain}/; proxy_ssl_verify on;
                            proxy_ssl_name origin.test; }}
        location /othername {{ proxy_pass https://{host}:{other}/; proxy_ssl_verify on;
                              proxy_ssl_name origin.test; }}
        location /mtls12 {{ proxy_pass https://{host}:{mtls12}/; }}
        location /mtls13 {{ proxy_pass https://{host}:{mtls13}/; proxy_ssl_protocols TLSv1.2 TLSv1.3; }}
        location /mtls_badcert {{ proxy_pass https://{host}:{mtls12}/;
                                 proxy_ssl_certificate certs/client.test-self.crt;
                                 proxy_ssl_certificate_key certs/client.test-self.key; }}
        location /version {{ proxy_pass https://{host}:{tls13}/; proxy_ssl_protocols TLSv1.2; }}
        location /cipher {{ proxy_pass https://{host}:{cipher}/; proxy_ssl_protocols TLSv1.2;
                           proxy_ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384; }}
        location /plain {{ proxy_pass https://{host}:{plain}/; }}
        location /refused {{ proxy_pass https://{host}:{refused}/; }}
        location /silent {{ proxy_pass https://{host}:{silent}/; }}
        location /connect_timeout {{ proxy_pass https://{host}:{full}/; }}
        location /reset {{ proxy_pass https://{host}:{reset}/; }}
        location /close {{ proxy_pass https://{host}:{close}/; }}
        location /pool {{ proxy_pass https://failing_pool/; }}
        location /redirect {{ proxy_pass https://{host}:{refused}/; proxy_intercept_errors on;
                             error_page 502 = @fallback; }}
        location @fallback {{ proxy_pass https://{host}:{strict}; }}
    }}

    server {{
        listen {host}:{proxy_tls} ssl;
        server_name gateway.test;
        ssl_certificate certs/gateway.test-ec.chain.pem;
        ssl_certificate_key certs/gateway.test-ec.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{ return 200 "gateway ok\\n"; }}
    }}

    server {{
        listen {host}:{mtls_listener} ssl;
        server_name mtls.gateway.test;
        ssl_certificate certs/gateway.test-ec.chain.pem;
        ssl_certificate_key certs/gateway.test-ec.key;
        ssl_client_certificate certs/ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 3;
        location / {{ return 200 "mtls ok\\n"; }}
    }}
"""


def _s_server(port: int, leaf: Issued, certs: CertFactory, *extra: str) -> list[str]:
    return [*S_SERVER, "-accept", f"{HOST}:{port}", "-cert", str(leaf.cert), "-key", str(leaf.key), *extra]


def _curl(path: str, port: int = P_PROXY, *extra: str) -> str:
    done = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "8", "-A", "tlsdoctor-lab",
                *extra, f"http://{HOST}:{port}{path}"], timeout=12)
    return done.stdout.decode()


@contextlib.contextmanager
def _peer(port: int, mode: str, backlog: int = 16) -> Iterator[None]:
    cmd = [sys.executable, "-c", PEER, str(port), mode, str(backlog)]
    with background(cmd, ready_port=None if mode == "full" else (HOST, port)):
        time.sleep(0.2)
        yield


def _fill_accept_queue(port: int) -> list[socket.socket]:
    """Connect until the listener's accept queue (backlog 0: one connection) is full, so that the kernel
    drops the next SYN: nginx's connect() then times out."""
    held = []
    for _ in range(4):
        s = socket.socket()
        s.settimeout(0.5)
        if s.connect_ex((HOST, port)) != 0:
            s.close()
            break
        held.append(s)
    return held


def _tls_client(port: int, *, ciphers: str | None = None, version: ssl.TLSVersion | None = None,
                verify: bool = False) -> str:
    ctx = ssl.create_default_context() if verify else ssl._create_unverified_context()
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    try:
        with socket.create_connection((HOST, port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="gateway.test"):
            return "ok"
    except (OSError, ssl.SSLError) as exc:
        return type(exc).__name__


def _partial_clienthello(port: int, *, reset: bool, wait: float = 0.0) -> None:
    """Send the first 40 bytes of a real ClientHello (made by Python's ssl), then close or reset."""
    ctx = ssl._create_unverified_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="gateway.test")
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = outgoing.read()
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(hello[:40])
        time.sleep(wait or 0.3)
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def make(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tlsdoctor-nginx-logs-") as tmp:
        work = Path(tmp)
        certs = CertFactory(work / "certs")
        origin = certs.leaf("origin.test")
        expired = certs.leaf("origin.test", expired=True)
        selfsigned = certs.leaf("origin.test", self_signed=True)
        other = certs.leaf("other.test")
        certs.leaf("gateway.test", rsa_key=False)
        client_expired = certs.leaf("client.test", expired=True, client=True)
        certs.leaf("client.test", self_signed=True, client=True)
        chain = ["-cert_chain", str(certs.intermediate_file)]
        ports = dict(host=HOST, proxy=P_PROXY, strict=P_STRICT, plain=P_PLAIN, proxy_tls=P_PROXY_TLS,
                     mtls_listener=P_MTLS_LISTENER, expired=P_EXPIRED, self=P_SELF, nochain=P_NOCHAIN,
                     other=P_OTHER_NAME, mtls12=P_MTLS12, mtls13=P_MTLS13, tls13=P_TLS13_ONLY, cipher=P_CIPHER,
                     silent=P_SILENT, refused=P_REFUSED, full=P_FULL_BACKLOG, reset=P_RESET, close=P_CLOSE)
        origin_conf = nginx_prefix(work / "origin", ORIGIN_HTTP.format(**ports), error_level="info")
        proxy_conf = nginx_prefix(work / "proxy", PROXY_HTTP.format(**ports), error_level="info")
        for prefix in (origin_conf.parent, proxy_conf.parent):
            shutil.copytree(certs.folder, prefix / "certs")
        statuses: dict[str, str] = {}
        with contextlib.ExitStack() as stack:
            stack.enter_context(nginx(origin_conf, ready_port=(HOST, P_STRICT)))
            stack.enter_context(nginx(proxy_conf, ready_port=(HOST, P_PROXY)))
            servers = (
                (P_EXPIRED, expired, chain), (P_SELF, selfsigned, []), (P_NOCHAIN, origin, []),
                (P_OTHER_NAME, other, chain),
                (P_MTLS12, origin, [*chain, "-tls1_2", "-Verify", "1", "-verify_return_error", "-CAfile",
                                    str(certs.ca_file)]),
                (P_MTLS13, origin, [*chain, "-tls1_3", "-Verify", "1", "-CAfile", str(certs.ca_file)]),
                (P_TLS13_ONLY, origin, [*chain, "-tls1_3"]),
                (P_CIPHER, origin, [*chain, "-tls1_2", "-cipher", "AES128-SHA"]),
            )
            for port, leaf, extra in servers:
                stack.enter_context(background(_s_server(port, leaf, certs, *extra), ready_port=(HOST, port)))
            stack.enter_context(_peer(P_SILENT, "silent"))
            stack.enter_context(_peer(P_FULL_BACKLOG, "full", backlog=0))
            stack.enter_context(_peer(P_RESET, "reset"))
            stack.enter_context(_peer(P_CLOSE, "close"))
            held = _fill_accept_queue(P_FULL_BACKLOG)
            try:
                # nginx as the client of its upstreams (the proxy's error log, "to upstream")
                for path in ("/ok", "/nosni", "/groupname", "/expired", "/selfsigned", "/nochain", "/othername",
                             "/mtls12", "/mtls13", "/mtls_badcert", "/version", "/cipher", "/plain", "/refused",
                             "/silent", "/connect_timeout", "/reset", "/close", "/pool", "/pool", "/redirect"):
                    statuses[path] = _curl(path)
            finally:
                for s in held:
                    s.close()
            # nginx as the server: clients that fail against it
            statuses["plain-to-tls"] = _curl("/", P_PROXY_TLS)
            # TLS 1.1 on purpose (Python warns that it is deprecated)
            statuses["tls1.1"] = _tls_client(P_PROXY_TLS, version=ssl.TLSVersion.TLSv1_1,
                                             ciphers="DEFAULT:@SECLEVEL=0")
            statuses["rsa-only"] = _tls_client(P_PROXY_TLS, version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-SHA")
            statuses["untrusting"] = _tls_client(P_PROXY_TLS, verify=True)
            _partial_clienthello(P_PROXY_TLS, reset=False)
            _partial_clienthello(P_PROXY_TLS, reset=True)
            _partial_clienthello(P_PROXY_TLS, reset=False, wait=3.0)  # past client_header_timeout
            statuses["mtls-none"] = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-k", "--max-time",
                                         "5", f"https://{HOST}:{P_MTLS_LISTENER}/"]).stdout.decode()
            statuses["mtls-expired"] = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-k",
                                            "--max-time", "5", "--cert", str(client_expired.cert), "--key",
                                            str(client_expired.key), f"https://{HOST}:{P_MTLS_LISTENER}/"]
                                           ).stdout.decode()
            # the strict origin, asked without SNI by a client of its own
            statuses["origin-nosni"] = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-k",
                                            "--max-time", "5", f"https://{HOST}:{P_STRICT}/"]).stdout.decode()
            time.sleep(0.5)
        written = []
        for src, name in ((proxy_conf, "lab_proxy.nginx.conf"), (origin_conf, "lab_origin.nginx.conf"),
                          (proxy_conf.parent / "logs/error.log", "lab_proxy.error.log"),
                          (proxy_conf.parent / "logs/access.log", "lab_proxy.access.log"),
                          (proxy_conf.parent / "logs/access.json.log", "lab_proxy.access.json.log"),
                          (proxy_conf.parent / "logs/access.combined.log", "lab_proxy.access.combined.log"),
                          (origin_conf.parent / "logs/error.log", "lab_origin.error.log")):
            target = outdir / name
            target.write_bytes(src.read_bytes())
            written.append(target)
        for what, status in statuses.items():
            print(f"{what}: {status}")
    return written


if __name__ == "__main__":
    for path in make(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/nginx_logs")):
        print(f"{path} {path.stat().st_size} bytes")
