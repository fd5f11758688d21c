"""The report writers that people look at: ladder diagrams, the HTML page, Markdown for a ticket.

The ladders are checked against what the lab built (tests/fixtures/expect) and against tshark (frame,
flags, TTL and payload length of every arrow); the HTML and Markdown against their own parsers: every
finding is there, every diagram has the packets of its record, and what came from a capture (an SNI
of ``<script>alert(1)</script>&"'``, made by real s_client) stays text. The page in a real browser is
tests/unit/test_html_browser.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import tlsdoctor
from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.report.html import render_html
from tlsdoctor.report.ladder import CLIENT, PATH, SERVER, Ladder, ladders_for, text
from tlsdoctor.report.markdown import code, render_markdown
from tlsdoctor.report.model import Report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPECT = sorted((FIXTURES / "expect").glob("*.json"))
HOSTILE = "<script>alert(1)</script>&\"'"


def diagnose_case(name: str) -> Report:
    spec = json.loads((FIXTURES / "expect" / f"{name}.json").read_text())
    vantages = {k: str(FIXTURES / v) for k, v in spec.get("vantage", {}).items()}
    paths = [str(FIXTURES / p) for p in spec["inputs"] if str(FIXTURES / p) not in vantages.values()]
    return tlsdoctor.diagnose(paths, vantages=vantages)


def first_ladders(report: Report, n: int = 0) -> list[Ladder]:
    c = report.findings[n].connections[0]
    views: list[tuple[str, str | None, ConnectionRecord]] = [
        (c.capture or "", c.vantage, report.records[(c.capture or "", c.tcp_stream or 0)])]
    views += [(cap, v, report.records[(cap, s)]) for cap, s, v in c.also_seen]
    return ladders_for(views)


def marks(lad: Ladder) -> dict[int, tuple[str, str, str]]:
    return {a.frame: (a.mark, a.sender, a.receiver) for a in lad.arrows if a.mark}


# --- ladders -----------------------------------------------------------------------------------------------

def test_reset_injection_two_vantage_points() -> None:
    """Seed 004 built by the lab: the box answers the ClientHello with a RST to each end in the other's
    name. The client's capture has a RST "from the server" that the server never sent; the server's has
    a RST "from the client" that the client never sent, and the server's ACK of the ClientHello never
    reached the client (the box reset it first)."""
    client, server = first_ladders(diagnose_case("rst_injection"))
    assert client.vantage == "client" and server.vantage == "server"
    assert marks(client) == {5: ("forged", PATH, CLIENT)}
    assert marks(server) == {5: ("lost", SERVER, PATH), 6: ("forged", PATH, SERVER)}
    assert [a.tls for a in client.arrows] == ["", "", "", "ClientHello", ""]
    assert client.arrows[-1].flags == "AR" and "rst_injection.server.pcap" in client.arrows[-1].why


def test_blackhole_clienthello_lost_and_acked_by_the_path() -> None:
    """Seed 003's first form: the ClientHello never reaches the server, and the ACKs the client got for it
    came from the box."""
    client = first_ladders(diagnose_case("middlebox_clienthello_blackhole"))[0]
    hello = next(a for a in client.arrows if a.tls == "ClientHello")
    assert (hello.mark, hello.receiver) == ("lost", PATH)
    forged = [a for a in client.arrows if a.mark == "forged"]
    assert forged and all(a.sender == PATH and a.receiver == CLIENT and not a.payload_len for a in forged)


def test_flow_split_odd_ttl_is_not_called_forged() -> None:
    """Seed 003 as the switch saw it: the client's ACK arrives with TTL 62 by another line card. The
    client's capture has that ACK, so it is "odd", not forged; the ClientHello never reached the server,
    and the RST came from node B, not from the server."""
    ladders = {lad.vantage: lad for lad in first_ladders(diagnose_case("flow_split"))}
    assert set(ladders) == {"client", "switch", "node2", "server"}
    server = ladders["server"]
    odd = [a for a in server.arrows if a.mark == "odd"]
    assert [(a.ttl, a.sender) for a in odd] == [(62, CLIENT)] and "client's capture has it" in odd[0].why
    client = ladders["client"]
    assert [m for m, _, _ in marks(client).values()] == ["lost", "forged"]
    # Node B saw no SYN: its packets are not compared, and the ladder says that, not that a box made two
    # TCP connections of one (the same client ISN was never in doubt).
    node2 = ladders["node2"].note
    assert "did not see this connection's SYN" in node2 and "another TCP connection" not in node2
    assert not marks(ladders["node2"])
    assert all(not lad.note for v, lad in ladders.items() if v != "node2")


def _pcap_cut_before(source: Path, frame: int, out: Path) -> Path:
    """A copy of a classic pcap that stops cleanly before ``frame``, as a capture stopped early would."""
    data = source.read_bytes()
    offset, number = 24, 1
    while number < frame:
        offset += 16 + int.from_bytes(data[offset + 8 : offset + 12], "little")
        number += 1
    out.write_bytes(data[:offset])
    return out


def test_a_capture_that_stopped_early_proves_nothing_after_its_end(tmp_path: Path) -> None:
    """The server's capture of the blackhole case stopped before its frame 22 (a copy cut in tmp_path):
    it shows the second connection still open after the handshake's ACK. That the ClientHello, the
    server's FIN and its RST are missing from it says only that it was no longer capturing; the client's
    ladder must not call them lost or forged. Until its last packet it still proves things."""
    vantage = FIXTURES / "vantage"
    server = _pcap_cut_before(vantage / "middlebox_clienthello_blackhole.server.pcap", 22, tmp_path / "server.pcap")
    report = tlsdoctor.diagnose([], vantages={"client": str(vantage / "middlebox_clienthello_blackhole.client.pcap"),
                                              "server": str(server)})
    ref = next(c for f in report.findings for c in f.connections if c.vantage == "client" and c.tcp_stream == 1)
    client = ladders_for(report.views(ref))[0]
    assert client.vantage == "client" and [a.frame for a in client.arrows] == [19, 20, 21, 22, 23, 24, 25, 26, 27]
    assert not {f: m for f, m in marks(client).items() if m[0] in ("lost", "forged")}
    assert "server.pcap stopped before" in client.note and "after frame 21" in client.note
    # The odd TTL of the box's ACKs is still said, as one capture would say it.
    assert [a.frame for a in client.arrows if a.mark == "odd"] == [23, 24]
    # The whole capture still proves the same marks (the lab's test above).
    whole = first_ladders(diagnose_case("middlebox_clienthello_blackhole"))[0]
    assert any(a.mark == "lost" for a in whole.arrows) and not whole.note


def test_only_a_capture_labelled_client_or_server_speaks_for_that_end() -> None:
    """Seed 004 with the user's own labels, the server's capture given first: nothing says which capture was
    taken at which end, so no packet is proven forged or lost (given in this order, the server's own ACK
    was drawn "forged: not sent by the server"). With one end labelled, that end's capture still proves
    what it can."""
    vantage = FIXTURES / "vantage"
    client_pcap, server_pcap = str(vantage / "rst_injection.client.pcap"), str(vantage / "rst_injection.server.pcap")
    report = tlsdoctor.diagnose([], vantages={"origin": server_pcap, "laptop": client_pcap})
    ladders = {lad.vantage: lad for lad in first_ladders(report)}
    assert set(ladders) == {"origin", "laptop"}
    assert all(a.mark in ("", "odd") for lad in ladders.values() for a in lad.arrows)
    assert all("--vantage client=FILE" in lad.note for lad in ladders.values())
    report = tlsdoctor.diagnose([], vantages={"origin": server_pcap, "client": client_pcap})
    ladders = {lad.vantage: lad for lad in first_ladders(report)}
    # The client's capture proves the RST "from the client" forged and the server's ACK lost; without the
    # server's own capture the RST the client got is only odd (its TTL), as one capture would say.
    assert marks(ladders["origin"]) == {5: ("lost", SERVER, PATH), 6: ("forged", PATH, SERVER)}
    assert marks(ladders["client"]) == {5: ("odd", SERVER, CLIENT)}


def test_interception_views_are_not_compared_packet_by_packet() -> None:
    """An intercepting proxy makes two TCP connections of one (another client ISN): comparing packets
    would call everything lost and forged, so the ladders say why they do not."""
    ladders = first_ladders(diagnose_case("tls_interception"))
    assert len(ladders) == 2
    assert all(not marks(lad) for lad in ladders)
    assert all("another TCP connection" in lad.note for lad in ladders)


def test_single_capture_ladder_has_alert_and_no_proof_marks() -> None:
    lad = first_ladders(diagnose_case("version_mismatch"))[0]
    assert lad.vantage is None and not lad.note
    assert any(a.tls == "Alert 70 protocol_version" and a.sender == SERVER for a in lad.arrows)
    assert all(a.mark in ("", "odd") for a in lad.arrows)


def _tshark_packets(capture: Path, stream: int) -> list[tuple[int, str, int, int]]:
    out = subprocess.run(
        ["tshark", "-n", "-r", str(capture), "-Y", f"tcp.stream == {stream}", "-T", "fields", "-e", "frame.number",
         "-e", "tcp.flags", "-e", "ip.ttl", "-e", "tcp.len"], capture_output=True, text=True, check=True,
        timeout=60).stdout
    rows = []
    for line in out.splitlines():
        frame, flags, ttl, length = line.split("\t")
        rows.append((int(frame), flags, int(ttl), int(length)))
    return rows


def _letters(bits: int) -> str:
    return "".join(letter for bit, letter in ((0x02, "S"), (0x10, "A"), (0x08, "P"), (0x01, "F"), (0x04, "R"))
                   if bits & bit) or "."


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (the oracle)")
@pytest.mark.parametrize("case", ["rst_injection", "middlebox_clienthello_blackhole", "flow_split",
                                  "version_mismatch", "seed000_cdn_upstream", "hostile_sni"])
def test_every_arrow_is_the_packet_tshark_shows(case: str) -> None:
    """Frame number, TCP flags, TTL and payload length of every arrow, as tshark reads the same file."""
    report = diagnose_case(case)
    spec = json.loads((FIXTURES / "expect" / f"{case}.json").read_text())
    files = {Path(p).name: FIXTURES / p for p in spec["inputs"]}
    for lad in first_ladders(report):
        ours = [(a.frame, a.flags, a.ttl, a.payload_len) for a in lad.arrows]
        theirs = [(f, _letters(int(flags, 16)), ttl, n) for f, flags, ttl, n in
                  _tshark_packets(files[lad.capture], lad.tcp_stream)]
        assert ours == theirs[:len(ours)], lad.title
        assert len(ours) == len(theirs) or lad.cut


def test_text_ladder_lines_up() -> None:
    lad = first_ladders(diagnose_case("rst_injection"))[0]
    lines = text(lad).splitlines()
    assert lines[0] == lad.title and "client 198.51.100.10:45242" in lines[1]
    assert len(lines) == 2 + len(lad.arrows)
    assert "<~~ [AR] ~~ path" in lines[-1] and "forged: not sent by the server" in lines[-1]


# --- HTML --------------------------------------------------------------------------------------------------

class _Page(HTMLParser):
    """Collects what the tests look at, and checks that every element opened is closed in order."""

    VOID = frozenset({"meta", "br", "input", "img", "link", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.sections = 0
        self.svgs = 0
        self.frames: list[list[int]] = []
        self.scripts = 0
        self.text: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections += 1
        if tag == "svg":
            self.svgs += 1
            self.frames.append([])
        if tag == "g" and a.get("data-frame"):
            self.frames[-1].append(int(a["data-frame"] or 0))
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            if a.get(k) and not (a[k] or "").startswith("#"):
                self.urls.append(a[k] or "")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    return p


@pytest.mark.parametrize("expect", EXPECT, ids=[p.stem for p in EXPECT])
def test_html_has_every_finding_and_its_packets(expect: Path) -> None:
    report = diagnose_case(expect.stem)
    page = render_html(report)
    p = parse(page)
    assert not p.errors and not p.stack
    assert p.sections == len(report.findings)
    assert p.scripts == 1 and not p.urls  # nothing loaded from anywhere
    expected = []
    for n, f in enumerate(report.findings):
        if f.connections and f.connections[0].capture is not None:
            lads = first_ladders(report, n)
            expected += [[a.frame for a in lad.arrows] for lad in lads]
            healthy = report.contrast(f.connections[0])
            if healthy is not None:
                expected.append([q.frame for q in healthy.packets])
    assert p.frames == expected
    body = "".join(p.text)
    for f in report.findings:
        assert f.fix in body
        for e in f.evidence:
            assert e.display_filter is None or e.display_filter in body


def test_html_keeps_markup_from_the_capture_as_text() -> None:
    report = diagnose_case("hostile_sni")
    assert report.findings[0].connections[0].sni == HOSTILE
    page = render_html(report)
    assert "<script>alert" not in page and page.count("<script") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#x27;" in page
    assert HOSTILE in "".join(parse(page).text)  # what a reader sees is the SNI itself
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp and "default-src 'none'" in csp.group(1) and "unsafe-inline" not in csp.group(1).split("script-src")[1]


def test_contrast_with_another_server_when_none_with_this_one_completed() -> None:
    """Seed 002: nginx sends no SNI to any of the CDN's four addresses, and every one refuses; another site
    behind the same proxy answers without SNI. That one is drawn beside the failure, and says it is
    another server."""
    report = diagnose_case("seed002_upstream_hostname_no_sni")
    ref = report.findings[0].connections[0]
    assert ref.server not in report.exemplars
    contrast = report.contrast(ref)
    assert contrast is not None and str(contrast.server) == "198.51.100.6:443" and contrast.handshake_completed
    page = render_html(report)
    assert "a completed handshake with another server, 198.51.100.6:443" in page
    assert f"none with {ref.server} completed" in page
    rst = diagnose_case("rst_injection")
    same = rst.contrast(rst.findings[0].connections[0])
    assert same is not None and str(same.server) == rst.findings[0].connections[0].server


def test_html_without_findings() -> None:
    report = tlsdoctor.diagnose([str(FIXTURES / "captures" / "tls13_ok.pcap")])
    p = parse(render_html(report))
    assert p.sections == 0 and p.svgs == 0 and "No failing handshake found." in "".join(p.text)


# --- Markdown ----------------------------------------------------------------------------------------------

def test_markdown_renders_without_markup_from_the_capture() -> None:
    """Rendered by markdown-it (CommonMark), the ticket holds no element that came from the capture."""
    md = render_markdown(diagnose_case("hostile_sni"))
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    assert "<script>" not in html and "<script" not in html.replace("&lt;script", "")
    assert "protocol_version_mismatch" in md and "tcp.stream == 0" in md


def test_markdown_has_every_finding_with_fix_and_ladder() -> None:
    report = diagnose_case("rst_injection")
    md = render_markdown(report)
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert html.count("<h2>") == len(report.findings)
    assert "forged: not sent by the server" in md and "<table>" in html
    assert "tcp.stream == 0 &amp;&amp; tcp.flags.reset == 1" in html


def test_markdown_shows_entities_from_the_evidence_as_written() -> None:
    """CommonMark turns ``&amp;`` or ``&lt;b&gt;`` in text into the character they name: a log line or an
    SNI holding one would be shown as something it does not say. And the page itself holds no raw HTML,
    which a ticket system that does not admit HTML would show as tags."""
    report = diagnose_case("hostile_sni")
    sni = "a&amp;b&lt;i&gt;.test"
    f = report.findings[0]
    ref = replace(f.connections[0], sni=sni)
    f = replace(f, title=f"{f.title} &lt;b&gt;", connections=(ref, *f.connections[1:]),
                evidence=(replace(f.evidence[0], text="log: a &quot;quoted&quot; &amp; name"), *f.evidence[1:]))
    md = render_markdown(replace(report, findings=(f, *report.findings[1:])))
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(md)
    inline = [t for t in tokens if t.type == "inline"]
    shown = " ".join("".join(c.content for c in (t.children or []) if c.type in ("text", "code_inline"))
                     for t in inline)
    for value in (sni, "&lt;b&gt;", "log: a &quot;quoted&quot; &amp; name"):
        assert value in shown
    raw = [t for t in tokens if t.type == "html_block"]
    raw += [c for t in inline for c in (t.children or []) if c.type == "html_inline"]
    assert not raw, [t.content for t in raw]


@pytest.mark.parametrize("value", ["plain", "a`b", "``x``", "`", ""])
def test_markdown_code_span_holds_any_backticks(value: str) -> None:
    rendered = MarkdownIt("commonmark").renderInline(code(value))
    if value:
        assert rendered == f"<code>{value}</code>".replace("&", "&amp;")


# --- the command -------------------------------------------------------------------------------------------

def test_diagnose_writes_html_and_markdown(tmp_path: Path) -> None:
    from tlsdoctor.cli import main

    html, md = tmp_path / "r.html", tmp_path / "r.md"
    client = FIXTURES / "vantage" / "rst_injection.client.pcap"
    server = FIXTURES / "vantage" / "rst_injection.server.pcap"
    rc = main(["diagnose", "--vantage", f"client={client}", "--vantage", f"server={server}", "--no-progress",
               "--html", str(html), "--markdown", str(md), "--json"])
    assert rc == 1
    assert parse(html.read_text()).svgs == 3  # client, server and the healthy one
    assert md.read_text().startswith("# tlsdoctor: 2 failing handshake(s)")


def test_diagnose_cannot_write_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tlsdoctor.cli import main

    rc = main(["diagnose", str(FIXTURES / "captures" / "version_mismatch.pcap"), "--no-progress",
               "--html", str(tmp_path / "missing" / "r.html")])
    assert rc == 2
    assert "cannot write" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--html", "--markdown"])
def test_diagnose_never_writes_a_report_over_its_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          option: str) -> None:
    """An output named like an input (given by itself, or in a folder given) is refused before anything
    is written: the capture or the log is the evidence, and a report over it destroys it."""
    from tlsdoctor.cli import main

    capture = tmp_path / "cap.pcap"
    shutil.copy(FIXTURES / "captures" / "nginx_upstream_no_sni.pcap", capture)
    folder = tmp_path / "case"
    folder.mkdir()
    log = folder / "error.log"
    shutil.copy(FIXTURES / "captures" / "nginx_upstream_no_sni.error.log", log)
    before = capture.read_bytes(), log.read_bytes()
    for target in (capture, log):
        rc = main(["diagnose", str(capture), str(folder), "--no-progress", "--json", option, str(target)])
        assert rc == 2
        assert f"{target} is one of the inputs" in capsys.readouterr().err
    assert (capture.read_bytes(), log.read_bytes()) == before
    # A report of an earlier run, in the folder given, is not evidence: it is written again.
    again = folder / "report.out"
    for _run in range(2):
        assert main(["diagnose", str(capture), str(folder), "--no-progress", "--json", option, str(again)]) == 1
        assert again.stat().st_size > 0


def test_diagnose_export_that_cannot_be_written_is_a_usage_error(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """docs/diagnose.md: a file that cannot be written is a usage error (exit 2), --export's as well."""
    from tlsdoctor.cli import main

    capture = FIXTURES / "captures" / "version_mismatch.pcap"
    rc = main(["diagnose", str(capture), "--no-progress", "--json", "--export", str(tmp_path / "missing" / "x.pcap")])
    assert rc == 2
    assert "Cannot write" in capsys.readouterr().err
    copy = tmp_path / "copy.pcap"
    shutil.copy(capture, copy)
    rc = main(["diagnose", str(copy), "--no-progress", "--json", "--export", str(copy)])
    assert rc == 2 and copy.read_bytes() == capture.read_bytes()
    assert "that is the capture" in capsys.readouterr().err
    # Nothing failing to export is not a usage error.
    assert main(["diagnose", str(FIXTURES / "captures" / "tls13_ok.pcap"), "--no-progress", "--json",
                 "--export", str(tmp_path / "none.pcap")]) == 0


