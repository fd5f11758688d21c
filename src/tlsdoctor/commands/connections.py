"""``tlsdoctor connections CAPTURE...``: one line per TCP/TLS connection, failures first."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO, cast

HELP = "List every TCP/TLS connection of captures: endpoints, SNI, versions, how far the handshake got, how it ended."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("captures", nargs="+", metavar="CAPTURE", help="pcap or pcapng file (gzip ok), or - for stdin")
    parser.add_argument("--failed", action="store_true", help="only connections whose TCP or TLS handshake failed")
    parser.add_argument("--json", action="store_true", help="JSON Lines, one object per connection")
    parser.add_argument("--jobs", type=int, metavar="N", help="worker processes for each large capture file "
                        "(default: every core, for captures from 64 MB; 1 = no workers)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (shown on a terminal's stderr while the output goes to a file or a "
                             "pipe, or while workers read)")


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    import tempfile

    from tlsdoctor.api import capture_name, iter_connections
    from tlsdoctor.capture import CaptureError
    from tlsdoctor.commands._progress import ProgressBar
    from tlsdoctor.report.connections import HEADER, json_line, record_to_json, summary_line

    out = sys.stdout
    write_line = _line_writer(out)
    status = 0
    # Healthy lines wait in a temporary file so that failures print first with bounded memory.
    spool = None if args.json else tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
    if spool is not None:
        out.write(HEADER + "\n")
    counts = {"connections": 0, "failed": 0}
    many = len(args.captures) > 1
    jobs_wanted = getattr(args, "jobs", None)
    if jobs_wanted is not None and jobs_wanted < 1:
        sys.stderr.write("tlsdoctor connections: --jobs wants a number of workers, 1 or more\n")
        return 2

    def report(path: str, result: tuple[int, int, list[str]] | CaptureError) -> None:
        nonlocal status
        if isinstance(result, CaptureError):
            sys.stderr.write(f"tlsdoctor: {path}: {result}\n")
            status = 2
            return
        n, failed, anomalies = result
        counts["connections"] += n
        counts["failed"] += failed
        for anomaly in anomalies:
            sys.stderr.write(f"tlsdoctor: {path}: {anomaly}\n")

    def on_workers(paths: list[str]) -> bool:
        """Read ``paths`` (regular files) on worker processes if ``plan_files`` says so; False if not."""
        from tlsdoctor.parallel import LinesOut, connections_parallel, plan_files

        files, workers = plan_files(paths, jobs_wanted)
        if workers < 2:
            return False
        lines_out = LinesOut(json=write_line if args.json else None, failures=out.write,
                             healthy=spool.write if spool is not None else None, failed_only=args.failed,
                             with_capture=many, before_lines=bar.close if out.isatty() else None)
        named = [(path, capture_name(path), jobs) for path, jobs in files]
        for path, result in zip(paths, connections_parallel(named, workers, lines_out, progress), strict=True):
            report(path, result)
        return True

    def in_process(path: str) -> None:
        try:
            stream = iter_connections(path, progress=progress if path != "-" and not out.isatty() else None)
            for rec in stream:
                counts["connections"] += 1
                if rec.failed:
                    counts["failed"] += 1
                elif args.failed:
                    continue
                if args.json:
                    write_line(json_line(record_to_json(rec)))
                elif rec.failed:
                    out.write(summary_line(rec, with_capture=many) + "\n")  # failures first, as they are found
                else:
                    spool.write(summary_line(rec, with_capture=many) + "\n")  # type: ignore[union-attr]
            for anomaly in stream.anomalies:
                sys.stderr.write(f"tlsdoctor: {path}: {anomaly}\n")
        except CaptureError as exc:
            report(path, exc)

    regular = [path != "-" and os.path.isfile(path) for path in args.captures]
    # A progress bar on a terminal's stderr: while the lines go to a file or a pipe, as curl has one; and
    # while workers read, also when the lines go to the terminal, since none is written before they are
    # done (the bar is cleared first: LinesOut.before_lines). One process writes lines as it goes, which
    # would be drawn through the bar: it shows none then.
    bar = ProgressBar(enabled=not getattr(args, "no_progress", False) and sys.stderr.isatty())
    with bar as progress:
        if all(regular):
            # Several files share the workers (a small file is one task, a large one a task per flow shard).
            if not on_workers(args.captures):
                for path in args.captures:
                    in_process(path)
        else:
            for path, is_file in zip(args.captures, regular, strict=True):
                if not (is_file and on_workers([path])):
                    in_process(path)
    if spool is not None:
        spool.seek(0)
        for line in spool:
            out.write(line)
        spool.close()
        out.flush()
        sys.stderr.write(f"{counts['connections']} connections, {counts['failed']} failed\n")
    return status


def _line_writer(out: TextIO) -> Callable[[bytes], object]:
    """Where JSON Lines (UTF-8 bytes) go: the binary buffer under ``out`` (flushed first, so that
    nothing written as text comes after), or ``out`` itself when it has none (a StringIO)."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        return lambda line: out.write(line.decode("utf-8"))
    out.flush()
    return cast("Callable[[bytes], object]", buffer.write)
