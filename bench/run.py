"""Time tlsdoctor against tshark on the same captures, in the same run; measure peak memory; cross-check.

    python bench/run.py [--size 1G | --sizes 256M,1G] [--profile gateway] [--check-size 50M] [--keep]
                        [--repeat 3] [--no-plain] [--no-table]
                        [--write docs/performance.md]

For each size: generate the capture with bench/make_capture.py (kept in bench/out/, reused when
present), then run each of these, each in a fresh child process, and read its wall time, CPU time
and peak RSS (``/usr/bin/time -f`` when installed, otherwise ``os.wait4`` on the child: both report the
kernel's ``ru_maxrss`` for that child). With ``--repeat N`` every command runs N times, in N rounds of
all the commands one after the other (so that a slow spell of a shared machine falls on all of them
alike), and each is reported by its fastest run, as ``timeit`` does (noise only ever adds time), with
the slowest beside it; peak RSS is the highest of its runs:

* ``tlsdoctor connections F --json --jobs 1 > /dev/null`` (one process) and without ``--jobs`` (every core)
* ``tlsdoctor connections F --jobs 1 > /dev/null`` (the terminal table, one process) and without ``--jobs``
* tshark, exactly the command of issue 3: ``tshark -r F -Y "tls.handshake.type==1 ||
  tls.handshake.type==2 || tls.alert_message || tcp.flags.reset==1" -T fields -e frame.number
  -e tcp.stream -e tls.handshake.type -e tls.alert_message.desc > /dev/null``
* a bare pure-Python loop (mmap, ``struct.unpack_from`` of Ethernet/IPv4/TCP, a flow dict): the floor
  of any pure-Python reader.

Then, on a smaller capture (``--check-size``, made with the same generator), a correctness cross-check:
the (frame, tcp.stream) pairs of every ClientHello and of every ServerHello / HelloRetryRequest, the
(frame, code) pairs of every plaintext alert, and the frames with a RST, from tshark and from
``tlsdoctor connections --json``, must be equal.

The file is in the page cache for every command (the generator has just written it or a previous
command has read it). Timings are figures for docs/performance.md, never pass/fail tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TSHARK_FILTER = "tls.handshake.type==1 || tls.handshake.type==2 || tls.alert_message || tcp.flags.reset==1"
TSHARK_FIELDS = ["-T", "fields", "-e", "frame.number", "-e", "tcp.stream", "-e", "tls.handshake.type",
                 "-e", "tls.alert_message.desc"]
MARK_BEGIN = "<!-- bench/run.py: begin -->"
MARK_END = "<!-- bench/run.py: end -->"

# The reference loop of issue 3: header reads over an mmap and a flow dict, nothing else.
BARE_LOOP = r"""
import mmap, struct, sys
f = open(sys.argv[1], 'rb'); m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
rec = struct.Struct('<IIII').unpack_from; hdr = struct.Struct('!BxHHHBB10xHHIIHH').unpack_from
flows = {}; p = 24; end = len(m); n = 0
while p + 16 <= end:
    s, us, cl, ol = rec(m, p); o = p + 16; p = o + cl; n += 1
    if m[o + 12] == 8 and m[o + 13] == 0 and m[o + 23] == 6:
        v, tot, ipid, frag, ttl, proto, sp, dp, seq, ack, off, win = hdr(m, o + 14)
        k = m[o + 26 : o + 38]
        flows[k] = flows.get(k, 0) + 1
print(n, len(flows))
"""


@dataclass(frozen=True, slots=True)
class Measurement:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    peak_rss: int  # bytes
    load: float  # 1-minute load average just before the command started


def measure(cmd: list[str]) -> Measurement:
    """Run ``cmd`` once in a fresh child, stdout to /dev/null; its wall and CPU time and peak RSS."""
    load = os.getloadavg()[0]
    gnu_time = shutil.which("time") if Path("/usr/bin/time").exists() else None
    if gnu_time:
        with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
            start = time.perf_counter()
            proc = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%U %S %M", *cmd],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
            wall = time.perf_counter() - start
            fields = report.read().split()[-3:]
        if proc.returncode and not (proc.returncode == 1 and "diagnose" in cmd):  # 1: failures were found
            raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: {proc.stderr[-2000:]!r}")
        return Measurement(wall, float(fields[0]) + float(fields[1]), int(fields[2]) * 1024, load)
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{cmd[0]} failed with status {status}")
    return Measurement(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, load)


def fastest(runs: list[Measurement]) -> Measurement:
    """The fastest of a command's runs (its wall and CPU time and load), with the highest peak RSS of all."""
    best = min(runs, key=lambda m: m.wall)
    return Measurement(best.wall, best.cpu, max(m.peak_rss for m in runs), best.load)


