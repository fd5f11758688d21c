"""``tlsdoctor.evidence.nginx``: every check on configurations that ``nginx -t`` accepts.

Each fixture under tests/fixtures/nginx/<case>/ is a whole nginx configuration. A test copies it into a
temporary prefix, writes the certificates it names (certs/*.crt, made here with cryptography: valid,
expired, expiring in 10 days, a CA), runs ``nginx -t -p PREFIX -c nginx.conf`` on it (in a private mount
namespace whose /etc/hosts resolves the fixtures' *.test names, so that nginx can resolve upstream
servers offline), and checks the findings, their file:line, their fixes, and that the ``--patch``
applies with the ``patch`` binary and leaves a configuration nginx still accepts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tlsdoctor.cli import main
from tlsdoctor.evidence.nginx import NginxAnalysis, NginxConfigError, SniKind, analyze_config
from tlsdoctor.evidence.nginx_model import AnomalyKind, NginxFinding
from tlsdoctor.evidence.nginx_patch import unified_diff

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "nginx"
TEST_NAMES = ("gateway.test", "origin.test", "a.origin.test", "b.origin.test", "api.origin.test", "eu.origin.test",
              "us.origin.test", "us2.origin.test", "abc.origin.test", "api-cs-cn-sandbox.origin.test",
              "grpc.origin.test", "uwsgi.origin.test", "app.origin.test", "one.origin.test", "two.origin.test",
              "snippet.origin.test", "other.origin.test")


# --- helpers (also used by tests/lab/test_nginx_lab.py) -------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write_certificates(folder: Path, names: tuple[str, ...] = ("gateway.test",)) -> dict[str, Path]:
    """A CA and leaves signed by it: server (valid 1 year), expired, soon (10 days left), client."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("tlsdoctor test CA")).issuer_name(_name("tlsdoctor test CA"))
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    out = {"ca": folder / "ca.pem"}
    out["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    validity = {"server": (-1, 365), "expired": (-400, -35), "soon": (-300, 10), "client": (-1, 365)}
    for n, (stem, (start, end)) in enumerate(validity.items(), 2):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(n)
                .not_valid_before(now + dt.timedelta(days=start)).not_valid_after(now + dt.timedelta(days=end))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(x) for x in names]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        out[stem] = folder / f"{stem}.crt"
        out[stem].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{stem}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return out


def prepare(case: str, tmp_path: Path) -> Path:
    """Copy fixture ``case`` into a fresh prefix with its certificates; return the main file."""
    prefix = tmp_path / case
    shutil.copytree(FIXTURES / case, prefix)
    write_certificates(prefix / "certs")
    (prefix / "logs").mkdir(exist_ok=True)
    main_file = prefix / "nginx.conf"
    return main_file if main_file.exists() else next(prefix.glob("*.conf"))


def nginx_test_available() -> tuple[bool, str]:
    if shutil.which("nginx") is None:
        return False, "nginx is not installed (scripts/test.sh installs it)"
    if os.geteuid() != 0:
        return False, "nginx -t runs in a mount namespace with its own /etc/hosts, which needs root"
    if shutil.which("unshare") is None:
        return False, "unshare (util-linux) is missing"
    return True, ""


def nginx_t(conf: Path, names: tuple[str, ...] = TEST_NAMES) -> subprocess.CompletedProcess[str]:
    """``nginx -t -p PREFIX -c CONF`` with an /etc/hosts that resolves ``names`` to 127.0.0.1."""
    hosts = conf.parent / "hosts.tlsdoctor"
    hosts.write_text("127.0.0.1 localhost " + " ".join(names) + "\n")
    script = f'mount --bind "{hosts}" /etc/hosts && exec nginx -t -p "{conf.parent}/" -c "{conf}"'
    return subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True,
                          timeout=30, check=False)


def by_cause(analysis: NginxAnalysis) -> dict[str, list[NginxFinding]]:
    out: dict[str, list[NginxFinding]] = {}
    for f in analysis.findings:
        out.setdefault(f.cause, []).append(f)
    return out


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def apply_patch(conf: Path, diff: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["patch", "-p0", "--forward", "--batch"], input=diff, cwd=conf.parent, text=True,
                          capture_output=True, timeout=30, check=False)


