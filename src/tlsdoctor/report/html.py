"""Report -> one self-contained HTML page: the overview, then per finding a ladder diagram of a failing
connection beside a healthy one, the evidence with display filters to copy, and the fix.

Theory of operation. The page is a string built from the Report alone (no I/O, no clock, so the same
report gives the same bytes). It loads nothing: styles and the one small script are inline, the
diagrams are inline SVG, and a Content-Security-Policy forbids every fetch and admits only that script
by its hash. Everything that comes from the evidence (an SNI, a certificate's subject, a log line, a
file name) passes through ``html.escape`` on its way in, so an SNI of ``<script>`` stays text; the
policy is a second wall should one ever slip through.

A finding's diagram shows its first connection as each vantage point captured it (``ladder.ladders_for``
marks forged and lost packets), and a completed handshake with the same server from the same capture,
when there is one, for contrast.
"""

from __future__ import annotations

import base64
import hashlib
import textwrap
from collections.abc import Iterable
from html import escape

from tlsdoctor import __version__
from tlsdoctor.findings import Evidence, Finding
from tlsdoctor.report.ladder import CLIENT, PATH, SERVER, Ladder, healthy_ladder, ladders_for
from tlsdoctor.report.model import Report

MAX_ROWS = 50
"""Connections listed per finding in the page (the JSON lists them all)."""

_SCRIPT = """
document.querySelectorAll("button.copy").forEach(function (b) {
  b.addEventListener("click", function () {
    var text = b.getAttribute("data-copy") || "";
    var done = function () { b.textContent = "copied"; setTimeout(function () { b.textContent = "copy"; }, 1200); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { b.textContent = "select it"; });
    } else {
      var r = document.createRange(); r.selectNodeContents(b.previousElementSibling);
      var s = window.getSelection(); s.removeAllRanges(); s.addRange(r); b.textContent = "selected";
    }
  });
});
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()

_CSS = """\
:root { --fg: #1d2430; --dim: #5b6575; --line: #d5dae1; --bg: #fff; --panel: #f6f8fa; --red: #c62828;
  --amber: #a66300; --blue: #1f5fa8; --green: #2e7d32; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg);
  background: var(--bg); margin: 0 auto; max-width: 1600px; padding: 24px 32px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--panel); border: 1px solid var(--line); padding: 8px 10px; overflow-x: auto; }
.dim { color: var(--dim); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px;
  background: var(--panel); }
.card b { display: block; font-size: 22px; }
.card.bad b { color: var(--red); }
table { border-collapse: collapse; margin: 6px 0; }
th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; border-bottom: 1px solid var(--line); }
th { color: var(--dim); font-weight: 600; }
.bar { display: inline-block; height: 10px; background: var(--red); vertical-align: middle; }
section.finding { border: 1px solid var(--line); border-left: 6px solid var(--dim); border-radius: 6px;
  padding: 14px 18px; margin: 18px 0; }
section.finding.certain { border-left-color: var(--red); }
section.finding.likely { border-left-color: var(--amber); }
section.finding.possible { border-left-color: var(--blue); }
.conf { font-size: 12px; padding: 1px 7px; border-radius: 10px; color: #fff; background: var(--dim);
  vertical-align: middle; }
