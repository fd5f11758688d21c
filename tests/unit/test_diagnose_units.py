"""Units of ``diagnose``: intake by content, the CLI's exit status, correlation, the one-finding rule,
hostile evidence."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.bench_capture import generated_capture

from tlsdoctor.evidence.intake import InputKind, gather, printable, sniff
from tlsdoctor.investigate import investigate
from tlsdoctor.report.json import report_to_json
from tlsdoctor.rules import RULES
from tlsdoctor.rules.sni_not_hostname import kind_of_name

TESTS = Path(__file__).resolve().parent.parent
CAPTURES = TESTS / "fixtures" / "captures"
NGINX = TESTS / "fixtures" / "nginx"
REPORT_MD_CAUSES = {
    "sni_missing", "sni_not_hostname", "certificate_expired", "certificate_not_yet_valid",
    "certificate_name_mismatch", "certificate_untrusted", "certificate_chain_incomplete",
    "protocol_version_mismatch", "no_shared_cipher", "no_shared_group", "client_certificate_required",
    "server_internal_error", "not_tls", "tcp_connect_refused", "tcp_connect_timeout", "clienthello_unanswered",
    "rst_after_clienthello", "middlebox_clienthello_blackhole", "rst_injection", "tls_interception", "flow_split",
    "clienthello_fragment_lost", "handshake_stalled", "alert_unexplained",
}


def test_one_rule_module_per_cause_code_of_report_md() -> None:
    assert {r.cause for r in RULES} == REPORT_MD_CAUSES
    assert len(RULES) == len(REPORT_MD_CAUSES)
    assert RULES[-1].cause == "handshake_stalled"  # the catch-all is last


@pytest.mark.parametrize(("name", "kind"), [
    ("tls12_ok.pcap", InputKind.CAPTURE), ("pcapng_dumpcap.pcapng", InputKind.CAPTURE),
    ("nginx_upstream_no_sni.error.log", InputKind.NGINX_ERROR_LOG),
    ("nginx_upstream_no_sni.access.log", InputKind.NGINX_ACCESS_LOG),
    ("nginx_upstream_no_sni.nginx.conf", InputKind.NGINX_CONFIG),
    ("MANIFEST.md", InputKind.UNRECOGNIZED),
])
def test_files_are_recognised_by_content(name: str, kind: str, tmp_path: Path) -> None:
    # Copied under a meaningless name: the name must not matter.
    target = tmp_path / "evidence.bin"
    shutil.copy(CAPTURES / name, target)
    files, problems = gather([str(tmp_path)])
    assert not problems
    assert [(f.kind) for f in files] == [kind]


def test_sniff_key_logs_pem_and_garbage() -> None:
    keylog = b"# comment\nCLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
    assert sniff(keylog)[0] == InputKind.KEYLOG
    pem = (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    assert sniff(pem)[0] == InputKind.CERTIFICATE
    assert sniff(b"-----BEGIN PRIVATE KEY-----\nMII\n")[0] == InputKind.UNRECOGNIZED
    assert sniff(b"")[0] == InputKind.UNRECOGNIZED
    assert sniff(bytes(range(256)) * 4)[0] == InputKind.UNRECOGNIZED


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlsdoctor", "diagnose", *args], capture_output=True, text=True,
                          timeout=120)


def test_exit_status_zero_when_healthy_one_when_failing_two_on_usage_error() -> None:
    assert _cli(str(CAPTURES / "tls13_ok.pcap")).returncode == 0
    failing = _cli("--json", str(CAPTURES / "version_mismatch.pcap"))
    assert failing.returncode == 1
    report = json.loads(failing.stdout)
    assert report["schema"] == "tlsdoctor.report/1"
    assert [f["cause"] for f in report["findings"]] == ["protocol_version_mismatch"]
    assert _cli().returncode == 2
    assert _cli("--vantage", "nolabel", str(CAPTURES / "tls13_ok.pcap")).returncode == 2
    # Only paths that do not exist (a typo): nothing was read, so no "no failure found" either.
    typo = _cli(str(CAPTURES / "tls13_ok.pacp"), "--vantage", f"server={CAPTURES / 'absent.pcap'}")
    assert typo.returncode == 2 and typo.stdout == ""
    assert typo.stderr.count("no such file or directory") == 2


def test_unrecognised_and_missing_files_are_listed_never_fatal(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("just some words\n")
    report = report_to_json(investigate([str(junk), str(tmp_path / "absent.pcap"), str(CAPTURES / "tls12_ok.pcap")]))
    kinds = {i["path"]: i["kind"] for i in report["inputs"]}
    assert kinds["notes.txt"] == "unrecognized"
    assert kinds["tls12_ok.pcap"] == "capture"
    assert {"kind": "unreadable", "source": str(tmp_path / "absent.pcap"),
            "text": "no such file or directory"} in report["anomalies"]
    assert report["overview"]["handshakes_completed"] == 1


def test_two_vantage_points_of_the_same_traffic_are_one_connection(tmp_path: Path) -> None:
    # The same capture given as both ends: every connection must be matched to itself (by random).
    a, b = tmp_path / "near.pcap", tmp_path / "far.pcap"
    shutil.copy(CAPTURES / "mixed_small.pcap", a)
    shutil.copy(CAPTURES / "mixed_small.pcap", b)
    single = report_to_json(investigate([str(CAPTURES / "mixed_small.pcap")]))
    double = report_to_json(investigate([], vantages={"client": str(a), "server": str(b)}))
    assert double["overview"]["connections"] == single["overview"]["connections"]
    assert double["overview"]["handshakes_failed"] == single["overview"]["handshakes_failed"]
    for f in double["findings"]:
        for c in f["connections"]:
            assert c["capture"] == "near.pcap" and c["vantage"] == "client"
            assert c["also_seen"] == [{"capture": "far.pcap", "tcp_stream": c["tcp_stream"], "vantage": "server"}]


def test_every_failing_connection_in_exactly_one_finding() -> None:
    report = report_to_json(investigate([str(CAPTURES / "mixed_small.pcap")]))
    keys = [(c["capture"], c["tcp_stream"]) for f in report["findings"] for c in f["connections"]]
    assert len(keys) == len(set(keys)) == report["overview"]["handshakes_failed"] == 6
    assert report["overview"]["connections"] == 36


def test_sni_missing_takes_the_fix_from_the_nginx_configuration() -> None:
    stem = CAPTURES / "nginx_upstream_no_sni"
    report = report_to_json(investigate([str(stem) + ".pcap", str(stem) + ".nginx.conf"]))
    [finding] = report["findings"]
    assert finding["cause"] == "sni_missing" and finding["confidence"] == "certain"
    assert "proxy_ssl_server_name on;" in finding["fix"] and "proxy_ssl_name origin.test;" in finding["fix"]
    conf_lines = [e for e in finding["evidence"] if e["source"].endswith("nginx.conf")]
    assert conf_lines and "proxy_pass https://origin_pool/" in conf_lines[0]["text"]
    assert finding["patch"].startswith("--- nginx_upstream_no_sni.nginx.conf")
    assert "+            proxy_ssl_name origin.test;" in finding["patch"]


def test_group_names_ips_and_bare_words_are_not_host_names() -> None:
    groups = frozenset({"backend_group"})
    assert kind_of_name("backend_group", groups) == "group"
    assert kind_of_name("198.51.100.7", groups) == "ip"
    assert kind_of_name("backend", groups) == "bare"
    assert kind_of_name("origin.example.com", groups) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a", b"\x1f\x8b", b"2026/11/24 ", b""]),
       body=st.binary(max_size=3000))
def test_hostile_evidence_never_raises(head: bytes, body: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "x").write_bytes(head + body)
    report = report_to_json(investigate([str(folder)]))
    assert report["schema"] == "tlsdoctor.report/1"
    assert len(report["inputs"]) == 1
    assert os.path.basename(report["inputs"][0]["path"]) == "x"


# What tests/lab/make_nginx_logs.py built behind each location of its real nginx proxy (see that script):
# the cause a person would name for each upstream failure.
LAB_LOCATIONS = {
    "/nosni": "sni_missing", "/groupname": "sni_not_hostname", "/expired": "certificate_expired",
    "/selfsigned": "certificate_untrusted", "/nochain": "certificate_chain_incomplete",
    "/othername": "certificate_name_mismatch", "/mtls12": "client_certificate_required",
    "/mtls13": "client_certificate_required", "/version": "protocol_version_mismatch", "/cipher": "no_shared_cipher",
    "/plain": "not_tls", "/refused": "tcp_connect_refused", "/silent": "clienthello_unanswered",
    "/connect_timeout": "tcp_connect_timeout", "/reset": "rst_after_clienthello", "/close": "handshake_stalled",
}


def test_a_log_alone_yields_findings_tied_to_the_configs_locations() -> None:
    logs = TESTS / "fixtures" / "nginx_logs"
    report = report_to_json(investigate([str(logs / "lab_proxy.error.log"), str(logs / "lab_proxy.nginx.conf")]))
    assert report["overview"]["connections"] == 0
    assert any("No capture" in n for n in report["notes"])
    seen = {}
    for f in report["findings"]:
        assert f["connections"] == []
        assert any("line" in e for e in f["evidence"])
        for loc in LAB_LOCATIONS:
            if f"location {loc})" in f["title"]:
                seen[loc] = f
    # A certain finding must name the cause the lab built; a likely or possible one must at least list it.
    assert len(seen) >= 14, sorted(seen)
    for loc, f in seen.items():
        want = LAB_LOCATIONS[loc]
        if f["confidence"] == "certain":
            assert f["cause"] == want, (loc, f["cause"])
        else:
            assert f["cause"] == want or want in f["explanation"], (loc, f["cause"], f["explanation"])
    # The SNI finding carries the configuration's fix for that location (no patch: the configuration does
    # not say the origin's host name, proxy_pass names an address and there is no literal Host header).
    nosni = seen["/nosni"]
    assert "proxy_ssl_server_name on;" in nosni["fix"] and "proxy_ssl_name" in nosni["fix"]
    assert "patch" not in nosni


def test_seed_001_alert_80_with_the_expired_certificate_given_as_evidence() -> None:
    # Seed 001's evidence: the upstream fails with alert 80, and the engineer pulled its certificate with
    # openssl s_client | openssl x509: given as a PEM file, expired at the capture's time.
    report = report_to_json(investigate([str(CAPTURES / "server_internal_error.pcap"),
                                         str(TESTS / "fixtures" / "certs" / "expired.chain.pem")]))
    [finding] = report["findings"]
    assert finding["cause"] == "certificate_expired" and finding["confidence"] == "likely"
    assert any(e["source"] == "expired.chain.pem" and "notAfter" in e["text"] for e in finding["evidence"])
    assert any("before the capture" in n for n in finding["notes"])
    # Without the certificate the same capture is the server's own failure.
    alone = report_to_json(investigate([str(CAPTURES / "server_internal_error.pcap")]))
    assert [f["cause"] for f in alone["findings"]] == ["server_internal_error"]


def test_the_python_api_has_the_clis_words() -> None:
    import tlsdoctor
    import tlsdoctor.probe.matrix  # rebinds tlsdoctor.probe to the package, which must still be callable

    report = tlsdoctor.diagnose([str(CAPTURES / "version_mismatch.pcap")])
    assert [f.cause for f in report.findings] == ["protocol_version_mismatch"]
    assert report.findings[0].connections[0].tcp_stream == 0
    records = sorted(tlsdoctor.connections(str(CAPTURES / "mixed_small.pcap")), key=lambda r: r.tcp_stream)
    assert len(records) == 36 and sum(r.failed for r in records) == 6
    assert callable(tlsdoctor.probe)
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on: the probe's verdict is a refusal
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    verdict = tlsdoctor.probe("127.0.0.1", port, timeout=3)
    assert [f.cause for f in verdict.findings] == ["tcp_connect_refused"]


def test_flow_sharded_workers_give_the_same_report() -> None:
    # One capture analysed by 3 worker processes (each a third of the flows, tcp.stream renumbered over
    # the whole capture) must give exactly the report of one process.
    path = str(CAPTURES / "mixed_large.pcap")
    one = report_to_json(investigate([path], jobs=1))
    three = report_to_json(investigate([path], jobs=3))
    assert three["inputs"][0]["detail"].endswith("3 workers")
    one.pop("inputs")
    three.pop("inputs")
    assert one == three
    assert one["overview"]["handshakes_failed"] == 6


def test_workers_keep_house_at_the_same_frames_as_one_process(tmp_path: Path) -> None:
    # A generated capture of 2,000 connections with final ACKs that arrive after a connection's linger:
    # whether such a packet still counts depends on when housekeeping ran. Workers used to keep house
    # every 1024 frames of their own shard, and 53 of these records differed from one process's.
    cap = generated_capture(tmp_path, "8M", 7)

    def rows(jobs: int) -> list[dict[str, object]]:
        out = subprocess.run([sys.executable, "-m", "tlsdoctor", "connections", "--json", "--jobs", str(jobs),
                              str(cap)], capture_output=True, text=True, timeout=300, check=True).stdout
        return sorted((json.loads(line) for line in out.splitlines()), key=lambda r: int(r["tcp_stream"]))

    one = rows(1)
    assert len(one) > 1500
    assert rows(2) == one
    assert rows(3) == one
    report_one = report_to_json(investigate([str(cap)], jobs=1))
    report_two = report_to_json(investigate([str(cap)], jobs=2))
    report_one.pop("inputs")
    report_two.pop("inputs")
    assert report_one == report_two


def test_a_certificate_problem_merely_seen_is_an_observation_not_a_finding() -> None:
    # Seed 001's capture alone: nginx completed the handshake with the expired certificate (its verify
    # callback accepts, it decides later); without its log the capture shows an accepted certificate.
    alone = report_to_json(investigate([str(CAPTURES / "seed001_expired_upstream.pcap")]))
    assert alone["findings"] == [] and alone["overview"]["handshakes_failed"] == 0
    [seen] = alone["observations"]
    assert seen["cause"] == "certificate_expired" and seen["title"].startswith("Seen but accepted")
    # With nginx's error log the same connection is the failure the log says it was.
    stem = str(CAPTURES / "seed001_expired_upstream")
    both = report_to_json(investigate([stem + ".pcap", stem + ".error.log"]))
    assert [f["cause"] for f in both["findings"]] == ["certificate_expired"] and both["observations"] == []


def test_connections_json_on_several_workers_is_the_same_as_on_one() -> None:
    def rows(jobs: int) -> list[dict[str, object]]:
        out = subprocess.run([sys.executable, "-m", "tlsdoctor", "connections", "--json", "--jobs", str(jobs),
                              str(CAPTURES / "mixed_large.pcap")], capture_output=True, text=True, timeout=300,
                             check=True).stdout
        return sorted((json.loads(line) for line in out.splitlines()), key=lambda r: int(r["tcp_stream"]))

    one, three = rows(1), rows(3)
    assert len(one) == 326 and [r["tcp_stream"] for r in three] == list(range(326))
    assert one == three


def _connections(*argv: str) -> list[str]:
    return subprocess.run([sys.executable, "-m", "tlsdoctor", "connections", *argv], capture_output=True,
                          text=True, timeout=300, check=True).stdout.splitlines()


@pytest.mark.parametrize("failed", [[], ["--failed"]])
def test_the_table_on_several_workers_is_the_same_as_on_one(failed: list[str]) -> None:
    # Workers write each line without its tcp.stream column; the parent puts in the number over the whole
    # capture. The lines are those of one process; failures still come first, then the healthy ones.
    capture = str(CAPTURES / "mixed_large.pcap")
    one, three = _connections(*failed, "--jobs", "1", capture), _connections(*failed, "--jobs", "3", capture)
    assert three[0] == one[0] and sorted(three) == sorted(one)
    fails = [line.startswith("FAIL") for line in three[1:]]
    assert fails == sorted(fails, reverse=True)
    assert sum(fails) == 6 and len(fails) == (6 if failed else 326)


def test_several_captures_on_several_workers_name_their_capture(tmp_path: Path) -> None:
    # With two captures each line names its capture; a name with a tab, and a hostile SNI (control
    # characters), must survive the workers' spool files. JSON Lines with --failed too.
    odd = tmp_path / "odd\tname.pcap"
    odd.write_bytes((CAPTURES / "hostile_sni.pcap").read_bytes())
    captures = [str(CAPTURES / "mixed_large.pcap"), str(odd)]
    one, two = _connections("--jobs", "1", *captures), _connections("--jobs", "2", *captures)
    assert sorted(two) == sorted(one)
    assert any("odd\tname.pcap" in line for line in two)
    rows = {jobs: sorted(_connections("--json", "--failed", "--jobs", jobs, *captures)) for jobs in ("1", "2")}
    assert rows["1"] == rows["2"] and len(rows["1"]) >= 6
    assert all(json.loads(line)["failed"] for line in rows["2"])


def test_several_files_share_the_workers_and_come_out_file_by_file(tmp_path: Path) -> None:
    # With --jobs 2 every file's shards are tasks of one pool; the lines still come file by file, in the
    # order given, the same as one process's. A file that is not a capture is reported (exit 2) and the
    # others are read; standard input among files is read in this process.
    junk = tmp_path / "notes.pcap"
    junk.write_text("not a capture\n")
    captures = [str(CAPTURES / "mixed_large.pcap"), str(junk), str(CAPTURES / "mixed_small.pcap"),
                str(CAPTURES / "hostile_sni.pcap")]

    def run(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "tlsdoctor", "connections", *argv], capture_output=True,
                              timeout=300, input=stdin)

    for form in ([], ["--json"]):
        one, two = run(*form, "--jobs", "1", *captures), run(*form, "--jobs", "2", *captures)
        assert one.returncode == two.returncode == 2
        assert b"notes.pcap" in two.stderr and b"not a pcap or pcapng capture" in two.stderr
        assert one.stderr.splitlines()[-1:] == two.stderr.splitlines()[-1:]
        lines = two.stdout.decode().splitlines()
        if form:
            names = [json.loads(line)["capture"] for line in lines]
            # file by file, each file's lines together, in the order given
            assert [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n] == \
                ["mixed_large.pcap", "mixed_small.pcap", "hostile_sni.pcap"]
        else:
            fails = [line.startswith("FAIL") for line in lines[1:]]
            assert fails == sorted(fails, reverse=True)
        assert sorted(lines) == sorted(one.stdout.decode().splitlines())
    piped = run("--json", "--jobs", "2", str(CAPTURES / "mixed_large.pcap"), "-",
                stdin=(CAPTURES / "mixed_small.pcap").read_bytes())
    alone = run("--json", "--jobs", "1", str(CAPTURES / "mixed_large.pcap"), str(CAPTURES / "mixed_small.pcap"))
    assert piped.returncode == alone.returncode == 0
    got = sorted(json.dumps({k: v for k, v in json.loads(line).items() if k != "capture"}, sort_keys=True)
                 for line in piped.stdout.splitlines())
    want = sorted(json.dumps({k: v for k, v in json.loads(line).items() if k != "capture"}, sort_keys=True)
                  for line in alone.stdout.splitlines())
    assert got == want


def test_a_file_name_that_is_not_utf8_is_cited_as_ls_b_shows_it(tmp_path: Path) -> None:
    # A capture copied from another system can have a name whose bytes are not UTF-8; Python gives them as
    # surrogate escapes, which no UTF-8 output can hold. The table, JSON Lines (one process or workers)
    # and the HTML report cite the name with the byte escaped, as `ls -b` shows it.
    odd = tmp_path / os.fsdecode(b"cap\xff.pcap")
    odd.write_bytes((CAPTURES / "mixed_small.pcap").read_bytes())
    assert printable(str(odd.name)) == "cap\\xff.pcap" and printable("plain.pcap") == "plain.pcap"
    assert printable("\ud800") == "\\ud800"  # a surrogate no file system gave
    other = str(CAPTURES / "hostile_sni.pcap")
    for jobs in ("1", "2"):
        rows = [json.loads(line) for line in _connections("--json", "--jobs", jobs, str(odd))]
        assert len(rows) == 36 and {r["capture"] for r in rows} == {"cap\\xff.pcap"}
        table = _connections("--jobs", jobs, str(odd), other)
        assert sum("cap\\xff.pcap" in line for line in table) == 36
    html = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "tlsdoctor", "diagnose", "--no-progress", "--html", str(html),
                           str(odd)], capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert "cap\\xff.pcap" in html.read_text(encoding="utf-8")


def _first_frames(src: Path, out: Path, frames: int) -> None:
    """A copy of classic pcap ``src`` holding its first ``frames`` records: a capture stopped early."""
    import struct

    data = src.read_bytes()
    pos = 24
    for _ in range(frames):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        pos += 16 + incl
    out.write_bytes(data[:pos])


def test_a_capture_that_stopped_early_does_not_prove_a_reset_forged(tmp_path: Path) -> None:
    """rst_injection: the client's capture has a RST "from the server". The server's own capture, cut
    after the ClientHello (frame 4, before the RST time), cannot say the server never sent it; the TTL
    still marks it unlike the server's packets: likely, with what would settle it. The whole capture
    says it: certain."""
    vantage = TESTS / "fixtures" / "vantage"
    client = vantage / "rst_injection.client.pcap"
    cut = tmp_path / "rst_injection.server.pcap"
    _first_frames(vantage / "rst_injection.server.pcap", cut, 4)

    def finding(server: Path) -> tuple[str, str, list[str]]:
        report = investigate([], vantages={"client": str(client), "server": str(server)})
        f = report.findings[0]
        return f.cause, f.confidence.value, [e.text for e in f.evidence]

    cause, confidence, texts = finding(vantage / "rst_injection.server.pcap")
    assert (cause, confidence) == ("rst_injection", "certain")
    assert any("own capture shows it sent no RST" in t for t in texts)
    cause, confidence, texts = finding(cut)
    assert (cause, confidence) == ("rst_injection", "likely")
    assert not any("own capture shows it sent no RST" in t for t in texts)
    assert any("TTL 64, unlike" in t for t in texts)


def test_a_server_capture_that_stopped_early_does_not_prove_a_hello_swallowed(tmp_path: Path) -> None:
    """middlebox_clienthello_blackhole: the server's capture, cut after the three-way handshake (frame 21,
    before the ClientHello was sent), cannot say the ClientHello never arrived; the ACK's TTL still says
    the path answered for the server: likely."""
    vantage = TESTS / "fixtures" / "vantage"
    client = vantage / "middlebox_clienthello_blackhole.client.pcap"
    cut = tmp_path / "middlebox_clienthello_blackhole.server.pcap"
    _first_frames(vantage / "middlebox_clienthello_blackhole.server.pcap", cut, 21)
    for server, confidence in ((vantage / "middlebox_clienthello_blackhole.server.pcap", "certain"), (cut, "likely")):
        report = investigate([], vantages={"client": str(client), "server": str(server)})
        assert [(f.cause, f.confidence.value) for f in report.findings] == \
            [("middlebox_clienthello_blackhole", confidence)], server



_DEAD_WORKER = """
import os, sys
from tlsdoctor import cli, parallel

