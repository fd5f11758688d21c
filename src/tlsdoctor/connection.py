"""One frozen record per TCP connection: what the capture shows of it, from SYN to its end.

A ``ConnectionRecord`` is emitted for every TCP connection of a capture, also when it never
completed the TCP handshake or never reached TLS (Zeek's rule for ssl.log: one record per connection,
always). It is the only thing the later stages (rules, correlation, reports) read; they never look at
packets again, so every fact they need is put here by the packet path.

Two history strings, both in Zeek's spirit (client upper case, server lower case):

``tcp_history`` (Zeek conn.log letters, each letter once per direction, in order of first occurrence):
  ``S`` SYN, ``H`` SYN-ACK, ``A`` pure ACK, ``D`` payload, ``F`` FIN, ``R`` RST, ``T`` retransmitted
  payload, ``G`` a gap (bytes that were never captured), ``W`` zero window.

``history`` (TLS; the letters of Zeek's ``ssl_history``, every message in order):
  ``C`` client_hello, ``S`` server_hello, ``J`` hello_retry_request, ``X`` certificate,
  ``K`` server_key_exchange, ``R`` certificate_request, ``N`` server_hello_done,
  ``Y`` certificate_verify, ``G`` client_key_exchange, ``F`` finished, ``T`` new_session_ticket,
  ``O`` encrypted_extensions, ``U`` certificate_status, ``H`` hello_request, ``V`` hello_verify_request,
  ``E`` end_of_early_data, ``P`` key_update, ``M`` message_hash, ``W`` certificate_url,
  ``A`` supplemental_data, ``Z`` another handshake type, ``I`` change_cipher_spec, ``L`` alert,
  ``D`` an encrypted record (application data, or an encrypted handshake message), ``B`` heartbeat,
  ``Q`` another content type. Two more, ours: ``!`` bytes that are not TLS, ``~`` the TLS parse
  stopped (a malformed record; see anomalies). Runs of ``D`` are kept to one letter per direction change.
  The string is capped at ``MAX_HISTORY`` characters; a final ``+`` means it was cut.

  With a key log (``CaptureAnalyzer(name, keylog)``), a record that decryption opened gets the letters
  of what was inside instead of ``D``: a TLS 1.3 server's ``soxyf`` (EncryptedExtensions, Certificate,
  CertificateVerify, Finished) where ``d`` stood, the client's ``F``, an encrypted alert's ``L``; the
  application data inside stays ``D``. So the same connection can have two histories, with and
  without keys; ``TLSFacts.decryption`` says which one a record holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from tlsdoctor.pickling import pickle_by_fields
from tlsdoctor.tls.certificates import CertificateFacts
from tlsdoctor.tls.messages import CertificateRequest, ClientHello, HandshakeMessage, ServerHello

MAX_HISTORY = 64


class EndedBy(StrEnum):
    """How a connection ended, as far as the capture shows."""

    ALERT = "alert"  # a fatal TLS alert, then (usually) a close
    RST = "rst"
    FIN = "fin"
    CAPTURE_END = "capture_end"  # still open when the capture stopped
    IDLE = "idle"  # no packet for longer than the idle timeout (evicted from the flow table)


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    def __format__(self, spec: str) -> str:
        """``f"{rec.server:>21}"`` pads ``ip:port`` as it would a string."""
        return format(str(self), spec)


class PacketFact(NamedTuple):
    """One packet of the connection's timeline (the first packets, and every SYN, FIN and RST)."""

    frame: int
    ts_ns: int
    from_client: bool
    flags: str  # "S", "SA", "A", "AP", "AF", "R", "AR", ... (S SYN, A ACK, P PSH, F FIN, R RST)
    seq: int  # relative to the sender's base sequence number (the SYN is 0), as Wireshark shows it
    ack: int  # relative to the receiver's base sequence number; 0 when ACK is not set
    payload_len: int
    ttl: int  # IPv4 TTL or IPv6 hop limit
    ip_id: int | None  # None for IPv6
    window: int
    src_mac: str | None
    dst_mac: str | None
    tls: str  # the TLS history letters completed by this packet's bytes


