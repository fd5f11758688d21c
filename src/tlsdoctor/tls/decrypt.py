"""TLS record decryption from key-log secrets (sans-IO): records in, handshake messages and alerts out.

Theory of operation. Nothing here reads a file or a socket: a ``RecordCutter`` is fed one direction's
in-order bytes and keeps the records that are (or may be) encrypted, capped; a ``Tls13Decryptor`` or
``Tls12Decryptor`` is handed those records one at a time and answers with what was inside (``Inner``
items: handshake messages, alerts, application data lengths) or a ``DecryptError`` saying why not. A
record that does not authenticate (wrong or missing keys, a damaged capture) is a value, never an
exception; after it the decryptor stops, and the caller analyses the rest as without keys.

TLS 1.3 (RFC 8446):

- Section 7.1: ``HKDF-Expand-Label(Secret, Label, Context, Length)`` = HKDF-Expand(Secret, HkdfLabel,
  Length), HkdfLabel = uint16 length || opaque label<7..255> ("tls13 " + Label) || opaque context<0..255>.
- Section 7.3: each traffic secret gives ``key = HKDF-Expand-Label(secret, "key", "", key_length)`` and
  ``iv = HKDF-Expand-Label(secret, "iv", "", 12)``; the hash is the cipher suite's (appendix B.4).
- Section 5.3: the nonce of record number ``seq`` (from 0 per direction and per key) is the iv XOR
  ``seq`` left-padded to 12 bytes. Section 5.2: the additional data is the record header (5 bytes);
  the plaintext is TLSInnerPlaintext: content, the real content type (one byte), zero padding.
- The sender uses its handshake traffic secret until its Finished, then its application traffic
  secret (``*_TRAFFIC_SECRET_0``): a server's alert sent after the client's Finished (116
  certificate_required, section 4.4.2.4) is under the server's application key. A record that fails
  under the handshake key is tried under the application key (a server that has no more handshake
  to send), as Wireshark does.

TLS 1.2 (RFC 5246), from the ``CLIENT_RANDOM`` master secret:

- Section 5: ``PRF(secret, label, seed) = P_<hash>(secret, label + seed)`` with the suite's PRF hash.
- Section 6.3: ``key_block = PRF(master_secret, "key expansion", server_random + client_random)``
  cut into client/server MAC keys (none for AEAD suites), client/server keys, client/server IVs.
- Section 6.2.3.3: AEAD records; additional data = seq_num (8) + type + version + plaintext length.
  AES-GCM (RFC 5288 section 3) and AES-CCM (RFC 6655 section 3, RFC 7251): nonce = the 4-byte
  implicit salt + the 8-byte explicit nonce at the front of each record. ChaCha20-Poly1305 (RFC 7905
  section 2): nonce = the 12-byte IV XOR the sequence number, no explicit part.
- Section 7.1: a side's sequence number starts at 0 with its first record after its ChangeCipherSpec.
- CBC-HMAC suites are not decrypted (a ``DecryptError`` says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

CONTENT_CHANGE_CIPHER_SPEC: Final = 20
CONTENT_ALERT: Final = 21
CONTENT_HANDSHAKE: Final = 22
CONTENT_APPLICATION_DATA: Final = 23
HANDSHAKE_FINISHED: Final = 20
HANDSHAKE_KEY_UPDATE: Final = 24
MAX_HANDSHAKE_BUFFER: Final = 256 * 1024
"""Decrypted handshake bytes kept per direction (a certificate chain fits many times over)."""
MAX_RECORD_LENGTH: Final = 2**14 + 2048
"""RFC 5246 section 6.2.3: the largest TLSCiphertext; a longer header ends the cutting."""
MAX_KEPT_RECORDS: Final = 16
"""Encrypted records a ``RecordCutter`` keeps per direction (a handshake needs about six)."""
MAX_KEPT_BYTES: Final = 64 * 1024
"""Bytes of encrypted records a ``RecordCutter`` keeps per direction."""

_AEAD_TAG: Final = {"aes-gcm": 16, "chacha20-poly1305": 16, "aes-ccm": 16, "aes-ccm-8": 8}

# TLS 1.3 cipher suites (RFC 8446 appendix B.4): (AEAD, key length, hash).
SUITES: dict[int, tuple[str, int, str]] = {
    0x1301: ("aes-gcm", 16, "sha256"),
    0x1302: ("aes-gcm", 32, "sha384"),
    0x1303: ("chacha20-poly1305", 32, "sha256"),
    0x1304: ("aes-ccm", 16, "sha256"),
    0x1305: ("aes-ccm-8", 16, "sha256"),
}


def _hash(name: str) -> hashes.HashAlgorithm:
    return hashes.SHA384() if name == "sha384" else hashes.SHA256()


def _aead(name: str, key: bytes) -> AESGCM | ChaCha20Poly1305 | AESCCM:
    if name == "aes-gcm":
        return AESGCM(key)
    if name == "chacha20-poly1305":
        return ChaCha20Poly1305(key)
    return AESCCM(key, tag_length=_AEAD_TAG[name])


def _xor_seq(iv: bytes, seq: int) -> bytes:
    """RFC 8446 section 5.3 / RFC 7905 section 2: the per-record nonce."""
    return bytes(a ^ b for a, b in zip(iv, seq.to_bytes(len(iv), "big"), strict=True))


def hkdf_expand_label(secret: bytes, label: bytes, context: bytes, length: int, hash_name: str) -> bytes:
    """RFC 8446 section 7.1."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    return HKDFExpand(_hash(hash_name), length, info).derive(secret)


