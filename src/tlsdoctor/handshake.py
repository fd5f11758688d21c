"""The TLS side of one connection: both directions' TLS events -> the handshake's facts and outcome.

Theory of operation. The engine feeds each direction's in-order bytes (and gaps) here; two
``TLSDirectionParser``s turn them into events, and this tracker keeps what a diagnosis needs: the
ClientHello and ServerHello, the certificates, the alerts, the encrypted record sizes, the frames of
each milestone and the Zeek-style history letters (see ``connection.py``).

When is a handshake *completed*? What the wire shows without keys:

* TLS 1.2 and older (RFC 5246 section 7.3): each side sends ChangeCipherSpec and then its encrypted
  Finished. The handshake is complete when both sides have sent ChangeCipherSpec followed by an
  encrypted handshake record, and no fatal alert came.
* TLS 1.3 (RFC 8446 section 2): everything after the ServerHello is encrypted. The client's Finished
  is its first encrypted record of at least ``MIN_TLS13_FINISHED_RECORD`` bytes (a 32-byte verify_data
  in a 4-byte header, 1 content-type byte and a 16-byte AEAD tag). An encrypted alert is 2 bytes of
  alert, 1 content-type byte and a 16-byte tag: ``TLS13_ALERT_RECORD`` = 19 bytes. So: the handshake
  completed when the client sent its Finished and the server then sent something other than a lone
  19-byte record followed by the end (that is a server alert, e.g. certificate_required 116 for a
  missing client certificate). A lone 19-byte client record instead of a Finished is a client alert
  (typically a certificate the client rejected: 42-48). Such inferred alerts are marked ``encrypted``
  with no code, and an anomaly says that a key log would confirm them.

With a key log (SSLKEYLOGFILE), the engine builds a ``DecryptingHandshakeTracker`` instead, which
opens the encrypted records (``tls.decrypt``: RFC 8446 sections 5.2, 5.3, 7.1, 7.3; RFC 5246 sections
5, 6.3, 6.2.3.3) when the key log has the connection's client random, and feeds what was inside to
the same code as plaintext messages and alerts. Then the completion needs no guess: the client's
Finished is the decrypted Finished, and what the server sent after it is known (a NewSessionTicket or
data: completed; an alert such as 116 certificate_required: failed, with its code). A decrypted alert
is an ``Alert`` with ``decrypted=True`` and the frame that completed its record; the size-based
inference is not made for a side whose records were decrypted. Where decryption stops (wrong keys),
that record and the rest are analysed exactly as without keys, and ``TLSFacts.decryption`` says why.
Without a key log nothing of this runs: ``HandshakeTracker`` is unchanged.

The tracker is *settled* (the engine stops feeding it and the connection goes on the cheap path)
when the handshake completed, when a peer does not speak TLS, when a parser gave up, or when a
direction carried more than ``MAX_TLS_BYTES_PER_DIRECTION`` without settling.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from tlsdoctor.connection import MAX_HISTORY, Alert, TLSFacts
from tlsdoctor.pickling import pickle_by_fields
from tlsdoctor.tls.alerts import alert_name
from tlsdoctor.tls.certificates import CertificateFacts
from tlsdoctor.tls.decrypt import (
    MAX_KEPT_BYTES,
    MAX_KEPT_RECORDS,
    SUITES,
    TLS12_SUITES,
    DecryptError,
    Inner,
    RecordCutter,
    Tls12Decryptor,
    Tls12Keys,
    Tls13Decryptor,
)
from tlsdoctor.tls.events import (
    AlertEvent,
    ChangeCipherSpecEvent,
    EncryptedRecordEvent,
    HandshakeEvent,
    NotTLSEvent,
    TLSAnomaly,
    TLSEvent,
)
from tlsdoctor.tls.ja4 import ja4
from tlsdoctor.tls.keylog import KeyLog
from tlsdoctor.tls.messages import (
    RAW_KEPT,
    CertificateMessage,
    ClientHello,
    HandshakeContext,
    HandshakeMessage,
    ProtocolError,
    RawHandshake,
    ServerHello,
    decode_handshake_body,
)
from tlsdoctor.tls.registry import HandshakeType, cipher_suite_name, version_name
from tlsdoctor.tls.stream import TLSDirectionParser

MIN_TLS13_FINISHED_RECORD: Final = 4 + 32 + 1 + 16
TLS13_ALERT_RECORD: Final = 2 + 1 + 16
MAX_TLS_BYTES_PER_DIRECTION: Final = 256 * 1024
MAX_RECORD_SIZES_KEPT: Final = 16
MAX_DECRYPTED_MESSAGES_KEPT: Final = 32
"""Decrypted handshake messages listed on ``TLSFacts.decrypted_handshake`` (a handshake has about ten)."""

# Zeek's ssl_history letters (scripts/base/protocols/ssl/main.zeek), client upper case.
_HANDSHAKE_LETTERS: Final[dict[int, str]] = {
    0: "H", 1: "C", 2: "S", 3: "V", 4: "T", 5: "E", 8: "O", 11: "X", 12: "K", 13: "R", 14: "N", 15: "Y",
    16: "G", 20: "F", 21: "W", 22: "U", 23: "A", 24: "P", 254: "M",
}

# The handshake's progress, in order; ``stage`` is the furthest one reached.
_STAGES: Final = (
    "none", "client_hello", "hello_retry_request", "server_hello", "certificate", "server_key_exchange",
    "certificate_request", "server_hello_done", "client_certificate", "client_key_exchange",
    "change_cipher_spec", "encrypted_handshake", "finished",
)
_STAGE_RANK: Final = {s: i for i, s in enumerate(_STAGES)}
_STAGE_OF_TYPE: Final[dict[int, str]] = {
    11: "certificate", 12: "server_key_exchange", 13: "certificate_request", 14: "server_hello_done",
    16: "client_key_exchange",
}


@dataclass(frozen=True, slots=True)
class HandshakeSummary:
    is_tls: bool
    completed: bool
    stage: str
    version: str | None
    versions_offered: tuple[str, ...]
    sni: str | None
    alpn_offered: tuple[str, ...]
    alpn_chosen: str | None
    cipher_suite: str | None
    history: str
    frames: dict[str, int]
    fatal_alert: Alert | None
    facts: TLSFacts
    anomalies: tuple[str, ...] = field(default=())

    # Written out, not generated by @dataclass, so that mypyc compiles it (tlsdoctor/build.py).
    def __init__(
        self,
        is_tls: bool,
        completed: bool,
        stage: str,
        version: str | None,
        versions_offered: tuple[str, ...],
        sni: str | None,
        alpn_offered: tuple[str, ...],
        alpn_chosen: str | None,
        cipher_suite: str | None,
        history: str,
        frames: dict[str, int],
        fatal_alert: Alert | None,
        facts: TLSFacts,
        anomalies: tuple[str, ...] = (),
    ) -> None:
        object.__setattr__(self, "is_tls", is_tls)
        object.__setattr__(self, "completed", completed)
        object.__setattr__(self, "stage", stage)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "versions_offered", versions_offered)
        object.__setattr__(self, "sni", sni)
        object.__setattr__(self, "alpn_offered", alpn_offered)
        object.__setattr__(self, "alpn_chosen", alpn_chosen)
        object.__setattr__(self, "cipher_suite", cipher_suite)
        object.__setattr__(self, "history", history)
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "fatal_alert", fatal_alert)
        object.__setattr__(self, "facts", facts)
        object.__setattr__(self, "anomalies", anomalies)


class _Side:
    """One direction's parser and what the tracker learned of it."""

    __slots__ = ("bytes_fed", "ccs_frame", "dead", "encrypted_after_ccs", "parser", "records")

    def __init__(self, from_client: bool) -> None:
        self.parser = TLSDirectionParser(from_client)
        self.bytes_fed = 0
        self.ccs_frame: int | None = None
        self.encrypted_after_ccs = False
        self.records: list[tuple[int, int]] = []  # (length, frame) of encrypted records, capped
        self.dead = False


