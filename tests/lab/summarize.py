"""What tshark sees in a capture, per TCP connection: the facts tests/fixtures/captures/MANIFEST.md states.

    python tests/lab/summarize.py CAPTURE...

For each tcp.stream: client and server (the SYN's sender and receiver, else the first packet's), and in
order the events that matter for a handshake: SYN / SYN-ACK, each TLS handshake message and alert with
who sent it (``c`` client, ``s`` server), the first line of a plaintext HTTP answer, FIN and RST. tshark is
the oracle here, not tlsdoctor: the lab's tests use this to check fresh captures, and the manifest's
statements were checked with it. The server ports found (SYN destinations) are decoded as TLS.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HANDSHAKE_NAMES = {
    0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 8: "EncryptedExtensions",
    11: "Certificate", 12: "ServerKeyExchange", 13: "CertificateRequest", 14: "ServerHelloDone",
    15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished",
}
FIELDS = [
    "frame.number", "tcp.stream", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport",
    "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset", "tls.handshake.type",
    "tls.alert_message.desc", "tls.record.content_type", "tcp.len", "tcp.payload", "vlan.id",
    "tls.handshake.extensions_server_name",
]


@dataclass
class Stream:
    number: int
    client: str = ""
    server: str = ""
    events: list[tuple[int, str, str]] = field(default_factory=list)  # (frame, "c"|"s", what)
    sni: str | None = None
    vlans: set[str] = field(default_factory=set)

    def by(self, side: str, what: str) -> list[int]:
        """Frames where ``side`` ("c" or "s") did ``what`` (an event name, e.g. "alert 112", "RST")."""
        return [f for f, s, w in self.events if s == side and w == what]

    def line(self) -> str:
        """One line: ``N client -> server sni=NAME [vlan=ID]: c:SYN s:SYN-ACK c:ClientHello s:alert 112 ...``"""
        text = " ".join(f"{s}:{w}" for _, s, w in self.events)
        vlan = f" vlan={','.join(sorted(self.vlans))}" if self.vlans else ""
        return f"{self.number} {self.client} -> {self.server} sni={self.sni or '-'}{vlan}: {text}"


def _tshark(path: Path, fields: list[str], decode_ports: frozenset[int] = frozenset()) -> list[dict[str, str]]:
    cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=,"]
    for port in sorted(decode_ports):
        cmd += ["-d", f"tcp.port=={port},tls"]
    for f in fields:
        cmd += ["-e", f]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tshark failed on {path}: {done.stderr.strip()}")
    rows = []
    for line in done.stdout.splitlines():
        values = line.split("\t")
        rows.append(dict(zip(fields, values + [""] * (len(fields) - len(values)), strict=True)))
    return rows


def summarize(path: Path) -> list[Stream]:
    """The capture's TCP connections as tshark sees them, in tcp.stream order."""
    syns = _tshark(path, ["tcp.flags.syn", "tcp.flags.ack", "tcp.dstport"])
    ports = {int(r["tcp.dstport"]) for r in syns if r["tcp.flags.syn"] in ("1", "True") and
             r["tcp.flags.ack"] in ("0", "False")}
    streams: dict[int, Stream] = {}
    for r in _tshark(path, FIELDS, frozenset(ports)):
        if not r["tcp.stream"]:
            continue
        n = int(r["tcp.stream"])
        src = f"{r['ip.src'] or '[' + r['ipv6.src'] + ']'}:{r['tcp.srcport']}"
        flag = {k: r[f"tcp.flags.{k}"] in ("1", "True") for k in ("syn", "ack", "fin", "reset")}
        st = streams.setdefault(n, Stream(n))
        dst = f"{r['ip.dst'] or '[' + r['ipv6.dst'] + ']'}:{r['tcp.dstport']}"
        if not st.client or (flag["syn"] and not flag["ack"]):
            # The SYN's sender is the client; without a SYN, a SYN-ACK's receiver; else the first sender.
            st.client, st.server = (dst, src) if flag["syn"] and flag["ack"] else (src, dst)
        if r["vlan.id"]:
            st.vlans.update(r["vlan.id"].split(","))
        side = "c" if src == st.client else "s"
        frame = int(r["frame.number"])
        if flag["syn"]:
            st.events.append((frame, side, "SYN-ACK" if flag["ack"] else "SYN"))
        for t in r["tls.handshake.type"].split(","):
            if t:
                st.events.append((frame, side, HANDSHAKE_NAMES.get(int(t), f"handshake {t}")))
        for d in r["tls.alert_message.desc"].split(","):
            if d:
                st.events.append((frame, side, f"alert {d}"))
        types = r["tls.record.content_type"].split(",") if r["tls.record.content_type"] else []
        if "21" in types and not r["tls.alert_message.desc"]:
            st.events.append((frame, side, "encrypted alert"))
        if r["tls.handshake.extensions_server_name"] and st.sni is None:
            st.sni = r["tls.handshake.extensions_server_name"].split(",")[0]
        payload = bytes.fromhex(r["tcp.payload"].replace(":", "")) if r["tcp.payload"] else b""
        if payload.startswith(b"HTTP/"):
            st.events.append((frame, side, payload.split(b"\r\n", 1)[0].decode("ascii", "replace")))
        if flag["fin"]:
            st.events.append((frame, side, "FIN"))
        if flag["reset"]:
            st.events.append((frame, side, "RST"))
    return [streams[k] for k in sorted(streams)]


def link_type(path: Path) -> str:
    done = subprocess.run(["capinfos", "-E", "-T", str(path)], capture_output=True, text=True, timeout=60,
                          check=False)
    lines = done.stdout.strip().splitlines()
    return lines[-1].split("\t")[-1] if lines else "?"


def main(argv: list[str]) -> None:
    for arg in argv:
        path = Path(arg)
        print(f"# {path.name} ({path.stat().st_size} bytes, {link_type(path)})")
        for st in summarize(path):
            print(st.line())


if __name__ == "__main__":
    main(sys.argv[1:])
