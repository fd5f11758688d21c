"""The lab, live: regenerate scenarios with real software and check what the captures show.

Fresh captures differ in ports and times from the committed ones, not in structure; this checks the
structure both with tshark and with tlsdoctor. Skipped, with the reason, without root or tcpdump.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lab.make_fixtures import make
from tests.lab.netlab import lab_available
from tlsdoctor.api import connections

available, why = lab_available()
pytestmark = [pytest.mark.lab, pytest.mark.skipif(not available, reason=why)]

# scenario -> (failed, ended, alert code, alert sender) of its one connection
EXPECTED = {
    "version_mismatch": (True, "alert", 70, "server"),
    "no_shared_cipher": (True, "alert", 40, "server"),
    "expired_cert_tls12": (True, "alert", 45, "client"),
    "rst_after_clienthello": (True, "rst", None, None),
    "tcp_connect_refused": (True, "rst", None, None),
    "tls13_ok": (False, None, None, None),
    "tls13_hrr": (False, None, None, None),
}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("lab")
    return {p.stem: p for p in make(out, [*EXPECTED, "not_tls_http"])}


@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_fresh_capture_shows_the_scenario(fresh: dict[str, Path], scenario: str) -> None:
    failed, ended, code, sender = EXPECTED[scenario]
    (rec,) = connections(str(fresh[scenario]))
    assert rec.failed is failed
    if ended is not None:
        assert rec.ended_by.value == ended
    if code is not None:
        assert rec.alert is not None and (rec.alert.code, rec.alert.sender) == (code, sender)
    if scenario == "tls13_hrr":
        assert "J" in rec.history.upper() and rec.tls_version == "TLSv1.3"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_fresh_alerts_agree_with_tshark(fresh: dict[str, Path]) -> None:
    for scenario in ("version_mismatch", "no_shared_cipher", "expired_cert_tls12"):
        (rec,) = connections(str(fresh[scenario]))
        out = subprocess.run(["tshark", "-r", str(fresh[scenario]), "-d", f"tcp.port=={rec.server.port},tls",
                              "-Y", "tls.alert_message", "-T", "fields", "-e", "frame.number",
                              "-e", "tls.alert_message.desc"], capture_output=True, text=True, timeout=60).stdout
        frame, desc = out.split()[:2]
        assert rec.alert is not None and (rec.alert.frame, rec.alert.code) == (int(frame), int(desc))


def test_fresh_not_tls_answer(fresh: dict[str, Path]) -> None:
    (rec,) = connections(str(fresh["not_tls_http"]))
    assert rec.failed and rec.tls.not_tls is not None
    sender, guess, first = rec.tls.not_tls
    assert (sender, guess) == ("server", "http_response") and first.startswith(b"HTTP/1.1 400")