_RELEASED = TLSDirectionParser(True)  # a parser that is never fed, shared by every released tracker


class HandshakeTracker:
    # Whether a side's encrypted records were read with a key log (``DecryptingHandshakeTracker``): the
    # size-based inference of encrypted alerts is then not needed. Class attributes: no cost per tracker.
    _decrypted_client = False
    _decrypted_server = False

    def __init__(self) -> None:
        self.client = _Side(True)
        self.server = _Side(False)
        self.history: list[str] = []
        self.history_cut = False
        self.frames: dict[str, int] = {}
        self.client_hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None
        self.hrr: ServerHello | None = None
        self.server_certs: tuple[CertificateFacts, ...] = ()
        self.certificate_request: HandshakeMessage | None = None
        self.client_certs: tuple[CertificateFacts, ...] | None = None
        self.alerts: list[Alert] = []
        self.not_tls: tuple[str, str, bytes] | None = None
        self.anomalies: list[str] = []
        self.stage = "none"
        self.tls_seen = False  # any TLS record, from either side
        self.client_tls = False  # the client sent a ClientHello or another TLS record
        self.client_finished_frame: int | None = None
        self.server_records_after_client_finished: list[int] = []
        self.settled = False

    def release(self) -> None:
        """The engine will feed no more bytes: drop the parsers and their buffers, keep the facts."""
        for side in (self.client, self.server):
            side.dead = True
            side.parser = _RELEASED

    # --- input ----------------------------------------------------------------------------------
    def feed(self, from_client: bool, data: bytes, frame: int, ts_ns: int) -> str:
        side = self.client if from_client else self.server
        if side.dead:
            return ""
        side.bytes_fed += len(data)
        letters = self._events(from_client, side.parser.feed(data, frame, ts_ns))
        if side.bytes_fed > MAX_TLS_BYTES_PER_DIRECTION and not self.settled:
            self.anomalies.append(
                f"{'client' if from_client else 'server'} sent more than {MAX_TLS_BYTES_PER_DIRECTION} bytes "
                "without the handshake settling; the rest was not parsed")
            self.settled = True
        return letters

    def gap(self, from_client: bool, lost: int, frame: int) -> str:
        side = self.client if from_client else self.server
        if side.dead:
            return ""
        return self._events(from_client, side.parser.gap(frame))

    # --- events ---------------------------------------------------------------------------------
    def _letter(self, from_client: bool, letter: str) -> str:
        ch = letter if from_client else letter.lower()
        hist = self.history
        if ch in "Dd" and hist and hist[-1] == ch:
            return ""
        if len(hist) >= MAX_HISTORY - 1:
            self.history_cut = True
            return ""
        hist.append(ch)
        return ch

    def _reach(self, stage: str) -> None:
        if _STAGE_RANK[stage] > _STAGE_RANK[self.stage]:
            self.stage = stage

    def _mark(self, name: str, frame: int) -> None:
        self.frames.setdefault(name, frame)

    def _events(self, from_client: bool, events: list[TLSEvent]) -> str:
        side = self.client if from_client else self.server
        who = "client" if from_client else "server"
        out = ""
        if from_client and any(not isinstance(ev, (NotTLSEvent, TLSAnomaly)) for ev in events):
            self.client_tls = True
        for ev in events:
            if isinstance(ev, HandshakeEvent):
                self.tls_seen = True
                out += self._handshake(from_client, ev)
            elif isinstance(ev, ChangeCipherSpecEvent):
                self.tls_seen = True
                side.ccs_frame = side.ccs_frame or ev.frame
                self._mark("change_cipher_spec_client" if from_client else "change_cipher_spec_server", ev.frame)
                if self.server_hello is None or self.version_number() < 0x0304:
                    self._reach("change_cipher_spec")
                out += self._letter(from_client, "I")
            elif isinstance(ev, AlertEvent):
                self.tls_seen = True
                if ev.encrypted:
                    out += self._encrypted_alert(from_client, ev)
                    continue
                code = ev.description
                self.alerts.append(Alert(code=code, name=alert_name(code) if code is not None else "encrypted_alert",
                                         sender=who, level=ev.level, frame=ev.frame))
                self._mark("alert", ev.frame)
                out += self._letter(from_client, "L")
            elif isinstance(ev, EncryptedRecordEvent):
                self.tls_seen = True
                out += self._encrypted(from_client, side, ev)
            elif isinstance(ev, NotTLSEvent):
                if self.not_tls is None:
                    self.not_tls = (who, ev.guess, bytes(ev.first_bytes))
                self._mark("not_tls", ev.frame)
                out += self._letter(from_client, "!")
                side.dead = True
                self.settled = True
            elif isinstance(ev, TLSAnomaly):
                self.anomalies.append(f"frame {ev.frame}: {ev.detail}" if ev.frame else ev.detail)
                if ev.fatal:
                    out += self._letter(from_client, "~")
                    side.dead = True
                    if self.client.dead and self.server.dead:
                        self.settled = True
        if not self.settled and self._completed_now():
            self.settled = True
        return out

    def _handshake(self, from_client: bool, ev: HandshakeEvent) -> str:
        msg = ev.message
        t = ev.msg_type
        letter = _HANDSHAKE_LETTERS.get(t, "Z")
        if isinstance(msg, ClientHello) and from_client:
            if self.client_hello is None:
                self.client_hello = msg
                self._mark("client_hello", ev.frame)
                self._reach("client_hello")
            else:
                self._mark("client_hello_2", ev.frame)  # the second ClientHello after a HelloRetryRequest
        elif isinstance(msg, ServerHello) and not from_client:
            if msg.is_hrr:
                letter = "J"
                self.hrr = self.hrr or msg
                self._mark("hello_retry_request", ev.frame)
                self._reach("hello_retry_request")
            else:
                self.server_hello = self.server_hello or msg
                self._mark("server_hello", ev.frame)
                self._reach("server_hello")
        elif isinstance(msg, CertificateMessage):
            if from_client:
                self.client_certs = tuple(msg.certificates)
                self._mark("client_certificate", ev.frame)
                self._reach("client_certificate")
            else:
                self.server_certs = tuple(msg.certificates)
                self._mark("certificate", ev.frame)
                self._reach("certificate")
        else:
            stage = _STAGE_OF_TYPE.get(t)
            if stage is not None:
                self._mark(stage, ev.frame)
                self._reach(stage)
            if t == HandshakeType.CERTIFICATE_REQUEST:
                self.certificate_request = msg
        return self._letter(from_client, letter)

    def _encrypted_alert(self, from_client: bool, ev: AlertEvent) -> str:
        """An alert record sent encrypted (TLS 1.2 after the sender's ChangeCipherSpec): its code is unknown."""
        self.alerts.append(Alert(code=None, name="encrypted_alert", sender="client" if from_client else "server",
                                 level=None, frame=ev.frame, encrypted=True))
        self._mark("alert", ev.frame)
        return self._letter(from_client, "L")

    def _encrypted(self, from_client: bool, side: _Side, ev: EncryptedRecordEvent) -> str:
        if len(side.records) < MAX_RECORD_SIZES_KEPT:
            side.records.append((ev.length, ev.frame))
        self._mark("encrypted_client" if from_client else "encrypted_server", ev.frame)
        if side.ccs_frame is not None and ev.content_type == 22:
            side.encrypted_after_ccs = True
            self._mark("finished_client" if from_client else "finished_server", ev.frame)
            self._reach("encrypted_handshake")
        if self.server_hello is not None and self.version_number() >= 0x0304:
            self._reach("encrypted_handshake")
            if from_client and self.client_finished_frame is None and ev.length >= MIN_TLS13_FINISHED_RECORD:
                self.client_finished_frame = ev.frame
                self._mark("finished_client", ev.frame)
            elif not from_client and self.client_finished_frame is not None:
                self.server_records_after_client_finished.append(ev.length)
        return self._letter(from_client, "D")

    # --- outcome --------------------------------------------------------------------------------
    def version_number(self) -> int:
        return self.server_hello.version if self.server_hello is not None else 0

    def _fatal_alert(self) -> Alert | None:
        for a in self.alerts:
            if a.encrypted or a.level == 2 or (a.code is not None and a.code not in (0, 90, 100)):
                return a
        return None

    def _completed_now(self) -> bool:
        if self.server_hello is None or self._fatal_alert() is not None:
            return False
        if self.version_number() >= 0x0304:
            post = self.server_records_after_client_finished
            return self.client_finished_frame is not None and bool(post) and (post[0] != TLS13_ALERT_RECORD
                                                                                 or len(post) > 1)
        return self.client.encrypted_after_ccs and self.server.encrypted_after_ccs

    def summary(self, last_frame: int) -> HandshakeSummary:
        inferred: list[Alert] = []
        anomalies = list(self.anomalies)
        completed = self._completed_now()
        v = self.version_number()
        if not completed and self.server_hello is not None and v >= 0x0304 and self._fatal_alert() is None:
            post = self.server_records_after_client_finished
            if self.client_finished_frame is not None and not post:
                # The client finished; the server sent nothing more before the end. Without keys we
                # cannot tell a silent server from a healthy one that had nothing to say.
                completed = True
                anomalies.append("TLS 1.3: the client sent its Finished and the server sent nothing after it; "
                                 "counted as completed (a key log would confirm)")
            elif (self.client_finished_frame is not None and post and post[0] == TLS13_ALERT_RECORD
                  and not self._decrypted_server):
                frame = self.frames.get("encrypted_server", last_frame)
                inferred.append(Alert(code=None, name="encrypted_alert", sender="server", level=None,
                                      frame=self._last_record_frame(self.server, frame), encrypted=True))
                anomalies.append("TLS 1.3: the server answered the client's Finished with one 19-byte record "
                                 "and closed: an encrypted alert (often certificate_required, 116); a key log "
                                 "would show its code")
            elif self.client_finished_frame is None and not self._decrypted_client:
                small = [ln for ln, _f in self.client.records if ln == TLS13_ALERT_RECORD]
                if small:
                    inferred.append(Alert(code=None, name="encrypted_alert", sender="client", level=None,
                                          frame=self._first_record_frame(self.client, TLS13_ALERT_RECORD),
                                          encrypted=True))
                    anomalies.append("TLS 1.3: the client answered the server's encrypted flight with a 19-byte "
                                     "record instead of its Finished: an encrypted alert (often a certificate "
                                     "it rejected, 42-48); a key log would show its code")
        alerts = tuple(self.alerts) + tuple(inferred)
        fatal = self._fatal_alert() or (inferred[0] if inferred else None)
        stage = "finished" if completed else self.stage
        if completed:
            finished = [f for f in (self.frames.get("finished_server"), self.frames.get("finished_client")) if f]
            if finished:
                self.frames.setdefault("handshake_completed", max(finished))
        ch = self.client_hello
        sh = self.server_hello
        history = "".join(self.history) + ("+" if self.history_cut else "")
        facts = TLSFacts(
            client_hello=ch,
            server_hello=sh,
            hello_retry_request=self.hrr,
            server_certificates=self.server_certs,
            certificate_request=self.certificate_request,
            client_certificates=self.client_certs,
            alerts=alerts,
            encrypted_records_client=tuple(ln for ln, _f in self.client.records),
            encrypted_records_server=tuple(ln for ln, _f in self.server.records),
            not_tls=self.not_tls,
            ja4=ja4(ch) if ch is not None else None,
        )
        return HandshakeSummary(
            is_tls=self.client_tls,
            completed=completed,
            stage=stage,
            version=version_name(v) if sh is not None else None,
            versions_offered=tuple(version_name(x) for x in ch.offered_versions) if ch is not None else (),
            sni=ch.server_name if ch is not None else None,
            alpn_offered=tuple(ch.alpn) if ch is not None else (),
            alpn_chosen=sh.alpn if sh is not None else None,
            cipher_suite=cipher_suite_name(sh.cipher_suite) if sh is not None else None,
            history=history,
            frames=dict(self.frames),
            fatal_alert=fatal,
            facts=facts,
            anomalies=tuple(anomalies),
        )

    @staticmethod
    def _last_record_frame(side: _Side, default: int) -> int:
        return side.records[-1][1] if side.records else default

    @staticmethod
    def _first_record_frame(side: _Side, length: int) -> int:
        for ln, f in side.records:
            if ln == length:
                return f
        return 0


