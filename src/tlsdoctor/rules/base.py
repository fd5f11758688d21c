"""What every rule works on, and the small vocabulary they share.

Theory of operation. The packet path has already reduced each capture to one ``ConnectionRecord`` per
TCP connection. ``correlate`` groups the records that are the same connection seen from several vantage
points into a ``Conversation`` (one ``View`` per capture). The rules never look at packets again.

A rule module (``rules/<cause>.py``) has three names:

- ``CAUSE``: its cause code from shared/REPORT.md;
- ``match(conversation, context) -> Match | None``: whether this failing connection is of that cause,
  with how sure, the connection's outcome, its evidence, and the key that groups connections into one
  finding (connections with the same cause, key and confidence make one finding);
- ``build(matches, context) -> Finding``: the finding for a group: title, explanation, the evidence of
  the group (log lines and configuration lines included) and the specific fix.

``rules/__init__.py`` runs the rules over each failing conversation in order of precedence (the most
specific cause first); the first match claims it, so every failing connection lands in exactly one
finding, and a healthy one in none. ``handshake_stalled`` is last and matches anything, so nothing falls
through.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tlsdoctor.connection import Alert, ConnectionRecord, EndedBy, PacketFact
from tlsdoctor.findings import Confidence, ConnectionRef, Evidence, Finding
from tlsdoctor.tls.alerts import alert_name
from tlsdoctor.tls.certificates import CertificateFacts

MAX_EVIDENCE_CONNECTIONS = 3
"""A finding cites the packets of its first three connections; the others are listed, not cited."""

MAX_FINDING_CONNECTIONS = 1000
"""A finding lists at most this many connections (a note says how many more there were)."""

# Ports on which Wireshark decodes TLS without "Decode As" (its tls.tcp.ports preference and the
# well-known TLS services): on these, display filters can name TLS fields.
WIRESHARK_TLS_PORTS = frozenset({261, 443, 448, 465, 563, 614, 636, 853, 989, 990, 992, 993, 994, 995,
                                 3269, 4433, 5061, 5443, 8443, 8883, 9091, 9443})


@dataclass(frozen=True, slots=True)
class View:
    """One capture's view of a connection."""

    capture: str  # the file name as the user gave it
    vantage: str | None  # "client", "server", "switch", a user's label, or None for a single capture
    record: ConnectionRecord


@dataclass(frozen=True, slots=True)
class Conversation:
    """One TCP connection, as seen by one or more vantage points (the primary view first: the one
    closest to the client, which sees what the client saw)."""

    views: tuple[View, ...]
    weak_match: bool = False  # views joined by SNI and timing only (a TLS-terminating box), not by random/tuple
    failed_by_log: bool = False  # completed in the capture, but a log says the client refused it after (seed 001)

    @property
    def primary(self) -> View:
        return self.views[0]

    @property
    def record(self) -> ConnectionRecord:
        return self.views[0].record

    def at(self, vantage: str) -> View | None:
        for v in self.views:
            if v.vantage == vantage:
                return v
        return None

    @property
    def failed(self) -> bool:
        return self.failed_by_log or any(v.record.failed for v in self.views)


@dataclass(frozen=True, slots=True)
class LogLine:
    """A log line another stage found relevant to a conversation (nginx error or access log)."""

    source: str
    line: int
    text: str
    causes: tuple[str, ...]  # the cause codes this line points to, best first
    upstream_address: str | None = None  # ip:port of the upstream it talks about
    client_address: str | None = None
    time: datetime | None = None  # aware when the log says its zone, else naive local time
    request_path: str | None = None  # "/nosni" from request: "GET /nosni HTTP/1.1": which location it hit
    rule: str = ""  # the log table's row that classified it (nginx_logs.CAUSE_TABLE)


