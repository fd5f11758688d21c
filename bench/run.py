"""Time tlsdoctor against tshark on the same capture, in the same run; measure peak memory.

    python bench/run.py [--sizes 256M,1G] [--keep] [--write docs/performance.md]

For each size: generate the capture (bench/make_capture.py, cached in bench/out/), then run each of
these in its own child process, once, measuring wall time and the child's peak RSS (``wait4``):

* ``tlsdoctor connections F --json > /dev/null``
* ``tlsdoctor connections F > /dev/null`` (the terminal table)
* tshark, as in issue 3: ``tshark -r F -Y "tls.handshake.type==1 || tls.handshake.type==2 ||
  tls.alert_message || tcp.flags.reset==1" -T fields -e frame.number -e tcp.stream
  -e tls.handshake.type -e tls.alert_message.desc > /dev/null`` (with ``-d tcp.port==443,tls``, a no-op
  for port 443, kept for symmetry with the oracle test)
* a bare pure-Python loop (mmap, ``struct.unpack_from`` of Ethernet/IPv4/TCP, a flow dict): the floor.

Then, on the smallest file, a cross-check: the (frame, tcp.stream) pairs of every ClientHello, and the
count of ServerHellos, alerts and RSTs, from tshark and from tlsdoctor's JSON must be equal.
Timings are figures for docs/performance.md, never pass/fail tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TSHARK_FILTER = "tls.handshake.type==1 || tls.handshake.type==2 || tls.alert_message || tcp.flags.reset==1"

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


def measure(cmd: list[str], stdout_to_null: bool = True) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if stdout_to_null else subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{cmd[0]} failed with {status}")
    return wall, usage.ru_maxrss * 1024


def packets_in(path: Path) -> int:
    out = subprocess.run([sys.executable, "-c", BARE_LOOP, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def ensure_capture(size: str, profile: str = "handshakes") -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / (f"bench-{size}.pcap" if profile == "handshakes" else f"bench-{profile}-{size}.pcap")
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_capture.py"), str(path), "--size", size,
                        "--profile", profile], check=True)
    return path


def tlsdoctor_cmd() -> list[str]:
    return [sys.executable, "-m", "tlsdoctor.cli"]


def cross_check(path: Path) -> str:
    tshark = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", TSHARK_FILTER, "-T", "fields", "-e", "frame.number",
                             "-e", "tcp.stream", "-e", "tls.handshake.type", "-e", "tls.alert_message.desc",
                             "-e", "tcp.flags.reset"], capture_output=True, text=True, check=True).stdout
    t_hellos, t_sh, t_alerts, t_rst = set(), 0, 0, set()
    for line in tshark.splitlines():
        frame, stream, types, alerts, rst = (line.split("\t") + [""] * 5)[:5]
        kinds = [int(x) for x in types.split(",") if x]
        if 1 in kinds:
            t_hellos.add((int(frame), int(stream)))
        t_sh += kinds.count(2)
        t_alerts += len([x for x in alerts.split(",") if x])
        if rst in ("1", "True"):
            t_rst.add(int(stream))
    ours = subprocess.run([*tlsdoctor_cmd(), "connections", str(path), "--json"], capture_output=True, text=True,
                          check=True).stdout
    o_hellos, o_sh, o_alerts, o_rst = set(), 0, 0, set()
    for line in ours.splitlines():
        d = json.loads(line)
        f = d["frames"]
        for key in ("client_hello", "client_hello_2"):
            if key in f:
                o_hellos.add((f[key], d["tcp_stream"]))
        o_sh += ("server_hello" in f) + ("hello_retry_request" in f)
        o_alerts += len([a for a in d["alerts"] if a["code"] is not None])
        if "rst" in f:
            o_rst.add(d["tcp_stream"])
    verdict = [
        f"ClientHello (frame, tcp.stream) pairs: tshark {len(t_hellos)}, tlsdoctor {len(o_hellos)}, "
        f"{'identical' if t_hellos == o_hellos else 'DIFFERENT'}",
        f"ServerHello/HRR messages: tshark {t_sh}, tlsdoctor {o_sh}",
        f"plaintext alerts: tshark {t_alerts}, tlsdoctor {o_alerts}",
        f"streams with a RST: tshark {len(t_rst)}, tlsdoctor {len(o_rst)}, "
        f"{'identical' if t_rst == o_rst else 'DIFFERENT'}",
    ]
    return "\n".join(f"- {v}" for v in verdict)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256M,1G")
    ap.add_argument("--profile", default="handshakes", choices=["handshakes", "bulk"],
                    help="handshakes: ~110k connections/GB; bulk: half the connections carry 0.1-1 MB")
    ap.add_argument("--keep", action="store_true", help="keep the generated captures")
    ap.add_argument("--write", type=Path, help="append the results to this Markdown file")
    args = ap.parse_args()
    sizes = args.sizes.split(",")
    rows = []
    for size in sizes:
        path = ensure_capture(size, args.profile)
        nbytes = path.stat().st_size
        npackets = packets_in(path)
        runs = {
            "tlsdoctor connections --json": [*tlsdoctor_cmd(), "connections", str(path), "--json"],
            "tlsdoctor connections (table)": [*tlsdoctor_cmd(), "connections", str(path)],
            "tshark (issue 3 command)": ["tshark", "-n", "-r", str(path), "-Y", TSHARK_FILTER, "-T", "fields",
                                         "-e", "frame.number", "-e", "tcp.stream", "-e", "tls.handshake.type",
                                         "-e", "tls.alert_message.desc"],
            "bare Python header loop": [sys.executable, "-c", BARE_LOOP, str(path)],
        }
        results = {name: measure(cmd) for name, cmd in runs.items()}
        tshark_wall = results["tshark (issue 3 command)"][0]
        for name, (wall, rss) in results.items():
            rows.append((f"{args.profile} {size}", nbytes, npackets, name, wall, rss, tshark_wall / wall))
            print(f"{size} {name}: {wall:.1f} s, {nbytes / wall / 1e6:.1f} MB/s, "
                  f"{npackets / wall / 1e3:.0f} k packets/s, peak RSS {rss / 2**20:.0f} MiB, "
                  f"{tshark_wall / wall:.2f}x tshark", flush=True)
    check = cross_check(ensure_capture(sizes[0], args.profile))
    print(check)
    table = ["| file | packets | command | seconds | MB/s | packets/s | peak RSS | vs tshark |",
             "|---|---|---|---|---|---|---|---|"]
    for size, nbytes, npackets, name, wall, rss, ratio in rows:
        table.append(f"| {size} ({nbytes / 1e6:.0f} MB) | {npackets:,} | {name} | {wall:.1f} | "
                     f"{nbytes / wall / 1e6:.1f} | {npackets / wall / 1e3:.0f} k | {rss / 2**20:.0f} MiB | "
                     f"{ratio:.2f}x |")
    text = (f"\n### Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
            f"({os.cpu_count()} cores, Python {platform.python_version()})\n\n" + "\n".join(table) +
            f"\n\nCross-check on the {sizes[0]} file:\n\n{check}\n")
    print(text)
    if args.write:
        with args.write.open("a", encoding="utf-8") as f:
            f.write(text)
    if not args.keep:
        for size in sizes:
            for name in (f"bench-{size}.pcap", f"bench-{args.profile}-{size}.pcap"):
                (OUT / name).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