DECRYPTED_RECORD: Final = -1
"""Put in ``server_records_after_client_finished`` for a record whose contents decryption showed: the
size-based inference (a lone ``TLS13_ALERT_RECORD``) never applies to it."""


class DecryptingHandshakeTracker(HandshakeTracker):
    """A ``HandshakeTracker`` that also reads the encrypted records, with a key log (see the module docstring).

    The engine builds this one only when it was given a key log, so the tracker of a capture analysed
    without keys does not do one operation more. Per direction, a ``RecordCutter`` keeps the records
    that may be encrypted (capped: ``MAX_KEPT_RECORDS``, ``MAX_KEPT_BYTES``) until the ClientHello shows
    whether the key log has its client random; without it the cutters are dropped at once. Once the
    ServerHello names the version and suite, each record the record-layer parser reports as encrypted
    is taken from the cutter (same frame, same length) and opened by a ``Tls13Decryptor`` or
    ``Tls12Decryptor``; what was inside is fed to the same code as plaintext messages and alerts (the
    history gets the real letters, the certificates and the CertificateRequest land on the facts, an
    alert keeps the frame that completed its record). A record that does not open stops decryption
    of that direction: a note (``TLSFacts.decryption = "failed: ..."``), an anomaly, and that record
    and the rest are analysed as without keys.
    """

    def __init__(self, keylog: KeyLog) -> None:
        super().__init__()
        self.keylog = keylog
        self.cutters: dict[bool, RecordCutter] | None = {True: RecordCutter(), False: RecordCutter()}
        self.decryptors: dict[bool, Tls13Decryptor | Tls12Decryptor] = {}
        self.decryption: str | None = None
        self.records_opened = 0
        self.decrypted_handshake: list[tuple[str, int, int]] = []

    # --- input ----------------------------------------------------------------------------------
    def feed(self, from_client: bool, data: bytes, frame: int, ts_ns: int) -> str:
        cutters = self.cutters
        if cutters is not None and not (self.client if from_client else self.server).dead:
            cutters[from_client].feed(data, frame)
        return super().feed(from_client, data, frame, ts_ns)

    def gap(self, from_client: bool, lost: int, frame: int) -> str:
        if from_client in self.decryptors:
            self._fail(from_client, f"bytes of the {'client' if from_client else 'server'} were not captured "
                                    f"before frame {frame}")
        return super().gap(from_client, lost, frame)

    def release(self) -> None:
        super().release()
        self.cutters = None
        self.decryptors = {}

    def _fail(self, from_client: bool, why: str) -> None:
        who = "client" if from_client else "server"
        self.decryptors.pop(from_client, None)
        if from_client:
            self._decrypted_client = False
        else:
            self._decrypted_server = False
        if self.decryption is None or not self.decryption.startswith("failed"):
            self.decryption = f"failed: {who}: {why}"
        self.anomalies.append(f"decryption with the key log stopped: {who}: {why}; from there on the {who}'s "
                              "records are analysed as without keys")

    # --- the hellos decide --------------------------------------------------------------------------
    def _handshake(self, from_client: bool, ev: HandshakeEvent) -> str:
        letters = super()._handshake(from_client, ev)
        msg = ev.message
        if isinstance(msg, ClientHello) and from_client and msg is self.client_hello:
            if self.keylog.for_random(msg.random) is None:
                self.decryption = "no keys for this client random"
                self.cutters = None
        elif (isinstance(msg, ServerHello) and not from_client and msg is self.server_hello
              and self.cutters is not None and self.client_hello is not None):
            self._start(msg)
        return letters

    def _start(self, sh: ServerHello) -> None:
        """The ServerHello gives the version and the suite (RFC 8446 section 4.1.3, RFC 5246 section 7.4.1.3)."""
        assert self.client_hello is not None
        secrets = self.keylog.for_random(self.client_hello.random) or {}
        suite = sh.cipher_suite
        if sh.version >= 0x0304:
            if suite not in SUITES:
                self.decryption = f"not decryptable: TLS 1.3 cipher suite {suite:#06x} is not one this tool knows"
            elif "SERVER_HANDSHAKE_TRAFFIC_SECRET" not in secrets and "CLIENT_HANDSHAKE_TRAFFIC_SECRET" not in secrets:
                self.decryption = "not decryptable: the key log has no TLS 1.3 handshake traffic secrets for this " \
                                  "client random"
            else:
                for from_client, prefix in ((True, "CLIENT"), (False, "SERVER")):
                    hs = secrets.get(f"{prefix}_HANDSHAKE_TRAFFIC_SECRET")
                    app = secrets.get(f"{prefix}_TRAFFIC_SECRET_0")
                    if hs is not None or app is not None:
                        self.decryptors[from_client] = Tls13Decryptor(suite, hs, app)
        elif suite not in TLS12_SUITES:
            self.decryption = (f"not decryptable: {cipher_suite_name(suite)} is not an AEAD suite (only AES-GCM, "
                               "AES-CCM and ChaCha20-Poly1305 are decrypted)")
        elif "CLIENT_RANDOM" not in secrets:
            self.decryption = "not decryptable: the key log has no CLIENT_RANDOM master secret for this client random"
        else:
            keys = Tls12Keys.derive(secrets["CLIENT_RANDOM"], self.client_hello.random, sh.random, suite)
            self.decryptors = {True: Tls12Decryptor(keys, True), False: Tls12Decryptor(keys, False)}
        if not self.decryptors:
            self.cutters = None
            self.anomalies.append(f"key log: {self.decryption}")
        else:
            self._decrypted_client = True in self.decryptors
            self._decrypted_server = False in self.decryptors

    # --- encrypted records --------------------------------------------------------------------------
    def _open(self, from_client: bool, frame: int, length: int) -> list[Inner] | None:
        """The decrypted contents of the record the parser just reported, or None (analyse it without keys)."""
        dec = self.decryptors.get(from_client)
        if dec is None or self.cutters is None:
            return None
        cutter = self.cutters[from_client]
        rec = cutter.take(frame, length)
        if rec is None:
            if cutter.capped:
                self._fail(from_client, f"more than {MAX_KEPT_RECORDS} records or {MAX_KEPT_BYTES} bytes to keep "
                                        "(MAX_KEPT_RECORDS, MAX_KEPT_BYTES)")
            else:
                self._fail(from_client, f"the record in frame {frame} was not kept ({cutter.stopped or 'not found'})")
            return None
        got = dec.open(rec)
        if isinstance(got, DecryptError):
            self._fail(from_client, got.why)
            return None
        self.records_opened += 1
        return got

    def _encrypted(self, from_client: bool, side: _Side, ev: EncryptedRecordEvent) -> str:
        items = self._open(from_client, ev.frame, ev.length)
        if items is None:
            return super()._encrypted(from_client, side, ev)
        # The measurements stay what they are without keys (encrypted_records_*, the encrypted_* frames).
        if len(side.records) < MAX_RECORD_SIZES_KEPT:
            side.records.append((ev.length, ev.frame))
        self._mark("encrypted_client" if from_client else "encrypted_server", ev.frame)
        if side.ccs_frame is not None and ev.content_type == 22:
            side.encrypted_after_ccs = True  # TLS 1.2's Finished (RFC 5246 section 7.4.9)
            self._reach("encrypted_handshake")
        if self.server_hello is not None and self.version_number() >= 0x0304:
            self._reach("encrypted_handshake")
        return self._inner(from_client, items, ev.ts_ns)

    def _encrypted_alert(self, from_client: bool, ev: AlertEvent) -> str:
        items = self._open(from_client, ev.frame, ev.length)
        if items is None:
            return super()._encrypted_alert(from_client, ev)
        return self._inner(from_client, items, ev.ts_ns)

    def _inner(self, from_client: bool, items: list[Inner], ts_ns: int) -> str:
        """What one decrypted record held, fed to the same code as plaintext messages and alerts."""
        who = "client" if from_client else "server"
        tls13 = self.version_number() >= 0x0304
        out = ""
        for it in items:
            if tls13 and not from_client and self.client_finished_frame is not None:
                self.server_records_after_client_finished.append(DECRYPTED_RECORD)
            if it.kind == "alert" and it.alert_code is not None:
                self.alerts.append(Alert(code=it.alert_code, name=alert_name(it.alert_code), sender=who,
                                         level=it.alert_level, frame=it.frame, encrypted=False,
                                         decrypted=it.decrypted))
                self._mark("alert", it.frame)
                out += self._letter(from_client, "L")
            elif it.kind == "handshake" and it.handshake_type is not None:
                out += self._decrypted_message(from_client, it, ts_ns)
            elif it.kind == "application_data":
                out += self._letter(from_client, "D")
        return out

    def _decrypted_message(self, from_client: bool, it: Inner, ts_ns: int) -> str:
        assert it.handshake_type is not None
        who = "client" if from_client else "server"
        sh = self.server_hello
        context = HandshakeContext(from_client, sh.version if sh is not None else None,
                                   sh.cipher_suite if sh is not None else None,
                                   tls13_certificates=self.version_number() >= 0x0304)
        message = decode_handshake_body(it.handshake_type, it.body, context)
        if isinstance(message, ProtocolError):
            self.anomalies.append(f"frame {it.frame}: the decrypted handshake message of type {it.handshake_type} "
                                  f"from the {who} is malformed: {message.reason}")
            message = RawHandshake(it.handshake_type, len(it.body), it.body[:RAW_KEPT])
        if len(self.decrypted_handshake) < MAX_DECRYPTED_MESSAGES_KEPT:
            self.decrypted_handshake.append((who, it.handshake_type, it.frame))
        if it.handshake_type == HandshakeType.FINISHED:
            self._mark("finished_client" if from_client else "finished_server", it.frame)
            if from_client and self.client_finished_frame is None:
                self.client_finished_frame = it.frame  # the real one, not a guess from its size
        return self._handshake(from_client, HandshakeEvent(it.handshake_type, message, len(it.body), it.frame,
                                                           it.frame, ts_ns))

    # --- outcome --------------------------------------------------------------------------------
    def summary(self, last_frame: int) -> HandshakeSummary:
        if self.decryption is None and self.client_hello is not None:
            self.decryption = "decrypted" if self.records_opened else "no encrypted records to decrypt"
        s = super().summary(last_frame)
        facts = replace(s.facts, decryption=self.decryption, decrypted_handshake=tuple(self.decrypted_handshake))
        return replace(s, facts=facts)


pickle_by_fields(__name__)
