"""``rst_injection``: a reset that neither end sent, forged by a box on the path (seed 004: resets keyed
on the ClientHello's server_name; "ERR_CONNECTION_RESET" in browsers, curl's SSL_ERROR_SYSCALL).

Decisive with two vantage points: the client's capture shows a RST "from the server" that the server's
capture does not show the server sending (or each end sees the other reset it). With the server's nginx
error log: the client saw the server reset while nginx logged "peer closed connection in SSL handshake
(104: Connection reset by peer)" for that client, i.e. each end saw the other reset. With one capture:
a RST whose TTL (or IP-ID) is unlike every other packet from that address (``likely``).
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Confidence, Evidence, Finding
from tlsdoctor.rules.base import (
    Context,
    Conversation,
    Match,
    View,
    assemble,
    client_hello_evidence,
    first_packet,
    listing,
    names_of,
    rst_evidence,
    servers_of,
    still_capturing,
    unlike_the_sender,
)

CAUSE = "rst_injection"
PEER_RESET = "peer closed connection in SSL handshake"


def _sent_rst(view: View, from_client: bool) -> bool:
    return first_packet(view.record, from_client=from_client, flags="R") is not None


def match(conv: Conversation, ctx: Context) -> Match | None:
    if conv.record.handshake_completed:
        return None
    evidence: list[Evidence] = []
    for v in conv.views:
        rec = v.record
        for from_client in (False, True):
            rst = first_packet(rec, from_client=from_client, flags="R")
            if rst is None:
                continue
            sender = "client" if from_client else "server"
            near_sender = conv.at(sender)
            if near_sender is not None and near_sender is not v and not _sent_rst(near_sender, from_client) \
                    and still_capturing(near_sender, v, rst.ts_ns):
                evidence.append(rst_evidence(v, rst, f"RST \"from the {sender}\" (TTL {rst.ttl}) seen at the "
                                                     f"{v.vantage or 'first'} vantage point"))
                evidence.append(Evidence(near_sender.capture, f"the {sender}'s own capture shows it sent no RST on "
                                         "this connection", display_filter=f"tcp.stream == "
                                         f"{near_sender.record.tcp_stream} && tcp.flags.reset == 1"))
                return _match(conv, Confidence.CERTAIN, evidence)
            why = unlike_the_sender(rec, rst)
            if why is not None:
                evidence.append(rst_evidence(v, rst, f"RST \"from the {sender}\" with {why}"))
                peer_lines = [ln for ln in ctx.error_log if PEER_RESET in ln.text and ln.client_address in
                              (rec.client.ip, str(rec.client))]
                for ln in peer_lines[:1]:
                    evidence.append(Evidence(ln.source, ln.text, line=ln.line))
                note = () if peer_lines else (
                    "A capture at the server (or its error log) would settle it: an injected reset is not in the "
                    "server's capture, and the server sees the client reset instead. A balancer node that got "
                    "part of a split flow without its state resets the same way (flow_split): a capture at the "
                    "switch would show the flow arriving from several MAC addresses.",)
                return _match(conv, Confidence.CERTAIN if peer_lines else Confidence.LIKELY, evidence, note)
    # One capture, same TTL, but the server says the client reset: each end saw the other reset.
    rec = conv.record
    rst = first_packet(rec, from_client=False, flags="R")
    if rst is not None and "client_hello" in rec.frames:
        peer_lines = [ln for ln in ctx.error_log if PEER_RESET in ln.text and ln.client_address in
                      (rec.client.ip, str(rec.client))]
        if peer_lines:
            v = conv.primary
            evidence = [rst_evidence(v, rst, f"RST \"from the server\" (TTL {rst.ttl}) right after the ClientHello"),
                        Evidence(peer_lines[0].source, peer_lines[0].text, line=peer_lines[0].line)]
            return _match(conv, Confidence.LIKELY, evidence, (
                "The server logged that the client reset the connection while the client saw the server reset it: "
                "each end saw the other reset, the signature of a box resetting both.",))
    return None


def _match(conv: Conversation, confidence: Confidence, evidence: list[Evidence],
           notes: tuple[str, ...] = ()) -> Match:
    v = conv.primary
    ch = client_hello_evidence(v)
    if ch is not None:
        evidence.insert(0, ch)
    sni = conv.record.sni or "(no SNI)"
    return Match(CAUSE, confidence, "RST forged by the path after the ClientHello", tuple(evidence),
                 key=sni, notes=notes)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    servers = servers_of(matches)
    names = names_of(matches)
    by_name = f" whose SNI is {listing(names)}" if names else ""
    return assemble(
        matches, title=f"Resets forged on the path to {listing(servers)}",
        explanation=(f"{len(matches)} handshake(s){by_name} were reset by something between the client and "
                     f"{listing(servers)}: the resets carry the server's (or client's) address but not its "
                     "packets' TTL/IP-ID, or that end's own capture shows it never sent them. Filtering boxes "
                     "reset handshakes by the name in the ClientHello's SNI."),
        fix=("Find the box: compare a handshake with this SNI and one without SNI (curl -k https://IP/) from the "
             "same client; traceroute -T -p 443 to locate it. If it is a regulatory filter (e.g. an unregistered "
             "domain: ICP filing in mainland China), register the domain or serve from outside the filtered "
             "path; if it is your own firewall/IPS, fix its TLS/SNI policy."))
