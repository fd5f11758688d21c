"""Decryption in the packet path (``CaptureAnalyzer(name, keylog)``), against RFC vectors and tshark.

- RFC 8448 section 3 ("Simple 1-RTT Handshake"): traffic secrets -> keys and IVs (RFC 8446 section
  7.3), and its application-data and alert records opened (sections 5.2, 5.3).
- The TLS 1.2 PRF (RFC 5246 section 5) against the P_SHA256 / P_SHA384 vectors of the TLS working group.
- Every capture of tests/fixtures/keylog/ (real OpenSSL on loopback, see its MANIFEST.md) with its own
  key log: the decrypted handshake messages and alerts, with their frames, are tshark's with the same
  key log; without the key log nothing changes.
- Hypothesis: random bytes as records, streams and key logs never raise.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsdoctor.api import connections, iter_connections
from tlsdoctor.connection import ConnectionRecord
from tlsdoctor.handshake import HandshakeTracker
from tlsdoctor.report.connections import record_to_json
from tlsdoctor.tls.decrypt import (
    MAX_KEPT_RECORDS,
    DecryptError,
    Record,
    RecordCutter,
    Tls12Decryptor,
    Tls12Keys,
    Tls13Decryptor,
    TrafficKeys,
    tls12_prf,
)
from tlsdoctor.tls.keylog import parse_keylog, parse_keylog_text

KEYLOG = Path(__file__).resolve().parent.parent / "fixtures" / "keylog"
CAPTURES = sorted(KEYLOG.glob("*.pcap"))
HAVE_TSHARK = shutil.which("tshark") is not None

# RFC 8448 section 3, TLS_AES_128_GCM_SHA256.
RFC8448_SERVER_HS = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"
RFC8448_CLIENT_HS = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"
RFC8448_SERVER_AP = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"
RFC8448_CLIENT_AP = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"
RFC8448_CLIENT_DATA = ("1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b46b395bd54a9a2044"
                       "1e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4")
RFC8448_CLIENT_ALERT = "1703030013c9872760655666b74d7ff1153efd6db6d0b0e3"
RFC8448_SERVER_ALERT = "1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9"


def _record(hexed: str, frame: int) -> Record:
    raw = bytes.fromhex(hexed)
    assert int.from_bytes(raw[3:5], "big") == len(raw) - 5
    return Record(raw[0], int.from_bytes(raw[1:3], "big"), raw[5:], frame)


@pytest.mark.parametrize(("secret", "key", "iv"), [
    (RFC8448_SERVER_HS, "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30"),
    (RFC8448_CLIENT_HS, "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f"),
    (RFC8448_SERVER_AP, "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984"),
    (RFC8448_CLIENT_AP, "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9"),
])
def test_rfc8448_traffic_keys(secret: str, key: str, iv: str) -> None:
    keys = TrafficKeys.derive(bytes.fromhex(secret), 0x1301)
    assert (keys.key.hex(), keys.iv.hex()) == (key, iv)


def test_rfc8448_records_open_under_the_client_application_key() -> None:
    # The client's 50 bytes of data (sequence 0) and its close_notify (sequence 1); the handshake
    # secret is the client's too, so the decryptor must move to the application key by itself.
    dec = Tls13Decryptor(0x1301, bytes.fromhex(RFC8448_CLIENT_HS), bytes.fromhex(RFC8448_CLIENT_AP))
    data = dec.open(_record(RFC8448_CLIENT_DATA, 7))
    assert not isinstance(data, DecryptError)
    assert [(i.kind, i.length, i.frame) for i in data] == [("application_data", 50, 7)]
    alert = dec.open(_record(RFC8448_CLIENT_ALERT, 9))
    assert not isinstance(alert, DecryptError)
    assert [(i.kind, i.alert_level, i.alert_code, i.frame) for i in alert] == [("alert", 1, 0, 9)]
    # The server's close_notify is its third record under its application key (after the ticket and data).
    server = TrafficKeys.derive(bytes.fromhex(RFC8448_SERVER_AP), 0x1301)
    rec = _record(RFC8448_SERVER_ALERT, 10)
    assert server.open(2, bytes.fromhex(RFC8448_SERVER_ALERT)[:5], rec.payload) == b"\x01\x00\x15"


def test_rfc8448_record_under_the_wrong_key_is_an_error_value_and_stays_one() -> None:
    dec = Tls13Decryptor(0x1301, bytes.fromhex(RFC8448_SERVER_HS), bytes.fromhex(RFC8448_SERVER_AP))
    got = dec.open(_record(RFC8448_CLIENT_ALERT, 5))
    assert isinstance(got, DecryptError) and got.frame == 5 and "frame 5" in got.why
    assert dec.open(_record(RFC8448_CLIENT_DATA, 6)) is got


def test_tls12_prf_vectors() -> None:
    out = tls12_prf(bytes.fromhex("9bbe436ba940f017b17652849a71db35"), b"test label",
                    bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"), 100, "sha256")
    assert out.hex() == ("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14"
                         "baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e"
                         "5a5110fff70187347b66")
    out = tls12_prf(bytes.fromhex("b80b733d6ceefcdc71566ea48e5567df"), b"test label",
                    bytes.fromhex("cd665cf6a8447dd6ff8b27555edb7465"), 148, "sha384")
    assert len(out) == 148
    assert out.hex().startswith("7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1"
                                "233c9146a0e534cb400fed2700884f9dc236f80edd")


# --- the real captures, with tshark as the oracle ---------------------------------------------------------------

def _keys_for(capture: Path) -> Path:
    return capture.with_suffix(".keys")


def _tshark(capture: Path, port: int, keys: Path | None) -> list[tuple[int, list[int], list[int]]]:
    cmd = ["tshark", "-n", "-r", str(capture), "-d", f"tcp.port=={port},tls", "-Y", "tls", "-T", "fields",
           "-e", "frame.number", "-e", "tls.handshake.type", "-e", "tls.alert_message.desc"]
    cmd[1:1] = ["-o", f"tls.keylog_file:{keys if keys is not None else ''}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    rows = []
    for line in out.splitlines():
        frame, types, alerts = [*line.split("\t"), "", ""][:3]
        rows.append((int(frame), [int(x) for x in types.split(",") if x], [int(x) for x in alerts.split(",") if x]))
    return rows


def _decrypted_by_tshark(capture: Path, rec: ConnectionRecord) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(frame, handshake type) of the messages tshark shows only with the key log, in order; and every
    (frame, alert code) it shows with the key log. Rows of this connection only (its frame span)."""
    first, last = rec.frames["first"], rec.frames["last"]
    with_keys = [r for r in _tshark(capture, rec.server.port, _keys_for(capture)) if first <= r[0] <= last]
    without = [r for r in _tshark(capture, rec.server.port, None) if first <= r[0] <= last]
    plain = Counter((frame, t) for frame, hs_types, _ in without for t in hs_types)
    decrypted = []
    for frame, hs_types, _ in with_keys:
        for t in hs_types:
            if plain[(frame, t)]:
                plain[(frame, t)] -= 1
            else:
                decrypted.append((frame, t))
    alerts = [(frame, code) for frame, _, codes in with_keys for code in codes]
    return decrypted, alerts