@dataclass(frozen=True, slots=True)
class ConfigFact:
    """A configuration line relevant to an upstream: where nginx proxies to, and what SNI it sends."""

    source: str
    line: int
    text: str
    upstream_addresses: tuple[str, ...]  # ip:port the proxy_pass target resolves to (as far as known)
    sni_sent: str | None  # the server_name nginx would send; None: none
    sni_kind: str  # "none", "group_name", "hostname", "ip", "variable", "map", ...
    real_host: str | None  # the real host name to put in proxy_ssl_name (from Host, a map, the config)
    fix: str  # the specific change (directives) that makes nginx send the real name
    group: str | None  # the upstream group's name, when proxy_pass names one
    location: str = ""  # "server gateway.test, location /"
    location_path: str | None = None  # the prefix of a prefix location ("/api/"), None for regex/exact/none
    patch: str = ""  # a unified diff (patch -p0 from the config's directory) that applies ``fix``


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a rule may consult beyond the conversation itself. Pure data."""

    vantages: tuple[str, ...] = ()  # the vantage labels given (empty: one unlabelled capture)
    error_log: tuple[LogLine, ...] = ()
    access_log: tuple[LogLine, ...] = ()
    config: tuple[ConfigFact, ...] = ()
    upstream_group_names: frozenset[str] = frozenset()
    keylog_given: bool = False
    ca_bundle: str | None = None
    completed_by_server: dict[str, tuple[int, int]] = field(default_factory=dict)
    """server ip:port -> (handshakes completed with SNI, completed without SNI), over all captures: the
    control a person would run by hand (s_client with and without -servername)."""
    trust_store: object | None = None  # a tlsdoctor.tls.chain TrustStore, when one was loaded
    certificates: tuple[tuple[CertificateFacts, ...], ...] = ()  # PEM files given as evidence, one chain each
    certificate_sources: dict[str, str] = field(default_factory=dict)  # certificate sha256 -> file name

    def config_for(self, server: str, path: str | None = None) -> ConfigFact | None:
        """The proxy_pass target that sends to ``server``: by address (and, when several locations send to
        it, the longest prefix location matching the request ``path``); else the one target that names
        its upstream by host name (resolved by nginx at start, unknown to us), if there is exactly one."""
        by_address = [c for c in self.config if server in c.upstream_addresses]
        if by_address:
            if path is not None and len(by_address) > 1:
                prefixed = [c for c in by_address if c.location_path is not None and path.startswith(c.location_path)]
                if prefixed:
                    return max(prefixed, key=lambda c: len(c.location_path or ""))
                return None  # several locations send there and the request matches none: do not guess
            return by_address[0]
        by_name = [c for c in self.config if any(not is_ip_literal(a.rsplit(":", 1)[0]) for a in c.upstream_addresses)]
        if path is not None and len(by_name) > 1:
            prefixed = [c for c in by_name if c.location_path is not None and path.startswith(c.location_path)]
            if prefixed:
                return max(prefixed, key=lambda c: len(c.location_path or ""))
        if len(by_name) == 1:
            return by_name[0]
        # The error log says which request (hence which location) each upstream address served.
        if path is None:
            for ln in self.error_log:
                if ln.upstream_address == server and ln.request_path is not None:
                    return self.config_for(server, ln.request_path)
        return None

    def log_lines_for(self, server: str, causes: Sequence[str] = ()) -> tuple[LogLine, ...]:
        """Error-log lines about this upstream address (and, when given, pointing to one of ``causes``)."""
        return tuple(ln for ln in self.error_log if ln.upstream_address == server and
                     (not causes or any(c in causes for c in ln.causes)))


@dataclass(frozen=True, slots=True)
class Match:
    cause: str
    confidence: Confidence
    outcome: str
    evidence: tuple[Evidence, ...] = ()
    key: str = ""  # groups connections into findings (with cause and confidence)
    notes: tuple[str, ...] = ()


# --- facts of a record that several rules read ----------------------------------------------------

def endpoint(rec: ConnectionRecord, side: str) -> str:
    return str(rec.client if side == "client" else rec.server)


def tls_port(rec: ConnectionRecord) -> bool:
    return rec.server.port in WIRESHARK_TLS_PORTS


def frame_filter(rec: ConnectionRecord, frame: int, tls_field: str | None = None) -> str:
    """A display filter that isolates ``frame`` in Wireshark: by TLS field when Wireshark decodes the
    port as TLS, else by frame number (which works whatever the port)."""
    if tls_field and tls_port(rec):
        return f"tcp.stream == {rec.tcp_stream} && {tls_field}"
    return f"tcp.stream == {rec.tcp_stream} && frame.number == {frame}"


def stream_filter(rec: ConnectionRecord) -> str:
    return f"tcp.stream == {rec.tcp_stream}"


def client_hello_evidence(view: View, text: str | None = None) -> Evidence | None:
    rec = view.record
    frame = rec.frames.get("client_hello")
    if frame is None:
        return None
    if text is None:
        sni = f"server_name {rec.sni}" if rec.sni else "without server_name"
        offered = ", ".join(rec.versions_offered) or "?"
        text = f"ClientHello {sni}, offering {offered}"
    return Evidence(view.capture, text, frame=frame,
                    display_filter=frame_filter(rec, frame, "tls.handshake.type == 1"))


def alert_evidence(view: View, alert: Alert, text: str | None = None) -> Evidence:
    rec = view.record
    if alert.encrypted:
        what = text or f"encrypted alert from the {alert.sender} (inferred from its record size)"
        return Evidence(view.capture, what, frame=alert.frame,
                        display_filter=f"tcp.stream == {rec.tcp_stream} && frame.number == {alert.frame}")
    level = "fatal" if alert.level == 2 else "warning" if alert.level == 1 else "level ?"
    what = text or f"{level} alert {alert.code} {alert.name} from the {alert.sender}"
    if alert.decrypted:
        what += (" (decrypted with the key log: in Wireshark, give it as the TLS (Pre)-Master-Secret log "
                 "filename to see it)")
    return Evidence(view.capture, what, frame=alert.frame,
                    display_filter=frame_filter(rec, alert.frame, f"tls.alert_message.desc == {alert.code}"))


def packet(rec: ConnectionRecord, frame: int) -> PacketFact | None:
    for p in rec.packets:
        if p.frame == frame:
            return p
    return None


def first_packet(rec: ConnectionRecord, *, from_client: bool, flags: str) -> PacketFact | None:
    """The first packet of one side whose flags include all of ``flags`` (e.g. "R", "SA", "F")."""
    for p in rec.packets:
        if p.from_client == from_client and all(f in p.flags for f in flags):
            return p
    return None


def packet_key(p: PacketFact) -> tuple[bool, int, int, str]:
    """What identifies one packet in two captures of the same connection: direction, relative sequence
    number, payload length and SYN/FIN/RST. These survive NAT and need neither capture's clock."""
    return (p.from_client, p.seq, p.payload_len, "".join(f for f in p.flags if f in "SFR"))