@dataclass(frozen=True, slots=True)
class TrafficKeys:
    key: bytes
    iv: bytes
    aead: str

    @classmethod
    def derive(cls, secret: bytes, suite: int) -> TrafficKeys:
        """RFC 8446 section 7.3."""
        aead, key_len, hash_name = SUITES[suite]
        return cls(hkdf_expand_label(secret, b"key", b"", key_len, hash_name),
                   hkdf_expand_label(secret, b"iv", b"", 12, hash_name), aead)

    def open(self, seq: int, header: bytes, ciphertext: bytes) -> bytes:
        """Decrypt one record (section 5.2); raises InvalidTag when the key is not this record's."""
        return _aead(self.aead, self.key).decrypt(_xor_seq(self.iv, seq), ciphertext, header)


@dataclass(frozen=True, slots=True)
class Record:
    content_type: int
    version: int
    payload: bytes
    frame: int  # the Wireshark frame whose bytes completed the record


@dataclass(frozen=True, slots=True)
class Inner:
    """What one record held, once decrypted (or as it was, when it was not encrypted)."""

    kind: str  # "handshake", "alert", "application_data"
    frame: int
    handshake_type: int | None = None
    body: bytes = b""
    alert_level: int | None = None
    alert_code: int | None = None
    length: int = 0
    decrypted: bool = True


@dataclass(frozen=True, slots=True)
class DecryptError:
    """A record that could not be opened: the frame that completed it and a sentence saying why."""

    frame: int
    why: str


def _strip_inner(plaintext: bytes) -> tuple[int, bytes] | None:
    """TLSInnerPlaintext (section 5.2): strip the zero padding; the last non-zero byte is the type."""
    end = len(plaintext)
    while end > 0 and plaintext[end - 1] == 0:
        end -= 1
    if end == 0:
        return None
    return plaintext[end - 1], plaintext[: end - 1]


class _Messages:
    """Handshake messages reassembled across decrypted records (RFC 8446 section 5.1 allows a message
    to span records and a record to hold several); the frame is the one that completed the message."""

    __slots__ = ("buffer",)

    def __init__(self) -> None:
        self.buffer = b""

    def add(self, content: bytes, frame: int, out: list[Inner]) -> DecryptError | None:
        self.buffer += content
        if len(self.buffer) > MAX_HANDSHAKE_BUFFER:
            return DecryptError(frame, f"more than {MAX_HANDSHAKE_BUFFER} bytes of handshake (MAX_HANDSHAKE_BUFFER)")
        buf = self.buffer
        while len(buf) >= 4:
            mtype, length = buf[0], int.from_bytes(buf[1:4], "big")
            if len(buf) < 4 + length:
                break
            out.append(Inner("handshake", frame, handshake_type=mtype, body=buf[4: 4 + length]))
            buf = buf[4 + length:]
        self.buffer = buf
        return None


