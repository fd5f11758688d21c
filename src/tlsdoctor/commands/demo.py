"""``tlsdoctor demo``: run on the sample captures that ship inside the package."""

from __future__ import annotations

import argparse

HELP = "Run tlsdoctor on the sample captures bundled with the package (no input needed)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    import sys
    from importlib import resources

    from tlsdoctor.commands import connections

    samples = resources.files("tlsdoctor") / "samples"
    paths = sorted(str(p) for p in samples.iterdir() if p.name.endswith((".pcap", ".pcapng")))
    if not paths:
        sys.stderr.write("tlsdoctor: no sample captures in this installation\n")
        return 2
    sys.stderr.write(f"tlsdoctor demo: the connections of {len(paths)} bundled capture(s), failures first\n")
    ns = argparse.Namespace(captures=paths, failed=False, json=args.json)
    return connections.run(ns)