def still_capturing(near: View, seen: View, ts_ns: int) -> bool:
    """Whether ``near``'s capture was still running when ``seen``'s capture shows time ``ts_ns``, so that a
    packet missing from it is a packet that did not happen there. A capture that saw the connection end
    (FIN, RST, alert, idle) was; one that shows it still open at its end may have stopped early: then its
    last packet must come after ``ts_ns``, on ``seen``'s clock (the two clocks are aligned on a packet both
    captures have, ``packet_key``)."""
    if near.record.ended_by != EndedBy.CAPTURE_END:
        return True
    ours = {packet_key(p): p.ts_ns for p in seen.record.packets}
    for p in near.record.packets:
        t = ours.get(packet_key(p))
        if t is not None:
            return near.record.last_ts_ns + (t - p.ts_ns) >= ts_ns
    return False


def rst_evidence(view: View, p: PacketFact, text: str | None = None) -> Evidence:
    rec = view.record
    who = "client" if p.from_client else "server"
    ipid = f", IP-ID {p.ip_id:#06x}" if p.ip_id is not None else ""
    return Evidence(view.capture, text or f"RST from the {who} address (TTL {p.ttl}{ipid})", frame=p.frame,
                    display_filter=f"tcp.stream == {rec.tcp_stream} && tcp.flags.reset == 1")


