"""``diagnose --export FILE``: the failing connections' packets, exactly as captured, in a file Wireshark opens.

Theory of operation. A ``Report`` names every failing connection by capture and ``tcp.stream`` (each
finding's ``connections``, and ``also_seen`` for the same connection at the other vantage points), and
``Report.records`` holds each one's ``ConnectionRecord``: its endpoints, and the Wireshark numbers of its
first and last frames (milestones ``first`` and ``last``). The report keeps no packet, so exporting reads
each capture a second time, from the path it was opened by (``Input.file``), in one streaming pass:

1. ``select_connections`` (pure) turns the report into, per capture, the connections to take, with the
   cause code of the finding that cites them; what cannot be taken (a capture read from standard input,
   a connection without a record) becomes a sentence in ``problems``.
2. ``PacketSelector`` (sans-IO) decides for each frame whether it belongs to one of them: its IP addresses
   and TCP ports (``net.decode.decode_ip``) match the connection's 4-tuple in either direction, *and* its
   frame number lies within the connection's first..last frame, so that a later connection that reuses
   the 4-tuple (another ``tcp.stream`` in Wireshark) is not taken with it. A record without those
   milestones falls back to its first..last time stamps. Frames before the first wanted frame cost a
   comparison; the pass stops after the last wanted frame.
3. ``capture.writer`` (sans-IO) turns each taken frame into the bytes of a classic pcap or a pcapng file:
   the original link-layer bytes, original length, link type and nanosecond time stamp. In pcapng every
   packet carries a comment naming its original frame, stream and cause (Wireshark's ``frame.comment``).
4. ``export_failing`` is the one function here that does I/O: it opens the captures and the output files.

The output format follows FILE's extension: ``.pcapng`` is pcapng, anything else classic pcap; a final
``.gz`` compresses it (Wireshark reads gzip). Classic pcap holds one link type per file, the first
exported frame's: frames of another are left out, counted, and the result says to use ``.pcapng``. One
capture with failing connections goes to FILE; several (vantage points) go to one file each, FILE's stem
plus the vantage label (or the capture's own stem) plus FILE's suffix: ``out.client.pcap``,
``out.server.pcap``. Nothing is written for a capture without a packet to export, and a file is not left
half-written: on a write error it is removed. Bad input never raises: an unreadable capture (``CaptureError``),
a capture that changed since the diagnosis, an output that would overwrite an input capture, are sentences
in ``ExportResult.problems``.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import ipaddress
import os
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from tlsdoctor import __version__
from tlsdoctor.capture import Buffer, CaptureError, CaptureSource, open_capture
from tlsdoctor.capture.writer import PcapngWriter, PcapWriter, Refused
from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.evidence.intake import InputKind
from tlsdoctor.net.decode import decode_ip
from tlsdoctor.report.model import Input, Report

MAX_LINKTYPES_NAMED: Final = 8
"""Distinct refused link types named in a problem sentence; more are counted, not listed."""

_PORTS: Final = struct.Struct("!HH")
# Capture anomalies (capture/anomaly.py) that mean frames may be missing or damaged, as opposed to facts
# about the file (an unregistered link type, a cap on key logs).
_DAMAGE: Final = frozenset({"truncated_header", "truncated_record", "bogus_caplen", "bogus_timestamp",
                            "bogus_block_length", "bogus_block", "unknown_interface", "gzip_truncated",
                            "gzip_corrupt", "read_error"})
_CAPTURE_SUFFIXES: Final = (".gz", ".pcapng", ".pcap", ".cap", ".dmp", ".ntar")


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """One file written: the failing connections of one capture."""

    path: str
    capture: str
    """The capture they were taken from, by the name the report cites it by."""
    vantage: str | None
    format: str
    """``"pcap"`` or ``"pcapng"`` (``compressed`` says whether it is gzip-compressed as well)."""
    packets: int
    connections: int
    """Failing connections with at least one packet in the file."""
    skipped: int = 0
    """Frames of those connections the format could not hold (another link type in classic pcap)."""
    compressed: bool = False


@dataclass(frozen=True, slots=True)
class ExportResult:
    files: tuple[ExportedFile, ...] = ()
    problems: tuple[str, ...] = ()
    """Sentences for a person: what could not be exported, and why, and what to do instead."""
    unwritable: tuple[str, ...] = ()
    """The output names that could not be written (no such directory, no permission, a directory, standard
    output, an input capture itself): the CLI's usage error (exit 2), beside their sentence in ``problems``."""

    @property
    def paths(self) -> tuple[str, ...]:
        """The files written, in the order of the report's inputs."""
        return tuple(f.path for f in self.files)

    @property
    def packets(self) -> int:
        return sum(f.packets for f in self.files)

    def summary(self) -> tuple[str, ...]:
        """One sentence per file written, then the problems: what the CLI prints after ``--export``."""
        lines = []
        for f in self.files:
            where = f"{f.capture} ({f.vantage})" if f.vantage else f.capture
            lines.append(f"Exported {f.packets} packet{'s' * (f.packets != 1)} of {f.connections} failing "
                         f"connection{'s' * (f.connections != 1)} from {where} to {f.path} ({f.format}"
                         f"{', gzip' if f.compressed else ''}).")
        return (*lines, *self.problems)


