"""Micro-benchmark of the TLS parser on real handshake bytes (µs per operation).

The bytes come from Python's ssl (OpenSSL) talking to itself over MemoryBIOs, with the harness of
``tests/unit/test_tls_handshakes.py``:

* ``parse_client_hello``: the body of an OpenSSL TLS 1.3 ClientHello (SNI, ALPN h2 + http/1.1),
  as for a client seen before, then with the cache of decoded extensions emptied before each call;
* ``feed(ClientHello record)``: a fresh ``TLSDirectionParser(True)`` fed that whole record;
* ``feed(TLS 1.2 server flight)``: ServerHello, Certificate, ServerKeyExchange, ServerHelloDone
  in one feed to a fresh server parser (the certificate facts are cached after the first run);
* the same with the RSA certificate of ``tls12_rsa_no_sni``;
* ``feed(TLS 1.3 server flight)``: ServerHello, ChangeCipherSpec and the encrypted records;
* ``ja4(client_hello)``.

Run: ``python bench/micro_tls.py`` (``--repeat N`` for more rounds). Each figure is the best of
the rounds, each round timing enough calls to last about 0.2 s.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "unit"))

from test_tls_handshakes import transcript

from tlsdoctor.tls import messages
from tlsdoctor.tls.ja4 import ja4
from tlsdoctor.tls.messages import ClientHello, parse_client_hello
from tlsdoctor.tls.stream import TLSDirectionParser


def _first_record(data: bytes) -> bytes:
    return data[:5 + int.from_bytes(data[3:5], "big")]


def _time(fn: Callable[[], object], repeat: int) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, number)
    return min(timer.repeat(repeat, number)) / number * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    ch_record = _first_record(transcript("tls13_sni_alpn").side(True)[0])
    ch_body = ch_record[9:]
    tls12_flight = transcript("tls12_sni").side(False)[0]
    tls12_rsa_flight = transcript("tls12_rsa_no_sni").side(False)[0]
    tls13_flight = transcript("tls13_sni_alpn").side(False)[0]
    hello = parse_client_hello(ch_body)
    assert isinstance(hello, ClientHello)
    TLSDirectionParser(False).feed(tls12_flight, 1, 0)  # warm the certificate cache
    TLSDirectionParser(False).feed(tls12_rsa_flight, 1, 0)

    caches: tuple[dict[bytes, object], ...] = getattr(messages, "_FIELD_CACHES", ())  # absent in older versions

    def cold_hello() -> object:
        for cache in caches:
            cache.clear()  # a client never seen before: no decoded extension is cached
        return parse_client_hello(ch_body)

    cases: list[tuple[str, Callable[[], object]]] = [
        (f"parse_client_hello ({len(ch_body)} B body)", lambda: parse_client_hello(ch_body)),
        ("parse_client_hello, extension cache cold", cold_hello),
        (f"feed(ClientHello record, {len(ch_record)} B)", lambda: TLSDirectionParser(True).feed(ch_record, 1, 0)),
        (f"feed(TLS 1.2 server flight, {len(tls12_flight)} B)",
         lambda: TLSDirectionParser(False).feed(tls12_flight, 1, 0)),
        (f"feed(TLS 1.2 RSA server flight, {len(tls12_rsa_flight)} B)",
         lambda: TLSDirectionParser(False).feed(tls12_rsa_flight, 1, 0)),
        (f"feed(TLS 1.3 server flight, {len(tls13_flight)} B)",
         lambda: TLSDirectionParser(False).feed(tls13_flight, 1, 0)),
        ("ja4(client_hello)", lambda: ja4(hello)),
    ]
    for name, fn in cases:
        print(f"{name:44s} {_time(fn, args.repeat):8.2f} µs")


if __name__ == "__main__":
    main()