PROMPT_CLOSE_NS = 1_000_000_000
"""A server that closes within a second of the ClientHello refused it; one that waits longer timed out."""


def refusal_after_hello(rec: ConnectionRecord) -> str | None:
    """How the server refused the ClientHello without a ServerHello: "alert", "rst", "fin" (within
    ``PROMPT_CLOSE_NS``), or None when it did not."""
    if rec.tls.server_hello is not None or rec.tls.hello_retry_request is not None:
        return None
    ch = rec.frames.get("client_hello")
    if ch is None:
        return None
    a = rec.alert
    if a is not None and a.sender == "server":
        return "alert"
    if rec.end_sender != "server":
        return None
    if rec.ended_by.value == "rst":
        return "rst"
    if rec.ended_by.value == "fin":
        hello = packet(rec, ch)
        fin = first_packet(rec, from_client=False, flags="F")
        if hello is not None and fin is not None and fin.ts_ns - hello.ts_ns <= PROMPT_CLOSE_NS:
            return "fin"
    return None


def refusal_evidence(view: View, how: str) -> Evidence | None:
    rec = view.record
    if how == "alert" and rec.alert is not None:
        return alert_evidence(view, rec.alert)
    flags = "R" if how == "rst" else "F"
    p = first_packet(rec, from_client=False, flags=flags)
    if p is None:
        return None
    if how == "rst":
        return rst_evidence(view, p)
    return Evidence(view.capture, f"FIN from the server, {seconds(p.ts_ns - rec.first_ts_ns)} after the first "
                    "packet, without answering the ClientHello", frame=p.frame,
                    display_filter=f"tcp.stream == {rec.tcp_stream} && tcp.flags.fin == 1")


def outcome(rec: ConnectionRecord) -> str:
    """How the connection ended, in REPORT.md's words: "alert 40 handshake_failure from server"..."""
    a = rec.alert
    if a is not None and (a.level == 2 or a.encrypted):
        if a.encrypted:
            return f"encrypted alert from {a.sender} (inferred)"
        return f"alert {a.code} {a.name} from {a.sender}"
    if rec.tls.not_tls is not None:
        sender, guess, _ = rec.tls.not_tls
        return f"{guess.replace('_', ' ')} from {sender} (not TLS)"
    if rec.syn_seen and not rec.tcp_established:
        rst = first_packet(rec, from_client=False, flags="R")
        return "RST to the SYN (connection refused)" if rst is not None else "no answer to the SYN"
    ended = rec.ended_by.value
    if ended == "rst":
        return f"RST from {rec.end_sender or '?'} after {rec.handshake_stage.replace('_', ' ')}"
    if ended == "fin":
        return f"FIN from {rec.end_sender or '?'} after {rec.handshake_stage.replace('_', ' ')}"
    if ended == "alert" and a is not None:
        return f"alert {a.code} {a.name} from {a.sender}"
    return f"{ended.replace('_', ' ')} after {rec.handshake_stage.replace('_', ' ')}"


def connection_ref(conv: Conversation, match: Match) -> ConnectionRef:
    v = conv.primary
    rec = v.record
    also = tuple((o.capture, o.record.tcp_stream, o.vantage) for o in conv.views[1:])
    return ConnectionRef(capture=v.capture, tcp_stream=rec.tcp_stream, client=str(rec.client),
                         server=str(rec.server), sni=rec.sni, outcome=match.outcome, vantage=v.vantage,
                         also_seen=also)


def seconds(ns: int) -> str:
    s = ns / 1e9
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


