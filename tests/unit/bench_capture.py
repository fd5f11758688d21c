"""A capture of the bench's mixes for the tests: ``bench/make_capture.py`` (real OpenSSL handshakes in
synthetic framing; see its header), its pool of handshakes drawn afresh beside the capture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def generated_capture(folder: Path, size: str, seed: int, profile: str = "gateway",
                      name: str = "gateway.pcap") -> Path:
    """``folder/name``: ``size`` (e.g. "4M") of the ``profile`` mix drawn with ``seed``."""
    cap = folder / name
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_capture.py"), str(cap), "--size", size,
                    "--seed", str(seed), "--profile", profile, "--pool", str(folder / "pool.json")],
                   check=True, capture_output=True, timeout=600)
    return cap
