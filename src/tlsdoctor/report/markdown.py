"""Report -> Markdown for a ticket (GitHub, GitLab, Jira's Markdown, a vendor's support portal).

Theory of operation. Same order as the terminal report: the overview, then one section per finding with
what happened, the first connection as a text ladder (``ladder.text``) beside a healthy one, the
connections, the evidence with its display filters, and the fix (with the patch as a ``diff`` block).
Everything taken from the evidence goes into a code span or a code block whose fence is longer than
any run of backticks in it, or has the characters Markdown would act on escaped, so a hostile SNI or
log line cannot turn into a link, an image or HTML in the ticket.
"""

from __future__ import annotations

import re

from tlsdoctor import __version__
from tlsdoctor.findings import Finding
from tlsdoctor.report.ladder import healthy_ladder, ladders_for, text
from tlsdoctor.report.model import Report

MAX_ROWS = 20
"""Connections listed per finding (the JSON lists them all)."""

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#!|~&])")
"""What could make a link, an image, emphasis, HTML, a heading or a table cell of captured text, or an
entity reference (``&amp;`` in a log line would be shown as ``&``)."""


def escape(value: object) -> str:
    """Text with Markdown's active characters backslash-escaped (and no line breaks)."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def code(value: object) -> str:
    """An inline code span that holds ``value`` whatever backticks it contains."""
    s = " ".join(str(value).split())
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def block(value: str, lang: str = "") -> str:
    """A fenced code block that holds ``value`` whatever fences it contains."""
    longest = max((len(m) for m in re.findall(r"`{3,}", value)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{value.rstrip()}\n{fence}"


def _ladders(report: Report, f: Finding) -> list[str]:
    if not f.connections:
        return []
    c = f.connections[0]
    views = report.views(c)
    if not views:
        return []
    texts = [text(lad) for lad in ladders_for(views)]
    healthy = report.contrast(c)
    if healthy is not None:
        texts.append(text(healthy_ladder(healthy, c.server)))
    return ["**The first connection, packet by packet** (`~~` forged on the path, `X` lost on the path):", "",
            block("\n\n".join(texts), "text"), ""]


def _finding(report: Report, f: Finding, n: int) -> list[str]:
    out = [f"## {n}. `{f.cause}` ({f.confidence.value}): {escape(f.title)}", "", escape(f.explanation), ""]
    out += _ladders(report, f)
    if f.connections:
        out += [f"**Connections** ({len(f.connections)}):", "",
                "| capture | tcp.stream | vantage | client | server | SNI | outcome |",
                "|---|---|---|---|---|---|---|"]
        for c in f.connections[:MAX_ROWS]:
            cells = (c.capture or c.probe or "", "" if c.tcp_stream is None else c.tcp_stream, c.vantage or "",
                     c.client or "", c.server, c.sni if c.sni is not None else "-", c.outcome)
            out.append("| " + " | ".join(escape(v) for v in cells) + " |")
        if len(f.connections) > MAX_ROWS:
            out.append(f"\n... and {len(f.connections) - MAX_ROWS} more (`tlsdoctor diagnose --json` lists them all)")
        out.append("")
    if f.evidence:
        out += ["**Evidence:**", ""]
        for e in f.evidence:
            line = f"- {code(e.where)} {escape(e.text)}"
            if e.display_filter:
                line += f"  \n  Wireshark: {code(e.display_filter)}"
            out.append(line)
        out.append("")
    out += [f"**Fix:** {escape(f.fix)}", ""]
    if f.patch:
        out += ["As a patch (`patch -p0`, from the configuration's directory):", "", block(f.patch, "diff"), ""]
    out += [f"> Note: {escape(note)}" for note in f.notes]
    if f.notes:
        out.append("")
    return out


def render_markdown(report: Report) -> str:
    o = report.overview
    out = [f"# tlsdoctor: {o.handshakes_failed} failing handshake(s)" if report.findings
           else "# tlsdoctor: no failing handshake", "",
           f"{o.connections} TCP connections, {o.tls_connections} with TLS, {o.handshakes_completed} handshakes "
           f"completed, **{o.handshakes_failed} failed**"
           + (f", {o.not_judged} began before the capture" if o.not_judged else "") + ".", ""]
    if o.by_cause:
        out += ["| cause | connections |", "|---|---|"]
        ranked = sorted(o.by_cause.items(), key=lambda kv: (-kv[1], kv[0]))
        out += [f"| `{cause}` | {count} |" for cause, count in ranked]
        out.append("")
    out += ["Evidence read: " + ", ".join(
        f"{code(i.path)} ({i.kind}{', ' + escape(i.vantage) if i.vantage else ''})" for i in report.inputs), ""]
    for n, f in enumerate(report.findings, 1):
        out += _finding(report, f, n)
    if report.observations:
        out += ["## Observations", ""] + [f"- {escape(f.title)}: {escape(f.explanation)}" for f in report.observations]
        out.append("")
    if report.notes:
        out += ["## Notes", ""] + [f"- {escape(n)}" for n in report.notes] + [""]
    if report.anomalies:
        out += [f"## Input anomalies ({len(report.anomalies)})", ""]
        for a in report.anomalies[:50]:
            out.append(f"- {code(a.where)} {code(a.kind)} {escape(a.text)}")
        if len(report.anomalies) > 50:
            out.append(f"- ... and {len(report.anomalies) - 50} more (the JSON report lists them)")
        out.append("")
    # Plain text, not <sub>: a ticket system that admits no HTML would show the tags.
    out.append(f"*tlsdoctor {escape(__version__)}; frame numbers are Wireshark's, in each capture as given.*")
    return "\n".join(out) + "\n"
