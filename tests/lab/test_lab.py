"""The lab, live: regenerate scenarios with real software and check what the captures show; and the
committed fixtures against their manifest.

Fresh captures differ from the committed ones in ports, times and randoms, not in structure: this checks
the structure with tshark (tests/lab/summarize.py) and with tlsdoctor. The live tests are skipped, with
the reason, without root, tcpdump or network namespaces; the manifest tests only need tshark.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lab.make_fixtures import make
from tests.lab.netlab import lab_available
from tests.lab.summarize import Stream, summarize
from tlsdoctor.api import connections

CAPTURES = Path(__file__).resolve().parent.parent / "fixtures" / "captures"
MANIFEST = CAPTURES / "MANIFEST.md"
HAVE_TSHARK = shutil.which("tshark") is not None and shutil.which("capinfos") is not None

available, why = lab_available()
needs_tshark = pytest.mark.skipif(not HAVE_TSHARK, reason="tshark is not installed (scripts/test.sh installs it)")

# scenario -> (failed, ended, alert code, alert sender) of its one connection, as tlsdoctor reports it
EXPECTED = {
    "version_mismatch": (True, "alert", 70, "server"),
    "no_shared_cipher": (True, "alert", 40, "server"),
    "expired_cert_tls12": (True, "alert", 45, "client"),
    "rst_after_clienthello": (True, "rst", None, None),
    "tcp_connect_refused": (True, "rst", None, None),
    "tls13_ok": (False, None, None, None),
    "tls13_hrr": (False, None, None, None),
}
# Regenerated for the tshark checks too (each a few seconds; the whole module stays well under a minute).
FRESH = [*EXPECTED, "not_tls_http", "sni_required_nginx", "nginx_upstream_no_sni", "tcp_connect_timeout"]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("lab")
    # Loopback ports of our own, apart from the generator's default 44300+ (a parallel make_fixtures run).
    base = 45000 + (os.getpid() % 900) * 20
    return {p.name.split(".")[0]: p for p in make(out, FRESH, base_port=base)}


def _events(capture: Path) -> list[Stream]:
    return summarize(capture)


@pytest.mark.parametrize("scenario", list(EXPECTED))
@pytest.mark.lab
@pytest.mark.skipif(not available, reason=why)
def test_fresh_capture_shows_the_scenario(fresh: dict[str, Path], scenario: str) -> None:
    failed, ended, code, sender = EXPECTED[scenario]
    (rec,) = connections(str(fresh[scenario]))
    assert rec.failed is failed
    if ended is not None:
        assert rec.ended_by.value == ended
    if code is not None:
        assert rec.alert is not None and (rec.alert.code, rec.alert.sender) == (code, sender)
    if scenario == "tls13_hrr":
        assert "J" in rec.history.upper() and rec.tls_version == "TLSv1.3"


@pytest.mark.lab
@pytest.mark.skipif(not available, reason=why)
@needs_tshark
def test_fresh_captures_per_tshark(fresh: dict[str, Path]) -> None:
    """What the manifest says of each scenario, read by tshark from a capture made just now."""
    def one(name: str) -> Stream:
        (st,) = _events(fresh[name])
        return st

    st = one("version_mismatch")
    assert st.by("s", "alert 70") and st.by("c", "ClientHello")
    assert one("no_shared_cipher").by("s", "alert 40")
    st = one("expired_cert_tls12")
    assert st.by("c", "alert 45") and st.by("c", "alert 45")[0] > st.by("s", "ServerHelloDone")[0]
    st = one("rst_after_clienthello")
    assert st.by("s", "RST") and st.by("s", "RST")[0] > st.by("c", "ClientHello")[0] and not st.by("s", "ServerHello")
    st = one("tcp_connect_refused")
    assert [w for _, _, w in st.events] == ["SYN", "RST"] and st.by("s", "RST")
    st = one("tcp_connect_timeout")
    assert {w for _, _, w in st.events} == {"SYN"} and len(st.events) >= 2  # retransmitted, never answered
    st = one("not_tls_http")
    assert st.by("c", "ClientHello") and st.by("s", "HTTP/1.1 400 Bad Request")
    st = one("tls13_hrr")
    assert [w for _, s, w in st.events if w in ("ClientHello", "ServerHello")] == ["ClientHello", "ServerHello"] * 2

    no_sni, with_sni = _events(fresh["sni_required_nginx"])
    assert no_sni.sni is None and no_sni.by("s", "alert 112")
    assert with_sni.sni == "origin.test" and with_sni.by("s", "ServerHello") and not any(
        w.startswith("alert") for _, _, w in with_sni.events)

    upstream = _events(fresh["nginx_upstream_no_sni"])
    assert len(upstream) == 2 and len({st.server for st in upstream}) == 2
    assert all(st.sni is None and st.by("s", "alert 112") for st in upstream)
    stem = fresh["nginx_upstream_no_sni"].with_suffix("")
    error_log = Path(f"{stem}.error.log").read_text()
    assert error_log.count("SSL alert number 112) while SSL handshaking to upstream") == 2
    assert 'upstream_status="502, 502"' in Path(f"{stem}.access.log").read_text()
    assert "proxy_pass https://origin_pool/;" in Path(f"{stem}.nginx.conf").read_text()


# --- the committed fixtures against MANIFEST.md ----------------------------------------------------

# The one capture that must hold hundreds of handshakes (issue 4, the lab): its own size limit.
LARGE_FIXTURES = {"mixed_large": 2_000_000}

_SECTION = re.compile(r"^## (\S+)\n\n- file: `([^`]+)`, (\d+) bytes, (\d+) packets", re.M)


def _manifest() -> list[tuple[str, str, int, list[str]]]:
    """(scenario, file, size, per-connection lines) for each section of MANIFEST.md."""
    text = MANIFEST.read_text(encoding="utf-8")
    sections = []
    for m in _SECTION.finditer(text):
        body = text[m.end():].split("\n## ", 1)[0]
        block = body.split("```\n", 2)[1] if body.count("```") >= 2 else ""
        sections.append((m.group(1), m.group(2), int(m.group(3)), block.splitlines()))
    return sections


def test_manifest_lists_every_committed_capture() -> None:
    listed = {f for _, f, _, _ in _manifest()}
    on_disk = {p.name for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".pcapng")}
    assert listed == on_disk, f"not in the manifest: {on_disk - listed}; missing: {listed - on_disk}"


@needs_tshark
@pytest.mark.parametrize(("scenario", "file", "size", "lines"), _manifest(), ids=[s[0] for s in _manifest()])
def test_committed_capture_is_what_the_manifest_says(scenario: str, file: str, size: int, lines: list[str]) -> None:
    path = CAPTURES / file
    assert path.exists(), f"{file} is listed in MANIFEST.md but missing"
    assert path.stat().st_size == size, f"{file}: {path.stat().st_size} bytes, the manifest says {size}"
    limit = LARGE_FIXTURES.get(scenario, 100_000)
    assert size < limit, f"{file} is too big for a fixture"
    read = subprocess.run(["tshark", "-r", str(path), "-q"], capture_output=True, text=True, timeout=60, check=False)
    assert read.returncode == 0 and "appears to have been cut short" not in read.stderr, read.stderr
    assert [st.line() for st in summarize(path)] == lines, f"{file}: tshark sees something else than MANIFEST.md"