nginx_ok, nginx_why = nginx_test_available()
needs_nginx = pytest.mark.skipif(not nginx_ok, reason=nginx_why)
needs_patch = pytest.mark.skipif(shutil.which("patch") is None, reason="the patch binary is not installed")


ACCEPTED = ("seed000", "seed002", "group_name", "map_backend", "host_mismatch", "host_client", "healthy",
            "certificates", "grpc_uwsgi", "inheritance", "set_variable", "several_hosts")


def analyze(case: str, tmp_path: Path) -> tuple[Path, NginxAnalysis]:
    conf = prepare(case, tmp_path)
    return conf, analyze_config(str(conf))


# --- nginx itself accepts every fixture, before and after the patch -------------------------------

@needs_nginx
@pytest.mark.parametrize("case", ACCEPTED)
def test_nginx_accepts_the_fixture(case: str, tmp_path: Path) -> None:
    conf = prepare(case, tmp_path)
    result = nginx_t(conf)
    assert result.returncode == 0, result.stderr


@needs_nginx
def test_nginx_accepts_the_snippet_inside_an_http_block(tmp_path: Path) -> None:
    site = prepare("snippet", tmp_path)
    wrapper = site.parent / "nginx.conf"
    wrapper.write_text(f"pid logs/nginx.pid;\nerror_log logs/error.log;\nevents {{}}\n"
                       f"http {{\n    include {site};\n}}\n")
    assert nginx_t(wrapper).returncode == 0


@needs_patch
@pytest.mark.parametrize("case", [c for c in ACCEPTED if c != "healthy"])
def test_patch_applies_and_fixes_what_it_claims(case: str, tmp_path: Path) -> None:
    conf, before = analyze(case, tmp_path)
    diff = unified_diff(before.findings, before.texts, str(conf.parent))
    patchable = {f.cause for f in before.findings if f.fix_is_patchable and (f.changes or f.insertions)}
    if not patchable:
        assert diff == ""
        return
    result = apply_patch(conf, diff)
    assert result.returncode == 0, result.stdout + result.stderr
    after = analyze_config(str(conf))
    left = [f for f in after.findings if f.fix_is_patchable]
    assert left == [], [f"{f.cause} {f.title}" for f in left]
    assert not [a for a in after.anomalies if a.kind is not AnomalyKind.CERTIFICATE_UNREADABLE]
    if nginx_ok and (Path("/etc/ssl/certs/ca-certificates.crt").exists() or "upstream_verify_off" not in patchable):
        check = nginx_t(conf)
        assert check.returncode == 0, diff + check.stderr


# --- the seeds ------------------------------------------------------------------------------------

def test_seed000_group_without_sni(tmp_path: Path) -> None:
    conf, a = analyze("seed000", tmp_path)
    assert [f.cause for f in a.findings] == ["upstream_sni_off", "upstream_verify_off"]
    sni = a.findings[0]
    pass_line = line_of(conf, "proxy_pass https://user_cs_cn_backend/;")
    assert (sni.evidence[0].source, sni.evidence[0].line) == (str(conf), pass_line)
    assert sni.evidence[0].text == "proxy_pass https://user_cs_cn_backend/;"
    backend = conf.parent / "conf.d" / "backend.conf"
    assert any(e.source == str(backend) and e.line == 2 and e.text == "server api-cs-cn-sandbox.origin.test:443;"
               for e in sni.evidence)
    # The name comes from the literal Host header; Host is already right, so only SNI is added.
    assert sni.fix == "proxy_ssl_server_name on; proxy_ssl_name api-cs-cn-sandbox.origin.test;"
    assert "Host header" in sni.explanation and "alert 40" in sni.explanation
    (loc,) = a.locations
    assert loc.location == "/proxy/cn/" and loc.server_names == ("gateway.test",)
    (target,) = loc.targets
    assert target.upstream is not None and target.upstream.name == "user_cs_cn_backend"
    (server,) = target.upstream.servers
    assert (server.host, server.port, server.ref.file, server.ref.line) == (
        "api-cs-cn-sandbox.origin.test", 443, str(backend), 2)
    assert (target.sni, target.sni_kind, target.host_header) == (None, SniKind.NONE, "api-cs-cn-sandbox.origin.test")
    assert not loc.sni_enabled and not loc.verify and loc.sni_enabled_ref is None


