"""``tlsdoctor demo``: ``diagnose`` on the sample evidence that ships inside the package."""

from __future__ import annotations

import argparse

HELP = "Run tlsdoctor diagnose on the sample captures, nginx configuration and log bundled with the package."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="the report as JSON (schema tlsdoctor.report/1)")
    parser.add_argument("--html", metavar="FILE", help="also write the HTML report, with its ladder diagrams")
    parser.add_argument("--markdown", metavar="FILE", help="also write the report as Markdown (- for standard output)")
    parser.add_argument("--export", metavar="FILE", help="write the failing connections' packets to FILE")


def run(args: argparse.Namespace) -> int:
    import sys
    from importlib import resources

    from tlsdoctor.commands import diagnose

    samples = resources.files("tlsdoctor") / "samples"
    paths = sorted(str(p) for p in samples.iterdir() if p.name != "README.md" and not p.name.startswith("."))
    if not paths:
        sys.stderr.write("tlsdoctor: no sample evidence in this installation\n")
        return 2
    sys.stderr.write(f"tlsdoctor demo: tlsdoctor diagnose on {len(paths)} bundled evidence file(s)\n")
    ns = argparse.Namespace(evidence=paths, vantage=[], ca_bundle=None, json=args.json, no_progress=True, jobs=None,
                            html=args.html, markdown=args.markdown, export=args.export)
    status = diagnose.run(ns)
    # The demo's samples are meant to fail: finding their failures is the demo working.
    return 0 if status in (0, 1) else status
