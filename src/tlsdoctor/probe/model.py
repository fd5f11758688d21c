"""The values a probe run produces: raw outcomes, certificate facts, findings. Frozen, typed, no I/O.

A probe's outcome keeps the peer's behaviour (an alert, a reset, silence, HTTP bytes) apart from
our own failures: an internal error is never turned into an outcome; it escapes to the CLI, which
reports it as our bug.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tlsdoctor.findings import Finding
from tlsdoctor.probe.answer import Answer, AnswerKind, printable


class OutcomeKind(enum.StrEnum):
    """What happened to one probe, from the client's side of the socket."""

    SERVER_HELLO = "server_hello"
    HELLO_RETRY_REQUEST = "hello_retry_request"
    ALERT = "alert"
    RESET = "reset"
    """A RST after our ClientHello (ECONNRESET)."""
    CLOSED = "closed"
    """An orderly close (FIN) without a complete answer."""
    SILENCE = "silence"
    """Nothing at all came back before the probe's deadline."""
    STALLED = "stalled"
    """Some bytes came back, then nothing, and the answer never completed before the deadline."""
    CAP_EXCEEDED = "cap_exceeded"
    """The server sent more than the byte cap without a complete answer (cut off)."""
    NOT_TLS = "not_tls"
    MALFORMED = "malformed"
    CONNECT_REFUSED = "connect_refused"
    """A RST to our SYN: nothing listens on that port (or a firewall rejects)."""
    CONNECT_TIMEOUT = "connect_timeout"
    CONNECT_ERROR = "connect_error"
    """Any other failure to connect (no route, network unreachable)."""
    SKIPPED = "skipped"
    """Not run: the TCP connection to this address failed, or the overall deadline passed."""


SUCCESS = frozenset((OutcomeKind.SERVER_HELLO, OutcomeKind.HELLO_RETRY_REQUEST))
CONNECT_FAILURES = frozenset((OutcomeKind.CONNECT_REFUSED, OutcomeKind.CONNECT_TIMEOUT, OutcomeKind.CONNECT_ERROR))


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    connect_ms: float | None = None
    """Time to establish TCP, when it was established."""
    elapsed_ms: float | None = None
    """From the end of our ClientHello to the outcome (the reset, the FIN, the answer, the deadline)."""
    bytes_received: int = 0
    answer: Answer | None = None
    local: str | None = None
    """Our ``ip:port`` for this connection, to find it in a capture."""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind in SUCCESS

    def describe(self) -> str:
        ms = f"{self.elapsed_ms:.0f} ms" if self.elapsed_ms is not None else ""
        k = self.kind
        if self.answer is not None and k in (OutcomeKind.SERVER_HELLO, OutcomeKind.HELLO_RETRY_REQUEST,
                                             OutcomeKind.ALERT, OutcomeKind.NOT_TLS, OutcomeKind.MALFORMED):
            return self.answer.describe() + (f" after {ms}" if k == OutcomeKind.ALERT and ms else "")
        if k == OutcomeKind.RESET:
            return f"RST {ms} after the ClientHello" + (f" ({self.bytes_received} bytes first)"
                                                        if self.bytes_received else "")
        if k == OutcomeKind.CLOSED:
            return f"closed (FIN) {ms} after the ClientHello, no answer" + (
                f" ({self.bytes_received} bytes of an incomplete answer)" if self.bytes_received else "")
        if k == OutcomeKind.SILENCE:
            return f"silence: no answer in {ms}"
        if k == OutcomeKind.STALLED:
            return f"stalled: {self.bytes_received} bytes in {ms}, answer never completed"
        if k == OutcomeKind.CAP_EXCEEDED:
            return f"cut off: {self.bytes_received} bytes without a complete answer"
        if k == OutcomeKind.CONNECT_REFUSED:
            return "TCP connect refused (RST to the SYN)"
        if k == OutcomeKind.CONNECT_TIMEOUT:
            return f"TCP connect timed out ({ms})" if ms else "TCP connect timed out"
        if k == OutcomeKind.CONNECT_ERROR:
            return f"TCP connect failed: {self.error}"
        if k == OutcomeKind.SKIPPED:
            return f"skipped: {self.error}" if self.error else "skipped"
        return k.value


def outcome_from_answer(answer: Answer, **kw: object) -> Outcome:
    kind = {AnswerKind.SERVER_HELLO: OutcomeKind.SERVER_HELLO,
            AnswerKind.HELLO_RETRY_REQUEST: OutcomeKind.HELLO_RETRY_REQUEST,
            AnswerKind.ALERT: OutcomeKind.ALERT, AnswerKind.NOT_TLS: OutcomeKind.NOT_TLS,
            AnswerKind.MALFORMED: OutcomeKind.MALFORMED}[answer.kind]
    return Outcome(kind, answer=answer, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One row of the matrix: a named ClientHello sent to one address, and what came back."""

    name: str
    """Stable id, e.g. ``sni``, ``no_sni``, ``tls1.2``, ``large``."""
    description: str
    address: str
    port: int
    sni: str | None
    client_hello_bytes: int
    outcome: Outcome

    @property
    def server(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """Facts of one certificate of the chain the server presented."""

    subject: str
    issuer: str
    not_before: str
    """ISO 8601, UTC."""
    not_after: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    self_issued: bool
    sha256: str


@dataclass(frozen=True, slots=True)
class HandshakeReport:
    """The full handshake with Python's ``ssl`` against one address, and the checks on its chain."""

    address: str
    port: int
    sni: str | None
    completed: bool
    """The handshake finished (verification off), so the chain below is what the server presents."""
    version: str | None = None
    cipher: str | None = None
    chain: tuple[CertificateInfo, ...] = ()
    error: str | None = None
    """The handshake's error (an alert received, a reset, a timeout), or None."""
    alert_code: int | None = None
    """The alert the server sent, when ``error`` came from one."""
    post_handshake_alert: bool = False
    """The alert came after the handshake finished on our side (TLS 1.3: a client certificate was required)."""
    verify_code: int | None = None
    """OpenSSL's X509_V_ERR_* from a verifying handshake against the trust store, or None when it verified."""
    verify_message: str | None = None
    trust_store: str = "system"
    trust_checked: bool = False
    """A verifying handshake ran to a verdict; False when it could not (the verify fields are then empty)."""
    problems: tuple[tuple[str, str, str], ...] = ()
    """(cause code, sentence, confidence) for each certificate problem found now."""


@dataclass(frozen=True, slots=True)
class AddressReport:
    address: str
    results: tuple[ProbeResult, ...]
    handshake: HandshakeReport | None


@dataclass(frozen=True, slots=True)
class ProbeReport:
    host: str
    port: int
    sni: str | None
    """The name sent as SNI in the ``sni`` probes (``--sni``, or the host when it is a name)."""
    addresses: tuple[AddressReport, ...]
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    """Facts that are not problems (versions accepted, a TLS 1.3-only server)."""
    anomalies: tuple[str, ...] = ()
    """Caps hit, the deadline reached, probes skipped."""
    resolution_error: str | None = None
    duration_ms: float = 0.0
    timeout_s: float = 0.0
    wrong_sni: str = ""


def preview_text(answer: Answer | None) -> str:
    return printable(answer.preview) if answer is not None else ""
