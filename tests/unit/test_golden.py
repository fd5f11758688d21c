"""Golden files: ``tlsdoctor connections --json`` on every committed capture, diffed against a baseline.

As Zeek's btest baselines: the baseline under tests/golden/ mirrors the fixture's path with ``.jsonl``
appended, one JSON object per connection in tcp.stream order. A change in the output fails the test
with the diff; after checking that the new output is right, refresh with
``TLSDOCTOR_UPDATE_GOLDEN=1 python -m pytest tests/unit/test_golden.py`` and review ``git diff``.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from tlsdoctor.api import connections
from tlsdoctor.report.connections import record_to_json

TESTS = Path(__file__).resolve().parent.parent
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"
CAPTURES = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.name.endswith((".pcap", ".pcapng", ".pcap.gz")))


def _render(capture: Path) -> str:
    lines = [json.dumps(record_to_json(r), sort_keys=True, ensure_ascii=False) for r in connections(str(capture))]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("capture", CAPTURES, ids=[str(p.relative_to(FIXTURES)) for p in CAPTURES])
def test_connections_match_the_golden_file(capture: Path) -> None:
    golden = GOLDEN / (str(capture.relative_to(FIXTURES)) + ".jsonl")
    produced = _render(capture)
    if os.environ.get("TLSDOCTOR_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; create it with TLSDOCTOR_UPDATE_GOLDEN=1 and review it"
    expected = golden.read_text(encoding="utf-8")
    if produced != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), produced.splitlines(True),
                                            str(golden), "produced", n=1))
        pytest.fail(f"output differs from {golden.name}:\n{diff[:6000]}")


def test_every_golden_file_has_its_capture() -> None:
    for golden in GOLDEN.rglob("*.jsonl"):
        capture = FIXTURES / str(golden.relative_to(GOLDEN))[: -len(".jsonl")]
        assert capture.exists(), f"{golden} has no capture {capture}"