TimelineEntry = tuple[int, int, bool, int, int, int, int, int, int | None, int, bytes | None, str]
"""The packet path's raw form of a PacketFact: (frame, ts_ns, sent_by_first_seen_side, TCP flags,
absolute seq, absolute ack, payload_len, ttl, ip_id, window, dst+src MAC bytes, TLS letters).
Kept raw so that a connection nobody looks at costs no objects; ``ConnectionRecord.packets`` decodes it."""


def flag_letters(flags: int) -> str:
    """TCP flags as the letters people read: S SYN, A ACK, P PSH, F FIN, R RST ('.' for none)."""
    out = ""
    for bit, letter in ((0x02, "S"), (0x10, "A"), (0x08, "P"), (0x01, "F"), (0x04, "R")):
        if flags & bit:
            out += letter
    return out or "."


@dataclass(frozen=True, slots=True)
class DirectionFacts:
    """What one direction of the connection showed (client->server or server->client)."""

    packets: int = 0
    payload_bytes: int = 0
    ttls: tuple[int, ...] = ()  # distinct TTLs / hop limits seen, in order of first appearance
    first_ip_id: int | None = None
    last_ip_id: int | None = None
    src_macs: tuple[str, ...] = ()  # distinct source MACs seen
    dst_macs: tuple[str, ...] = ()
    isn: int | None = None  # absolute initial sequence number (from the SYN / SYN-ACK)
    window: int | None = None  # window of the first packet
    mss: int | None = None
    window_scale: int | None = None
    sack_permitted: bool = False
    timestamps: bool = False
    acked_bytes: int = 0  # how many of this direction's payload bytes the other side acknowledged
    retransmissions: int = 0


@dataclass(frozen=True, slots=True)
class Alert:
    code: int | None  # None when the alert was encrypted
    name: str  # RFC name, or "encrypted_alert"
    sender: str  # "client" or "server"
    level: int | None
    frame: int
    encrypted: bool = False
    decrypted: bool = False  # read from an encrypted record with the key log's secrets


