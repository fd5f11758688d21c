"""Progress while captures are read (src/tlsdoctor/progress.py): the analyzer's hook at every 1024th frame,
in one process and in flow-shard workers, and the bar the CLI draws on a terminal's stderr."""

from __future__ import annotations

import os
import pty
import re
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.unit.bench_capture import generated_capture

from tlsdoctor.api import iter_connections
from tlsdoctor.engine import HOUSEKEEPING_MASK, CaptureAnalyzer
from tlsdoctor.parallel import LinesOut, connections_parallel
from tlsdoctor.progress import SharedProgress, Ticker

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "tests" / "fixtures" / "captures"


def test_ticker_reports_every_nth_call() -> None:
    position = iter(range(100, 10_000, 100))
    reports: list[int] = []
    tick = Ticker(lambda: next(position), reports.append, every=3)
    for _ in range(10):
        tick()
    assert reports == [100, 200, 300]  # calls 3, 6 and 9 read the position, and only they


def test_shared_progress_adds_up_the_slots_of_a_capture() -> None:
    shared = SharedProgress(5)
    shared.writer(1)(10)
    shared.writer(2)(32)
    shared.writer(4)(1000)
    assert shared.read(range(1, 3)) == 42 and shared.read([4]) == 1000 and shared.read(range(5)) == 1042


def _ack(i: int) -> bytes:
    """An Ethernet + IPv4 + TCP ACK of one connection, its i-th packet."""
    tcp = struct.pack("!HHIIHHHH", 40000, 443, 1000 + i, 2000, (5 << 12) | 0x10, 512, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0x4000, 64, 6, 0, bytes([198, 51, 100, 1]),
                     bytes([203, 0, 113, 10]))
    return bytes.fromhex("020000000002020000000001") + b"\x08\x00" + ip + tcp


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_analyzer_calls_its_hook_before_every_1024th_frame(jobs: int) -> None:
    # 3,000 frames of one connection: the hook runs before frames 1024 and 2048, in one process and in
    # every flow shard's worker (whose own frames these may not be).
    frames = [(n, n * 1000, 1, _ack(n), 0, 54, 54) for n in range(1, 3001)]
    for shard in range(jobs):
        analyzer = CaptureAnalyzer("synthetic")
        analyzer.shard, analyzer.jobs = shard, jobs
        seen: list[int] = []
        last = [0]

        def hook(seen: list[int] = seen, last: list[int] = last) -> None:
            seen.append(last[0])

        analyzer.progress_hook = hook

        def numbered(last: list[int] = last) -> object:
            for frame in frames:
                last[0] = frame[0]
                yield frame

        list(analyzer.analyze(numbered()))  # type: ignore[arg-type]
        assert seen == [1024, 2048] and all(not n & HOUSEKEEPING_MASK for n in seen)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5 MB capture of the bench's gateway mix: about 20,000 frames."""
    return generated_capture(tmp_path_factory.mktemp("progress"), "5M", 5, name="gen.pcap")


def test_progress_goes_up_to_the_whole_file_in_one_process_and_on_workers(generated: Path) -> None:
    cap = generated
    size = cap.stat().st_size
    calls: list[tuple[str, int, int]] = []
    records = list(iter_connections(str(cap), progress=lambda *a: calls.append(a)))
    assert records and len(calls) >= 2  # more than 16,384 frames: a report before the end
    assert calls[-1] == ("gen.pcap", size, size)
    assert [c[1] for c in calls] == sorted(c[1] for c in calls) and all(c[2] == size for c in calls)
    lines: list[bytes] = []
    calls.clear()
    results = connections_parallel([(str(cap), "gen.pcap", 2), (str(CAPTURES / "alert_unexplained.pcap"), "a", 1)],
                                   2, LinesOut(json=lines.append), progress=lambda *a: calls.append(a))
    assert [r[0] for r in results if not isinstance(r, Exception)] == [len(records), 1]
    assert len(lines) == len(records) + 1
    small = (CAPTURES / "alert_unexplained.pcap").stat().st_size
    # Each file's last report is the whole of it: every worker writes its final position when it is done.
    assert [c for c in calls if c[0] == "gen.pcap"][-1] == ("gen.pcap", size, size)
    assert [c for c in calls if c[0] == "a"][-1] == ("a", small, small)


def _on_a_terminal(args: list[str], stdout: Path | None) -> str:
    """Run the CLI with stderr on a pseudo-terminal and stdout to a file (None: to the terminal too); what
    the terminal showed. Bounded: a run that outlives TERMINAL_SECONDS is killed and fails the test."""
    leader, follower = pty.openpty()
    with open(stdout if stdout is not None else os.devnull, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tlsdoctor", *args],
                                stdout=out if stdout is not None else follower, stderr=follower,
                                stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "100"})
    os.close(follower)
    shown = bytearray()
    deadline = time.monotonic() + TERMINAL_SECONDS
    try:
        while time.monotonic() < deadline:
            ready, _w, _x = select.select([leader], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is gone: the process closed it
                break
            if not chunk:
                break
            shown += chunk
        else:
            proc.kill()
            pytest.fail(f"tlsdoctor {' '.join(args)} still ran after {TERMINAL_SECONDS} s")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    return shown.decode("utf-8", "replace")


TERMINAL_SECONDS = 600


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_connections_draws_a_bar_on_a_terminal_when_its_output_goes_to_a_file(generated: Path, tmp_path: Path,
                                                                              jobs: str) -> None:
    cap = generated
    shown = _on_a_terminal(["connections", "--json", "--jobs", jobs, str(cap)], tmp_path / "out.jsonl")
    size_mb = f"{cap.stat().st_size / 1e6:.1f}/{cap.stat().st_size / 1e6:.1f} MB"
    assert "gen.pcap" in shown and size_mb in shown  # the bar, full at the end
    plain = subprocess.run([sys.executable, "-m", "tlsdoctor", "connections", "--json", "--jobs", jobs, str(cap)],
                           capture_output=True, timeout=600, check=True)
    assert (tmp_path / "out.jsonl").read_bytes() == plain.stdout  # the lines are the same, with or without a bar
    assert b"MB" not in plain.stderr  # stderr not a terminal: no bar
    quiet = _on_a_terminal(["connections", "--json", "--no-progress", "--jobs", jobs, str(cap)], tmp_path / "q.jsonl")
    assert "MB" not in quiet


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_connections_to_a_terminal_shows_a_bar_only_while_workers_read(generated: Path, jobs: str) -> None:
    # Workers write no line before they are done: the bar is drawn, then cleared, then the lines come. One
    # process writes failures as it finds them: no bar.
    shown = _on_a_terminal(["connections", "--jobs", jobs, str(generated)], None)
    size_mb = f"{generated.stat().st_size / 1e6:.1f} MB"
    bar = [m.end() for m in re.finditer(re.escape(size_mb), shown)]
    lines = [m.start() for m in re.finditer(r"(FAIL|ok  ) +\d+ +\d+\.\d+\.\d+\.\d+:\d+ ->", shown)]
    assert len(lines) > 100  # the table, on the terminal
    if jobs == "1":
        assert bar == []
    else:
        assert bar and max(bar) < min(lines)  # the bar only before the first line
