"""One capture over several cores: flow-sharded workers, merged into one ``Diagnosis``.

Theory of operation. Every worker process opens the same capture and reads every frame, but analyses
only the TCP connections whose flow falls in its shard (a hash of the 4-tuple taken in the same order
for both directions, so a connection and its reused ports stay in one shard). Reading and hashing
all frames is cheap next to the TCP and TLS work, which is split. Frames that are not TCP over IP
(and so carry no connection) go to shard 0, which also reports the capture's own anomalies.

Each worker feeds its records to its own ``Diagnosis`` (which keeps only the failing ones) and sends
back that state plus the first frame number of every connection it saw. Wireshark numbers tcp.stream
in order of each connection's first packet over the whole capture; a worker numbers only its own, so
the parent renumbers: a connection's global number is the rank of its first frame among all
connections' first frames. Only ``diagnose`` of a single capture runs sharded (several captures need
every record for matching vantage points, which is the wrong trade across processes). ``tlsdoctor
connections`` (below) puts several files on one pool, a small file as one task and a large one as a
task per flow shard; its workers write lines, not records.

With a key log, every worker decrypts in its own pass what the key log covers among its flows
(``CaptureAnalyzer(name, keylog)``), exactly as one process would: the parent's key log reaches the
workers through the pool's initializer, and each worker adds the capture's own Decryption Secrets
Blocks (``engine.embedded_keylog``), which it reads anyway.
"""

from __future__ import annotations

import itertools
import os
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

import orjson

from tlsdoctor.capture import CaptureError, CaptureSource, open_capture
from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.engine import CaptureAnalyzer, embedded_keylog
from tlsdoctor.findings import Anomaly
from tlsdoctor.progress import Progress, SharedProgress, follow
from tlsdoctor.tls.keylog import KeyLog

_T = TypeVar("_T")

if TYPE_CHECKING:  # imported where diagnose needs it: `connections` reads no rule (60 ms of its start-up)
    from concurrent.futures import Future, ProcessPoolExecutor  # and the pool where it starts (9 ms): `default_jobs`

    from tlsdoctor.diagnosis import Diagnosis

MIN_SHARDED_BYTES = 64 * 1024 * 1024
"""Below this size one process is as fast (the workers' start-up and the merge cost more than they save)."""
MAX_JOBS = 8


def default_jobs(size: int) -> int:
    if size < MIN_SHARDED_BYTES:
        return 1
    return max(1, min(MAX_JOBS, os.cpu_count() or 1))


def plan_files(paths: list[str], jobs_wanted: int | None) -> tuple[list[tuple[str, int]], int]:
    """How ``tlsdoctor connections`` spreads regular capture files over the cores: each file with its
    number of flow shards, and the number of worker processes (1: read them in this process).
    ``jobs_wanted`` (``--jobs N``): N workers and every file in N shards. By default each file of
    ``MIN_SHARDED_BYTES`` or more in one shard per core and smaller ones whole, with a worker per core
    when a file is cut or the files together reach that size: below it one process is as fast."""
    if jobs_wanted is not None:
        return [(path, jobs_wanted) for path in paths], jobs_wanted
    sizes = [os.path.getsize(path) for path in paths]
    files = [(path, default_jobs(size)) for path, size in zip(paths, sizes, strict=True)]
    cores = default_jobs(MIN_SHARDED_BYTES)
    if any(jobs > 1 for _path, jobs in files) or (len(paths) > 1 and sum(sizes) >= MIN_SHARDED_BYTES):
        return files, cores
    return files, 1


@dataclass(slots=True)
class ShardResult:
    shard: int
    first_frames: array[int]  # first frame of every connection of this shard
    diagnosis: Diagnosis
    anomalies: list[Anomaly] = field(default_factory=list)
    frames: int = 0
    format: str = ""
    embedded_randoms: int = 0  # client randoms of the capture's own Decryption Secrets Blocks
    embedded_anomalies: tuple[tuple[int, str], ...] = ()  # their bad lines (shard 0 only)