@pytest.mark.skipif(not HAVE_TSHARK, reason="tshark is not installed (the oracle)")
@pytest.mark.parametrize("capture", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_decrypted_messages_alerts_and_frames_are_tsharks(capture: Path) -> None:
    records = connections(str(capture), keylog=str(_keys_for(capture)))
    keyed = [r for r in records if r.tls.decryption == "decrypted"]
    assert keyed, [r.tls.decryption for r in records]
    for rec in keyed:
        theirs_hs, theirs_alerts = _decrypted_by_tshark(capture, rec)
        ours_hs = [(frame, t) for _sender, t, frame in rec.tls.decrypted_handshake]
        assert ours_hs, "nothing decrypted"
        ours_alerts = [(a.frame, a.code) for a in rec.tls.alerts]
        if rec.handshake_completed:
            # The engine stops reading a connection once its handshake completed (the fast path): what it
            # read is the beginning of what tshark decrypts, and its alerts are among tshark's.
            assert ours_hs == theirs_hs[: len(ours_hs)]
            assert set(ours_alerts) <= set(theirs_alerts)
        else:
            assert ours_hs == theirs_hs
            assert ours_alerts == theirs_alerts
        assert not any(a.decrypted and a.encrypted for a in rec.tls.alerts)


@pytest.mark.parametrize("capture", CAPTURES, ids=[p.stem for p in CAPTURES])
def test_a_key_log_without_this_random_changes_nothing(capture: Path) -> None:
    plain = connections(str(capture))
    other = parse_keylog(["CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48])
    with_other = connections(str(capture), keylog=other)
    assert [record_to_json(r) for r in with_other] == [record_to_json(r) for r in plain]
    assert {r.tls.decryption for r in with_other if r.tls.client_hello is not None} == \
        {"no keys for this client random"}
    assert all(r.tls.decryption is None and r.tls.decrypted_handshake == () for r in plain)


def test_client_certificate_required_the_encrypted_alert_116_is_read() -> None:
    capture = KEYLOG / "client_certificate_required_tls13.pcap"
    [plain] = connections(str(capture))
    [rec] = connections(str(capture), keylog=str(_keys_for(capture)))
    assert [(a.code, a.encrypted) for a in plain.tls.alerts] == [(None, True)]
    [alert] = rec.tls.alerts
    assert (alert.sender, alert.code, alert.name, alert.decrypted, alert.encrypted) == \
        ("server", 116, "certificate_required", True, False)
    assert alert.frame == plain.tls.alerts[0].frame  # the frame that completed the record, as before
    assert not rec.handshake_completed and rec.ended_by == plain.ended_by
    assert rec.frames["certificate_request"] == 6 and rec.tls.certificate_request is not None
    assert [c.subject for c in rec.tls.server_certificates] == ["CN=origin.test", "CN=tlsdoctor lab intermediate"]
    assert rec.tls.client_certificates == ()  # the client's empty Certificate, read
    # The history shows the real messages instead of the encrypted-record letters.
    assert plain.history.startswith("CsidID") and rec.history.startswith("Csiorxyf")
    assert "l" in rec.history
    assert not any("key log would" in a for a in rec.anomalies)


def test_tls12_finished_messages_are_read() -> None:
    for name in ("ok_tls12_gcm", "ok_tls12_chacha", "ok_tls12_ccm"):
        capture = KEYLOG / f"{name}.pcap"
        [plain] = connections(str(capture))
        [rec] = connections(str(capture), keylog=str(_keys_for(capture)))
        assert rec.tls.decryption == "decrypted"
        assert [(s, t) for s, t, _f in rec.tls.decrypted_handshake] == [("client", 20), ("server", 20)]
        assert rec.handshake_completed and plain.handshake_completed
        assert rec.frames["handshake_completed"] == plain.frames["handshake_completed"]
        assert rec.history == plain.history.replace("D", "F").replace("d", "f")


def test_one_of_two_connections_in_the_key_log() -> None:
    capture = KEYLOG / "one_of_two_keyed_tls13.pcap"
    first, second = connections(str(capture), keylog=str(_keys_for(capture)))
    assert first.tls.decryption == "decrypted" and first.tls.decrypted_handshake
    assert second.tls.decryption == "no keys for this client random" and second.tls.decrypted_handshake == ()
    [_, plain_second] = connections(str(capture))
    assert second.history == plain_second.history


def test_corrupted_key_log_is_a_note_and_the_keyless_analysis() -> None:
    capture = KEYLOG / "server_certificate_expired_tls13.pcap"
    [plain] = connections(str(capture))
    [rec] = connections(str(capture), keylog=str(KEYLOG / "server_certificate_expired_tls13.corrupted.keys"))
    assert rec.tls.decryption is not None and rec.tls.decryption.startswith("failed: server: ")
    assert "frame 6" in rec.tls.decryption
    assert any("decryption with the key log stopped" in a for a in rec.anomalies)
    same = dataclasses.replace(rec, anomalies=plain.anomalies, tls=dataclasses.replace(rec.tls, decryption=None))
    assert record_to_json(same) == record_to_json(plain)


def test_openssl_tls13_client_rejecting_the_certificate_sends_a_plaintext_alert() -> None:
    # What OpenSSL 3.0 does (see the manifest): the alert needs no key; the key log shows why it came.
    for name, code in (("server_certificate_expired_tls13", 45), ("server_name_mismatch_tls13", 42)):
        capture = KEYLOG / f"{name}.pcap"
        [rec] = connections(str(capture), keylog=str(_keys_for(capture)))
        assert [(a.sender, a.code, a.decrypted) for a in rec.tls.alerts] == [("client", code, False)]
        assert [(s, t) for s, t, _ in rec.tls.decrypted_handshake] == [("server", 8), ("server", 11), ("server", 15),
                                                                        ("server", 20)]
        assert rec.tls.server_certificates and rec.history == "CsioxyfL"


@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap is not installed (makes the pcapng)")
def test_key_log_inside_a_pcapng_decryption_secrets_block(tmp_path: Path) -> None:
    source = KEYLOG / "ok_tls13_aes128.pcap"
    out = tmp_path / "ok_tls13_aes128_dsb.pcapng"
    subprocess.run(["editcap", "--inject-secrets", f"tls,{_keys_for(source)}", str(source), str(out)],
                   check=True, capture_output=True, timeout=60)
    [from_file] = connections(str(source), keylog=str(_keys_for(source)))
    [embedded] = connections(str(out), embedded_keylog=True)
    [ignored] = connections(str(out))
    assert embedded.tls.decryption == "decrypted"
    assert embedded.tls.decrypted_handshake == from_file.tls.decrypted_handshake
    assert embedded.history == from_file.history
    assert ignored.tls.decryption is None and ignored.tls.decrypted_handshake == ()


def test_key_log_lines_that_are_wrong_are_the_streams_anomalies(tmp_path: Path) -> None:
    keys = tmp_path / "keys.log"
    keys.write_text(_keys_for(KEYLOG / "ok_tls13_ccm.pcap").read_text() + "CLIENT_RANDOM nothex nothex\n")
    stream = iter_connections(str(KEYLOG / "ok_tls13_ccm.pcap"), keylog=str(keys))
    [rec] = list(stream)
    assert rec.tls.decryption == "decrypted"
    assert any(a.startswith("key log line 7:") and "hexadecimal" in a for a in stream.anomalies)


def test_the_keyless_tracker_is_the_plain_one() -> None:
    # Without a key log the engine builds HandshakeTracker itself, not the decrypting subclass.
    from tlsdoctor.engine import CaptureAnalyzer, _Conn

    def conn() -> _Conn:
        return _Conn(0, 4, bytes(12), bytes(12), 0, 1)

    analyzer = CaptureAnalyzer("x")
    assert analyzer.keylog is None
    assert type(analyzer._tracker(conn())) is HandshakeTracker
    with_keys = CaptureAnalyzer("x", parse_keylog([]))
    assert type(with_keys._tracker(conn())) is not HandshakeTracker


# --- never raises -------------------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(1, 64), min_size=1, max_size=40))
def test_record_cutter_never_raises_and_any_split_gives_the_same_records(data: bytes, cuts: list[int]) -> None:
    whole = RecordCutter()
    whole.feed(data, 1)
    pieces = RecordCutter()
    pos, i = 0, 0
    while pos < len(data):
        n = cuts[i % len(cuts)]
        pieces.feed(data[pos:pos + n], 1)
        pos, i = pos + n, i + 1
    assert [(r.content_type, r.payload) for r in pieces.records] == [(r.content_type, r.payload) for r in whole.records]
    assert len(whole.records) <= MAX_KEPT_RECORDS and (whole.stopped is None) == (pieces.stopped is None)


def test_record_cutter_keeps_what_may_be_encrypted_with_the_completing_frame() -> None:
    plain_hs = bytes([22, 3, 3, 0, 4]) + b"\x02\x00\x00\x00"
    ccs = bytes([20, 3, 3, 0, 1, 1])
    app = bytes([23, 3, 3, 0, 20]) + bytes(20)
    alert2 = bytes([21, 3, 3, 0, 2, 2, 40])
    cutter = RecordCutter()
    stream = plain_hs + app + alert2 + ccs + plain_hs
    for i, b in enumerate(stream):
        cutter.feed(bytes([b]), 100 + i)
    assert [(r.content_type, len(r.payload), r.frame) for r in cutter.records] == [
        (23, 20, 100 + len(plain_hs) + len(app) - 1),
        (22, 4, 100 + len(stream) - 1),  # a handshake record after the ChangeCipherSpec (TLS 1.2's Finished)
    ]
    cutter.feed(b"GET / HTTP/1.1\r\n", 999)
    assert cutter.stopped is not None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([20, 21, 22, 23, 99]), st.binary(max_size=200)), max_size=6),
       st.sampled_from([0x1301, 0x1302, 0x1303, 0x1304, 0x1305, 0xC02F]),
       st.sampled_from([0xC02F, 0xC030, 0xCCA8, 0xC0AC, 0xC0AE]))
def test_decryptors_never_raise_on_random_records(records: list[tuple[int, bytes]], suite13: int,
                                                  suite12: int) -> None:
    recs = [Record(t, 0x0303, payload, i + 1) for i, (t, payload) in enumerate(records)]
    d13 = Tls13Decryptor(suite13, bytes(32), bytes(32))
    d12 = Tls12Decryptor(Tls12Keys.derive(bytes(48), bytes(32), bytes(32), suite12), from_client=True)
    for rec in recs:
        for got in (d13.open(rec), d12.open(rec)):
            assert isinstance(got, (list, DecryptError))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=4000))
def test_key_log_of_random_bytes_never_raises(blob: bytes) -> None:
    kl = parse_keylog_text(blob)
    assert kl.lines == len(blob.splitlines())
    assert all(len(r) == 32 for r in kl.secrets)