@dataclass(frozen=True, slots=True)
class SelectedConnection:
    """One failing connection as one capture shows it, and how to recognise its packets."""

    tcp_stream: int
    cause: str
    client_ip: bytes  # 4 or 16 bytes, as decode_ip returns addresses
    client_port: int
    server_ip: bytes
    server_port: int
    first_frame: int | None  # None: the record has no frame milestones; the time range is used
    last_frame: int | None
    first_ts_ns: int
    last_ts_ns: int
    expected_packets: int
    """The packets the diagnosis counted (both directions), to notice a capture that changed since."""

    def comment(self, frame: int) -> str:
        """The pcapng comment of one of its packets (Wireshark's ``frame.comment``)."""
        return f"tlsdoctor: original frame {frame}, tcp.stream {self.tcp_stream}, cause {self.cause}"


@dataclass(frozen=True, slots=True)
class CaptureSelection:
    """The failing connections of one capture, in tcp.stream order."""

    capture: Input
    connections: tuple[SelectedConnection, ...]


def _packed(ip: str) -> bytes | None:
    try:
        return ipaddress.ip_address(ip).packed
    except ValueError:
        return None


def _selected(rec: ConnectionRecord, cause: str) -> SelectedConnection | None:
    client, server = _packed(rec.client.ip), _packed(rec.server.ip)
    if client is None or server is None:
        return None
    first, last = rec.frames.get("first"), rec.frames.get("last")
    if first is None or last is None:
        first = last = None
    return SelectedConnection(rec.tcp_stream, cause, client, rec.client.port, server, rec.server.port, first, last,
                              rec.first_ts_ns, rec.last_ts_ns, rec.client_dir.packets + rec.server_dir.packets)


def select_connections(report: Report) -> tuple[tuple[CaptureSelection, ...], tuple[str, ...]]:
    """Per capture (in the order of the report's inputs), the connections its findings cite (and the
    failing ones past a finding's listing cap, from ``Report.causes``); and the sentences saying what
    cannot be exported. Pure: reads the report only."""
    problems: list[str] = []
    cited: dict[tuple[str, int], str] = {}  # (capture, tcp_stream) -> cause, the first finding's
    for finding in report.findings:
        for ref in finding.connections:
            if ref.capture is None or ref.tcp_stream is None:
                continue
            cited.setdefault((ref.capture, ref.tcp_stream), finding.cause)
            for capture, stream, _vantage in ref.also_seen:
                cited.setdefault((capture, stream), finding.cause)
    for key, cause in report.causes.items():
        cited.setdefault(key, cause)
    captures = {i.path: i for i in report.inputs if i.kind == InputKind.CAPTURE}
    by_capture: dict[str, list[SelectedConnection]] = {}
    unreadable: dict[str, int] = {}
    for (name, stream), cause in cited.items():
        inp = captures.get(name)
        rec = report.records.get((name, stream))
        if inp is None or rec is None:
            problems.append(f"The finding {cause} cites tcp.stream {stream} of {name}, but the report holds "
                            f"{'no such capture' if inp is None else 'no record of that connection'}: it is "
                            "not exported.")
            continue
        if inp.file in ("-", ""):
            unreadable[name] = unreadable.get(name, 0) + 1
            continue
        sel = _selected(rec, cause)
        if sel is None:
            problems.append(f"tcp.stream {stream} of {name} has an address that is not an IP address "
                            f"({rec.client.ip}, {rec.server.ip}): it is not exported.")
            continue
        by_capture.setdefault(name, []).append(sel)
    for name, n in unreadable.items():
        if captures[name].file != "-":
            what = f"The capture {name} has no file path in the report"
        elif name == "-":
            what = "The capture on standard input cannot be read a second time"
        else:
            what = f"The capture {name} was read from standard input, which cannot be read a second time"
        problems.append(f"{what}: its {n} failing connection{'s' * (n != 1)} "
                        f"{'are' if n != 1 else 'is'} not exported. Save it to a file and give that file "
                        "to diagnose --export.")
    selections = tuple(CaptureSelection(captures[name], tuple(sorted(by_capture[name], key=lambda s: s.tcp_stream)))
                       for name in captures if name in by_capture)
    return selections, tuple(problems)