def test_seed002_hostname_without_sni_and_old_protocols(tmp_path: Path) -> None:
    conf, a = analyze("seed002", tmp_path)
    causes = by_cause(a)
    assert sorted(causes) == ["obsolete_protocols", "upstream_sni_off", "upstream_verify_off"]
    (sni,) = causes["upstream_sni_off"]
    # proxy_pass names the real host: $proxy_host is right, only SNI itself is missing.
    assert sni.fix == "proxy_ssl_server_name on;"
    assert sni.evidence[0].line == line_of(conf, "proxy_pass https://abc.origin.test/index.html;")
    assert sni.location is not None and sni.location.location == "= /"
    (old,) = causes["obsolete_protocols"]
    assert old.evidence[0].line == line_of(conf, "ssl_protocols TLSv1 TLSv1.1")
    assert old.fix == "ssl_protocols TLSv1.2 TLSv1.3;" and "TLSv1, TLSv1.1" in old.title
    # What diagnose needs to read this server's logs.
    main_format = a.log_format("main")
    assert main_format is not None and main_format.format.startswith('$remote_addr:$remote_port $server_port - [')
    assert '"$ssl_protocol $ssl_cipher" "$remote_addr"' in main_format.format
    assert main_format.ref is not None and main_format.ref.line == line_of(conf, "log_format main")
    (loc,) = a.locations
    assert [(t.path, t.format) for t in loc.access_logs] == [("logs/$http_host.access.main.log", "main")]
    assert [(t.path, t.format) for t in loc.error_logs] == [("logs/abc.origin.test.error.log", "error")]
    assert any(t.path == "logs/error.log" and t.server_names == () for t in a.error_logs)


# --- one test per check ---------------------------------------------------------------------------

def test_group_name_as_sni_with_inherited_headers(tmp_path: Path) -> None:
    conf, a = analyze("group_name", tmp_path)
    (f,) = a.findings
    assert f.cause == "upstream_sni_is_group_name" and f.confidence.value == "certain"
    (t,) = f.location.targets if f.location else ()
    assert (t.sni, t.sni_kind, t.host_header) == ("backend_group", SniKind.GROUP_NAME, "backend_group")
    # Adding a proxy_set_header in the location drops the server's: the fix restates them.
    assert f.fix == ("proxy_ssl_name origin.test; proxy_set_header X-Real-IP $remote_addr; "
                     "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_set_header Host origin.test;")
    assert any(e.line == line_of(conf, "proxy_ssl_server_name on;") for e in f.evidence)


def test_variable_pass_through_a_map_gets_a_map_fix(tmp_path: Path) -> None:
    conf, a = analyze("map_backend", tmp_path)
    (f,) = a.findings
    assert f.cause == "upstream_sni_is_group_name"
    assert f.location is not None
    assert {(t.host, t.sni) for t in f.location.targets} == {("eu_backend", "eu_backend"), ("us_backend", "us_backend")}
    lines = {e.line for e in f.evidence}
    assert line_of(conf, "default eu_backend;") in lines and line_of(conf, "us      us_backend;") in lines
    assert "map $proxy_host $upstream_sni_name {" in f.fix and "us_backend us.origin.test;" in f.fix
    assert "proxy_ssl_name $upstream_sni_name;" in f.fix
    # us_backend has two host names: the fix picks the first and says why.
    assert "lists several host names (us.origin.test, us2.origin.test)" in f.explanation