@dataclass(frozen=True, slots=True)
class TLSFacts:
    """The TLS facts of a connection. Parsed messages live in ``tlsdoctor.tls`` types."""

    client_hello: ClientHello | None = None
    server_hello: ServerHello | None = None  # the final ServerHello (not the HelloRetryRequest)
    hello_retry_request: ServerHello | None = None
    server_certificates: tuple[CertificateFacts, ...] = ()  # as sent: leaf first
    certificate_request: CertificateRequest | HandshakeMessage | None = None
    client_certificates: tuple[CertificateFacts, ...] | None = None  # None: no client Certificate message
    alerts: tuple[Alert, ...] = ()
    encrypted_records_client: tuple[int, ...] = ()  # lengths of the first encrypted records
    encrypted_records_server: tuple[int, ...] = ()
    not_tls: tuple[str, str, bytes] | None = None  # (sender, guess, first bytes) when a peer did not speak TLS
    ja4: str | None = None
    decryption: str | None = None  # with a key log: "decrypted", or why not ("no keys for this client random")
    # Set by the engine's own decryption (``CaptureAnalyzer(name, keylog)``): None without a key log;
    # "decrypted" (every encrypted record the handshake tracker read was opened), "no keys for this client
    # random", "no encrypted records to decrypt", "not decryptable: <why>" (a CBC suite, labels missing),
    # "failed: <side>: <why>" (a record that does not authenticate: wrong keys; the rest analysed as without keys).
    decrypted_handshake: tuple[tuple[str, int, int], ...] = ()
    # (sender, handshake type, Wireshark frame) of each handshake message read by decryption, in order
    # (capped: handshake.MAX_DECRYPTED_MESSAGES_KEPT); empty without a key log.


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    capture: str
    tcp_stream: int
    client: Endpoint
    server: Endpoint
    ip_version: int
    first_ts_ns: int
    last_ts_ns: int
    frames: dict[str, int]  # milestone -> Wireshark frame number
    tcp_history: str
    history: str
    ended_by: EndedBy
    end_sender: str | None  # who sent the FIN / RST / alert that ended it: "client" | "server" | None
    syn_seen: bool
    tcp_established: bool  # SYN, SYN-ACK and the client's ACK (or data) were seen
    is_tls: bool  # the client sent a ClientHello (or another TLS record)
    handshake_completed: bool
    handshake_stage: str  # the last handshake step reached, e.g. "client_hello", "server_hello", "finished"
    tls_version: str | None  # negotiated, e.g. "TLSv1.3"
    versions_offered: tuple[str, ...]
    sni: str | None
    alpn_offered: tuple[str, ...]
    alpn_chosen: str | None
    cipher_suite: str | None
    tls: TLSFacts
    client_dir: DirectionFacts
    server_dir: DirectionFacts
    timeline: tuple[TimelineEntry, ...]  # the first packets and every SYN/FIN/RST, capped; see ``packets``
    first_side_is_client: bool  # whether the first packet seen was the client's (decodes the timeline)
    client_base_seq: int | None  # Wireshark's base sequence numbers, to show relative seq/ack
    server_base_seq: int | None
    anomalies: tuple[str, ...] = field(default=())

    @property
    def packets(self) -> tuple[PacketFact, ...]:
        """The timeline as PacketFacts, with relative sequence numbers as Wireshark shows them."""
        out = []
        cbase, sbase = self.client_base_seq or 0, self.server_base_seq or 0
        for frame, ts, first_side, flags, seq, ack, plen, ttl, ipid, win, macs, letters in self.timeline:
            from_client = first_side == self.first_side_is_client
            own, peer = (cbase, sbase) if from_client else (sbase, cbase)
            out.append(PacketFact(
                frame, ts, from_client, flag_letters(flags), (seq - own) % (1 << 32),
                (ack - peer) % (1 << 32) if flags & 0x10 else 0, plen, ttl, ipid, win,
                macs[6:12].hex(":") if macs else None, macs[:6].hex(":") if macs else None, letters))
        return tuple(out)

    @property
    def alert(self) -> Alert | None:
        """The first fatal alert (or the first alert at all when none is marked fatal)."""
        for a in self.tls.alerts:
            if a.level == 2 or a.encrypted:
                return a
        for a in self.tls.alerts:
            if a.code != 0:
                return a
        return None

    @property
    def failed(self) -> bool:
        """True for a connection whose TCP or TLS handshake did not complete.

        - A connection whose handshake the capture did not see (it began before the capture,
          ``handshake_stage == "mid_stream"``) is not judged.
        - A TLS connection (the client sent a ClientHello or another TLS record) failed when its handshake
          did not complete; one that completed is healthy even if it later ended with a RST.
        - A connection that never carried TLS failed when the TCP handshake itself failed, or when the
          client, once connected, sent nothing and the server gave up on it (seed 003: the server saw
          no ClientHello and closed after 10 s). A plain-text protocol that ran is not a failure.
        """
        if self.handshake_stage == "mid_stream":
            return False
        if self.is_tls:
            return not self.handshake_completed
        if self.syn_seen and not self.tcp_established:
            return True
        if not self.tcp_established or self.client_dir.payload_bytes:
            return False
        # Connected, the client sent nothing: a failure when the server gave up first.
        server_end = min((f for k, f in self.frames.items() if k in ("fin_server", "rst") and
                          self.end_sender == "server"), default=None)
        client_fin = self.frames.get("fin_client")
        return server_end is not None and (client_fin is None or server_end < client_fin)


pickle_by_fields(__name__)