class PacketSelector:
    """Which frames of one capture belong to its failing connections. Sans-IO: frame fields in, the
    connection out. Feed frames in file order; ``done(number)`` says when no later frame can match."""

    __slots__ = ("_by_tuple", "_first", "_last", "counts", "seen_first", "seen_last")

    def __init__(self, connections: Iterable[SelectedConnection]) -> None:
        # (src ip, src port, dst ip, dst port) -> the connections with that 4-tuple, either direction.
        self._by_tuple: dict[tuple[bytes, int, bytes, int], list[SelectedConnection]] = {}
        conns = list(connections)
        for c in conns:
            self._by_tuple.setdefault((c.client_ip, c.client_port, c.server_ip, c.server_port), []).append(c)
            self._by_tuple.setdefault((c.server_ip, c.server_port, c.client_ip, c.client_port), []).append(c)
        timed = [c for c in conns if c.first_frame is None]
        # Without frame milestones a connection is found by time, and any frame may be in its range.
        self._first = 0 if timed or not conns else min(c.first_frame or 0 for c in conns)
        self._last = None if timed or not conns else max(c.last_frame or 0 for c in conns)
        self.counts: dict[int, int] = {c.tcp_stream: 0 for c in conns}
        """Packets matched so far, by tcp.stream."""
        self.seen_first: set[int] = set()
        """tcp.streams whose first frame (as the diagnosis numbered it) matched."""
        self.seen_last: set[int] = set()

    def done(self, number: int) -> bool:
        """Whether frame ``number`` and every later one lie past every connection's last frame."""
        return self._last is not None and number > self._last

    def match(self, number: int, ts_ns: int, linktype: int, buf: Buffer, offset: int,
              caplen: int) -> SelectedConnection | None:
        """The failing connection frame ``number`` belongs to, or None."""
        if number < self._first:
            return None
        decoded = decode_ip(linktype, buf, offset, caplen)
        if isinstance(decoded, str):
            return None
        _v, src, dst, _ttl, _ipid, l4, _l4_end, _smac, _dmac = decoded
        if l4 + 4 > offset + caplen:
            return None
        sport, dport = _PORTS.unpack_from(buf, l4)
        candidates = self._by_tuple.get((src, sport, dst, dport))
        if candidates is None:
            return None
        for c in candidates:
            if c.first_frame is not None and c.last_frame is not None:
                if not c.first_frame <= number <= c.last_frame:
                    continue
            elif not c.first_ts_ns <= ts_ns <= c.last_ts_ns:
                continue
            self.counts[c.tcp_stream] += 1
            if number == c.first_frame:
                self.seen_first.add(c.tcp_stream)
            if number == c.last_frame:
                self.seen_last.add(c.tcp_stream)
            return c
        return None


def split_output_name(out: str) -> tuple[str, str, bool]:
    """``(stem, suffix, gzip)`` of an output path: ``out.pcapng.gz`` -> (``out``, ``.pcapng.gz``, True)."""
    compressed = out.lower().endswith(".gz") and len(os.path.basename(out)) > 3
    inner = out[:-3] if compressed else out
    stem, ext = os.path.splitext(inner)
    return stem, ext + (".gz" if compressed else ""), compressed


def output_format(out: str) -> str:
    """``"pcapng"`` for a name ending in ``.pcapng`` (or ``.pcapng.gz``), else ``"pcap"``."""
    _stem, suffix, _gz = split_output_name(out)
    return "pcapng" if suffix.lower().removesuffix(".gz") == ".pcapng" else "pcap"


def _label(inp: Input) -> str:
    if inp.vantage:
        raw = inp.vantage
    else:
        raw = os.path.basename(inp.path)
        for suffix in _CAPTURE_SUFFIXES:
            if raw.lower().endswith(suffix) and len(raw) > len(suffix):
                raw = raw[: -len(suffix)]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._") or "capture"