def ensure_capture(size: str, profile: str, seed: int) -> tuple[Path, dict[str, Any]]:
    """The capture for (size, profile, seed) in bench/out/, generated when missing; and its summary."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{profile}-{size}-seed{seed}.pcap"
    summary = Path(str(path) + ".json")
    if not path.exists() or not summary.exists():
        print(f"generating {path} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_capture.py"), str(path), "--size", size,
                        "--profile", profile, "--seed", str(seed)], check=True)
    return path, json.loads(summary.read_text(encoding="utf-8"))


def tlsdoctor_cmd() -> list[str]:
    exe = shutil.which("tlsdoctor")
    return [exe] if exe else [sys.executable, "-m", "tlsdoctor.cli"]


def plain_python_cmd() -> list[str]:
    """tlsdoctor from the ``src/`` tree as plain Python: the build without mypyc (setup.py), for comparison."""
    return ["env", f"PYTHONPATH={ROOT / 'src'}", sys.executable, "-m", "tlsdoctor.cli"]


def build_of(cmd: list[str]) -> str:
    """What ``tlsdoctor --version`` says of a command's build: compiled or plain Python."""
    return subprocess.run([*cmd, "--version"], capture_output=True, text=True, cwd="/").stdout.strip()


def tshark_cmd(path: Path) -> list[str]:
    return ["tshark", "-r", str(path), "-Y", TSHARK_FILTER, *TSHARK_FIELDS]


# What the generator built (bench/make_capture.py outcome labels) -> the cause diagnose must name.
GENERATED_CAUSE = {
    "alert 112": "sni_not_hostname", "alert 40": "no_shared_cipher", "alert 70": "protocol_version_mismatch",
    "alert 48": "certificate_untrusted", "encrypted alert 48": "certificate_untrusted",
    "refused": "tcp_connect_refused", "syn_unanswered": "tcp_connect_timeout",
    "RST after ClientHello": "rst_after_clienthello", "ClientHello unanswered": "clienthello_unanswered",
}


def diagnose_check(path: Path, summary: dict[str, Any]) -> tuple[bool, str]:
    """diagnose's failures per cause against the generator's own count of each failure it built."""
    want: Counter[str] = Counter()
    for label, n in summary["outcomes"].items():
        if label in GENERATED_CAUSE:
            want[GENERATED_CAUSE[label]] += n
    out = subprocess.run([*tlsdoctor_cmd(), "diagnose", str(path), "--json", "--no-progress"], capture_output=True,
                         text=True, check=False).stdout
    got = Counter(json.loads(out)["overview"]["by_cause"])
    ok = got == want
    return ok, (f"diagnose by cause {'equals' if ok else 'DIFFERS FROM'} what the generator built: "
                + ", ".join(f"{c} {got.get(c, 0)}/{n}" for c, n in sorted(want.items())))