class Tls13Decryptor:
    """One direction of a TLS 1.3 connection, opened record by record (see the module docstring).

    ``open(record)`` answers the items inside it, or a ``DecryptError`` after which every later
    record is refused too (the sequence numbers can no longer be trusted)."""

    __slots__ = ("failed", "keys", "messages", "seq", "stage", "suite")

    def __init__(self, suite: int, handshake_secret: bytes | None, application_secret: bytes | None) -> None:
        self.suite = suite
        self.failed: DecryptError | None = None
        self.keys: list[TrafficKeys | None] = [None, None]
        if suite not in SUITES:
            self.failed = DecryptError(0, f"cipher suite {suite:#06x} is not a TLS 1.3 suite this decryptor knows")
        else:
            self.keys = [TrafficKeys.derive(s, suite) if s else None for s in (handshake_secret, application_secret)]
        self.stage = 0 if self.keys[0] is not None else 1
        self.seq = 0
        self.messages = _Messages()

    def open(self, rec: Record) -> list[Inner] | DecryptError:
        if self.failed is not None:
            return self.failed
        if rec.content_type == CONTENT_CHANGE_CIPHER_SPEC:
            return []  # middlebox compatibility (appendix D.4): not protected, not counted
        if rec.content_type == CONTENT_ALERT:
            if len(rec.payload) >= 2:  # a plaintext alert (before the keys were in place)
                return [Inner("alert", rec.frame, alert_level=rec.payload[0], alert_code=rec.payload[1],
                              decrypted=False)]
            return []
        if rec.content_type != CONTENT_APPLICATION_DATA:
            return []
        header = bytes([rec.content_type]) + rec.version.to_bytes(2, "big") + len(rec.payload).to_bytes(2, "big")
        opened = None
        for attempt in range(self.stage, 2):
            k = self.keys[attempt]
            if k is None:
                continue
            try:
                opened = k.open(self.seq if attempt == self.stage else 0, header, rec.payload)
            except InvalidTag:
                continue
            if attempt != self.stage:
                self.stage, self.seq = attempt, 0
            break
        if opened is None:
            which = "handshake" if self.stage == 0 else "application"
            self.failed = DecryptError(rec.frame, f"a record in frame {rec.frame} does not decrypt with the "
                                                  f"{which} traffic secret of the key log (wrong keys?)")
            return self.failed
        self.seq += 1
        inner = _strip_inner(opened)
        if inner is None:
            return []
        ctype, content = inner
        out: list[Inner] = []
        if ctype == CONTENT_ALERT and len(content) >= 2:
            out.append(Inner("alert", rec.frame, alert_level=content[0], alert_code=content[1]))
        elif ctype == CONTENT_HANDSHAKE:
            err = self.messages.add(content, rec.frame, out)
            if err is not None:
                self.failed = err
                return err
            for it in out:
                if it.handshake_type == HANDSHAKE_FINISHED and self.stage == 0 and self.keys[1] is not None:
                    self.stage, self.seq = 1, 0  # this side now sends under its application traffic secret
        elif ctype == CONTENT_APPLICATION_DATA:
            out.append(Inner("application_data", rec.frame, length=len(content)))
        return out


# --- TLS 1.2 (RFC 5246) AEAD suites, from the CLIENT_RANDOM master secret ----------------------------------

# (AEAD, key length, fixed IV length, PRF hash): RFC 5288 (AES-GCM: 4-byte salt + 8-byte explicit nonce),
# RFC 5289 (the ECDHE GCM suites), RFC 6655 and RFC 7251 (AES-CCM, same nonce as GCM), RFC 7905
# (ChaCha20-Poly1305: 12-byte IV XOR the sequence number).
TLS12_SUITES: dict[int, tuple[str, int, int, str]] = {
    0x009C: ("aes-gcm", 16, 4, "sha256"), 0x009D: ("aes-gcm", 32, 4, "sha384"),
    0x009E: ("aes-gcm", 16, 4, "sha256"), 0x009F: ("aes-gcm", 32, 4, "sha384"),
    0xC02B: ("aes-gcm", 16, 4, "sha256"), 0xC02C: ("aes-gcm", 32, 4, "sha384"),
    0xC02F: ("aes-gcm", 16, 4, "sha256"), 0xC030: ("aes-gcm", 32, 4, "sha384"),
    0xCCA8: ("chacha20-poly1305", 32, 12, "sha256"), 0xCCA9: ("chacha20-poly1305", 32, 12, "sha256"),
    0xCCAA: ("chacha20-poly1305", 32, 12, "sha256"),
    0xC09C: ("aes-ccm", 16, 4, "sha256"), 0xC09D: ("aes-ccm", 32, 4, "sha256"),
    0xC09E: ("aes-ccm", 16, 4, "sha256"), 0xC09F: ("aes-ccm", 32, 4, "sha256"),
    0xC0A0: ("aes-ccm-8", 16, 4, "sha256"), 0xC0A1: ("aes-ccm-8", 32, 4, "sha256"),
    0xC0A2: ("aes-ccm-8", 16, 4, "sha256"), 0xC0A3: ("aes-ccm-8", 32, 4, "sha256"),
    0xC0AC: ("aes-ccm", 16, 4, "sha256"), 0xC0AD: ("aes-ccm", 32, 4, "sha256"),
    0xC0AE: ("aes-ccm-8", 16, 4, "sha256"), 0xC0AF: ("aes-ccm-8", 32, 4, "sha256"),
}
AEAD_TAG = 16
GCM_EXPLICIT_NONCE = 8