@dataclass(frozen=True, slots=True)
class ShardedCapture:
    """What ``analyze_sharded`` read of one capture, besides the records merged into the ``Diagnosis``."""

    anomalies: list[Anomaly]
    frames: int
    format: str
    embedded_randoms: int = 0
    """Client randoms of the key log embedded in the capture (pcapng Decryption Secrets Blocks)."""
    embedded_anomalies: tuple[tuple[int, str], ...] = ()
    """(line, why) of that key log's bad lines."""


_worker_keylog: KeyLog | None = None
"""The key log given with the capture, in a worker process. Set by the pool's initializer: with the
"fork" start method its arguments are inherited, not pickled, so a large key log is not sent down a
pipe once per shard."""
_worker_progress: SharedProgress | None = None
"""Where a worker reports the bytes it has read, when the parent shows progress (set likewise)."""


def _set_worker_state(keylog: KeyLog | None, progress: SharedProgress | None) -> None:
    global _worker_keylog, _worker_progress
    _worker_keylog = keylog
    _worker_progress = progress


def _workers(jobs: int, keylog: KeyLog | None, progress: SharedProgress | None = None) -> ProcessPoolExecutor:
    """``jobs`` forked worker processes. A ``ProcessPoolExecutor``, not a ``multiprocessing.Pool``: when a
    worker dies (killed, out of memory, a crash in a compiled module) or its result cannot be unpickled,
    the executor raises (``BrokenProcessPool``), which the CLI reports as an internal error; the Pool
    waits for that result forever."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                               initializer=_set_worker_state, initargs=(keylog, progress))


def _report_progress(analyzer: CaptureAnalyzer, source: CaptureSource, slot: int) -> Callable[[], None]:
    """In a worker: write the bytes ``source`` has read to slot ``slot`` of the shared progress, now and
    then, when the parent shows progress. Returns what writes the end: call it when the pass is done."""
    if _worker_progress is None:
        return lambda: None
    return follow(analyzer, source, _worker_progress.writer(slot))


def _first_slots(files: list[tuple[str, str, int]]) -> list[int]:
    """Each file's first slot of the shared progress, its tasks (flow shards) being the ones after it, and
    the number of slots last."""
    return list(itertools.accumulate((jobs for _p, _n, jobs in files), initial=0))


def _poller(files: list[tuple[str, str, int]], shared: SharedProgress | None,
            progress: Progress | None) -> Callable[[], None] | None:
    """What tells ``progress`` how far each file (path, name, flow shards) has been read, its shards on
    average, from their slots of ``shared``; None when no one asked for progress."""
    if progress is None or shared is None:
        return None
    slots = _first_slots(files)
    sizes = [os.path.getsize(path) for path, _n, _j in files]

    def poll() -> None:
        for i, (_path, name, jobs) in enumerate(files):
            progress(name, min(sizes[i], shared.read(range(slots[i], slots[i + 1])) // jobs), sizes[i])

    return poll


def _results(futures: list[Future[_T]], poll: Callable[[], None] | None) -> list[_T]:
    """The futures' results, in order; with ``poll``, called every 0.2 s while they run (and once after)."""
    if poll is not None:
        from concurrent.futures import wait

        pending = set(futures)
        while pending:
            _done, pending = wait(pending, timeout=0.2)
            poll()
    return [f.result() for f in futures]


