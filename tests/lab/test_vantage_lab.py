"""The multi-vantage lab: the committed captures against tests/fixtures/vantage/MANIFEST.md (tshark), and
one scenario rebuilt live in network namespaces and diagnosed (skipped, with the reason, without root,
tcpdump or namespaces)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lab.make_vantage_fixtures import make
from tests.lab.netlab import lab_available
from tests.lab.summarize import summarize
from tlsdoctor.investigate import investigate
from tlsdoctor.report.json import report_to_json

VANTAGE = Path(__file__).resolve().parent.parent / "fixtures" / "vantage"
MANIFEST = VANTAGE / "MANIFEST.md"
HAVE_TSHARK = shutil.which("tshark") is not None
available, why = lab_available()

_FILE = re.compile(r"^- file: `([^`]+)`, (\d+) bytes, (\d+) packets\n\n```\n(.*?)```", re.M | re.S)


def _manifest() -> list[tuple[str, int, list[str]]]:
    return [(m.group(1), int(m.group(2)), m.group(4).splitlines()) for m in _FILE.finditer(MANIFEST.read_text())]


def test_manifest_lists_every_vantage_capture() -> None:
    assert {f for f, _, _ in _manifest()} == {p.name for p in VANTAGE.glob("*.pcap")}


@pytest.mark.skipif(not HAVE_TSHARK, reason="tshark is not installed (scripts/test.sh installs it)")
@pytest.mark.parametrize(("file", "size", "lines"), _manifest(), ids=[f for f, _, _ in _manifest()])
def test_vantage_capture_is_what_the_manifest_says(file: str, size: int, lines: list[str]) -> None:
    path = VANTAGE / file
    assert path.stat().st_size == size < 100_000
    read = subprocess.run(["tshark", "-r", str(path), "-q"], capture_output=True, text=True, timeout=60, check=False)
    assert read.returncode == 0 and "cut short" not in read.stderr, read.stderr
    assert [st.line() for st in summarize(path)] == lines


@pytest.mark.lab
@pytest.mark.skipif(not available, reason=why)
def test_rst_injection_rebuilt_live_is_diagnosed(tmp_path: Path) -> None:
    """Seed 004 rebuilt now: the SNI-keyed injector resets the blocked.test handshakes, the controls pass,
    and the two vantage points make it certain."""
    make(tmp_path, ["rst_injection"])
    client, server = tmp_path / "rst_injection.client.pcap", tmp_path / "rst_injection.server.pcap"
    report = report_to_json(investigate([str(tmp_path / "rst_injection.error.log")],
                                        vantages={"client": str(client), "server": str(server)}))
    causes = {(c["sni"], f["cause"], f["confidence"]) for f in report["findings"] for c in f["connections"]}
    assert causes == {("blocked.test", "rst_injection", "certain")}
    assert report["overview"]["handshakes_completed"] == 2  # the no-SNI and allowed.test controls