def test_host_header_differs_from_sni(tmp_path: Path) -> None:
    conf, a = analyze("host_mismatch", tmp_path)
    (f,) = a.findings
    assert (f.cause, f.confidence.value) == ("upstream_host_sni_mismatch", "likely")
    assert f.fix == "proxy_ssl_name b.origin.test;"
    assert {e.line for e in f.evidence} >= {line_of(conf, "proxy_set_header Host"), line_of(conf, "proxy_ssl_name")}


def test_client_host_as_sni_against_a_literal_host(tmp_path: Path) -> None:
    _, a = analyze("host_client", tmp_path)
    (f,) = a.findings
    assert (f.cause, f.confidence.value) == ("upstream_host_sni_mismatch", "possible")
    assert f.location is not None and f.location.targets[0].sni_kind is SniKind.CLIENT_HOST


def test_healthy_configuration_has_no_finding(tmp_path: Path) -> None:
    conf, a = analyze("healthy", tmp_path)
    assert a.findings == () and a.anomalies == ()
    assert main(["nginx", str(conf)]) == 0
    kinds = {loc.location: [t.sni_kind for t in loc.targets] for loc in a.locations}
    assert kinds == {"/": [SniKind.HOSTNAME], "/direct/": [SniKind.HOSTNAME], "/plain/": [SniKind.NONE]}


def test_certificate_files_expired_and_expiring(tmp_path: Path) -> None:
    conf, a = analyze("certificates", tmp_path)
    found = by_cause(a)["certificate_file_expired"]
    assert [(f.evidence[0].line, f.certificate.directive if f.certificate else "") for f in found] == [
        (line_of(conf, "ssl_certificate certs/expired.crt;"), "ssl_certificate"),
        (line_of(conf, "proxy_ssl_certificate certs/soon.crt;"), "proxy_ssl_certificate")]
    assert "expired 35 days ago" in found[0].title and re.search(r"expires in (9|10) days", found[1].title)
    assert all(not f.fix_is_patchable and f.fix.startswith("renew ") for f in found)
    assert list(by_cause(a)) == ["certificate_file_expired"]


def test_unreadable_certificate_is_an_anomaly_at_its_line(tmp_path: Path) -> None:
    conf = prepare("certificates", tmp_path)
    (conf.parent / "certs" / "soon.crt").unlink()
    (conf.parent / "certs" / "expired.crt").write_text("not a certificate\n")
    a = analyze_config(str(conf))
    kinds = {(x.kind, x.line) for x in a.anomalies}
    assert (AnomalyKind.CERTIFICATE_UNREADABLE, line_of(conf, "proxy_ssl_certificate certs/soon.crt")) in kinds
    assert (AnomalyKind.CERTIFICATE_UNPARSABLE, line_of(conf, "ssl_certificate certs/expired.crt")) in kinds
    assert by_cause(a) == {}


def test_a_certificate_path_with_a_nul_byte_is_unreadable_not_fatal(tmp_path: Path) -> None:
    # No file can have such a name: open() raises ValueError, not OSError. Found by mutating the committed
    # configurations (a byte of a certificate's path set to zero).
    conf = prepare("certificates", tmp_path)
    conf.write_text(conf.read_text().replace("certs/soon.crt", "certs/so\0on.crt"))
    assert "\0" in conf.read_text()
    a = analyze_config(str(conf))
    assert (AnomalyKind.CERTIFICATE_UNREADABLE, line_of(conf, "proxy_ssl_certificate certs/so")) in {
        (x.kind, x.line) for x in a.anomalies}
    assert [f.cause for f in a.findings] == ["certificate_file_expired"]  # the other file is still read


def test_grpcs_and_suwsgi_without_sni(tmp_path: Path) -> None:
    _, a = analyze("grpc_uwsgi", tmp_path)
    causes = [(f.cause, f.fix) for f in a.findings]
    assert causes == [("upstream_sni_off", "grpc_ssl_server_name on;"),
                      ("upstream_sni_off", "uwsgi_ssl_server_name on;"),
                      ("obsolete_protocols", "grpc_ssl_protocols TLSv1.2 TLSv1.3;")]
    assert [loc.module for loc in a.locations] == ["grpc", "uwsgi", "grpc"]
    assert not a.locations[2].tls


