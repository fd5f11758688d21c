"""``tlsdoctor nginx CONF [--json] [--patch]``: upstream-TLS checks of an nginx configuration.

Exit status: 0 when nothing was found, 1 when there are findings, 2 when CONF cannot be read.
``--patch`` prints a unified diff whose file names are relative to CONF's directory:
``cd /etc/nginx && tlsdoctor nginx nginx.conf --patch | patch -p0``.
"""

from __future__ import annotations

import argparse

HELP = "Check an nginx configuration for upstream-TLS mistakes (no SNI, SNI = group name, no verify, ...) with fixes."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONF", help="nginx.conf (includes are followed), or its directory")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="the report as JSON (schema tlsdoctor.report/1)")
    out.add_argument("--patch", action="store_true",
                     help="a unified diff of the fixes; apply it with `patch -p0` in CONF's directory")


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import sys

    from tlsdoctor.evidence.nginx import NginxConfigError, analyze_config
    from tlsdoctor.evidence.nginx_patch import patch_name, unified_diff
    from tlsdoctor.evidence.nginx_report import report_json

    try:
        analysis = analyze_config(args.config)
    except NginxConfigError as exc:
        sys.stderr.write(f"tlsdoctor: {exc}\n")
        return 2
    status = 1 if analysis.findings else 0
    base_dir = os.path.dirname(analysis.path)
    if args.json:
        sys.stdout.write(json.dumps(report_json(analysis), indent=2, ensure_ascii=False) + "\n")
        return status
    if args.patch:
        sys.stdout.write(unified_diff(analysis.findings, analysis.texts, base_dir))
        for f in analysis.findings:
            if not f.fix_is_patchable:
                sys.stderr.write(f"tlsdoctor: not in the patch: {f.cause}: {f.fix}\n")
        outside = {patch_name(c.anchor.file, base_dir) for f in analysis.findings for c in f.changes}
        for name in sorted(n for n in outside if os.path.isabs(n)):
            sys.stderr.write(f"tlsdoctor: {name} is outside {base_dir or '.'}: patch -p0 will refuse it\n")
        for a in analysis.anomalies:
            sys.stderr.write(f"tlsdoctor: {a}\n")
        return status
    _print_terminal(analysis)
    return status


def _print_terminal(analysis: object) -> None:
    from rich.console import Console
    from rich.markup import escape

    from tlsdoctor.evidence.nginx_model import NginxAnalysis

    assert isinstance(analysis, NginxAnalysis)
    console = Console(highlight=False, soft_wrap=True)  # file:line and fixes stay whole for copy and paste
    style = {"certain": "bold red", "likely": "red", "possible": "yellow"}
    for n, f in enumerate(analysis.findings, 1):
        first = f.evidence[0] if f.evidence else None
        where = f"{first.source}:{first.line}" if first and first.line else (first.source if first else "")
        console.print(f"[{style[f.confidence.value]}]{n}. {escape(f.cause)}[/] [bold]{escape(f.title)}[/]"
                      f"  [dim]({f.confidence.value})[/]")
        console.print(f"   at {escape(where)}")
        console.print(f"   {escape(f.explanation)}")
        for e in f.evidence:
            loc = f"{e.source}:{e.line}" if e.line else e.source
            console.print(f"   [dim]{escape(loc)}[/]  {escape(e.text)}")
        fix_note = "" if f.fix_is_patchable and (f.changes or f.insertions) else "  [dim](not in --patch)[/]"
        console.print(f"   [green]fix:[/] {escape(f.fix)}{fix_note}")
        console.print()
    for a in analysis.anomalies:
        console.print(f"[yellow]anomaly[/] {escape(a.kind.value)}: {escape(str(a))}")
    n_tls = sum(1 for loc in analysis.locations if loc.tls)
    console.print(f"{len(analysis.files)} file(s), {len(analysis.locations)} proxied location(s), {n_tls} over TLS: "
                  f"{len(analysis.findings)} finding(s), {len(analysis.anomalies)} anomaly(ies)")