def capture_time(rec: ConnectionRecord) -> datetime | None:
    """When the connection began, on the capture's clock (aware, UTC); None when that time is beyond what
    a datetime holds (years 1 to 9999): a damaged or hostile time stamp (pcapng's are 64 bits)."""
    try:
        return datetime.fromtimestamp(rec.first_ts_ns / 1e9, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def alert_label(code: int | None) -> str:
    return "encrypted alert" if code is None else f"alert {code} {alert_name(code)}"


def assemble(matches: Sequence[tuple[Conversation, Match]], *, title: str, explanation: str, fix: str,
             extra_evidence: Sequence[Evidence] = (), notes: Sequence[str] = (), patch: str = "") -> Finding:
    """The common part of every ``build``: the connections, the evidence of the first few, the notes."""
    first = matches[0][1]
    refs = tuple(connection_ref(c, m) for c, m in matches[:MAX_FINDING_CONNECTIONS])
    evidence: list[Evidence] = []
    seen: set[tuple[str, int | None, int | None, str]] = set()
    for _, m in matches[:MAX_EVIDENCE_CONNECTIONS]:
        for e in m.evidence:
            k = (e.source, e.frame, e.line, e.text)
            if k not in seen:
                seen.add(k)
                evidence.append(e)
    for e in extra_evidence:
        k = (e.source, e.frame, e.line, e.text)
        if k not in seen:
            seen.add(k)
            evidence.append(e)
    all_notes = list(notes)
    for _, m in matches:
        for n in m.notes:
            if n not in all_notes:
                all_notes.append(n)
    if len(matches) > MAX_FINDING_CONNECTIONS:
        all_notes.append(f"{len(matches) - MAX_FINDING_CONNECTIONS} more connections of this finding are "
                         f"not listed (cap {MAX_FINDING_CONNECTIONS})")
    return Finding(first.cause, title, first.confidence, explanation, refs, tuple(evidence), fix,
                   tuple(all_notes), patch)


def log_evidence(lines: Sequence[LogLine], limit: int = 3) -> list[Evidence]:
    return [Evidence(ln.source, ln.text, line=ln.line) for ln in lines[:limit]]


def servers_of(matches: Sequence[tuple[Conversation, Match]]) -> list[str]:
    out: list[str] = []
    for c, _ in matches:
        s = str(c.record.server)
        if s not in out:
            out.append(s)
    return out


def names_of(matches: Sequence[tuple[Conversation, Match]]) -> list[str]:
    out: list[str] = []
    for c, _ in matches:
        if c.record.sni and c.record.sni not in out:
            out.append(c.record.sni)
    return out


def listing(items: Sequence[str], limit: int = 4) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def printable(data: bytes, limit: int = 40) -> str:
    """The first bytes of a non-TLS answer as text a person can read (other bytes as dots)."""
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data[:limit])
    return text + ("..." if len(data) > limit else "")


def unlike_the_sender(rec: ConnectionRecord, p: PacketFact) -> str | None:
    """Why packet ``p`` does not look like it came from the host whose address it carries, or None.

    The same host's packets on one connection reach a vantage point with one TTL (its initial TTL, 64,
    128 or 255, minus the hops). A box on the path that forges a packet in that host's name sends its
    own TTL (seed 003: the ClientHello ACKed with TTL 253, twice, where the server's packets have 64;
    seed 004: resets "from the server" that the server never sent). The reference is the TTL of that
    side's first packet (its SYN or SYN-ACK, which opened the connection). A route change moves the TTL
    of everything after it, data included; a forged packet carries no data, and no data-bearing packet
    of that side shares its TTL.
    """
    side = [q for q in rec.packets if q.from_client == p.from_client]
    if not side or side[0].frame == p.frame:
        return None
    ref = side[0]
    if p.ttl == ref.ttl:
        return None
    if any(q.payload_len and q.ttl == p.ttl for q in side):
        return None  # the host's own data came with this TTL too: a path change, not a forgery
    same = sum(1 for q in side if q.ttl == ref.ttl)
    first = "SYN" if "S" in ref.flags and "A" not in ref.flags else "SYN-ACK" if "S" in ref.flags else "first packet"
    return (f"TTL {p.ttl}, unlike that address's {first} (frame {ref.frame}) and {same - 1} other packet(s) "
            f"(TTL {ref.ttl})")