def test_inheritance_rules(tmp_path: Path) -> None:
    conf, a = analyze("inheritance", tmp_path)
    per_location = {loc.location: loc for loc in a.locations}
    # /a/ inherits SNI on, proxy_ssl_name and the literal Host from http and server: nothing to say.
    a_loc = per_location["/a/"]
    assert a_loc.sni_enabled and a_loc.targets[0].sni == "origin.test" and a_loc.targets[0].host_header == "origin.test"
    assert a_loc.headers_inherited and a_loc.sni_enabled_ref is not None and a_loc.sni_enabled_ref.line == line_of(
        conf, "proxy_ssl_server_name on;")
    findings = {(f.location.location if f.location else None, f.cause): f for f in a.findings}
    assert set(findings) == {("/b/", "upstream_host_sni_mismatch"), ("/c/", "upstream_sni_off"),
                             ("/d/", "upstream_verify_off")}
    # /b/ has its own proxy_set_header, so the server's Host is not inherited (array rule).
    b = findings[("/b/", "upstream_host_sni_mismatch")]
    assert per_location["/b/"].targets[0].host_header == "origin_group"
    assert "is not in effect here" in b.explanation and b.fix == "proxy_set_header Host origin.test;"
    # /c/ turns SNI off itself: the patch rewrites that directive rather than adding a second one.
    c = findings[("/c/", "upstream_sni_off")]
    assert c.evidence[0].line == line_of(conf, "location /c/") + 2
    assert c.changes[0].replaces is not None and c.changes[0].replaces.text == "proxy_ssl_server_name off;"
    d = findings[("/d/", "upstream_verify_off")]
    assert d.fix == "proxy_ssl_verify on; proxy_ssl_verify_depth 2;"  # the trusted CA is inherited from http


def test_pass_through_a_set_variable(tmp_path: Path) -> None:
    conf, a = analyze("set_variable", tmp_path)
    (f,) = a.findings
    assert f.cause == "upstream_sni_off" and f.location is not None
    (t,) = f.location.targets
    assert t.upstream is not None and t.upstream.name == "app_backend" and t.url == "https://app_backend"
    assert [v.line for v in t.via] == [line_of(conf, "set $upstream_url")]
    assert f.fix == "proxy_ssl_server_name on; proxy_ssl_name app.origin.test; proxy_set_header Host app.origin.test;"


def test_group_with_several_or_no_host_names(tmp_path: Path) -> None:
    _, a = analyze("several_hosts", tmp_path)
    mixed, ip = a.findings
    assert "one.origin.test" in mixed.fix and "several host names" in mixed.explanation and mixed.fix_is_patchable
    assert not ip.fix_is_patchable and ip.changes == () and "lists only addresses" in ip.explanation


def test_snippet_without_http_block(tmp_path: Path) -> None:
    site, a = analyze("snippet", tmp_path)
    assert [f.cause for f in a.findings] == ["upstream_sni_off", "upstream_verify_off"]
    assert a.findings[0].evidence[0] .line == line_of(site, "proxy_pass https://snippet_backend;")


# --- bad input ------------------------------------------------------------------------------------

def test_missing_include_and_unparsable_file_are_anomalies_and_the_rest_is_checked(tmp_path: Path) -> None:
    conf, a = analyze("broken", tmp_path)
    anomalies = {(x.kind, Path(x.file or "").name, x.line) for x in a.anomalies}
    assert (AnomalyKind.UNREADABLE_INCLUDE, "nginx.conf", line_of(conf, "include conf.d/missing.conf;")) in anomalies
    assert any(k is AnomalyKind.PARSE_ERROR and f == "unbalanced.conf" for k, f, _ in anomalies)
    assert "upstream_sni_off" in by_cause(a)  # the server in nginx.conf itself is still checked
    report = json.loads(_cli_output(["nginx", str(conf), "--json"])[1])
    assert {x["kind"] for x in report["anomalies"]} == {"include_unreadable", "parse_error"}
    assert all(x["source"] and x["line"] for x in report["anomalies"])