def die(args):
    os._exit(9)  # as a worker killed by the OOM killer, or crashed in a compiled module

parallel._run_shard = parallel._run_connections_shard = die
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("verb", [["connections", "--json"], ["diagnose", "--json", "--no-progress"]])
def test_a_dead_worker_is_an_internal_error_not_a_hang(verb: list[str]) -> None:
    # Sharded runs used multiprocessing.Pool, which waits forever for the result of a worker that died;
    # the executor raises, and the CLI reports it as our bug (exit 3). The timeout bounds the test if not.
    capture = str(CAPTURES / "mixed_large.pcap")
    proc = subprocess.run([sys.executable, "-c", _DEAD_WORKER, *verb, "--jobs", "2", capture],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "internal error (this is our bug" in proc.stderr and "BrokenProcessPool" in proc.stderr


def _with_clock_offset(pcap: Path, out: Path, offset_s: int) -> Path:
    """``pcap`` (classic, little-endian, microseconds) as a pcapng whose interface shifts every time stamp by
    ``offset_s`` seconds (``if_tsoffset``, a signed 64-bit option): the same frames, on a clock no datetime
    holds when the shift is large enough (pcapng's time stamps are 64 bits and its offsets too)."""
    import struct

    from tests.unit.test_capture_readers import epb, idb, shb

    data = pcap.read_bytes()
    (linktype,) = struct.unpack_from("<I", data, 20)
    parts = [shb("<"), idb("<", linktype, tsresol=6, tsoffset=offset_s)]
    p = 24
    while p + 16 <= len(data):
        sec, usec, caplen, _origlen = struct.unpack_from("<IIII", data, p)
        parts.append(epb("<", 0, sec * 1_000_000 + usec, data[p + 16 : p + 16 + caplen]))
        p += 16 + caplen
    out.write_bytes(b"".join(parts))
    return out


@pytest.mark.parametrize("offset_s", [900_000_000_000, -100_000_000_000], ids=["year 30000", "before year 1"])
def test_a_capture_clock_beyond_what_a_datetime_holds_is_data(offset_s: int, tmp_path: Path) -> None:
    # A damaged or hostile pcapng can put its frames in any year: certificates are then judged at the present
    # time (a failure) or not at all (a handshake that completed), never a crash of the whole diagnosis.
    # Found by mutating the committed captures (a bit flipped in pcapng_dumpcap.pcapng's if_tsresol).
    expired = report_to_json(investigate([str(_with_clock_offset(CAPTURES / "expired_cert_tls12.pcap",
                                                                 tmp_path / "expired.pcapng", offset_s))]))
    assert [f["cause"] for f in expired["findings"]] == ["certificate_expired"]
    seen = report_to_json(investigate([str(_with_clock_offset(CAPTURES / "seed001_expired_upstream.pcap",
                                                              tmp_path / "seed001.pcapng", offset_s))]))
    assert seen["findings"] == [] and seen["overview"]["handshakes_completed"] == 1
    assert seen["observations"] == []  # no time at which to call it expired


# Real evidence with a few bytes changed: what reaches the deep paths that random bytes never do (a damaged
# pcapng option, a log_format with an odd variable, a certificate field). Each set is what a user would give.
_EVIDENCE_SETS = (
    [CAPTURES / f"seed000_cdn_upstream.{ext}" for ext in ("pcap", "nginx.conf", "error.log", "access.log")],
    [CAPTURES / f"seed001_expired_upstream.{ext}" for ext in ("pcap", "nginx.conf", "error.log", "origin.pem")],
    [CAPTURES / f"nginx_upstream_no_sni.{ext}" for ext in ("pcap", "nginx.conf", "error.log", "access.log")],
    [CAPTURES / "pcapng_dumpcap.pcapng"], [CAPTURES / "certificate_chain_incomplete.pcap"],
    [TESTS / "fixtures" / "keylog" / f"ok_tls12_gcm.{ext}" for ext in ("pcap", "keys")],
    [TESTS / "fixtures" / "vantage" / f"rst_injection.{ext}" for ext in ("client.pcap", "server.pcap", "error.log")],
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, len(_EVIDENCE_SETS) - 1), target=st.integers(0, 3),
       edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.none() | st.floats(0.05, 1))
def test_real_evidence_with_damaged_bytes_is_still_diagnosed(which: int, target: int, edits: list[tuple[float, int]],
                                                            cut: float | None,
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    import warnings

    from tlsdoctor.report.html import render_html
    from tlsdoctor.report.markdown import render_markdown

    folder = tmp_path_factory.mktemp("damaged")
    files = _EVIDENCE_SETS[which]
    for i, src in enumerate(files):
        data = bytearray(src.read_bytes())
        if i == target % len(files):
            for where, value in edits:
                data[int(where * len(data))] = value
            if cut is not None:
                del data[int(cut * len(data)):]
        (folder / src.name).write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        report = investigate([str(folder / src.name) for src in files], jobs=1)
        render_html(report)
        render_markdown(report)
    data = report_to_json(report)
    assert data["schema"] == "tlsdoctor.report/1" and len(data["inputs"]) == len(files)
    assert not [a for a in data["anomalies"] if a["kind"] == "internal_error" or "our bug" in a["text"]
                or "tlsdoctor bug" in a["text"]]
    assert [str(w.message) for w in seen] == []
