"""The probe matrix and its runner: which ClientHellos go to which addresses, concurrently, under a deadline.

Theory of operation. ``MATRIX`` names each probe and the offer it sends (what an expert does with
``openssl s_client`` by hand: with and without ``-servername``, a wrong name, ``-tls1`` ... ``-tls1_3``,
and a large ClientHello). ``run_probe`` resolves the host (every A and AAAA record, or ``--connect``),
runs every probe against every address plus one full handshake per address in a bounded thread pool,
all under one deadline (``timeout``), then hands the outcomes to ``verdict.judge``, which is pure.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from tlsdoctor.probe import clienthello as ch
from tlsdoctor.probe.certs import full_handshake
from tlsdoctor.probe.model import AddressReport, HandshakeReport, Outcome, OutcomeKind, ProbeReport, ProbeResult
from tlsdoctor.probe.verdict import judge
from tlsdoctor.probe.wire import exchange

WRONG_SNI: Final = "wrong-name.tlsdoctor.invalid"
"""A name no server is configured for (.invalid is reserved, RFC 6761 section 6.4)."""

MAX_ADDRESSES: Final = 8
"""Addresses probed per host; the rest are listed as an anomaly."""

MAX_WORKERS: Final = 32
"""Probes in flight at once (threads; each is one socket)."""

DEADLINE_SHARE: Final = 0.9
"""Probes must finish within this share of ``timeout``; the rest is for the verdict and the output."""


@dataclass(frozen=True, slots=True)
class ProbeDefinition:
    name: str
    description: str
    uses_sni: bool
    """Sends the target's name (or the wrong name for ``wrong_sni``); skipped when there is no name."""
    spec: Callable[[str | None], ch.ClientHelloSpec]


def _modern(sni: str | None) -> ch.ClientHelloSpec:
    return ch.ClientHelloSpec(server_name=sni)


def _only(version: int) -> Callable[[str | None], ch.ClientHelloSpec]:
    def spec(sni: str | None) -> ch.ClientHelloSpec:
        if version == ch.TLS13:
            return ch.ClientHelloSpec(versions=(ch.TLS13,), server_name=sni, cipher_suites=ch.SUITES_TLS13)
        suites = ch.SUITES_LEGACY if version < ch.TLS12 else ch.SUITES_ECDSA_TLS12 + ch.SUITES_RSA_TLS12
        return ch.ClientHelloSpec(versions=(version,), server_name=sni,
                                  cipher_suites=(*suites, ch.RENEGOTIATION_SCSV))
    return spec


MATRIX: Final[tuple[ProbeDefinition, ...]] = (
    ProbeDefinition("sni", "TLS 1.3+1.2 offer with SNI", True, _modern),
    ProbeDefinition("no_sni", "the same offer without SNI", False, lambda _sni: _modern(None)),
    ProbeDefinition("wrong_sni", f"the same offer with SNI {WRONG_SNI}", False, lambda _sni: _modern(WRONG_SNI)),
    ProbeDefinition("tls1.0", "TLS 1.0 only", True, _only(ch.TLS10)),
    ProbeDefinition("tls1.1", "TLS 1.1 only", True, _only(ch.TLS11)),
    ProbeDefinition("tls1.2", "TLS 1.2 only", True, _only(ch.TLS12)),
    ProbeDefinition("tls1.3", "TLS 1.3 only", True, _only(ch.TLS13)),
    ProbeDefinition("large", f"TLS 1.3+1.2 offer padded to {ch.LARGE_CLIENT_HELLO} bytes (post-quantum size)", True,
                    lambda sni: ch.ClientHelloSpec(server_name=sni, pad_to=ch.LARGE_CLIENT_HELLO)),
    ProbeDefinition("ecdsa_only", "TLS 1.2, ECDSA-authenticated suites only", True,
                    lambda sni: ch.ClientHelloSpec(versions=(ch.TLS12,), server_name=sni,
                                                   cipher_suites=(*ch.SUITES_ECDSA_TLS12, ch.RENEGOTIATION_SCSV),
                                                   signature_algorithms=ch.SIGALGS_ECDSA)),
    ProbeDefinition("rsa_only", "TLS 1.2, RSA-authenticated suites only", True,
                    lambda sni: ch.ClientHelloSpec(versions=(ch.TLS12,), server_name=sni,
                                                   cipher_suites=(*ch.SUITES_RSA_TLS12, ch.RENEGOTIATION_SCSV),
                                                   signature_algorithms=ch.SIGALGS_RSA)),
)