def test_diagnose_export_writes_one_file_per_vantage_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tlsdoctor.cli import main

    client = FIXTURES / "vantage" / "rst_injection.client.pcap"
    server = FIXTURES / "vantage" / "rst_injection.server.pcap"
    out = tmp_path / "failing.pcapng"
    rc = main(["diagnose", "--vantage", f"client={client}", "--vantage", f"server={server}", "--no-progress",
               "--export", str(out), "--json"])
    assert rc == 1
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["failing.client.pcapng", "failing.server.pcapng"]
    err = capsys.readouterr().err
    assert f"wrote {tmp_path / 'failing.client.pcapng'}" in err
    # Read back: exactly the two failing connections of each capture (streams 0 and 3 at the client).
    back = sorted(tlsdoctor.connections(str(tmp_path / "failing.client.pcapng")), key=lambda r: r.tcp_stream)
    assert [(r.client.port, r.sni, r.failed) for r in back] == [(45242, "blocked.test", True),
                                                                  (45272, "blocked.test", True)]


# --- escaping, for any text -------------------------------------------------------------------------------

_MARKUP = st.sampled_from(["<script>", "</script>", "<img src=x onerror=alert(1)>", "<b>", "<!--", "-->", "&amp;",
                           "&#60;", "`", "```", "|", "*", "_", "[a](http://x)", "![i](http://x/i.png)", "<http://x>",
                           "#", "\n", "\n\n", "> ", "\\", "\"", "'"])