def cross_check(path: Path) -> tuple[bool, list[str]]:
    """Compare tshark's and tlsdoctor's view of hellos, alerts and RSTs; (all equal, lines)."""
    out = subprocess.run([*tshark_cmd(path), "-e", "tcp.flags.reset"], capture_output=True, text=True,
                         check=True).stdout
    t_ch: set[tuple[int, int]] = set()
    t_sh: set[tuple[int, int]] = set()
    t_alerts: Counter[tuple[int, int]] = Counter()
    t_rst: set[int] = set()
    for line in out.splitlines():
        frame_s, stream_s, types, alerts, rst = (line.split("\t") + [""] * 5)[:5]
        frame, stream = int(frame_s), int(stream_s)
        kinds = [int(x) for x in types.split(",") if x]
        if 1 in kinds:
            t_ch.add((frame, stream))
        if 2 in kinds:
            t_sh.add((frame, stream))
        for code in alerts.split(","):
            if code:
                t_alerts[(frame, int(code))] += 1
        if rst in ("1", "True"):
            t_rst.add(frame)
    ours = subprocess.run([*tlsdoctor_cmd(), "connections", str(path), "--json"], capture_output=True, text=True,
                          check=True).stdout
    o_ch: set[tuple[int, int]] = set()
    o_sh: set[tuple[int, int]] = set()
    o_alerts: Counter[tuple[int, int]] = Counter()
    o_rst: set[int] = set()
    records = 0
    for line in ours.splitlines():
        record = json.loads(line)
        records += 1
        frames, stream = record["frames"], record["tcp_stream"]
        for key in ("client_hello", "client_hello_2"):
            if key in frames:
                o_ch.add((frames[key], stream))
        for key in ("server_hello", "hello_retry_request"):
            if key in frames:
                o_sh.add((frames[key], stream))
        for alert in record.get("alerts") or ([record["alert"]] if record.get("alert") else []):
            if alert.get("code") is not None and not alert.get("encrypted"):
                o_alerts[(alert["frame"], alert["code"])] += 1
        for event in record.get("tcp_events", []):
            if "R" in event["flags"]:
                o_rst.add(event["frame"])
        if "rst" in frames:
            o_rst.add(frames["rst"])

    def compare(what: str, theirs: set[tuple[int, int]] | set[int] | Counter[tuple[int, int]],
                mine: set[tuple[int, int]] | set[int] | Counter[tuple[int, int]]) -> str:
        n_t = sum(theirs.values()) if isinstance(theirs, Counter) else len(theirs)
        n_o = sum(mine.values()) if isinstance(mine, Counter) else len(mine)
        return f"{what}: tshark {n_t:,}, tlsdoctor {n_o:,}, {'identical' if theirs == mine else 'DIFFERENT'}"

    lines = [
        f"{records:,} connection records from tlsdoctor",
        compare("ClientHello (frame, tcp.stream) pairs", t_ch, o_ch),
        compare("ServerHello and HelloRetryRequest (frame, tcp.stream) pairs", t_sh, o_sh),
        compare("plaintext alerts (frame, code)", t_alerts, o_alerts),
        compare("frames with a RST", t_rst, o_rst),
    ]
    return t_ch == o_ch and t_sh == o_sh and t_alerts == o_alerts and t_rst == o_rst, lines


def writers_line(size: str, path: Path, results: dict[str, Measurement]) -> str:
    """What --html, --markdown and --export added to diagnose on all cores, the files' sizes, and whether
    the exported capture holds exactly the failing connections (read back by tlsdoctor); the files go."""
    out = path.with_suffix("")
    files = [Path(f"{out}.report.html"), Path(f"{out}.report.md"), Path(f"{out}.failing.pcapng")]
    w = results["`tlsdoctor diagnose F --json --html --markdown --export` (all cores)"]
    d = results["`tlsdoctor diagnose F --json` (all cores)"]
    failed = json.loads(subprocess.run([*tlsdoctor_cmd(), "diagnose", str(path), "--json", "--no-progress"],
                                       capture_output=True, text=True, check=False).stdout)
    listed = Counter((c["client"], c["server"]) for f in failed["findings"] for c in f["connections"] if c["capture"])
    n_failed = int(failed["overview"]["handshakes_failed"])
    back = subprocess.run([*tlsdoctor_cmd(), "connections", str(files[2]), "--json"], capture_output=True, text=True,
                          check=False).stdout.splitlines()
    records = [json.loads(line) for line in back]
    got = Counter((r["client"], r["server"]) for r in records)  # a reused 4-tuple counts twice
    exact = len(records) == n_failed and all(r["failed"] for r in records) and not listed - got
    sizes = ", ".join(f"{f.name.split('.', 1)[1]} {f.stat().st_size / 1e6:.1f} MB" for f in files if f.exists())
    for f in files:
        f.unlink(missing_ok=True)
    return (f"{size}: {w.wall:.1f} s against {d.wall:.1f} s for diagnose --json alone "
            f"(+{w.wall - d.wall:.1f} s, peak RSS {w.peak_rss / 2**20:,.0f} MiB); {sizes}; the export holds "
            f"{len(records):,} connections, {'exactly' if exact else 'NOT'} the "
            f"{n_failed:,} failing ones")