def test_include_cycle_is_cut(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text("events {}\nhttp {\n    include a.conf;\n}\n")
    (tmp_path / "a.conf").write_text("include b.conf;\nserver { location / { proxy_pass https://x.test; } }\n")
    (tmp_path / "b.conf").write_text("include a.conf;\n")
    a = analyze_config(str(tmp_path / "nginx.conf"))
    assert any(x.kind is AnomalyKind.INCLUDE_CYCLE for x in a.anomalies)
    assert len(a.locations) == 1


def test_unreadable_main_file(tmp_path: Path) -> None:
    with pytest.raises(NginxConfigError):
        analyze_config(str(tmp_path / "absent.conf"))
    assert main(["nginx", str(tmp_path / "absent.conf")]) == 2
    assert main(["nginx", str(tmp_path)]) == 2  # a directory without nginx.conf


def test_directory_means_its_nginx_conf(tmp_path: Path) -> None:
    conf = prepare("seed000", tmp_path)
    assert analyze_config(str(conf.parent)).path == str(conf)


# --- the CLI --------------------------------------------------------------------------------------

def _cli_output(argv: list[str]) -> tuple[int, str]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(argv)
    return status, buf.getvalue()


def test_cli_json_is_the_report_form(tmp_path: Path) -> None:
    conf = prepare("seed000", tmp_path)
    status, out = _cli_output(["nginx", str(conf), "--json"])
    report = json.loads(out)
    assert status == 1
    assert report["schema"] == "tlsdoctor.report/1" and report["tool"]["name"] == "tlsdoctor"
    assert report["inputs"] == [{"path": str(conf), "kind": "nginx_config"},
                                {"path": str(conf.parent / "conf.d" / "backend.conf"), "kind": "nginx_config"}]
    assert report["overview"]["connections"] == 0 and report["overview"]["findings_by_check"] == {
        "upstream_sni_off": 1, "upstream_verify_off": 1}
    f = report["findings"][0]
    assert set(f) >= {"cause", "title", "confidence", "explanation", "evidence", "fix", "connections"}
    assert f["evidence"][0] == {"source": str(conf), "line": line_of(conf, "proxy_pass https"),
                                "text": "proxy_pass https://user_cs_cn_backend/;"}
    assert f["nginx"]["targets"][0]["upstream"]["name"] == "user_cs_cn_backend"


def test_cli_terminal_output_names_file_line_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = prepare("seed000", tmp_path)
    assert main(["nginx", str(conf)]) == 1
    out = capsys.readouterr().out
    assert "upstream_sni_off" in out and f"{conf}:{line_of(conf, 'proxy_pass https')}" in out
    assert "proxy_ssl_name api-cs-cn-sandbox.origin.test;" in out


@needs_patch
def test_cli_patch_applies_from_the_config_directory(tmp_path: Path) -> None:
    conf = prepare("seed000", tmp_path)
    status, diff = _cli_output(["nginx", str(conf), "--patch"])
    assert status == 1 and diff.startswith("--- nginx.conf\n+++ nginx.conf\n")
    result = apply_patch(conf, diff)
    assert result.returncode == 0, result.stdout + result.stderr
    text = conf.read_text()
    assert "            proxy_ssl_server_name on;\n            proxy_ssl_name api-cs-cn-sandbox.origin.test;\n" in text
    assert _cli_output(["nginx", str(conf), "--patch"])[1] == ""  # nothing left to patch


@needs_patch
def test_patch_of_an_included_file_and_one_line_blocks(tmp_path: Path) -> None:
    (tmp_path / "sites").mkdir()
    (tmp_path / "nginx.conf").write_text("events {}\nhttp {\n    include sites/*.conf;\n}\n")
    (tmp_path / "sites" / "one.conf").write_text(
        "upstream g { server one.test:443; }\n"
        "server { location / { proxy_pass https://g; proxy_ssl_verify on; } }  # one line\n"
        "server {\n\tlocation /t/ {\n\t\tproxy_ssl_server_name off;  # was on\n\t\tproxy_pass https://g;\n\t}\n}\n")
    a = analyze_config(str(tmp_path / "nginx.conf"))
    diff = unified_diff(a.findings, a.texts, str(tmp_path))
    assert diff.startswith("--- sites/one.conf\n")
    assert apply_patch(tmp_path / "nginx.conf", diff).returncode == 0
    text = (tmp_path / "sites" / "one.conf").read_text()
    assert ("server { location / { proxy_pass https://g; proxy_ssl_server_name on; proxy_ssl_name one.test; "
            "proxy_set_header Host one.test; proxy_ssl_verify on; } }  # one line\n") in text
    assert "\t\tproxy_ssl_server_name on;  # was on\n\t\tproxy_pass https://g;\n\t\tproxy_ssl_name one.test;\n" in text
    after = analyze_config(str(tmp_path / "nginx.conf"))
    assert after.findings == ()


# --- pure pieces ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("a.test:443", ("a.test", 443)), ("a.test", ("a.test", None)), ("[2001:db8::1]:8443", ("2001:db8::1", 8443)),
    ("[2001:db8::1]", ("2001:db8::1", None)), ("10.0.0.1:80", ("10.0.0.1", 80)),
    ("a.test:$port", ("a.test:$port", None)),
])
def test_split_host_port(text: str, expected: tuple[str, int | None]) -> None:
    from tlsdoctor.evidence.nginx import split_host_port
    assert split_host_port(text) == expected


