"""Key logs, and what decryption puts on the records the rules read, against real OpenSSL captures and
tshark as the oracle; ``diagnose`` with a key log (one pass, one or several workers, embedded keys).

The captures and key logs in tests/fixtures/keylog/ were made by tests/lab/make_keylog_fixtures.py:
openssl s_server / s_client -keylogfile on loopback, recorded by tcpdump (see MANIFEST.md there).
test_tls_decrypt.py checks the decrypted messages themselves, their frames and the RFC vectors.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor.api import connections
from tlsdoctor.investigate import investigate
from tlsdoctor.report.json import report_to_json
from tlsdoctor.tls.decrypt import DecryptError, Inner, Record, Tls13Decryptor, TrafficKeys, hkdf_expand_label
from tlsdoctor.tls.keylog import keylog_from_secrets, parse_keylog, parse_keylog_text

KEYLOG = Path(__file__).resolve().parent.parent / "fixtures" / "keylog"
# A failing TLS 1.3 handshake, and completed ones of both versions and three AEADs; test_tls_decrypt.py
# checks the decrypted messages of every capture of the folder.
CASES = ["client_certificate_required_tls13", "ok_tls12_chacha", "ok_tls12_gcm", "ok_tls13_aes256", "ok_tls13_chacha"]


def _keys(name: str) -> Path:
    return KEYLOG / f"{name}.keys"


def test_keylog_parsed_whole_line_by_line_and_with_garbage() -> None:
    text = _keys("client_certificate_required_tls13").read_text()
    whole = parse_keylog(text.splitlines())
    assert len(whole) == 1 and not whole.anomalies
    [labels] = whole.secrets.values()
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0"} <= labels.keys()
    as_bytes = parse_keylog(line.encode() for line in text.splitlines())
    assert as_bytes.secrets == whole.secrets
    dirty = parse_keylog([*text.splitlines(), "CLIENT_RANDOM zz 00", "NOT_A_LABEL " + "ab" * 32 + " " + "cd" * 32,
                          "CLIENT_RANDOM " + "ab" * 31 + " " + "cd" * 48, "\x00\xff garbage"])
    assert dirty.secrets == whole.secrets
    assert [n for n, _ in dirty.anomalies] == [len(text.splitlines()) + i for i in (1, 2, 3, 4)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=20))
def test_keylog_never_raises(lines: list[str]) -> None:
    kl = parse_keylog(lines)
    assert kl.lines == len(lines)


def test_hkdf_expand_label_matches_the_traffic_keys_that_decrypt_real_records() -> None:
    # RFC 8446 7.1/7.3 via cryptography's HKDFExpand: the key and iv lengths of each suite.
    secret = bytes(range(32))
    assert len(hkdf_expand_label(secret, b"key", b"", 16, "sha256")) == 16
    assert hkdf_expand_label(secret, b"key", b"", 16, "sha256") != hkdf_expand_label(secret, b"iv", b"", 16, "sha256")
    for suite, key_len in ((0x1301, 16), (0x1302, 32), (0x1303, 32)):
        k = TrafficKeys.derive(secret + secret[:16] if suite == 0x1302 else secret, suite)
        assert len(k.key) == key_len and len(k.iv) == 12


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([20, 21, 22, 23, 99]), st.binary(max_size=300)), max_size=8),
       st.sampled_from([0x1301, 0x1302, 0x1303, 0xC02F]))
def test_decrypting_garbage_is_items_then_one_sticky_error(records: list[tuple[int, bytes]], suite: int) -> None:
    # One direction, record by record: what a record held carries that record's frame; the first record
    # that does not open is an error value, and every later record gets the same one (its sequence
    # numbers can no longer be trusted), never an exception.
    dec = Tls13Decryptor(suite, bytes(48), bytes(48))
    error: DecryptError | None = None
    for i, (ctype, payload) in enumerate(records):
        got = dec.open(Record(ctype, 0x0303, payload, i + 1))
        if error is not None:
            assert got is error
        elif isinstance(got, DecryptError):
            assert got.why and (got.frame in (0, i + 1))
            error = got
        else:
            assert all(isinstance(it, Inner) and it.frame == i + 1 for it in got)


def _tshark(name: str) -> list[tuple[int, list[int], list[int]]]:
    rec = connections(str(KEYLOG / f"{name}.pcap"))[0]
    out = subprocess.run(["tshark", "-n", "-r", str(KEYLOG / f"{name}.pcap"), "-o", f"tls.keylog_file:{_keys(name)}",
                          "-d", f"tcp.port=={rec.server.port},tls", "-Y", "tls", "-T", "fields", "-e", "frame.number",
                          "-e", "tls.handshake.type", "-e", "tls.alert_message.desc"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    rows = []
    for line in out.splitlines():
        frame, types, alerts = [*line.split("\t"), "", ""][:3]
        rows.append((int(frame), [int(x) for x in types.split(",") if x], [int(x) for x in alerts.split(",") if x]))
    return rows


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed (the oracle)")
@pytest.mark.parametrize("name", CASES)
def test_decrypted_facts_the_rules_read_are_what_tshark_decrypts(name: str) -> None:
    path = KEYLOG / f"{name}.pcap"
    keylog = parse_keylog(_keys(name).read_text().splitlines())
    [done] = connections(str(path), keylog=keylog)
    assert done.tls.decryption == "decrypted"
    theirs = _tshark(name)
    # The alerts tshark decrypts are on the record, with their code, frame and no "inferred" mark. A
    # completed handshake is not read past its end (the engine's fast path): its alerts are among them.
    tshark_alerts = [(frame, code) for frame, _types, alerts in theirs for code in alerts]
    ours = [(a.frame, a.code) for a in done.tls.alerts]
    if done.handshake_completed:
        assert set(ours) <= set(tshark_alerts)
    else:
        assert ours == tshark_alerts and ours
    assert all(a.decrypted and not a.encrypted for a in done.tls.alerts)
    # The encrypted Certificate (11) and CertificateRequest (13) frames are tshark's.
    for htype, milestone in ((11, "certificate"), (13, "certificate_request")):
        frames = [frame for frame, types, _ in theirs if htype in types]
        if frames:
            assert done.frames.get(milestone) == frames[0], (milestone, frames)
    assert [c.subject for c in done.tls.server_certificates] == ["CN=origin.test", "CN=tlsdoctor lab intermediate"]


def test_wrong_keys_are_a_note_not_a_crash() -> None:
    name = "client_certificate_required_tls13"
    text = _keys(name).read_text().splitlines()
    # Flip one hex digit of every secret: the records do not authenticate.
    bad = [" ".join([*ln.split()[:2], ("0" if ln.split()[2][0] != "0" else "1") + ln.split()[2][1:]])
           if ln and not ln.startswith("#") else ln for ln in text]
    [done] = connections(str(KEYLOG / f"{name}.pcap"), keylog=parse_keylog(bad))
    assert done.tls.decryption is not None and done.tls.decryption.startswith("failed: ")
    assert "does not decrypt" in done.tls.decryption
    # The inference from record sizes stays: the server's encrypted alert, not decrypted.
    assert [(a.sender, a.encrypted, a.decrypted) for a in done.tls.alerts] == [("server", True, False)]


def test_diagnose_with_the_key_log_is_certain_without_it_likely() -> None:
    pcap, keys = KEYLOG / "client_certificate_required_tls13.pcap", _keys("client_certificate_required_tls13")
    with_keys = report_to_json(investigate([str(pcap), str(keys)]))
    [f] = with_keys["findings"]
    assert f["cause"] == "client_certificate_required" and f["confidence"] == "certain"
    assert any("116 certificate_required" in e["text"] and "key log" in e["text"] for e in f["evidence"])
    assert {i["kind"] for i in with_keys["inputs"]} == {"capture", "keylog"}
    without = report_to_json(investigate([str(pcap)]))
    [g] = without["findings"]
    assert g["cause"] == "client_certificate_required" and g["confidence"] == "likely"
    assert any("SSLKEYLOGFILE" in n for n in g["notes"])


def test_keylog_text_with_crlf_and_from_decryption_secrets_blocks() -> None:
    text = _keys("ok_tls13_aes256").read_text()
    lines = text.splitlines()
    whole = parse_keylog_text(text.replace("\n", "\r\n").encode())
    assert whole.secrets == parse_keylog(lines).secrets and not whole.anomalies
    # Two blocks (pcapng section 4.7), the second one with a bad line: its number counts across blocks.
    other = _keys("ok_tls12_gcm").read_text()
    blocks = [text.encode(), (other + "CLIENT_RANDOM zz zz\n").encode()]
    kl = keylog_from_secrets(blocks)
    assert len(kl) == 2
    assert [n for n, _ in kl.anomalies] == [len(lines) + len(other.splitlines()) + 1]


def test_keylogs_merge_and_the_random_cap_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    a = parse_keylog(_keys("ok_tls13_aes256").read_text().splitlines())
    b = parse_keylog(_keys("ok_tls12_gcm").read_text().splitlines())
    both = a.merged(b)
    assert len(both) == 2 and both.secrets.keys() == a.secrets.keys() | b.secrets.keys()
    assert len(a) == 1  # merging copies
    monkeypatch.setattr("tlsdoctor.tls.keylog.MAX_RANDOMS", 1)
    capped = parse_keylog(_keys("ok_tls13_aes256").read_text().splitlines()
                          + _keys("ok_tls12_gcm").read_text().splitlines())
    assert len(capped) == 1
    assert any("MAX_RANDOMS" in why for _, why in capped.anomalies)
    assert any("MAX_RANDOMS" in why for _, why in a.merged(b).anomalies)


# --- diagnose decrypts in its one pass over the capture -----------------------------------------------------------

def _findings(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["cause"], f["confidence"]) for f in report["findings"]]


def test_diagnose_reads_the_capture_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Decryption happens in the streaming pass: no second pass over the capture for the keyed handshakes.
    from tlsdoctor.capture.source import CaptureSource

    passes: list[str] = []
    frames = CaptureSource.frames

    def counted(self: CaptureSource) -> Any:
        passes.append(self.path)
        return frames(self)

    monkeypatch.setattr(CaptureSource, "frames", counted)
    pcap, keys = KEYLOG / "client_certificate_required_tls13.pcap", _keys("client_certificate_required_tls13")
    report = report_to_json(investigate([str(pcap), str(keys)]))
    assert _findings(report) == [("client_certificate_required", "certain")]
    assert passes == [str(pcap)]


def test_diagnose_decrypts_the_same_on_one_core_and_on_several() -> None:
    # The sharded workers get the key log too: the report is one process's.
    pcap, keys = KEYLOG / "client_certificate_required_tls13.pcap", _keys("client_certificate_required_tls13")
    one = report_to_json(investigate([str(pcap), str(keys)], jobs=1))
    two = report_to_json(investigate([str(pcap), str(keys)], jobs=2))
    assert two["inputs"][0]["detail"].endswith("2 workers")
    assert _findings(two) == [("client_certificate_required", "certain")]
    assert any("116 certificate_required" in e["text"] and "key log" in e["text"]
               for e in two["findings"][0]["evidence"])
    for r in (one, two):
        r.pop("inputs")
        r.pop("elapsed_s", None)
    assert one == two


def test_diagnose_notes_only_the_handshakes_that_decrypted() -> None:
    # A key log whose secrets do not open the records: the inference without keys stands, and the note
    # does not count the handshake as decrypted.
    pcap = KEYLOG / "server_certificate_expired_tls13.pcap"
    good = report_to_json(investigate([str(pcap), str(_keys("server_certificate_expired_tls13"))]))
    bad = report_to_json(investigate([str(pcap), str(KEYLOG / "server_certificate_expired_tls13.corrupted.keys")]))
    plain = report_to_json(investigate([str(pcap)]))
    assert _findings(good) == [("certificate_expired", "certain")]
    assert _findings(bad) == _findings(plain) == [("certificate_expired", "likely")]
    assert any("; 1 failing TLS 1.3 handshake(s) decrypted" in n for n in good["notes"])
    assert any("; 0 failing TLS 1.3 handshake(s) decrypted" in n for n in bad["notes"])


@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap is not installed (makes the pcapng)")
@pytest.mark.parametrize("jobs", [1, 2])
def test_diagnose_uses_a_key_log_embedded_in_the_pcapng(tmp_path: Path, jobs: int) -> None:
    source = KEYLOG / "client_certificate_required_tls13.pcap"
    out = tmp_path / "client_certificate_required_tls13_dsb.pcapng"
    subprocess.run(["editcap", "--inject-secrets", f"tls,{_keys(source.stem)}", str(source), str(out)],
                   check=True, capture_output=True, timeout=60)
    report = report_to_json(investigate([str(out)], jobs=jobs))
    assert _findings(report) == [("client_certificate_required", "certain")]
    [capture] = report["inputs"]
    assert "a key log of 1 client random(s) embedded" in capture["detail"]
    assert any(n.startswith("Key log: 1 client random(s) embedded in the capture(s); 1 failing")
               for n in report["notes"])
    assert not any("No key log given" in n for n in report["notes"])