_TEXT = st.lists(_MARKUP | st.text(st.characters(blacklist_categories=("Cs",)), max_size=8), max_size=6).map("".join)
"""Text with the pieces of HTML and Markdown that would become elements if they were not escaped."""


def _report_of(texts: list[str]) -> Report:
    from tlsdoctor.findings import Anomaly, Confidence, ConnectionRef, Evidence, Finding
    from tlsdoctor.report.model import Input, Overview

    t = iter(texts)
    ref = ConnectionRef(capture=next(t), tcp_stream=0, client=next(t), server=next(t), sni=next(t),
                        outcome=next(t), vantage=next(t))
    finding = Finding(cause="rst_injection", title=next(t), confidence=Confidence.LIKELY, explanation=next(t),
                      connections=(ref,), evidence=(Evidence(next(t), next(t), frame=3, display_filter=next(t)),),
                      fix=next(t), notes=(next(t),), patch=next(t))
    report = Report(inputs=(Input(next(t), "capture", next(t), next(t)),), overview=Overview(1, 1, 0, 1),
                    findings=(finding,), anomalies=(Anomaly(next(t), next(t), next(t), line=2),), notes=(next(t),))
    assert next(t, None) is None  # every text is used
    return report


@settings(max_examples=150, deadline=None)
@given(st.lists(_TEXT, min_size=21, max_size=21))
def test_any_text_from_the_evidence_stays_text_in_html(texts: list[str]) -> None:
    page = render_html(_report_of(texts))
    p = parse(page)
    assert not p.errors and not p.stack and p.scripts == 1 and not p.urls
    shown = "".join(p.text)
    for value in texts:
        assert " ".join(value.split()) in " ".join(shown.split())


