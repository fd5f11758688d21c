"""Findings' changes -> one unified diff that ``patch -p0`` applies from the main config's directory.

Theory of operation. Each finding carries ``DirectiveChange`` values ("in the block of this
location, ``proxy_ssl_name`` must be ``origin.test``") and ``BlockInsertion`` values (a ``map`` to
put before a ``server`` block). The changes of all findings are merged first: one value per (block,
directive) pair, the most important finding's winning (findings come in the registry's order), so
that two checks that both want ``proxy_ssl_name`` in a location give one line, not two (nginx would
refuse a duplicate).

Then each file's text is edited at character offsets, never re-rendered, so comments and layout
survive: a change that ``replaces`` a directive rewrites that directive's span (from its name to its
``;``, found by a small scanner that respects quotes and comments); any other change is added right
after the ``*_pass`` directive, on a new line with the same indentation (or on the same line when
the directive shares its line with more text, e.g. a one-line ``location { ... }``). Edits are
applied from the end of the file backwards, so earlier offsets stay valid.

File names in the diff are relative to the directory of the main configuration file (nginx's conf
prefix), so ``cd /etc/nginx && tlsdoctor nginx nginx.conf --patch | patch -p0`` applies it. A file
outside that directory keeps its absolute name; GNU patch refuses such names, and the CLI says so.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass

from tlsdoctor.evidence.nginx_model import BlockInsertion, DirectiveChange, NginxFinding, SourceRef


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    text: str
    order: int  # among edits at the same offset, lower first


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def directive_span(text: str, starts: list[int], ref: SourceRef) -> tuple[int, int] | None:
    """(start, end) offsets of the directive ``ref`` names: from its name to just past its ``;`` or ``{``."""
    if ref.line < 1 or ref.line > len(starts):
        return None
    name = ref.text.split(" ", 1)[0].rstrip(";{")
    line_start = starts[ref.line - 1]
    line_end = starts[ref.line] if ref.line < len(starts) else len(text)
    pos = line_start
    while True:
        pos = text.find(name, pos, line_end)
        if pos < 0:
            return None
        before = text[pos - 1] if pos > line_start else " "
        after = text[pos + len(name)] if pos + len(name) < len(text) else ";"
        if (before.isspace() or before in ";{}") and (after.isspace() or after in ";{"):
            break
        pos += len(name)
    i, quote = pos + len(name), ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
            continue
        elif ch in ";{":
            return pos, i + 1
        i += 1
    return None


def _indent_of(text: str, starts: list[int], line: int) -> str:
    s = starts[line - 1]
    j = s
    while j < len(text) and text[j] in " \t":
        j += 1
    return text[s:j]


def merged_changes(findings: Iterable[NginxFinding]) -> tuple[list[DirectiveChange], list[BlockInsertion]]:
    changes: dict[tuple[tuple[str, int], tuple[str, ...]], DirectiveChange] = {}
    insertions: dict[tuple[str, int, str], BlockInsertion] = {}
    for f in findings:
        if not f.fix_is_patchable:
            continue
        for c in f.changes:
            changes.setdefault((c.block_key, c.key), c)
        for b in f.insertions:
            insertions.setdefault((b.before.file, b.before.line, b.text), b)
    return list(changes.values()), list(insertions.values())


def _edits_for_file(text: str, changes: list[DirectiveChange], insertions: list[BlockInsertion]) -> list[_Edit]:
    starts = _line_starts(text)
    edits: list[_Edit] = []
    after_anchor: dict[tuple[int, int], list[str]] = {}
    anchor_info: dict[tuple[int, int], SourceRef] = {}
    for n, c in enumerate(changes):
        if c.replaces is not None:
            span = directive_span(text, starts, c.replaces)
            if span is not None:
                edits.append(_Edit(span[0], span[1], c.text, n))
                continue
        span = directive_span(text, starts, c.anchor)
        if span is None:
            continue
        after_anchor.setdefault(span, []).append(c.text)
        anchor_info[span] = c.anchor
    for span, texts in after_anchor.items():
        ref = anchor_info[span]
        end = span[1]
        nl = text.find("\n", end)
        rest = text[end: nl if nl >= 0 else len(text)]
        if rest.strip() == "" or rest.strip().startswith("#"):
            indent = _indent_of(text, starts, ref.line)
            if text[starts[ref.line - 1]:span[0]].strip():  # the directive is not first on its line
                indent += "    "
            insert_at = nl if nl >= 0 else len(text)
            edits.append(_Edit(insert_at, insert_at, "".join(f"\n{indent}{t}" for t in texts), 1000))
        else:
            edits.append(_Edit(end, end, "".join(f" {t}" for t in texts), 1000))
    for n, b in enumerate(insertions):
        if b.before.line < 1 or b.before.line > len(starts):
            continue
        at = starts[b.before.line - 1]
        indent = _indent_of(text, starts, b.before.line)
        block = "".join(f"{indent}{line}\n" if line else "\n" for line in b.text.split("\n"))
        edits.append(_Edit(at, at, block + "\n", -1000 + n))
    return edits


def apply_edits(text: str, edits: list[_Edit]) -> str:
    for e in sorted(edits, key=lambda e: (e.start, e.order), reverse=True):
        text = text[: e.start] + e.text + text[e.end:]
    return text


def _file_of(change: DirectiveChange) -> str:
    return change.replaces.file if change.replaces is not None else change.anchor.file


def patched_texts(findings: Iterable[NginxFinding], texts: dict[str, str]) -> dict[str, str]:
    """file -> new text, for every file the fixes change."""
    changes, insertions = merged_changes(findings)
    files = {_file_of(c) for c in changes} | {b.before.file for b in insertions}
    out: dict[str, str] = {}
    for file in sorted(files):
        if file not in texts:
            continue
        edits = _edits_for_file(texts[file], [c for c in changes if _file_of(c) == file],
                                [b for b in insertions if b.before.file == file])
        new = apply_edits(texts[file], edits)
        if new != texts[file]:
            out[file] = new
    return out


def patch_name(file: str, base_dir: str) -> str:
    """The name of ``file`` in the diff: relative to ``base_dir`` when inside it, else absolute."""
    rel = os.path.relpath(os.path.abspath(file), os.path.abspath(base_dir or "."))
    return os.path.abspath(file) if rel.startswith("..") else rel


def unified_diff(findings: Iterable[NginxFinding], texts: dict[str, str], base_dir: str) -> str:
    """The whole fix as one unified diff for ``patch -p0`` run in ``base_dir``."""
    parts: list[str] = []
    for file, new in patched_texts(findings, texts).items():
        name = patch_name(file, base_dir)
        lines = difflib.unified_diff(texts[file].splitlines(keepends=True), new.splitlines(keepends=True),
                                     fromfile=name, tofile=name)
        for line in lines:
            parts.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(parts)