def _run_shard(args: tuple[str, str, int, int, frozenset[str]]) -> ShardResult:
    path, name, shard, jobs, verify_failed = args  # shard is also its progress slot
    from tlsdoctor.diagnosis import Diagnosis

    diagnosis = Diagnosis(correlate_all=False, verify_failed_servers=verify_failed)
    firsts: array[int] = array("q")
    anomalies: list[Anomaly] = []
    with open_capture(path) as source:
        frames, embedded = embedded_keylog(source)
        keylog = _worker_keylog
        if embedded is not None:
            keylog = embedded if keylog is None else keylog.merged(embedded)
        analyzer = CaptureAnalyzer(name, keylog)
        analyzer.attach(source, shard, jobs)
        read_all = _report_progress(analyzer, source, shard)

        def records() -> Iterator[ConnectionRecord]:
            for rec in analyzer.analyze(frames):
                firsts.append(rec.frames.get("first", 0))
                yield rec

        diagnosis.add(name, None, records())
        read_all()
        if shard == 0:
            anomalies.extend(Anomaly(a.kind, name, a.detail, frame=a.frame) for a in source.anomalies)
        anomalies.extend(Anomaly("engine", name, t) for t in analyzer.anomalies)
        frames_read, fmt = analyzer.stats.frames, source.format
    if embedded is None:
        return ShardResult(shard, firsts, diagnosis, anomalies, frames_read, fmt)
    return ShardResult(shard, firsts, diagnosis, anomalies, frames_read, fmt, len(embedded),
                       embedded.anomalies if shard == 0 else ())


def analyze_sharded(path: str, name: str, jobs: int, into: Diagnosis, verify_failed: frozenset[str] = frozenset(),
                    keylog: KeyLog | None = None, progress: Progress | None = None) -> ShardedCapture:
    """Analyse one capture in ``jobs`` processes and merge the result into ``into`` as one capture;
    ``keylog``: the key log given with it (the workers add the capture's embedded one); ``progress``: told
    how far the workers have read, on average, while they run."""
    shared = SharedProgress(jobs) if progress is not None else None
    poll = _poller([(path, name, jobs)], shared, progress)
    with _workers(jobs, keylog, shared) as pool:
        futures = [pool.submit(_run_shard, (path, name, s, jobs, verify_failed)) for s in range(jobs)]
        results = _results(futures, poll)
    all_firsts = sorted(f for r in results for f in r.first_frames)

    def renumber(rec: ConnectionRecord) -> ConnectionRecord:
        return replace(rec, tcp_stream=bisect_left(all_firsts, rec.frames.get("first", 0)))

    anomalies: list[Anomaly] = []
    frames = 0
    fmt = ""
    for r in results:
        into.merge(r.diagnosis, renumber)
        anomalies.extend(r.anomalies)
        frames = max(frames, r.frames)
        fmt = fmt or r.format
    into.finish_merge(name)
    return ShardedCapture(anomalies, frames, fmt, max(r.embedded_randoms for r in results),
                          tuple(a for r in results for a in r.embedded_anomalies))


# --- tlsdoctor connections over several cores ------------------------------------------------------------

_STREAM_PLACEHOLDER = b'"tcp_stream":-1,'
"""A worker writes each record's JSON with this in place of its tcp.stream number (the key is written
second, after the capture's name, which JSON escapes, so the first occurrence is always the key)."""


@dataclass(frozen=True, slots=True)
class LinesOut:
    """Where ``connections_parallel`` writes a capture's lines: JSON Lines to ``json`` if given, else table
    lines (``report.connections.summary_line``), a failed connection's to ``failures`` and a healthy one's
    to ``healthy``; with ``failed_only``, healthy connections are counted and not written. ``before_lines``
    is called once, before the first line is written (the CLI clears its progress bar from the terminal
    there: no line is written before the workers are done)."""

    json: Callable[[bytes], object] | None = None
    failures: Callable[[str], object] | None = None
    healthy: Callable[[str], object] | None = None
    failed_only: bool = False
    with_capture: bool = False
    before_lines: Callable[[], object] | None = None