def output_paths(out: str, captures: Iterable[Input]) -> dict[str, str]:
    """Capture name -> the file its failing connections go to: ``out`` itself for a single capture, else
    ``stem.LABEL.suffix`` with the vantage label (or the capture's stem), made unique."""
    inputs = list(captures)
    if len(inputs) == 1:
        return {inputs[0].path: out}
    stem, suffix, _gz = split_output_name(out)
    used: set[str] = set()
    paths = {}
    for inp in inputs:
        label = base = _label(inp)
        n = 1
        while label in used:
            n += 1
            label = f"{base}-{n}"
        used.add(label)
        paths[inp.path] = f"{stem}.{label}{suffix}"
    return paths


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


class _Refusals:
    """Frames a writer refused, grouped by kind: a count, the first reason, the link types."""

    def __init__(self) -> None:
        self.count = 0
        self.by_kind: dict[str, tuple[int, str]] = {}
        self.linktypes: dict[int, None] = {}

    def add(self, refused: Refused, linktype: int) -> None:
        self.count += 1
        n, detail = self.by_kind.get(refused.kind, (0, refused.detail))
        self.by_kind[refused.kind] = (n + 1, detail)
        if refused.kind == "linktype":
            self.linktypes.setdefault(linktype, None)

    def sentences(self, capture: str, path: str, first_linktype: int | None) -> list[str]:
        out = []
        for kind, (n, detail) in self.by_kind.items():
            frames = f"{n} frame{'s' * (n != 1)} of the failing connections of {capture}"
            if kind == "linktype" and first_linktype is not None:
                named = sorted(self.linktypes)[:MAX_LINKTYPES_NAMED]
                more = len(self.linktypes) - len(named)
                types = ", ".join(map(str, named)) + (f" and {more} more" if more > 0 else "")
                out.append(f"{frames} {'were' if n != 1 else 'was'} left out of {path}: they are of link type "
                           f"{types}, and a classic pcap file holds one link type, {first_linktype} (its first "
                           "frame's). Export to a .pcapng file to keep every frame.")
            else:
                out.append(f"{frames} {'were' if n != 1 else 'was'} left out of {path}: {detail}.")
        return out


