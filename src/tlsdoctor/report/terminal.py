"""Report -> the terminal, with ``rich``: an overview, then one block per finding.

What an engineer reads first is at the top: how many connections, how many failed and why; then each
finding with its title, confidence, what happened, the connections (the first ``MAX_ROWS``), the
evidence to check (capture frame + display filter, log file:line, config file:line) and the fix.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tlsdoctor.findings import Confidence, Finding
from tlsdoctor.report.model import Report

MAX_ROWS = 10
_STYLE = {Confidence.CERTAIN: "bold red", Confidence.LIKELY: "yellow", Confidence.POSSIBLE: "cyan"}


def _overview(r: Report) -> Panel:
    o = r.overview
    t = Table.grid(padding=(0, 2))
    t.add_column(justify="right")
    t.add_column()
    t.add_row(str(o.connections), "TCP connections")
    t.add_row(str(o.tls_connections), "with TLS")
    t.add_row(str(o.handshakes_completed), "handshakes completed")
    t.add_row(Text(str(o.handshakes_failed), style="bold red" if o.handshakes_failed else "green"), "failed")
    if o.not_judged:
        t.add_row(str(o.not_judged), "began before the capture (not judged)")
    for cause, n in sorted(o.by_cause.items(), key=lambda kv: (-kv[1], kv[0])):
        t.add_row(Text(str(n), style="red"), Text(f"  {cause}", style="bold"))
    inputs = Table.grid(padding=(0, 1))
    for i in r.inputs:
        label = f"{i.kind}" + (f" ({i.vantage})" if i.vantage else "")
        inputs.add_row(Text(i.path, style="bold"), Text(label, style="dim"), Text(i.detail, style="dim"))
    return Panel(Group(t, Text(""), inputs), title="tlsdoctor diagnose", title_align="left")


def _finding(n: int, f: Finding) -> Panel:
    parts: list[Text | Table] = [Text(f.explanation)]
    if f.connections:
        t = Table(box=None, pad_edge=False, show_edge=False, header_style="dim")
        for col in ("capture", "stream", "client", "server", "sni", "outcome"):
            t.add_column(col, overflow="fold")
        for c in f.connections[:MAX_ROWS]:
            t.add_row(c.capture or "", str(c.tcp_stream), c.client or "", c.server, c.sni or "-", c.outcome)
        parts += [Text(""), t]
        if len(f.connections) > MAX_ROWS:
            parts.append(Text(f"... and {len(f.connections) - MAX_ROWS} more (--json lists them all)", style="dim"))
    if f.evidence:
        parts += [Text(""), Text("Evidence", style="bold")]
        for e in f.evidence:
            line = Text("  ")
            line.append(e.where, style="bold")
            line.append(f"  {e.text}")
            if e.display_filter:
                line.append(f"\n      wireshark: {e.display_filter}", style="green")
            parts.append(line)
    parts += [Text(""), Text("Fix", style="bold"), Text(f"  {f.fix}", style="bold green")]
    if f.patch:
        parts += [Text("  as a patch (patch -p0, from the configuration's directory):", style="dim"),
                  Text(f.patch.rstrip(), style="green")]
    for note in f.notes:
        parts.append(Text(f"  note: {note}", style="dim"))
    title = Text(f"{n}. ")
    title.append(f.cause, style="bold")
    title.append(f" [{f.confidence.value}] ", style=_STYLE[f.confidence])
    title.append(f.title)
    return Panel(Group(*parts), title=title, title_align="left", border_style=_STYLE[f.confidence])


def render(r: Report, console: Console) -> None:
    console.print(_overview(r))
    if not r.findings:
        console.print(Text("No failing handshake found.", style="bold green"))
    for n, f in enumerate(r.findings, 1):
        console.print(_finding(n, f))
    for f in r.observations:
        console.print(Text(f"observation: {f.title}", style="cyan"))
    for note in r.notes:
        console.print(Text(f"note: {note}", style="dim"))
    if r.anomalies:
        console.print(Text(f"{len(r.anomalies)} input anomal{'y' if len(r.anomalies) == 1 else 'ies'}:",
                           style="yellow"))
        for a in r.anomalies[:20]:
            console.print(Text(f"  {a.where}: {a.text}", style="yellow"))
        if len(r.anomalies) > 20:
            console.print(Text(f"  ... and {len(r.anomalies) - 20} more (--json lists them)", style="yellow"))
    console.print(Text(f"{r.elapsed_s:.2f} s", style="dim"))
