"""``diagnose`` against what the lab built, against tshark, and against its own contract.

1. Expectations: ``tests/fixtures/expect/<name>.json`` says, from the knowledge of whoever built each
   capture in the lab (not from tlsdoctor's output), which connections fail and with which cause code;
   every other connection is healthy. The report must name exactly those, each in exactly one finding.
2. Golden reports: the JSON report of each expectation is diffed against ``tests/golden/diagnose/``
   (refresh with ``TLSDOCTOR_UPDATE_GOLDEN=1`` and review the diff), as Zeek's btest baselines.
3. The evidence a person checks: every cited frame is, for tshark, in the capture, and the cited
   display filter selects it; every cited log line is that line of that file.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tlsdoctor.investigate import investigate
from tlsdoctor.report.json import report_to_json

TESTS = Path(__file__).resolve().parent.parent
FIXTURES = TESTS / "fixtures"
EXPECT = sorted((FIXTURES / "expect").glob("*.json"))
GOLDEN = TESTS / "golden" / "diagnose"


def _load(expect: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(expect.read_text(encoding="utf-8"))
    return spec


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    vantage = {label: str(FIXTURES / p) for label, p in spec.get("vantage", {}).items()}
    labelled = set(vantage.values())
    paths = [str(FIXTURES / p) for p in spec["inputs"] if str(FIXTURES / p) not in labelled]
    return report_to_json(investigate(paths, vantages=vantage))


def _views(conn: dict[str, Any]) -> set[str]:
    out = {f"{conn['capture']}#{conn['tcp_stream']}"}
    out.update(f"{s['capture']}#{s['tcp_stream']}" for s in conn.get("also_seen", []))
    return out


def _first_capture(spec: dict[str, Any]) -> str:
    caps = [p for p in spec["inputs"] if p.endswith((".pcap", ".pcapng", ".pcap.gz"))]
    return os.path.basename(caps[0]) if caps else ""


@pytest.mark.parametrize("expect", EXPECT, ids=[p.stem for p in EXPECT])
def test_report_names_exactly_the_failures_the_lab_built(expect: Path) -> None:
    spec = _load(expect)
    report = _run(spec)
    default = _first_capture(spec)
    wanted = {(k if "#" in k else f"{default}#{k}"): cause for k, cause in spec["failed"].items()}
    found: list[tuple[set[str], str]] = []
    for f in report["findings"]:
        for c in f["connections"]:
            if c["capture"] is not None:
                found.append((_views(c), f["cause"]))
    # Each expected failure is in exactly one finding, with the cause the lab built.
    for key, cause in wanted.items():
        hits = [c for views, c in found if key in views]
        assert hits == [cause], f"{expect.stem}: {key} expected {cause}, report says {hits}"
    # And nothing else is reported as failing: healthy connections appear in no finding.
    extra = [(sorted(views), c) for views, c in found if not views & wanted.keys()]
    assert not extra, f"{expect.stem}: connections reported that the lab built healthy: {extra}"
    assert report["overview"]["handshakes_failed"] == len(wanted)
    assert sum(report["overview"]["by_cause"].values()) == len(wanted)


@pytest.mark.parametrize("expect", EXPECT, ids=[p.stem for p in EXPECT])
def test_report_matches_the_golden_file(expect: Path) -> None:
    produced = json.dumps(_run(_load(expect)), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    golden = GOLDEN / f"{expect.stem}.json"
    if os.environ.get("TLSDOCTOR_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert golden.exists(), f"no golden report {golden}; create it with TLSDOCTOR_UPDATE_GOLDEN=1 and review it"
    expected = golden.read_text(encoding="utf-8")
    if produced != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), produced.splitlines(True), str(golden),
                                            "produced", n=2))
        pytest.fail(f"the report of {expect.stem} changed:\n{diff[:6000]}")


def _tshark_frames(capture: Path, display_filter: str, port: int) -> set[int]:
    out = subprocess.run(["tshark", "-n", "-r", str(capture), "-d", f"tcp.port=={port},tls", "-Y", display_filter,
                          "-T", "fields", "-e", "frame.number"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return {int(x) for x in out.split()}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (the oracle)")
@pytest.mark.parametrize("expect", EXPECT, ids=[p.stem for p in EXPECT])
def test_cited_evidence_is_where_it_says(expect: Path) -> None:
    spec = _load(expect)
    report = _run(spec)
    by_name = {os.path.basename(p): FIXTURES / p for p in spec["inputs"]}
    by_name.update({os.path.basename(p): FIXTURES / p for p in spec.get("vantage", {}).values()})
    checked = 0
    for f in report["findings"]:
        ports = {int(c["server"].rsplit(":", 1)[1]) for c in f["connections"] if c.get("server")}
        for e in f["evidence"]:
            path = by_name.get(e["source"])
            if path is None:
                continue
            if "line" in e:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
                assert lines[e["line"] - 1].strip() == e["text"].strip() or e["text"] in lines[e["line"] - 1], \
                    f"{e['source']}:{e['line']} is not {e['text']!r}"
                checked += 1
            if "frame" in e and "display_filter" in e:
                frames: set[int] = set()
                for port in ports or {443}:
                    frames |= _tshark_frames(path, e["display_filter"], port)
                assert e["frame"] in frames, f"{e['source']}: filter {e['display_filter']!r} misses frame {e['frame']}"
                checked += 1
    if report["findings"]:
        assert checked, f"{expect.stem}: findings without any checkable evidence"