class _Sink:
    """The output file, opened at the first byte to write (no packet, no file)."""

    def __init__(self, path: str, compressed: bool) -> None:
        self.path = path
        self.compressed = compressed
        self._fh: gzip.GzipFile | io.BufferedWriter | None = None
        self.opened = False
        """Whether the file was created (a first byte was written)."""

    def write(self, data: bytes) -> None:
        fh = self._fh
        if fh is None:
            self.opened = True
            fh = self._fh = gzip.GzipFile(self.path, "wb") if self.compressed else open(self.path, "wb")  # noqa: SIM115
        fh.write(data)

    def close(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.close()

    def discard(self) -> None:
        """Close and remove what was written (only a regular file we created; never /dev/null)."""
        with contextlib.suppress(OSError):
            self.close()
        if self.opened and os.path.isfile(self.path):
            with contextlib.suppress(OSError):
                os.remove(self.path)


def _fcs_of(source: CaptureSource, linktype: int) -> int:
    """The FCS length of the frames of ``linktype``: the interfaces of that link type, if they agree."""
    lengths = {i.fcs_bytes for i in source.interfaces if i.linktype == linktype}
    return lengths.pop() if len(lengths) == 1 else 0


def _export_capture(selection: CaptureSelection, path: str, fmt: str, compressed: bool,
                    problems: list[str], unwritable: list[str]) -> ExportedFile | None:
    """One capture's failing connections to ``path``: the second streaming pass over the capture."""
    inp = selection.capture
    name = inp.path
    selector = PacketSelector(selection.connections)
    sink = _Sink(path, compressed)
    pcap: PcapWriter | None = None
    pcapng: PcapngWriter | None = None
    refusals = _Refusals()
    fcs: dict[int, int] = {}  # linktype -> FCS bytes, from the interfaces, at its first frame
    packets = 0
    try:
        with open_capture(inp.file) as source:
            for number, ts_ns, linktype, buf, offset, caplen, origlen in source.frames():
                if selector.done(number):
                    break
                conn = selector.match(number, ts_ns, linktype, buf, offset, caplen)
                if conn is None:
                    continue
                if linktype not in fcs:
                    fcs[linktype] = _fcs_of(source, linktype)
                data = buf[offset : offset + caplen]
                out: bytes | Refused
                if fmt == "pcapng":
                    if pcapng is None:
                        pcapng = PcapngWriter(f"tlsdoctor {__version__}")
                        sink.write(pcapng.header(f"tlsdoctor diagnose --export: the failing connections of {name}"
                                                 + (f" (vantage point {inp.vantage})" if inp.vantage else "")))
                    out = pcapng.packet(ts_ns, linktype, data, origlen, fcs[linktype], conn.comment(number))
                else:
                    if pcap is None:
                        pcap = PcapWriter(linktype, fcs[linktype])
                        sink.write(pcap.header())
                    out = pcap.packet(ts_ns, linktype, data, origlen, fcs[linktype])
                if isinstance(out, Refused):
                    refusals.add(out, linktype)
                    continue
                sink.write(out)
                packets += 1
            anomalies = source.anomalies
        sink.close()
    except CaptureError as exc:
        sink.discard()
        problems.append(f"The failing connections of {name} are not exported: {exc}.")
        return None
    except OSError as exc:
        sink.discard()
        problems.append(f"Cannot write {path}: {exc.strerror or exc}. The failing connections of {name} are not "
                        "exported.")
        unwritable.append(path)
        return None
    except BaseException:  # an interrupt, or our bug: no half-written file is left behind
        sink.discard()
        raise
    problems.extend(refusals.sentences(name, path, pcap.linktype if pcap is not None else None))
    changed = [c for c in selection.connections
               if selector.counts[c.tcp_stream] != c.expected_packets or (c.first_frame is not None and not (
                   c.tcp_stream in selector.seen_first and c.tcp_stream in selector.seen_last))]
    if changed:
        streams = ", ".join(str(c.tcp_stream) for c in changed)
        problems.append(f"In {inp.file}, the packets of tcp.stream {streams} are not the ones the diagnosis counted "
                        "(another number, or not at the frames it named): has the file changed since? The export "
                        "holds what the file holds now.")
    damaged = [a for a in anomalies if a.kind in _DAMAGE and (a.frame is None or any(
        c.first_frame is not None and c.last_frame is not None and c.first_frame <= a.frame <= c.last_frame
        for c in selection.connections))]
    if damaged and not changed:
        more = f" (and {len(damaged) - 1} more damage)" if len(damaged) > 1 else ""
        problems.append(f"{name} is damaged among its failing connections, {damaged[0]}{more}; the export holds "
                        "the frames that could be read.")
    if not packets:
        sink.discard()  # a pcap header whose every frame was refused
        if not changed and not refusals.count:
            problems.append(f"No packet of the failing connections of {name} was found in {inp.file}: nothing "
                            f"was written to {path}.")
        elif refusals.count:
            problems.append(f"Nothing was written to {path}.")
        return None
    exported = sum(1 for c in selection.connections if selector.counts[c.tcp_stream])
    return ExportedFile(path, name, inp.vantage, fmt, packets, exported, refusals.count, compressed)


def export_failing(report: Report, out: str) -> ExportResult:
    """Write the packets of the report's failing connections to ``out`` (one file per capture when
    several captures have some: see the module's docstring). Never raises for bad input: what could not
    be done is a sentence in ``ExportResult.problems``."""
    if out in ("", "-"):
        return ExportResult(problems=("The export needs a file name (FILE.pcap or FILE.pcapng): a capture is "
                                      "not written to standard output, where the report goes.",), unwritable=(out,))
    if os.path.isdir(out):
        return ExportResult(problems=(f"The export needs a file name, and {out} is a directory: give "
                                      f"{os.path.join(out, 'failing.pcapng')}, for instance.",), unwritable=(out,))
    selections, selection_problems = select_connections(report)
    problems = list(selection_problems)
    if not selections:
        if not report.findings:
            why = "the report has no finding"
        elif not problems:
            why = "no finding cites a connection of a capture (they come from logs and configuration)"
        else:
            why = "no failing connection of a capture could be taken"
        problems.append(f"No failing connection to export: {why}, so nothing was written to {out}.")
        return ExportResult(problems=tuple(problems))
    fmt = output_format(out)
    _stem, _suffix, compressed = split_output_name(out)
    paths = output_paths(out, [s.capture for s in selections])
    capture_files = [i.file for i in report.inputs if i.kind == InputKind.CAPTURE and i.file not in ("", "-")]
    files = []
    unwritable: list[str] = []
    for selection in selections:
        path = paths[selection.capture.path]
        overwritten = next((f for f in capture_files if _same_file(path, f)), None)
        if overwritten is not None:
            problems.append(f"Not exporting the failing connections of {selection.capture.path} to {path}: that is "
                            f"the capture {overwritten} itself. Choose another file name.")
            unwritable.append(path)
            continue
        exported = _export_capture(selection, path, fmt, compressed, problems, unwritable)
        if exported is not None:
            files.append(exported)
    return ExportResult(tuple(files), tuple(problems), tuple(unwritable))
