"""``tlsdoctor explain TEXT``: what an alert code or a TLS error message means, its causes, what to run next.

Exit status: 0 when the text was explained, 1 when nothing in the table matched it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsdoctor.explain import Explanation

HELP = "Explain a TLS alert code/name or an OpenSSL, nginx, curl, Java, Go, Python, Node or browser error message."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="+", metavar="TEXT",
                        help="an alert (40, handshake_failure), an OpenSSL code (error:0A000410), or a log line")
    parser.add_argument("--json", action="store_true", help="the matches as JSON (schema tlsdoctor.explain/1)")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from tlsdoctor.explain import explain_all, explanation_json

    text = " ".join(args.text)
    matches = explain_all(text)
    if args.json:
        doc = {"schema": "tlsdoctor.explain/1", "query": text,
               "matches": [explanation_json(m) for m in matches]}
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return 0 if matches else 1
    if not matches:
        sys.stdout.write(f"tlsdoctor: nothing in the table matches {text!r}. Try the alert number, the OpenSSL "
                         "code (error:XXXXXXXX) or the shortest distinctive part of the message.\n")
        return 1
    _print(text, matches)
    return 0


def _print(text: str, matches: list[Explanation]) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, soft_wrap=True)
    first = matches[0]
    row = first.entry
    console.print(f"[bold]{escape(row.title)}[/]  [dim](matched {escape(first.matched_by)}: "
                  f"{escape(first.matched)})[/]")
    if first.decoded is not None:
        console.print(f"  [dim]decoded[/] {escape(first.decoded.describe())}")
    console.print(f"  {escape(row.meaning)}")
    console.print(f"  [bold]who:[/] {escape(row.sender)}")
    if row.causes:
        console.print("  [bold]usual causes:[/]")
        for n, c in enumerate(row.causes, 1):
            console.print(f"    {n}. [red]{escape(c.code)}[/]: {escape(c.why)}")
    if row.next_steps:
        console.print("  [bold]next:[/]")
        for s in row.next_steps:
            console.print(f"    [green]{escape(s.command)}[/]  {escape(s.why)}")
    console.print(f"  [dim]source: {escape(row.source)}[/]")
    rest = matches[1:]
    if rest:
        console.print("[bold]also matches:[/]")
        for m in rest:
            console.print(f"  {escape(m.entry.title)}  [dim]({escape(m.matched_by)}: {escape(m.matched)})[/]: "
                          f"{escape(m.entry.meaning)}")
