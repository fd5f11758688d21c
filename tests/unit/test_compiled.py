"""The compiled build (setup.py: mypyc) and the plain-Python sources give the same output, byte for byte.

The suite itself runs on the installed package, compiled by ``pip install .`` (scripts/test.sh), and
its goldens were made by the plain sources; this file adds a direct comparison of the two builds on
inputs the goldens do not hold: every committed capture with its key log, captures damaged at random
(truncated, garbage written over them: the error paths, where a compiled module refuses a wrong type
at a call that plain Python lets through), a capture of the benchmark generator, and ``diagnose``.

The plain build is the ``src/`` tree run as is (``PYTHONPATH=src``); the compiled one is the installed
package, run from a folder outside the checkout.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from tests.unit.bench_capture import generated_capture

from tlsdoctor.build import CAPTURE_PASS, compiled_modules

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"

# Prints, for each capture given, every record's JSON (sorted by tcp.stream), the capture's anomalies
# and the engine's counters; a capture given as PATH=KEYS is read with that key log.
_DUMP = r"""
import json, sys
from tlsdoctor.api import iter_connections
from tlsdoctor.capture import CaptureError
from tlsdoctor.report.connections import record_to_json
for arg in sys.argv[1:]:
    path, _, keys = arg.partition("=")
    stream = iter_connections(path, keylog=keys or None)
    try:
        recs = sorted(stream, key=lambda r: r.tcp_stream)
    except CaptureError as exc:
        print(json.dumps({"capture": path, "error": str(exc)}))
        continue
    for rec in recs:
        print(json.dumps(record_to_json(rec), sort_keys=True))
    print(json.dumps({"capture": path, "anomalies": stream.anomalies, "stats": repr(stream.stats)}))
"""


def _run(pure: bool, args: list[str], cwd: Path, script: str = _DUMP) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pure:
        env["PYTHONPATH"] = str(ROOT / "src")
    check = "from tlsdoctor.build import compiled_modules; assert bool(compiled_modules()) == " + str(not pure)
    proc = subprocess.run([sys.executable, "-c", check + "\n" + script, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return proc.stdout


def _compiled_or_skip() -> None:
    if compiled_modules():
        return
    if os.environ.get("CI"):
        pytest.fail("CI runs the compiled build (scripts/test.sh: pip install .), but no module is compiled")
    pytest.skip("this is the plain-Python build (an editable install or TLSDOCTOR_PURE_PYTHON=1): "
                "nothing compiled to compare")


def _same(pure_out: str, compiled_out: str) -> None:
    a, b = pure_out.splitlines(), compiled_out.splitlines()
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        assert x == y, f"line {i + 1} differs:\n plain:    {x[:2000]}\n compiled: {y[:2000]}"
    assert len(a) == len(b)


def test_setup_compiles_the_files_of_capture_pass() -> None:
    # setup.py reads CAPTURE_PASS from build.py's source; each name must be a module file of src/.
    source = (ROOT / "setup.py").read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__file__": str(ROOT / "setup.py")}
    exec(source.split("def _compiling()")[0], namespace)  # the imports and _compiled_modules, not setup()
    files = namespace["_compiled_modules"]()  # type: ignore[operator]
    assert len(files) == len(CAPTURE_PASS) == 12
    for name, file in zip(CAPTURE_PASS, files, strict=True):
        assert (ROOT / file).is_file(), file
        assert file == "src/" + name.replace(".", "/") + ".py"


def test_every_committed_capture_gives_the_same_records(tmp_path: Path) -> None:
    _compiled_or_skip()
    args = []
    for cap in sorted(FIXTURES.rglob("*.pcap*")):
        keys = cap.with_suffix(".keys")
        args.append(f"{cap}={keys}" if keys.exists() else str(cap))
    assert len(args) >= 60
    pure = _run(True, args, tmp_path)
    assert pure.count('"tcp_stream"') >= 100
    _same(pure, _run(False, args, tmp_path))


def test_damaged_captures_give_the_same_records_and_anomalies(tmp_path: Path) -> None:
    _compiled_or_skip()
    rng = random.Random(20261124)
    sources = sorted(FIXTURES.rglob("*.pcap"))
    args = []
    for i in range(120):
        data = bytearray(rng.choice(sources).read_bytes())
        how = i % 3
        if how == 0:  # cut anywhere
            data = data[: rng.randrange(24, len(data))]
        for _ in range(1 if how == 0 else rng.randint(1, 40)):  # garbage bytes past the file header
            pos = rng.randrange(24, len(data))
            data[pos : pos + rng.randint(1, 8)] = rng.randbytes(rng.randint(1, 8))
        path = tmp_path / f"damaged-{i}.pcap"
        path.write_bytes(bytes(data))
        args.append(str(path))
    pure = _run(True, args, tmp_path)
    assert pure.count('"anomalies"') >= 120
    _same(pure, _run(False, args, tmp_path))


def test_a_generated_capture_gives_the_same_records(tmp_path: Path) -> None:
    _compiled_or_skip()
    cap = generated_capture(tmp_path, "3M", 7)
    pure = _run(True, [str(cap)], tmp_path)
    assert pure.count('"tcp_stream"') >= 500
    _same(pure, _run(False, [str(cap)], tmp_path))


def test_diagnose_gives_the_same_report(tmp_path: Path) -> None:
    _compiled_or_skip()
    samples = ROOT / "src" / "tlsdoctor" / "samples"
    script = ("import json, sys\nfrom tlsdoctor.cli import main\nsys.exit(main(['diagnose', '--json', "
              "'--jobs', '1', *sys.argv[1:]]))\n")
    for evidence in ([samples], sorted(str(p) for p in (FIXTURES / "vantage").glob("*.pcap"))[:4]):
        args = [str(p) for p in evidence]
        pure = _run(True, args, tmp_path, script)
        report = json.loads(pure)
        assert report["findings"]
        _same(pure, _run(False, args, tmp_path, script))