.conf.certain { background: var(--red); }
.conf.likely { background: var(--amber); } .conf.possible { background: var(--blue); }
.ladders { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure.ladder { max-width: 720px; margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px;
  background: #fff; }
figure.ladder.healthy { background: #f7fbf7; }
figure.ladder figcaption { font-size: 12.5px; margin-bottom: 4px; }
ul.evidence { padding-left: 18px; } ul.evidence li { margin: 4px 0; }
.filter { background: #eef6ee; border: 1px solid #cfe3cf; padding: 0 4px; }
button.copy { font-size: 11px; margin-left: 4px; cursor: pointer; }
.fix { font-weight: 600; color: var(--green); }
.note { color: var(--dim); }
svg text { font-family: ui-monospace, Menlo, Consolas, monospace; }
"""

_COLOURS = {"": "#1d2430", "forged": "#c62828", "lost": "#c62828", "odd": "#a66300"}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


# --- the ladder as SVG -------------------------------------------------------------------------------------

_ROW = 34
_TOP = 64
_WIDTH = 700
_WRAP = 84  # characters of a mark's reason per line


def svg_ladder(lad: Ladder, uid: str) -> str:
    """One ladder as an inline SVG element; ``uid`` keeps its marker ids unique on the page."""
    xs = {CLIENT: 140, PATH: 385, SERVER: 620} if lad.has_path else {CLIENT: 140, SERVER: 620}
    rows = []
    reasons = [textwrap.wrap(f"{a.mark}: {a.why}", _WRAP) if a.mark else [] for a in lad.arrows]
    y = _TOP
    for lines in reasons:
        rows.append(y)
        y += _ROW + 14 * len(lines) + (4 if lines else 0)
    height = y + (12 if lad.cut else 0)
    out = [f'<svg class="ladder-svg" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
           f'viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="{_e(lad.title)}">',
           "<defs>",
           *(f'<marker id="{uid}-{k or "ok"}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
             f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
             for k, c in _COLOURS.items() if k != "lost"),
           "</defs>",
           '<text x="6" y="18" font-size="11" fill="#5b6575">frame</text>',
           '<text x="52" y="18" font-size="11" fill="#5b6575">ms</text>']
    names = {CLIENT: ("client", lad.client), SERVER: ("server", lad.server), PATH: ("path", "(middlebox)")}
    for col, x in xs.items():
        role, addr = names[col]
        out.append(f'<text x="{x}" y="18" text-anchor="middle" font-size="13" font-weight="bold">{_e(role)}</text>')
        out.append(f'<text x="{x}" y="34" text-anchor="middle" font-size="11" fill="#5b6575">{_e(addr)}</text>')
        dash = ' stroke-dasharray="4 4"' if col == PATH else ""
        out.append(f'<line x1="{x}" y1="44" x2="{x}" y2="{height - 4}" stroke="#9aa4b2" stroke-width="1.5"{dash}/>')
    for a, y, lines in zip(lad.arrows, rows, reasons, strict=True):
        x1, x2 = xs[a.sender], xs[a.receiver]
        colour = _COLOURS[a.mark]
        dash = ' stroke-dasharray="6 3"' if a.mark == "forged" else ""
        end = "" if a.mark == "lost" else f' marker-end="url(#{uid}-{a.mark or "ok"})"'
        tip = f"frame {a.frame}: {a.label} {a.detail}" + (f" ({a.mark}: {a.why})" if a.mark else "")
        out.append(f'<g class="arrow{" " + a.mark if a.mark else ""}" data-frame="{a.frame}"><title>{_e(tip)}</title>')
        out.append(f'<text x="6" y="{y + 4}" font-size="11">{a.frame}</text>')
        out.append(f'<text x="52" y="{y + 4}" font-size="11" fill="#5b6575">{a.t_ms:.3f}</text>')
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y + 8}" stroke="{colour}" stroke-width="1.6"{dash}{end}/>')
        if a.mark == "lost":
            out.append(f'<path d="M{x2 - 6},{y + 2} L{x2 + 6},{y + 14} M{x2 - 6},{y + 14} L{x2 + 6},{y + 2}" '
                       f'stroke="{colour}" stroke-width="2.2"/>')
        mid = (x1 + x2) / 2
        weight = ' font-weight="bold"' if a.tls else ""
        room = max(12, abs(x2 - x1) * 2 // 15)  # characters that fit over the arrow (12 px bold monospace)
        label = a.label if len(a.label) <= room else a.label[:room - 1] + "…"  # the whole one is in <title>
        out.append(f'<text x="{mid:.0f}" y="{y - 4}" text-anchor="middle" font-size="12" fill="{colour}"{weight}>'
                   f"{_e(label)}</text>")
        out.append(f'<text x="{min(x1, x2) + 4}" y="{y + 20}" font-size="10" fill="#5b6575">{_e(a.detail)}</text>')
        for k, line in enumerate(lines):
            out.append(f'<text x="{xs[CLIENT] + 4}" y="{y + 34 + 14 * k}" font-size="10.5" fill="{colour}" '
                       f'font-weight="bold">{_e(line)}</text>')
        out.append("</g>")
    if lad.cut:
        out.append(f'<text x="6" y="{height - 6}" font-size="11" fill="#5b6575">later packets were not kept: '
                   "see the capture</text>")
    out.append("</svg>")
    return "\n".join(out)


def _figure(lad: Ladder, uid: str) -> str:
    cls = "ladder healthy" if lad.healthy else "ladder"
    note = f'<br><span class="note">{_e(lad.note)}</span>' if lad.note else ""
    return (f'<figure class="{cls}"><figcaption><b>{_e(lad.title)}</b><br>'
            f'{_filter(lad.display_filter)}{note}</figcaption>\n{svg_ladder(lad, uid)}\n</figure>')


# --- the page ----------------------------------------------------------------------------------------------

def _filter(text: str) -> str:
    return (f'<code class="filter">{_e(text)}</code><button class="copy" type="button" '
            f'data-copy="{_e(text)}" title="copy the display filter">copy</button>')


def _ladders(report: Report, f: Finding, n: int) -> str:
    if not f.connections:
        return ""
    c = f.connections[0]
    views = report.views(c)
    if not views:
        return ""
    figs = [_figure(lad, f"f{n}v{i}") for i, lad in enumerate(ladders_for(views))]
    healthy = report.contrast(c)
    if healthy is not None:
        figs.append(_figure(healthy_ladder(healthy, c.server), f"f{n}h"))
    return '<h3>The first connection, packet by packet</h3>\n<div class="ladders">\n' + "\n".join(figs) + "\n</div>"


def _connections(f: Finding) -> str:
    if not f.connections:
        return ""
    rows = []
    for c in f.connections[:MAX_ROWS]:
        rows.append("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in (
            c.capture or c.probe or "", "" if c.tcp_stream is None else c.tcp_stream, c.vantage or "",
            c.client or "", c.server, c.sni if c.sni is not None else "-", c.outcome)) + "</tr>")
    more = (f'<p class="dim">... and {len(f.connections) - MAX_ROWS} more (the JSON report lists them all)</p>'
            if len(f.connections) > MAX_ROWS else "")
    return (f"<h3>Connections ({len(f.connections)})</h3>\n<table><tr><th>capture</th><th>tcp.stream</th>"
            "<th>vantage</th><th>client</th><th>server</th><th>SNI</th><th>outcome</th></tr>\n"
            + "\n".join(rows) + "</table>" + more)


def _evidence(items: Iterable[Evidence]) -> str:
    lis = []
    for e in items:
        li = f'<li><span class="mono"><b>{_e(e.where)}</b></span> {_e(e.text)}'
        if e.display_filter:
            li += f"<br>Wireshark: {_filter(e.display_filter)}"
        lis.append(li + "</li>")
    return '<h3>Evidence</h3>\n<ul class="evidence">\n' + "\n".join(lis) + "\n</ul>" if lis else ""


def _finding(report: Report, f: Finding, n: int) -> str:
    conf = f.confidence.value
    parts = [f'<section class="finding {conf}" id="finding-{n}">',
             f'<h2>{n}. <code>{_e(f.cause)}</code> <span class="conf {conf}">{_e(conf)}</span> {_e(f.title)}</h2>',
             f"<p>{_e(f.explanation)}</p>", _ladders(report, f, n), _connections(f), _evidence(f.evidence),
             f'<h3>Fix</h3>\n<p class="fix">{_e(f.fix)}</p>']
    if f.patch:
        parts.append(f'<p class="dim">As a patch (<code>patch -p0</code>, from the configuration\'s directory):</p>'
                     f"<pre>{_e(f.patch)}</pre>")
    parts.extend(f'<p class="note">Note: {_e(note)}</p>' for note in f.notes)
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def _overview(report: Report) -> str:
    o = report.overview
    cards = [(o.connections, "TCP connections", False), (o.tls_connections, "with TLS", False),
             (o.handshakes_completed, "handshakes completed", False),
             (o.handshakes_failed, "failed", o.handshakes_failed > 0)]
    if o.not_judged:
        cards.append((o.not_judged, "began before the capture", False))
    html = ['<div class="cards">'] + [f'<div class="card{" bad" if bad else ""}"><b>{v}</b>{_e(label)}</div>'
                                       for v, label, bad in cards] + ["</div>"]
    if o.by_cause:
        top = max(o.by_cause.values())
        rows = [f'<tr><td><code>{_e(cause)}</code></td><td class="mono">{count}</td><td><span class="bar" '
                f'style="width:{max(2, round(240 * count / top))}px"></span></td></tr>'
                for cause, count in sorted(o.by_cause.items(), key=lambda kv: (-kv[1], kv[0]))]
        html.append("<table><tr><th>cause</th><th>connections</th><th></th></tr>" + "".join(rows) + "</table>")
    inputs = "".join(f"<tr><td class=\"mono\">{_e(i.path)}</td><td>{_e(i.kind)}</td><td>{_e(i.vantage or '')}</td>"
                     f"<td class=\"dim\">{_e(i.detail)}</td></tr>" for i in report.inputs)
    html.append("<h3>Evidence read</h3><table><tr><th>input</th><th>kind</th><th>vantage</th><th>detail</th></tr>"
                + inputs + "</table>")
    return "\n".join(html)


def _contents(report: Report) -> str:
    if not report.findings:
        return '<p class="fix">No failing handshake found.</p>'
    items = "".join(f'<li><a href="#finding-{n}"><code>{_e(f.cause)}</code></a> ({_e(f.confidence.value)}, '
                    f"{len(f.connections)} connection{'s' if len(f.connections) != 1 else ''}): {_e(f.title)}</li>"
                    for n, f in enumerate(report.findings, 1))
    return f"<h3>Findings</h3><ol>{items}</ol>"


def _tail(report: Report) -> str:
    parts = []
    if report.observations:
        parts.append("<h2>Observations</h2><p class=\"dim\">Facts about connections that did not fail.</p><ul>")
        for f in report.observations:
            parts.append(f"<li><b>{_e(f.title)}</b>: {_e(f.explanation)}{_evidence(f.evidence[:3])}</li>")
        parts.append("</ul>")
    if report.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in report.notes) + "</ul>")
    if report.anomalies:
        parts.append(f"<h2>Input anomalies ({len(report.anomalies)})</h2><ul>")
        for a in report.anomalies[:200]:
            parts.append(f'<li><span class="mono">{_e(a.where)}</span> <code>{_e(a.kind)}</code> {_e(a.text)}</li>')
        if len(report.anomalies) > 200:
            parts.append(f"<li>... and {len(report.anomalies) - 200} more (the JSON report lists them)</li>")
        parts.append("</ul>")
    return "\n".join(parts)


def render_html(report: Report) -> str:
    """The whole page."""
    title = "tlsdoctor: " + (f"{report.overview.handshakes_failed} failing handshake(s)" if report.findings
                             else "no failing handshake")
    csp = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; img-src data:"
    body = [f"<h1>{_e(title)}</h1>",
            f'<p class="dim">tlsdoctor {_e(__version__)} diagnose; frame numbers are Wireshark\'s, in each '
            "capture as given.</p>", _overview(report), _contents(report),
            *(_finding(report, f, n) for n, f in enumerate(report.findings, 1)), _tail(report)]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>\n{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(b for b in body if b)
            + f"\n<script>{_SCRIPT}</script>\n</body>\n</html>\n")