def tls12_prf(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """RFC 5246 section 5: PRF(secret, label, seed) = P_hash(secret, label + seed)."""

    def mac(data: bytes) -> bytes:
        h = hmac.HMAC(secret, _hash(hash_name))
        h.update(data)
        return h.finalize()

    out = b""
    a = label + seed
    while len(out) < length:
        a = mac(a)
        out += mac(a + label + seed)
    return out[:length]


@dataclass(frozen=True, slots=True)
class Tls12Keys:
    aead: str
    client_key: bytes
    server_key: bytes
    client_iv: bytes
    server_iv: bytes

    @classmethod
    def derive(cls, master_secret: bytes, client_random: bytes, server_random: bytes, suite: int) -> Tls12Keys:
        """RFC 5246 section 6.3: the key block (AEAD suites have no MAC keys)."""
        aead, key_len, iv_len, hash_name = TLS12_SUITES[suite]
        block = tls12_prf(master_secret, b"key expansion", server_random + client_random,
                          2 * key_len + 2 * iv_len, hash_name)
        ck, sk = block[:key_len], block[key_len:2 * key_len]
        civ, siv = block[2 * key_len:2 * key_len + iv_len], block[2 * key_len + iv_len:]
        return cls(aead, ck, sk, civ, siv)

    def open(self, from_client: bool, seq: int, content_type: int, version: int, payload: bytes) -> bytes:
        """RFC 5246 section 6.2.3.3; raises InvalidTag when the key is not this record's."""
        key, iv = (self.client_key, self.client_iv) if from_client else (self.server_key, self.server_iv)
        if self.aead == "chacha20-poly1305":
            nonce, ciphertext = _xor_seq(iv, seq), payload  # RFC 7905 section 2
        else:
            if len(payload) < GCM_EXPLICIT_NONCE:
                raise InvalidTag
            # RFC 5288 section 3, RFC 6655 section 3: salt (implicit) + nonce_explicit (in the record).
            nonce, ciphertext = iv + payload[:GCM_EXPLICIT_NONCE], payload[GCM_EXPLICIT_NONCE:]
        length = len(ciphertext) - _AEAD_TAG[self.aead]
        if length < 0:
            raise InvalidTag
        aad = seq.to_bytes(8, "big") + bytes([content_type]) + version.to_bytes(2, "big") + length.to_bytes(2, "big")
        return _aead(self.aead, key).decrypt(nonce, ciphertext, aad)


class Tls12Decryptor:
    """One direction of a TLS 1.2 connection, from the first record after its ChangeCipherSpec; the
    header's content type is the real one (no inner type in TLS 1.2)."""

    __slots__ = ("failed", "from_client", "keys", "messages", "seq")

    def __init__(self, keys: Tls12Keys, from_client: bool) -> None:
        self.keys = keys
        self.from_client = from_client
        self.seq = 0
        self.failed: DecryptError | None = None
        self.messages = _Messages()

    def open(self, rec: Record) -> list[Inner] | DecryptError:
        if self.failed is not None:
            return self.failed
        try:
            plain = self.keys.open(self.from_client, self.seq, rec.content_type, rec.version, rec.payload)
        except (InvalidTag, ValueError):
            self.failed = DecryptError(rec.frame, f"a record in frame {rec.frame} does not decrypt with the key "
                                                  "log's master secret (wrong keys?)")
            return self.failed
        self.seq += 1
        out: list[Inner] = []
        if rec.content_type == CONTENT_ALERT and len(plain) >= 2:
            out.append(Inner("alert", rec.frame, alert_level=plain[0], alert_code=plain[1]))
        elif rec.content_type == CONTENT_HANDSHAKE:
            err = self.messages.add(plain, rec.frame, out)
            if err is not None:
                self.failed = err
                return err
        elif rec.content_type == CONTENT_APPLICATION_DATA:
            out.append(Inner("application_data", rec.frame, length=len(plain)))
        return out


# --- cutting one direction's bytes into the records worth keeping ---------------------------------------------

class RecordCutter:
    """One direction's in-order bytes -> the records that may be encrypted, capped (sans-IO).

    Kept: application_data records (every TLS 1.3 encrypted record, RFC 8446 section 5.2), alert
    records that are not 2 bytes long (an encrypted alert: section 5.1 forbids fragmenting a plaintext
    one), and handshake records after this direction's ChangeCipherSpec (TLS 1.2's encrypted Finished,
    RFC 5246 section 7.1); a ChangeCipherSpec is kept as a marker with no payload. Plaintext handshake
    records are skipped without being buffered. At most ``MAX_KEPT_RECORDS`` records and
    ``MAX_KEPT_BYTES`` payload bytes are kept (``capped`` says so); bytes that are not TLS record
    headers stop the cutter (``stopped`` says why). Each record remembers the frame that completed it.
    """

    __slots__ = ("_buf", "_skip", "_skip_kind", "capped", "ccs_seen", "kept_bytes", "kept_records", "records",
                 "stopped")

    def __init__(self) -> None:
        self._buf = bytearray()  # a record header, or a kept record not yet complete
        self._skip = 0  # bytes of a skipped record still to come
        self._skip_kind = 0
        self.records: list[Record] = []  # complete records not yet taken by ``take``
        self.kept_records = 0
        self.kept_bytes = 0
        self.ccs_seen = False
        self.capped = False
        self.stopped: str | None = None

    def feed(self, data: bytes, frame: int) -> None:
        if self.stopped is not None:
            return
        pos, n = 0, len(data)
        while pos < n:
            if self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
                continue
            buf = self._buf
            if len(buf) < 5:
                take = min(5 - len(buf), n - pos)
                buf += data[pos:pos + take]
                pos += take
                if len(buf) < 5:
                    break
                ctype, major, length = buf[0], buf[1], int.from_bytes(buf[3:5], "big")
                if not 20 <= ctype <= 24 or major != 3 or length > MAX_RECORD_LENGTH:
                    self.stopped = f"bytes that are not a TLS record header ({bytes(buf[:5]).hex()})"
                    self._buf = bytearray()
                    return
                if ctype == CONTENT_CHANGE_CIPHER_SPEC:
                    self.ccs_seen = True
                if not self._wanted(ctype, length):
                    self._skip = length
                    self._buf = bytearray()
                    continue
            length = int.from_bytes(buf[3:5], "big")
            take = min(5 + length - len(buf), n - pos)
            buf += data[pos:pos + take]
            pos += take
            if len(buf) == 5 + length:
                self.records.append(Record(buf[0], int.from_bytes(buf[1:3], "big"), bytes(buf[5:]), frame))
                self._buf = bytearray()

    def _wanted(self, ctype: int, length: int) -> bool:
        if ctype == CONTENT_CHANGE_CIPHER_SPEC:
            return False  # ccs_seen is the marker
        if not (ctype == CONTENT_APPLICATION_DATA or (ctype == CONTENT_ALERT and length != 2)
                or (ctype == CONTENT_HANDSHAKE and self.ccs_seen)):
            return False
        if self.kept_records >= MAX_KEPT_RECORDS or self.kept_bytes + length > MAX_KEPT_BYTES:
            self.capped = True
            return False
        self.kept_records += 1
        self.kept_bytes += length
        return True

    def take(self, frame: int, length: int) -> Record | None:
        """The kept record completed in ``frame`` with ``length`` payload bytes (the one the record-layer
        parser just reported as encrypted); earlier kept records that nobody asked for are dropped."""
        recs = self.records
        for i, rec in enumerate(recs):
            if rec.frame == frame and len(rec.payload) == length:
                del recs[: i + 1]
                return rec
        return None