@settings(max_examples=150, deadline=None)
@given(st.lists(_TEXT, min_size=21, max_size=21))
def test_any_text_from_the_evidence_stays_text_in_markdown(texts: list[str]) -> None:
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(render_markdown(_report_of(texts)))
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))
    assert tags <= {"h1", "h2", "p", "strong", "code", "table", "thead", "tbody", "tr", "th", "td", "ul", "li",
                    "br", "blockquote", "pre", "sub", "em"}, tags


def test_a_ladder_is_cut_only_when_the_record_lacks_packets() -> None:
    """``cut`` compares the packets the connection had with the timeline the record kept: a timeline as
    long as the connection is whole (the helper's review found 64 of 64 packets called cut). The cut
    record here is a real one with its timeline shortened, as the engine does past MAX_TIMELINE."""
    from dataclasses import replace

    from tlsdoctor.report.ladder import ladder

    report = diagnose_case("rst_injection")
    ref = report.findings[0].connections[0]
    rec = report.records[(ref.capture or "", ref.tcp_stream or 0)]
    assert rec.client_dir.packets + rec.server_dir.packets == len(rec.timeline) == 5
    assert not ladder(rec, capture=rec.capture).cut
    shortened = replace(rec, timeline=rec.timeline[:3])
    lad = ladder(shortened, capture=rec.capture)
    assert lad.cut and len(lad.arrows) == 3
    assert "later packets not kept" in text(lad)


def test_one_capture_for_two_vantage_points_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from tlsdoctor.cli import main

    client = FIXTURES / "vantage" / "rst_injection.client.pcap"
    rc = main(["diagnose", "--vantage", f"client={client}", "--vantage", f"server={client}", "--no-progress"])
    assert rc == 2
    assert "one capture is one vantage point" in capsys.readouterr().err