def machine() -> str:
    cpu = "unknown CPU"
    for text_line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if text_line.startswith("model name"):
            cpu = text_line.split(":", 1)[1].strip()
            break
    mem = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(encoding="utf-8"))
    tshark = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0].rstrip(".")
    git = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                         text=True).stdout.strip()
    dirty_src = subprocess.run(["git", "-C", str(ROOT), "status", "--short", "--", "src"], capture_output=True,
                               text=True).stdout.split("\n")
    n_dirty = len([x for x in dirty_src if x.strip()])
    return (f"{os.cpu_count()} cores ({cpu}), {int(mem.group(1)) / 2**20 if mem else 0:.1f} GiB RAM, "
            f"Python {platform.python_version()}, {tshark}; tlsdoctor from {ROOT / 'src'} at {git}"
            + (f" with {n_dirty} uncommitted file(s) under src/" if n_dirty else "")
            + f"; `tlsdoctor` is {build_of(tlsdoctor_cmd())!r}, the plain build {build_of(plain_python_cmd())!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--size", help="one capture size, e.g. 1G (same as --sizes 1G)")
    ap.add_argument("--sizes", default="256M,1G", help="comma-separated capture sizes (default 256M,1G)")
    ap.add_argument("--profile", default="gateway", choices=["gateway", "handshakes", "bulk"],
                    help="traffic mix of bench/make_capture.py (default gateway: ~230k connections per GB)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check-size", default="50M", help="size of the cross-check capture ('0' to skip)")
    ap.add_argument("--no-table", action="store_true", help="skip timing the terminal table")
    ap.add_argument("--keep", action="store_true", help="keep the generated captures in bench/out/")
    ap.add_argument("--write", type=Path, help="put the results into this Markdown file (between markers)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run every command this many times, in rounds; report each by its fastest run")
    ap.add_argument("--no-plain", action="store_true", help="skip timing the plain Python build")
    args = ap.parse_args()
    sizes = [args.size] if args.size else args.sizes.split(",")
    about = machine()
    print(about, flush=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows: list[tuple[str, dict[str, Any], str, Measurement, float]] = []
    slowest: dict[tuple[str, str], float] = {}
    made: list[Path] = []
    writers: list[str] = []
    for size in sizes:
        path, summary = ensure_capture(size, args.profile, args.seed)
        made.append(path)
        runs = {"`tlsdoctor connections F --json --jobs 1`": [*tlsdoctor_cmd(), "connections", str(path), "--json",
                                                              "--jobs", "1"],
                "`tlsdoctor connections F --json` (all cores)": [*tlsdoctor_cmd(), "connections", str(path),
                                                                 "--json"]}
        if not args.no_plain:
            runs["`tlsdoctor connections F --json --jobs 1`, plain Python build"] = [
                *plain_python_cmd(), "connections", str(path), "--json", "--jobs", "1"]
        runs["`tlsdoctor diagnose F --json --jobs 1`"] = [*tlsdoctor_cmd(), "diagnose", str(path), "--json",
                                                         "--no-progress", "--jobs", "1"]
        runs["`tlsdoctor diagnose F --json` (all cores)"] = [*tlsdoctor_cmd(), "diagnose", str(path), "--json",
                                                             "--no-progress"]
        out = path.with_suffix("")
        runs["`tlsdoctor diagnose F --json --html --markdown --export` (all cores)"] = [
            *tlsdoctor_cmd(), "diagnose", str(path), "--json", "--no-progress", "--html", f"{out}.report.html",
            "--markdown", f"{out}.report.md", "--export", f"{out}.failing.pcapng"]
        if not args.no_table:
            runs["`tlsdoctor connections F --jobs 1` (table)"] = [*tlsdoctor_cmd(), "connections", str(path),
                                                                 "--jobs", "1"]
            runs["`tlsdoctor connections F` (table, all cores)"] = [*tlsdoctor_cmd(), "connections", str(path)]
        runs["tshark, the issue's command"] = tshark_cmd(path)
        runs["bare Python header loop"] = [sys.executable, "-c", BARE_LOOP, str(path)]
        every: dict[str, list[Measurement]] = {name: [] for name in runs}
        for round_ in range(1, max(1, args.repeat) + 1):
            for name, cmd in runs.items():
                every[name].append(m := measure(cmd))
                nbytes, npackets = int(summary["bytes"]), int(summary["packets"])
                print(f"{size} round {round_} {name}: {m.wall:.1f} s wall, {m.cpu:.1f} s CPU, "
                      f"{nbytes / m.wall / 1e6:.1f} MB/s, {npackets / m.wall / 1e3:.0f} k packets/s, "
                      f"peak RSS {m.peak_rss / 2**20:.0f} MiB (load before: {m.load:.1f})", flush=True)
        results = {name: fastest(ms) for name, ms in every.items()}
        slowest.update({(size, name): max(m.wall for m in ms) for name, ms in every.items()})
        writers.append(writers_line(size, path, results))
        tshark_wall = results["tshark, the issue's command"].wall
        for name, m in results.items():
            rows.append((size, summary, name, m, tshark_wall / m.wall))
    check_lines: list[str] = []
    if args.check_size != "0":
        check_path, check_summary = ensure_capture(args.check_size, args.profile, args.seed)
        made.append(check_path)
        ok, check_lines = cross_check(check_path)
        ok_d, line_d = diagnose_check(check_path, check_summary)
        ok, check_lines = ok and ok_d, [*check_lines, line_d]
        check_lines.insert(0, f"on {check_path.name} ({int(check_summary['bytes']) / 1e6:.0f} MB, "
                           f"{int(check_summary['packets']):,} packets): {'all equal' if ok else 'MISMATCH'}")
        print("\n".join(check_lines), flush=True)
    repeated = args.repeat > 1
    table = ["| capture | packets | connections | command | wall s | " + ("slowest s | " if repeated else "")
             + "CPU s | MB/s | packets/s | peak RSS | tshark time / this |",
             "|---|---:|---:|---|---:|" + ("---:|" if repeated else "") + "---:|---:|---:|---:|---:|"]
    for size, summary, name, m, ratio in rows:
        nbytes, npackets = int(summary["bytes"]), int(summary["packets"])
        table.append(f"| {args.profile} {size} ({nbytes / 1e6:,.0f} MB) | {npackets:,} | "
                     f"{int(summary['connections']):,} | {name} | {m.wall:.1f} | "
                     + (f"{slowest[(size, name)]:.1f} | " if repeated else "") + f"{m.cpu:.1f} | "
                     f"{nbytes / m.wall / 1e6:.1f} | {npackets / m.wall / 1e3:,.0f} k | "
                     f"{m.peak_rss / 2**20:,.0f} MiB | {ratio:.2f}x |")
    costs = []
    for size in sizes:
        by_name = {name: m for s_, _sum, name, m, _r in rows if s_ == size}
        d = by_name.get("`tlsdoctor diagnose F --json --jobs 1`")
        c = by_name.get("`tlsdoctor connections F --json --jobs 1`")
        p = by_name.get("`tlsdoctor diagnose F --json` (all cores)")
        if d is not None and c is not None:
            costs.append(f"{size}: diagnose {d.wall:.1f} s = {d.wall / c.wall:.2f}x connections --json "
                         f"({d.cpu / c.cpu:.2f}x CPU), peak RSS {d.peak_rss / 2**20:,.0f} MiB"
                         + (f"; on all cores {p.wall:.1f} s ({d.wall / p.wall:.2f}x faster)" if p else ""))
    text_costs = ("diagnose against connections (issue 4: at most 1.3x): " + "; ".join(costs) + ".\n\n"
                  if costs else "") + ("The writers (issue 7): " + "; ".join(writers) + ".\n\n" if writers else "")
    runs_text = (f"{args.repeat} runs per command, in {args.repeat} rounds; each row is its fastest run (wall "
                 f"and CPU time of that run), with its slowest beside it, and the highest peak RSS of its runs"
                 if repeated else "One run per command")
    text = (f"Run of {started} on {platform.node()}: {about}. {runs_text}; 1-minute load average "
            f"before each row's fastest run: {', '.join(f'{m.load:.1f}' for *_x, m, _r in rows)}.\n\n"
            + "\n".join(table) + "\n\n"
            + text_costs
            + ("Cross-check " + check_lines[0] + "\n\n" + "\n".join(f"- {x}" for x in check_lines[1:]) + "\n"
               if check_lines else ""))
    print("\n" + text)
    if args.write:
        block = f"{MARK_BEGIN}\n{text}{MARK_END}"
        doc = args.write.read_text(encoding="utf-8") if args.write.exists() else ""
        if MARK_BEGIN in doc and MARK_END in doc:
            doc = doc[: doc.index(MARK_BEGIN)] + block + doc[doc.index(MARK_END) + len(MARK_END):]
        else:
            doc += ("\n" if doc else "") + block + "\n"
        args.write.write_text(doc, encoding="utf-8")
    if not args.keep:
        for path in made:
            path.unlink(missing_ok=True)
            Path(str(path) + ".json").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