class ResolutionError(Exception):
    """The host name does not resolve; the message is a sentence for the user."""


def parse_target(target: str, default_port: int = 443) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 literal -> (host, port)."""
    text = target.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, ""
    if not host:
        raise ValueError(f"no host in {target!r}")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"bad port {port!r} in {target!r}")
    return host, int(port) if port else default_port


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def resolve(host: str, port: int) -> list[str]:
    """Every A and AAAA address of ``host`` in the resolver's order, without duplicates."""
    if is_ip(host):
        return [host]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else str(exc)
        raise ResolutionError(f"the name {host} does not resolve ({reason}); "
                              f"give an address with --connect IP to probe without DNS") from None
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        addr = str(sockaddr[0])
        if addr not in seen:
            seen.append(addr)
    return seen


def run_probe(host: str, port: int, *, connect: str | None = None, sni: str | None = None, timeout: float = 10.0,
              ca_bundle: str | None = None, now: dt.datetime | None = None,
              matrix: tuple[ProbeDefinition, ...] = MATRIX) -> ProbeReport:
    """Probe ``host`` (every address, or ``connect``), judge the outcomes, return the report.

    Raises ``ResolutionError`` when the name does not resolve; every behaviour of the peer or the
    network is an outcome in the report.
    """
    started = time.monotonic()
    deadline = started + timeout * DEADLINE_SHARE
    anomalies: list[str] = []
    addresses = [connect] if connect else resolve(host, port)
    if len(addresses) > MAX_ADDRESSES:
        anomalies.append(f"{len(addresses)} addresses: only the first {MAX_ADDRESSES} were probed")
        addresses = addresses[:MAX_ADDRESSES]
    sni_name = sni if sni is not None else (None if is_ip(host) else host)
    name_for_check = sni_name or host
    planned = [(addr, d) for addr in addresses for d in matrix if sni_name is not None or not d.uses_sni]
    workers = max(1, min(MAX_WORKERS, len(planned) + len(addresses)))
    results: dict[tuple[str, str], ProbeResult] = {}
    handshakes: dict[str, HandshakeReport] = {}
    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tlsdoctor-probe") as pool:
        futures: dict[cf.Future[Any], tuple[str, str]] = {}
        for addr in addresses:
            hs = pool.submit(full_handshake, addr, port, sni_name, name_for_check, deadline, ca_bundle, now)
            futures[hs] = (addr, "")
        for addr, d in planned:
            futures[pool.submit(_one, d, addr, port, sni_name, deadline)] = (addr, d.name)
        done, late = cf.wait(futures, timeout=max(0.0, deadline - time.monotonic()) + 2.0)
        for fut in late:
            fut.cancel()
        for fut, (addr, name) in futures.items():
            if fut not in done:
                anomalies.append(f"{name or 'handshake'} to {addr} did not finish by the deadline")
                continue
            value = fut.result()  # an exception here is our bug: the CLI reports it as such
            if isinstance(value, HandshakeReport):
                handshakes[addr] = value
            elif isinstance(value, ProbeResult):
                results[(addr, name)] = value
    reports = []
    for addr in addresses:
        rows = tuple(results[(addr, d.name)] for d in matrix if (addr, d.name) in results)
        skipped = sum(1 for r in rows if r.outcome.kind == OutcomeKind.SKIPPED)
        if skipped:
            anomalies.append(f"{skipped} probe(s) to {addr} started after the deadline and were skipped")
        reports.append(AddressReport(addr, rows, handshakes.get(addr)))
    findings, notes = judge(host, port, sni_name, WRONG_SNI, reports)
    if sni_name is None:
        notes = (f"{host} is an address and no --sni was given: the probes with SNI were not run", *notes)
    return ProbeReport(host=host, port=port, sni=sni_name, addresses=tuple(reports), findings=findings, notes=notes,
                       anomalies=tuple(anomalies), duration_ms=round((time.monotonic() - started) * 1000, 1),
                       timeout_s=timeout, wrong_sni=WRONG_SNI)


def _one(d: ProbeDefinition, address: str, port: int, sni_name: str | None, deadline: float) -> ProbeResult:
    spec = d.spec(sni_name)
    hello = ch.build(spec)
    if time.monotonic() >= deadline:
        outcome = Outcome(OutcomeKind.SKIPPED, error="the overall deadline had passed")
    else:
        outcome = exchange(address, port, hello, deadline)
    return ProbeResult(d.name, d.description, address, port, spec.server_name, len(hello), outcome)
