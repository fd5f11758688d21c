"""tshark as the oracle: on every committed capture, our numbers must be Wireshark's.

For each fixture under tests/fixtures/ (captures of real software; see tests/fixtures/captures/MANIFEST.md)
we compare, per tcp.stream: that the same streams exist, their first frame, the frames of the
ClientHello, the first ServerHello (or HelloRetryRequest), the first RST, every plaintext alert
(frame, code), the SNI, and the sequence of plaintext handshake message types in each direction.
Skipped, with the reason, where tshark is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tlsdoctor.api import connections
from tlsdoctor.connection import ConnectionRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CAPTURES = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".pcap", ".pcapng", ".gz") and p.is_file())

pytestmark = pytest.mark.tshark

_FIELDS = ["frame.number", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "tcp.flags.reset",
           "tls.handshake.type", "tls.alert_message.desc", "tls.handshake.extensions_server_name",
           "tls.record.content_type"]

# Handshake type -> our history letter (Zeek's ssl_history), upper case for the client.
_LETTER = {0: "H", 1: "C", 2: "S", 3: "V", 4: "T", 5: "E", 8: "O", 11: "X", 12: "K", 13: "R", 14: "N", 15: "Y",
           16: "G", 20: "F", 21: "W", 22: "U", 23: "A", 24: "P", 254: "M"}


def _tshark_rows(path: Path, server_ports: set[int]) -> list[dict[str, str]]:
    cmd = ["tshark", "-n", "-r", str(path), "-Y", "tcp", "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    for port in sorted(server_ports):
        # tshark decodes TLS by port (443, 853, ...); the lab's servers may listen elsewhere.
        cmd += ["-d", f"tcp.port=={port},tls"]
    for f in _FIELDS:
        cmd += ["-e", f]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    rows = []
    for line in proc.stdout.splitlines():
        values = line.split("\t")
        rows.append(dict(zip(_FIELDS, values + [""] * (len(_FIELDS) - len(values)), strict=True)))
    return rows


def _ints(text: str) -> list[int]:
    return [int(x, 0) for x in text.split(",") if x.strip()]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (scripts/test.sh installs it)")
@pytest.mark.parametrize("capture", CAPTURES, ids=[str(p.relative_to(FIXTURES)) for p in CAPTURES])
def test_streams_frames_and_handshakes_match_tshark(capture: Path) -> None:
    ours: dict[int, ConnectionRecord] = {r.tcp_stream: r for r in connections(str(capture))}
    rows = _tshark_rows(capture, {r.server.port for r in ours.values() if r.is_tls})

    by_stream: dict[int, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        if row["tcp.stream"]:
            by_stream[int(row["tcp.stream"])].append(row)
    assert sorted(ours) == sorted(by_stream), "tcp.stream numbers differ from tshark's"

    for stream, srows in by_stream.items():
        rec = ours[stream]
        where = f"{capture.name} tcp.stream=={stream}"
        assert rec.frames["first"] == int(srows[0]["frame.number"]), where
        client_addr = rec.client.ip
        hello_frames = [int(r["frame.number"]) for r in srows if 1 in _ints(r["tls.handshake.type"])]
        if hello_frames:
            assert rec.frames.get("client_hello") == hello_frames[0], f"{where}: ClientHello frame"
            sni = next((r["tls.handshake.extensions_server_name"] for r in srows
                        if 1 in _ints(r["tls.handshake.type"])), "")
            assert (rec.sni or "") == sni, f"{where}: SNI"
        else:
            assert "client_hello" not in rec.frames, where
        sh_frames = [int(r["frame.number"]) for r in srows if 2 in _ints(r["tls.handshake.type"])]
        ours_sh = [f for f in (rec.frames.get("hello_retry_request"), rec.frames.get("server_hello")) if f]
        if sh_frames:
            assert min(ours_sh) == sh_frames[0], f"{where}: first ServerHello frame"
        else:
            assert not ours_sh, where
        rst = [int(r["frame.number"]) for r in srows if r["tcp.flags.reset"] in ("1", "True")]
        assert rec.frames.get("rst") == (rst[0] if rst else None), f"{where}: first RST frame"

        # Plaintext alerts: (frame, code) pairs.
        theirs_alerts = sorted((int(r["frame.number"]), code)
                               for r in srows for code in _ints(r["tls.alert_message.desc"]))
        ours_alerts = sorted((a.frame, a.code) for a in rec.tls.alerts if not a.encrypted and a.code is not None)
        assert ours_alerts == theirs_alerts, f"{where}: alerts"

        # The plaintext handshake messages, in order, with their direction.
        theirs_letters = ""
        for r in srows:
            src = r["ip.src"] or r["ipv6.src"]
            from_client = src == client_addr and int(r["tcp.srcport"]) == rec.client.port
            for t in _ints(r["tls.handshake.type"]):
                letter = _LETTER.get(t, "Z")
                theirs_letters += letter if from_client else letter.lower()
        ours_letters = "".join(ch for ch in rec.history if ch.upper() in set(_LETTER.values()) | {"J", "Z"})
        ours_letters = ours_letters.replace("j", "s")  # tshark 4.0 shows a HelloRetryRequest as type 2
        assert ours_letters == theirs_letters, f"{where}: handshake messages (ours {rec.history!r})"


def test_there_are_fixtures_to_compare() -> None:
    assert CAPTURES, "no capture fixtures found under tests/fixtures"