def _run_connections_shard(args: tuple[str, str, int, int, int, str, bool, bool, bool]
                           ) -> tuple[array[int], int, int, list[str]]:
    from tlsdoctor.report.connections import json_line, record_to_json, summary_parts

    path, name, shard, jobs, slot, spool, as_json, failed_only, with_capture = args
    firsts: array[int] = array("q")
    count = failed = 0
    anomalies: list[str] = []
    with open(spool, "wb") as out, open_capture(path) as source:
        analyzer = CaptureAnalyzer(name)
        analyzer.attach(source, shard, jobs)
        read_all = _report_progress(analyzer, source, slot)
        for rec in analyzer.analyze(source.frames()):
            first = rec.frames.get("first", 0)
            firsts.append(first)  # every connection's, written or not: they number tcp.stream
            count += 1
            failed += rec.failed
            if failed_only and not rec.failed:
                continue
            if as_json:
                data = record_to_json(rec)
                data["tcp_stream"] = -1
                out.write(b"%d\t%b" % (first, json_line(data)))
            else:
                # JSON around the two parts: a capture's name or an SNI may hold a tab or a newline.
                head, tail = summary_parts(rec, with_capture=with_capture)
                out.write(orjson.dumps([first, rec.failed, head, tail], option=orjson.OPT_APPEND_NEWLINE))
        read_all()
        if shard == 0:
            anomalies.extend(str(a) for a in source.anomalies)
        anomalies.extend(analyzer.anomalies)
    return firsts, count, failed, anomalies


def connections_parallel(files: list[tuple[str, str, int]], workers: int, out: LinesOut,
                         progress: Progress | None = None) -> list[tuple[int, int, list[str]] | CaptureError]:
    """``tlsdoctor connections`` of capture files (path, name, flow shards) on ``workers`` processes: every
    shard of every file is a task (a small file is one shard), each writes its records' lines to a spool
    file, and the parent passes them to ``out`` file by file, in the order given, as soon as a file's
    shards are done, numbering tcp.stream over that file (shard by shard: the lines are not in tcp.stream
    order, as in one process they come as connections end). Returns, per file, (connections, failed,
    anomalies), or the ``CaptureError`` that stopped that file (not a capture, unreadable): the others
    are still read. ``progress`` is told how far each file has been read (its shards on average) while
    the workers run."""
    import tempfile

    results: list[tuple[int, int, list[str]] | CaptureError] = []
    slots = _first_slots(files)
    shared = SharedProgress(slots[-1]) if progress is not None else None
    poll = _poller(files, shared, progress)
    with (tempfile.TemporaryDirectory(prefix="tlsdoctor-shards-") as spool_dir,
          _workers(workers, None, shared) as pool):
        submitted = []
        for i, (path, name, jobs) in enumerate(files):
            spools = [os.path.join(spool_dir, f"{i}-{s}.jsonl") for s in range(jobs)]
            submitted.append((spools, [pool.submit(_run_connections_shard,
                                                   (path, name, s, jobs, slots[i] + s, spools[s],
                                                    out.json is not None, out.failed_only, out.with_capture))
                                       for s in range(jobs)]))
        writing = False  # a file's lines have been written
        for spools, futures in submitted:
            try:
                parts = _results(futures, poll)
            except CaptureError as exc:
                results.append(exc)
                continue
            if out.before_lines is not None and not writing:
                out.before_lines()
            writing = True
            _write_lines(spools, sorted(f for part in parts for f in part[0]), out)
            results.append((sum(part[1] for part in parts), sum(part[2] for part in parts),
                            [a for part in parts for a in part[3]]))
            for spool in spools:
                os.remove(spool)  # a file's lines are out: its spools need not wait for the others
    return results


def _write_lines(spools: list[str], all_firsts: list[int], out: LinesOut) -> None:
    """The lines of one capture's spool files to ``out``, each with its connection's tcp.stream: the rank
    of its first frame among ``all_firsts``, the sorted first frames of all the capture's connections."""
    for spool in spools:
        with open(spool, "rb") as lines:
            if out.json is not None:
                for line in lines:
                    first, data = line.split(b"\t", 1)
                    rank = bisect_left(all_firsts, int(first))
                    out.json(data.replace(_STREAM_PLACEHOLDER, b'"tcp_stream":%d,' % rank, 1))
                continue
            for line in lines:
                first_frame, bad, head, tail = orjson.loads(line)
                text = f"{head}{bisect_left(all_firsts, first_frame):>6}{tail}\n"
                write = out.failures if bad else out.healthy
                if write is not None:
                    write(text)
