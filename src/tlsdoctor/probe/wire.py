"""The probe's only socket code: connect, write one ClientHello, read the answer under caps.

Everything a hostile or broken server could make unbounded is capped here: time (the probe's
deadline covers connect, write and read), bytes (``READ_CAP``: an endless ServerHello or a 100 MB
certificate is cut off), and the size of each read. A cap hit is an outcome (``CAP_EXCEEDED``,
``STALLED``), reported like any other behaviour of the peer.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Final

from tlsdoctor.probe.answer import AnswerKind, NeedMore, read_answer
from tlsdoctor.probe.model import Outcome, OutcomeKind, outcome_from_answer

READ_CAP: Final = 256 * 1024
"""Bytes read from one probe connection before it is cut off (a ServerHello fits many times over)."""

NOT_TLS_GRACE: Final = 0.2
"""Seconds spent reading a little more of a non-TLS answer, for a readable preview."""

NOT_TLS_PREVIEW: Final = 256


def _ms(since: float) -> float:
    return round((time.monotonic() - since) * 1000, 1)


def endpoint(sockaddr: tuple[str, int] | tuple[str, int, int, int]) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_reset(exc: OSError) -> bool:
    return isinstance(exc, ConnectionResetError) or exc.errno in (errno.ECONNRESET, errno.EPIPE)


def exchange(address: str, port: int, hello: bytes, deadline: float, read_cap: int = READ_CAP) -> Outcome:
    """Connect to ``address`` (an IP literal), send ``hello``, and classify what comes back.

    ``deadline`` is a ``time.monotonic()`` instant; nothing here outlives it by more than one
    scheduler tick.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        return _exchange(sock, address, port, hello, deadline, read_cap)
    finally:
        sock.close()


def _exchange(sock: socket.socket, address: str, port: int, hello: bytes, deadline: float,
              read_cap: int) -> Outcome:
    started = time.monotonic()
    sock.settimeout(max(0.001, deadline - started))
    try:
        sock.connect((address, port))
    except ConnectionRefusedError:
        return Outcome(OutcomeKind.CONNECT_REFUSED, elapsed_ms=_ms(started))
    except TimeoutError:
        return Outcome(OutcomeKind.CONNECT_TIMEOUT, elapsed_ms=_ms(started))
    except OSError as exc:
        return Outcome(OutcomeKind.CONNECT_ERROR, elapsed_ms=_ms(started), error=exc.strerror or str(exc))
    connect_ms = _ms(started)
    local = endpoint(sock.getsockname())
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.sendall(hello)
    except TimeoutError:
        return Outcome(OutcomeKind.STALLED, connect_ms=connect_ms, elapsed_ms=_ms(started), local=local,
                       error="the ClientHello could not be written before the deadline")
    except OSError as exc:
        kind = OutcomeKind.RESET if _is_reset(exc) else OutcomeKind.CLOSED
        return Outcome(kind, connect_ms=connect_ms, elapsed_ms=0.0, local=local, error=exc.strerror or str(exc))
    sent = time.monotonic()
    buf = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            kind = OutcomeKind.STALLED if buf else OutcomeKind.SILENCE
            return Outcome(kind, connect_ms=connect_ms, elapsed_ms=_ms(sent), bytes_received=len(buf), local=local)
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(65536, read_cap + 1 - len(buf)))
        except TimeoutError:
            continue
        except OSError as exc:
            # A network error after the connect (an ICMP unreachable, a keepalive timeout) is the
            # path's behaviour, reported with its errno text, not our bug.
            kind = OutcomeKind.RESET if _is_reset(exc) else OutcomeKind.CLOSED
            return Outcome(kind, connect_ms=connect_ms, elapsed_ms=_ms(sent), bytes_received=len(buf),
                           local=local, error=None if kind == OutcomeKind.RESET else (exc.strerror or str(exc)))
        if not chunk:
            return Outcome(OutcomeKind.CLOSED, connect_ms=connect_ms, elapsed_ms=_ms(sent),
                           bytes_received=len(buf), local=local)
        buf += chunk
        result = read_answer(bytes(buf))
        if isinstance(result, NeedMore):
            if len(buf) > read_cap:
                return Outcome(OutcomeKind.CAP_EXCEEDED, connect_ms=connect_ms, elapsed_ms=_ms(sent),
                               bytes_received=len(buf), local=local)
            continue
        elapsed = _ms(sent)
        if result.kind == AnswerKind.NOT_TLS:
            buf += _read_a_little_more(sock, min(deadline, time.monotonic() + NOT_TLS_GRACE),
                                       NOT_TLS_PREVIEW - len(buf))
            result = read_answer(bytes(buf))
            assert not isinstance(result, NeedMore)  # a non-TLS prefix stays non-TLS
        return outcome_from_answer(result, connect_ms=connect_ms, elapsed_ms=elapsed,
                                   bytes_received=len(buf), local=local)


def _read_a_little_more(sock: socket.socket, until: float, limit: int) -> bytes:
    more = bytearray()
    while limit - len(more) > 0:
        remaining = until - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(limit - len(more))
        except OSError:
            break
        if not chunk:
            break
        more += chunk
    return bytes(more)
