"""TLS 1.3 record decryption from key-log secrets (sans-IO): records in, handshake messages and alerts out.

Theory of operation (RFC 8446):
- Section 7.1: ``HKDF-Expand-Label(Secret, Label, Context, Length)`` = HKDF-Expand(Secret, HkdfLabel,
  Length), HkdfLabel = uint16 length || opaque label<7..255> ("tls13 " + Label) || opaque context<0..255>.
- Section 7.3: each traffic secret gives ``key = HKDF-Expand-Label(secret, "key", "", key_length)`` and
  ``iv = HKDF-Expand-Label(secret, "iv", "", 12)``.
- Section 5.3: the nonce of record number ``seq`` (from 0 per direction and per key) is the iv XOR
  ``seq`` left-padded to 12 bytes. Section 5.2: the additional data is the record header (5 bytes);
  the plaintext is TLSInnerPlaintext: content, the real content type (one byte), zero padding.
- The sender uses its handshake traffic secret until its Finished, then its application traffic
  secret (``*_TRAFFIC_SECRET_0``): a server's alert sent after the client's Finished (116
  certificate_required, section 4.4.2.4) is under the server's application key.

``decrypt_direction`` is given one direction's records after the (plaintext) ServerHello, and returns
what was inside each: handshake messages (type, body), alerts (level, code), application data (its
length). A record that does not decrypt (wrong or missing keys, a damaged capture) ends the direction
with an error, never an exception; the caller says so in the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

CONTENT_CHANGE_CIPHER_SPEC = 20
CONTENT_ALERT = 21
CONTENT_HANDSHAKE = 22
CONTENT_APPLICATION_DATA = 23
HANDSHAKE_FINISHED = 20
MAX_HANDSHAKE_BUFFER = 256 * 1024
"""Decrypted handshake bytes kept per direction (a certificate chain fits many times over)."""

# TLS 1.3 cipher suites (RFC 8446 appendix B.4): (AEAD, key length, hash).
SUITES: dict[int, tuple[str, int, str]] = {
    0x1301: ("aes-gcm", 16, "sha256"),
    0x1302: ("aes-gcm", 32, "sha384"),
    0x1303: ("chacha20-poly1305", 32, "sha256"),
}


def _hash(name: str) -> hashes.HashAlgorithm:
    return hashes.SHA384() if name == "sha384" else hashes.SHA256()


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
        nonce = bytes(a ^ b for a, b in zip(self.iv, seq.to_bytes(12, "big"), strict=True))
        cipher = AESGCM(self.key) if self.aead == "aes-gcm" else ChaCha20Poly1305(self.key)
        return cipher.decrypt(nonce, ciphertext, header)


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
class DirectionResult:
    items: tuple[Inner, ...]
    error: str | None = None  # why decryption stopped, if it did


def _strip_inner(plaintext: bytes) -> tuple[int, bytes] | None:
    """TLSInnerPlaintext (section 5.2): strip the zero padding; the last non-zero byte is the type."""
    end = len(plaintext)
    while end > 0 and plaintext[end - 1] == 0:
        end -= 1
    if end == 0:
        return None
    return plaintext[end - 1], plaintext[: end - 1]


def decrypt_direction(records: Sequence[Record], suite: int, handshake_secret: bytes | None,
                      application_secret: bytes | None) -> DirectionResult:
    """One direction's records after the ServerHello, decrypted with that side's secrets."""
    if suite not in SUITES:
        return DirectionResult((), f"cipher suite {suite:#06x} is not a TLS 1.3 suite this decryptor knows")
    keys = [k for k in (TrafficKeys.derive(handshake_secret, suite) if handshake_secret else None,
                        TrafficKeys.derive(application_secret, suite) if application_secret else None)]
    stage = 0 if keys[0] is not None else 1
    seq = 0
    items: list[Inner] = []
    buffer = b""
    for rec in records:
        if rec.content_type == CONTENT_CHANGE_CIPHER_SPEC:
            continue  # middlebox compatibility (appendix D.4): not protected, not counted
        if rec.content_type == CONTENT_ALERT:
            if len(rec.payload) >= 2:
                items.append(Inner("alert", rec.frame, alert_level=rec.payload[0], alert_code=rec.payload[1],
                                   decrypted=False))
            continue
        if rec.content_type != CONTENT_APPLICATION_DATA:
            continue
        header = bytes([rec.content_type]) + rec.version.to_bytes(2, "big") + len(rec.payload).to_bytes(2, "big")
        opened = None
        for attempt in range(stage, 2):
            k = keys[attempt]
            if k is None:
                continue
            try:
                opened = k.open(seq if attempt == stage else 0, header, rec.payload)
            except InvalidTag:
                continue
            if attempt != stage:
                stage, seq = attempt, 0
            break
        if opened is None:
            which = "handshake" if stage == 0 else "application"
            return DirectionResult(tuple(items), f"a record in frame {rec.frame} does not decrypt with the "
                                                 f"{which} traffic secret of the key log (wrong keys?)")
        seq += 1
        inner = _strip_inner(opened)
        if inner is None:
            continue
        ctype, content = inner
        if ctype == CONTENT_ALERT and len(content) >= 2:
            items.append(Inner("alert", rec.frame, alert_level=content[0], alert_code=content[1]))
        elif ctype == CONTENT_HANDSHAKE:
            buffer += content
            if len(buffer) > MAX_HANDSHAKE_BUFFER:
                return DirectionResult(tuple(items), f"more than {MAX_HANDSHAKE_BUFFER} bytes of handshake "
                                                     "(MAX_HANDSHAKE_BUFFER)")
            while len(buffer) >= 4:
                mtype, length = buffer[0], int.from_bytes(buffer[1:4], "big")
                if len(buffer) < 4 + length:
                    break
                # The frame is the one whose record completed the message, as Wireshark shows it.
                items.append(Inner("handshake", rec.frame, handshake_type=mtype, body=buffer[4: 4 + length]))
                buffer = buffer[4 + length:]
                if mtype == HANDSHAKE_FINISHED and stage == 0 and keys[1] is not None:
                    stage, seq = 1, 0  # this side now sends under its application traffic secret
        elif ctype == CONTENT_APPLICATION_DATA:
            items.append(Inner("application_data", rec.frame, length=len(content)))
    return DirectionResult(tuple(items))


# --- TLS 1.2 (RFC 5246) AEAD suites, from the CLIENT_RANDOM master secret ----------------------------------

# (AEAD, key length, fixed IV length, PRF hash): RFC 5288 (AES-GCM: 4-byte salt + 8-byte explicit nonce),
# RFC 7905 (ChaCha20-Poly1305: 12-byte IV XOR the sequence number), RFC 5289 (the ECDHE GCM suites).
TLS12_SUITES: dict[int, tuple[str, int, int, str]] = {
    0x009C: ("aes-gcm", 16, 4, "sha256"), 0x009D: ("aes-gcm", 32, 4, "sha384"),
    0x009E: ("aes-gcm", 16, 4, "sha256"), 0x009F: ("aes-gcm", 32, 4, "sha384"),
    0xC02B: ("aes-gcm", 16, 4, "sha256"), 0xC02C: ("aes-gcm", 32, 4, "sha384"),
    0xC02F: ("aes-gcm", 16, 4, "sha256"), 0xC030: ("aes-gcm", 32, 4, "sha384"),
    0xCCA8: ("chacha20-poly1305", 32, 12, "sha256"), 0xCCA9: ("chacha20-poly1305", 32, 12, "sha256"),
    0xCCAA: ("chacha20-poly1305", 32, 12, "sha256"),
}
AEAD_TAG = 16
GCM_EXPLICIT_NONCE = 8


def tls12_prf(secret: bytes, label: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """RFC 5246 section 5: PRF(secret, label, seed) = P_hash(secret, label + seed)."""
    from cryptography.hazmat.primitives import hmac

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
        key, iv = (self.client_key, self.client_iv) if from_client else (self.server_key, self.server_iv)
        if self.aead == "aes-gcm":
            nonce, ciphertext = iv + payload[:GCM_EXPLICIT_NONCE], payload[GCM_EXPLICIT_NONCE:]
            cipher: AESGCM | ChaCha20Poly1305 = AESGCM(key)
        else:
            nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big"), strict=True))
            ciphertext = payload
            cipher = ChaCha20Poly1305(key)
        length = len(ciphertext) - AEAD_TAG
        aad = seq.to_bytes(8, "big") + bytes([content_type]) + version.to_bytes(2, "big") + length.to_bytes(2, "big")
        return cipher.decrypt(nonce, ciphertext, aad)


def decrypt_direction_tls12(records: Sequence[Record], keys: Tls12Keys, from_client: bool) -> DirectionResult:
    """One direction's records after its ChangeCipherSpec (RFC 5246 section 7.1: the sequence number
    starts at 0 there); the header's content type is the real one (no inner type in TLS 1.2)."""
    items: list[Inner] = []
    buffer = b""
    for seq, rec in enumerate(records):
        try:
            plain = keys.open(from_client, seq, rec.content_type, rec.version, rec.payload)
        except (InvalidTag, ValueError):
            return DirectionResult(tuple(items), f"a record in frame {rec.frame} does not decrypt with the key log's "
                                                 "master secret (wrong keys?)")
        if rec.content_type == CONTENT_ALERT and len(plain) >= 2:
            items.append(Inner("alert", rec.frame, alert_level=plain[0], alert_code=plain[1]))
        elif rec.content_type == CONTENT_HANDSHAKE:
            buffer += plain
            while len(buffer) >= 4 and len(buffer) >= 4 + int.from_bytes(buffer[1:4], "big"):
                length = int.from_bytes(buffer[1:4], "big")
                items.append(Inner("handshake", rec.frame, handshake_type=buffer[0], body=buffer[4:4 + length]))
                buffer = buffer[4 + length:]
        elif rec.content_type == CONTENT_APPLICATION_DATA:
            items.append(Inner("application_data", rec.frame, length=len(plain)))
    return DirectionResult(tuple(items))
