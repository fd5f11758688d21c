"""tshark as the oracle of the capture readers: frame numbers, times to the nanosecond, lengths.

The inputs are real captures: every committed fixture (tcpdump's pcap, microsecond and nanosecond, and a
dumpcap pcapng; see tests/fixtures/captures/MANIFEST.md), and the same files rewritten by editcap into the
other layouts (pcapng from micro- and nanosecond pcap, nanosecond pcap, raw-IP encapsulation, a pcapng
with a Decryption Secrets Block injected). For each we compare our (number, ts_ns, origlen, caplen) with
tshark's frame.number, frame.time_epoch, frame.len and frame.cap_len. Skipped, with the reason, where
tshark or editcap is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tlsdoctor.capture import open_capture

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REAL = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".pcap", ".pcapng") and p.is_file())
NANO = FIXTURES / "captures" / "nanosecond_pcap.pcap"
ENGINE = FIXTURES / "engine" / "openssl_loopback.pcap"

pytestmark = [
    pytest.mark.tshark,
    pytest.mark.skipif(shutil.which("tshark") is None or shutil.which("editcap") is None,
                       reason="tshark and editcap are not installed (scripts/test.sh installs them)"),
]


def _tshark(path: Path) -> list[tuple[int, int, int, int]]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e",
                          "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    rows = []
    for line in out.splitlines():
        number, epoch, length, caplen = line.split("\t")
        rows.append((int(number), int(Decimal(epoch) * 10**9), int(length), int(caplen)))
    return rows


def _ours(path: Path) -> tuple[list[tuple[int, int, int, int]], list[str]]:
    with open_capture(str(path)) as src:
        rows = [(n, ts, orig, cap) for n, ts, _lt, _b, _o, cap, orig in src.frames()]
        return rows, [str(a) for a in src.anomalies]


@pytest.mark.parametrize("capture", REAL, ids=[p.name for p in REAL])
def test_every_fixture_matches_tshark(capture: Path) -> None:
    ours, anomalies = _ours(capture)
    assert anomalies == []
    assert ours == _tshark(capture)


@pytest.mark.parametrize(("source", "args"), [
    (ENGINE, ["-F", "pcapng"]),
    (ENGINE, ["-F", "nsecpcap"]),
    (ENGINE, ["-F", "pcapng", "-T", "rawip"]),
    (ENGINE, ["-F", "pcap", "-T", "rawip"]),
    (ENGINE, ["-F", "pcapng", "-s", "60"]),  # a snap length: caplen < len
    (NANO, ["-F", "pcapng"]),  # if_tsresol 10^-9 with real nanosecond digits
    (NANO, ["-F", "pcap"]),  # microseconds: tshark truncates the nanoseconds as editcap wrote them
], ids=["pcapng", "nsecpcap", "pcapng-rawip", "pcap-rawip", "pcapng-snap60", "nano-pcapng", "nano-to-micro"])
def test_editcap_layouts_match_tshark(tmp_path: Path, source: Path, args: list[str]) -> None:
    out = tmp_path / "converted"
    proc = subprocess.run(["editcap", *args, str(source), str(out)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"editcap {' '.join(args)} is not supported here: {proc.stderr.strip()}")
    ours, anomalies = _ours(out)
    assert anomalies == []
    assert ours == _tshark(out)
    assert len(ours) > 5


def test_nanosecond_pcapng_interface_and_digits(tmp_path: Path) -> None:
    out = tmp_path / "nano.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(NANO), str(out)], check=True, timeout=60, capture_output=True)
    with open_capture(str(out)) as src:
        stamps = [ts for _n, ts, *_r in src.frames()]
        assert [i.units_per_second for i in src.interfaces] == [10**9]
    assert any(ts % 1000 for ts in stamps), "the fixture should carry sub-microsecond digits"


def test_injected_tls_secrets_are_kept(tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    keylog.write_text("CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48 + "\n")
    out = tmp_path / "with-secrets.pcapng"
    proc = subprocess.run(["editcap", "--inject-secrets", f"tls,{keylog}", str(ENGINE), str(out)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"editcap --inject-secrets is not supported here: {proc.stderr.strip()}")
    ours, anomalies = _ours(out)
    assert anomalies == [] and ours == _tshark(out)
    with open_capture(str(out)) as src:
        list(src.frames())
        assert b"".join(src.decryption_secrets) == keylog.read_bytes()
