"""``tlsdoctor diagnose EVIDENCE...``: from captures, nginx configuration and logs, key logs and
certificates to named root causes, with the evidence to check and the fix."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsdoctor.report.model import Report

HELP = ("Find the failing TLS handshakes in the evidence (captures, nginx config and logs, key logs, "
        "certificates) and name their root causes.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("evidence", nargs="*", metavar="EVIDENCE",
                        help="files or folders, any mix; each is recognised by its content")
    parser.add_argument("--vantage", action="append", default=[], metavar="NAME=FILE",
                        help="a capture taken at a named vantage point (client, server, switch, ...); repeatable")
    parser.add_argument("--ca-bundle", metavar="PEM", help="trust store for certificate checks "
                        "(default: the system store)")
    parser.add_argument("--json", action="store_true", help="the report as JSON (schema tlsdoctor.report/1)")
    parser.add_argument("--html", metavar="FILE", help="also write the report as one self-contained HTML page, "
                        "with ladder diagrams of the failing connections")
    parser.add_argument("--markdown", metavar="FILE", help="also write the report as Markdown for a ticket "
                        "(- for standard output, instead of the terminal report)")
    parser.add_argument("--export", metavar="FILE", help="write only the failing connections' packets, as "
                        "captured, to FILE (.pcapng: with each packet's original frame number as a comment; "
                        "else pcap); with several captures, one file per capture")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--jobs", type=int, metavar="N", help="worker processes for one large capture "
                        "(default: every core, for captures from 64 MB; 1 = no workers)")


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import sys

    from tlsdoctor.commands._progress import ProgressBar
    from tlsdoctor.evidence.intake import printable
    from tlsdoctor.investigate import investigate
    from tlsdoctor.report.json import report_to_json

    vantages: dict[str, str] = {}
    for item in args.vantage:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            sys.stderr.write(f"tlsdoctor diagnose: --vantage wants NAME=FILE, got {item!r}\n")
            return 2
        if name in vantages:
            sys.stderr.write(f"tlsdoctor diagnose: vantage {name!r} given twice\n")
            return 2
        same = [other for other, p in vantages.items() if path != "-" and os.path.abspath(p) == os.path.abspath(path)]
        if same:
            sys.stderr.write(f"tlsdoctor diagnose: {path} is given as vantage {same[0]!r} and {name!r}: one capture "
                             "is one vantage point\n")
            return 2
        vantages[name] = path
    if not args.evidence and not vantages:
        sys.stderr.write("tlsdoctor diagnose: give at least one capture, log, configuration or folder\n")
        return 2
    given = [*args.evidence, *vantages.values()]
    if all(p != "-" and not os.path.exists(p) for p in given):
        # Nothing to read at all (a mistyped path): a usage error, not a report that found no failure.
        for p in given:
            sys.stderr.write(f"tlsdoctor diagnose: {printable(p)}: no such file or directory\n")
        return 2
    with ProgressBar(enabled=not args.no_progress and sys.stderr.isatty()) as progress:
        if args.jobs is not None and args.jobs < 1:
            sys.stderr.write("tlsdoctor diagnose: --jobs wants a number of workers, 1 or more\n")
            return 2
        report = investigate(args.evidence, vantages=vantages, ca_bundle=args.ca_bundle, progress=progress,
                             jobs=args.jobs)
    written = _write_files(report, args)
    if written is None:
        return 2
    if args.json:
        sys.stdout.write(json.dumps(report_to_json(report), indent=2, ensure_ascii=False) + "\n")
    elif args.markdown == "-":
        from tlsdoctor.report.markdown import render_markdown

        sys.stdout.write(render_markdown(report))
    else:
        from rich.console import Console

        from tlsdoctor.report.terminal import render

        render(report, Console(highlight=False, width=None if sys.stdout.isatty() else 120))
    for line in written:
        sys.stderr.write(f"tlsdoctor diagnose: {line}\n")
    return 1 if report.failed else 0


def _write_files(report: Report, args: argparse.Namespace) -> list[str] | None:
    """Write the --html, --markdown and --export files; a sentence per file written or problem met, or
    None when a file could not be written (a usage error: the report itself was still made)."""
    import sys

    said: list[str] = []
    outputs = [o for o in (args.html, args.markdown) if o and o != "-"]
    for out in outputs:
        evidence = _evidence_at(out, [*args.evidence, *(item.partition("=")[2] for item in args.vantage)])
        if evidence is not None:
            sys.stderr.write(f"tlsdoctor diagnose: not writing {out}: {out} is one of the inputs (given as "
                             f"{evidence}); choose another file name\n")
            return None
    try:
        if args.html:
            from tlsdoctor.report.html import render_html

            with open(args.html, "w", encoding="utf-8") as fh:
                fh.write(render_html(report))
            said.append(f"wrote {args.html} (HTML report)")
        if args.markdown and args.markdown != "-":
            from tlsdoctor.report.markdown import render_markdown

            with open(args.markdown, "w", encoding="utf-8") as fh:
                fh.write(render_markdown(report))
            said.append(f"wrote {args.markdown} (Markdown report)")
        if args.export:
            from tlsdoctor.export import export_failing

            result = export_failing(report, args.export)
            said.extend(f"wrote {f.path}: {f.packets} packet(s) of {f.connections} failing connection(s) "
                        f"from {f.capture}" for f in result.files)
            said.extend(result.problems)
            if result.unwritable:  # a usage error, as for --html and --markdown; say all the rest as well
                for line in said:
                    sys.stderr.write(f"tlsdoctor diagnose: {line}\n")
                return None
    except OSError as exc:
        sys.stderr.write(f"tlsdoctor diagnose: cannot write {exc.filename}: {exc.strerror}\n")
        return None
    return said


def _evidence_at(out: str, given: list[str]) -> str | None:
    """The evidence path that ``out`` would overwrite: a file given, or a folder given that holds ``out``
    as a file recognised as evidence (a report of an earlier run in that folder may be written again)."""
    import os

    from tlsdoctor.evidence.intake import HEAD_BYTES, InputKind, sniff

    if not os.path.isfile(out):
        return None
    real = os.path.realpath(out)
    for path in given:
        if path == "-" or not os.path.exists(path):
            continue
        if not os.path.isdir(path):
            if os.path.samefile(path, out):
                return path
        elif os.path.commonpath([os.path.realpath(path), real]) == os.path.realpath(path):
            try:
                with open(out, "rb") as fh:
                    kind, _detail = sniff(fh.read(HEAD_BYTES))
            except OSError:
                continue
            if kind != InputKind.UNRECOGNIZED:
                return path
    return None