@pytest.mark.parametrize(("name", "kind"), [
    ("origin.test", SniKind.HOSTNAME), ("backend_group", SniKind.GROUP_NAME), ("10.1.2.3", SniKind.IP_LITERAL),
    ("[2001:db8::1]", SniKind.IP_LITERAL), ("localhost", SniKind.BARE_WORD), ("$host", SniKind.CLIENT_HOST),
    ("${http_host}", SniKind.CLIENT_HOST), ("$foo.test", SniKind.UNRESOLVED), ("", SniKind.NONE),
])
def test_classify_name(name: str, kind: SniKind) -> None:
    from tlsdoctor.evidence.nginx import classify_name
    assert classify_name(name, {"backend_group"}) is kind


@pytest.mark.parametrize(("module", "url", "expected"), [
    ("proxy", "https://g/", ("https", "g", None)), ("proxy", "https://h.test:8443/x", ("https", "h.test", 8443)),
    ("proxy", "$up", (None, "$up", None)), ("grpc", "grpcs://h.test:443", ("grpcs", "h.test", 443)),
    ("grpc", "127.0.0.1:9000", ("grpc", "127.0.0.1", 9000)),
    ("uwsgi", "suwsgi://u.test:9443", ("suwsgi", "u.test", 9443)),
    ("proxy", "http://unix:/run/app.sock:/x", ("http", "/run/app.sock", None)),
])
def test_parse_pass_url(module: str, url: str, expected: tuple[str | None, str, int | None]) -> None:
    from tlsdoctor.evidence.nginx import parse_pass_url
    assert parse_pass_url(module, url) == expected


@pytest.mark.parametrize(("target", "upstream", "expected_fix"), [
    ("https://origin.test", "", "proxy_ssl_server_name on;"),  # the pass host is a name: keep it (seed 002)
    ("https://grp", "upstream grp { server one.test:443; }", "proxy_ssl_server_name on; proxy_ssl_name $host;"),
    ("https://192.0.2.10", "", "proxy_ssl_server_name on; proxy_ssl_name $host;"),
])
def test_host_header_passing_the_clients_name(tmp_path: Path, target: str, upstream: str, expected_fix: str) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"events {{}}\nhttp {{\n{upstream}\nserver {{\nlocation / {{\nproxy_pass {target};\n"
                    "proxy_set_header Host $host;\nproxy_ssl_verify on;\n}\n}\n}\n")
    (f,) = analyze_config(str(conf)).findings
    assert (f.cause, f.fix) == ("upstream_sni_off", expected_fix)
