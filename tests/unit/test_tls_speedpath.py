"""The fast paths of the TLS parser against the general ones they shortcut.

``messages.parse_client_hello`` (and the ServerHello, Certificate and ServerKeyExchange parsers)
read the well-formed case with local offsets and hand anything irregular to the ``_..._reference``
decoder. These tests hold them to the reference on real OpenSSL hellos mutated where it matters
(every length field, truncations, insertions) and on synthesized hellos carrying every extension
the parser decodes, well formed or not: same value, same decode_errors, same ProtocolError.

``TLSDirectionParser`` reads whole records of an unbuffered feed without its buffer; with
``_fast_path = False`` every feed takes the general path. Both must give the same events, with the
same frames, and end in the same state, however the bytes are cut and however they are damaged.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_tls_handshakes import SCENARIOS, transcript

from tlsdoctor.build import compiled_modules
from tlsdoctor.tls import messages
from tlsdoctor.tls.events import HandshakeEvent, TLSEvent
from tlsdoctor.tls.messages import (
    CertificateMessage,
    ClientHello,
    ServerHello,
    _parse_certificate_reference,
    _parse_client_hello_reference,
    _parse_server_hello_reference,
    _parse_server_key_exchange_reference,
    parse_certificate,
    parse_client_hello,
    parse_server_hello,
    parse_server_key_exchange,
)
from tlsdoctor.tls.registry import CIPHER_SUITES, ExtensionType
from tlsdoctor.tls.stream import TLSDirectionParser

# --- real messages ---------------------------------------------------------------------------------


def _handshake_messages(data: bytes) -> list[tuple[int, bytes]]:
    """(msg_type, body) of the plaintext handshake messages at the start of one direction's bytes."""
    hs = bytearray()
    p = 0
    while p + 5 <= len(data) and data[p] in (20, 22):
        length = int.from_bytes(data[p + 3:p + 5], "big")
        if data[p] == 22:
            hs += data[p + 5:p + 5 + length]
        else:
            break  # after a ChangeCipherSpec the rest is encrypted (or TLS 1.3 ciphertext)
        p += 5 + length
    out = []
    q = 0
    while q + 4 <= len(hs):
        length = int.from_bytes(hs[q + 1:q + 4], "big")
        if q + 4 + length > len(hs):
            break
        out.append((hs[q], bytes(hs[q + 4:q + 4 + length])))
        q += 4 + length
    return out


def _bodies(msg_type: int) -> list[bytes]:
    found: list[bytes] = []
    for name in SCENARIOS:
        for from_client in (True, False):
            for segment in transcript(name).side(from_client):
                for t, body in _handshake_messages(segment):
                    if t == msg_type and body not in found:
                        found.append(body)
    assert found, msg_type
    return found


def _length_offsets(body: bytes, client: bool) -> list[int]:
    """Offsets of the length and type fields of a hello body (where a mutation changes the parse)."""
    offsets = [0, 1, 34]
    p = 35 + body[34]
    if client:
        offsets += [p, p + 1]
        p += 2 + int.from_bytes(body[p:p + 2], "big")
        offsets.append(p)
        p += 1 + body[p]
    else:
        offsets += [p, p + 1, p + 2]
        p += 3
    offsets += [p, p + 1]
    p += 2
    while p + 4 <= len(body):
        offsets += range(p, min(p + 8, len(body)))  # type, length, and the first inner lengths
        p += 4 + int.from_bytes(body[p + 2:p + 4], "big")
    return [o for o in offsets if o < len(body)]


@st.composite
def _mutated(draw: st.DrawFn, bodies: list[bytes], client: bool) -> bytes:
    body = bytearray(draw(st.sampled_from(bodies)))
    offsets = _length_offsets(bytes(body), client)
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.sampled_from(offsets)) if draw(st.booleans()) else draw(st.integers(0, len(body) - 1))
        old = body[pos]
        body[pos] = draw(st.sampled_from([0, 1, 0xFF, (old + 1) & 0xFF, (old - 1) & 0xFF, old ^ 0x80]
                                         ) | st.integers(0, 255))
    action = draw(st.sampled_from(["none", "cut", "delete", "insert", "append"]))
    if action == "cut":
        del body[draw(st.integers(0, len(body))):]
    elif action == "delete":
        at = draw(st.integers(0, len(body)))
        del body[at:at + draw(st.integers(1, 8))]
    elif action == "insert":
        at = draw(st.integers(0, len(body)))
        body[at:at] = draw(st.binary(min_size=1, max_size=8))
    elif action == "append":
        body += draw(st.binary(min_size=1, max_size=8))
    return bytes(body)


# --- synthesized hellos ------------------------------------------------------------------------------

def _vec(n: int, data: bytes) -> bytes:
    return len(data).to_bytes(n, "big") + data


def _u16s(values: list[int]) -> bytes:
    return b"".join(v.to_bytes(2, "big") for v in values)


_u16 = st.integers(0, 0xFFFF)
_small = st.binary(max_size=12)
_names = st.binary(max_size=12) | st.sampled_from([b"localhost", b"h2", b"http/1.1", "é".encode(), b"\xff\x00"])


@st.composite
def _extension_data(draw: st.DrawFn, etype: int) -> bytes:
    """Well-formed extension_data for the types the parser decodes; a few random bytes for others."""
    e = ExtensionType
    if etype == e.SERVER_NAME:
        entries = draw(st.lists(st.tuples(st.sampled_from([0, 0, 1]), _names), max_size=3))
        return _vec(2, b"".join(bytes([t]) + _vec(2, n) for t, n in entries))
    if etype in (e.SUPPORTED_VERSIONS, e.COMPRESS_CERTIFICATE):
        return _vec(1, _u16s(draw(st.lists(_u16 | st.sampled_from([0x0304, 0x0303, 0x0A0A]), max_size=6))))
    if etype in (e.SUPPORTED_GROUPS, e.SIGNATURE_ALGORITHMS, e.SIGNATURE_ALGORITHMS_CERT):
        return _vec(2, _u16s(draw(st.lists(_u16, max_size=140))))
    if etype == e.KEY_SHARE:
        shares = draw(st.lists(st.tuples(_u16, _small), max_size=3))
        return _vec(2, b"".join(g.to_bytes(2, "big") + _vec(2, k) for g, k in shares))
    if etype == e.APPLICATION_LAYER_PROTOCOL_NEGOTIATION:
        return _vec(2, b"".join(_vec(1, n) for n in draw(st.lists(_names, max_size=3))))
    if etype in (e.EC_POINT_FORMATS, e.PSK_KEY_EXCHANGE_MODES):
        return _vec(1, draw(_small))
    if etype == e.PRE_SHARED_KEY:
        ids = draw(st.lists(st.tuples(_small, st.binary(min_size=4, max_size=4)), max_size=3))
        return _vec(2, b"".join(_vec(2, i) + age for i, age in ids)) + _vec(2, draw(_small))
    if etype == e.RECORD_SIZE_LIMIT:
        return draw(_u16).to_bytes(2, "big")
    if etype == e.PADDING:
        return bytes(draw(st.integers(0, 300)))
    return draw(_small)


_DECODED_TYPES = [int(t) for t in messages._CH_DECODERS]
_ext_types = st.sampled_from(_DECODED_TYPES) | st.sampled_from([0x0A0A, 0x0017, 0x0016, 0xFF01, 0x1234])


@st.composite
def _extensions(draw: st.DrawFn, types: st.SearchStrategy[int] = _ext_types) -> bytes:
    out = b""
    for etype in draw(st.lists(types, max_size=14)):
        data = draw(_extension_data(etype))
        damage = draw(st.sampled_from(["none"] * 6 + ["random", "cut", "extend", "flip"]))
        if damage == "random":
            data = draw(_small)
        elif damage == "cut" and data:
            data = data[:draw(st.integers(0, len(data) - 1))]
        elif damage == "extend":
            data += draw(st.binary(min_size=1, max_size=3))
        elif damage == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
        out += etype.to_bytes(2, "big") + _vec(2, data)
    return out


@st.composite
def _synthetic_client_hello(draw: st.DrawFn) -> bytes:
    body = (draw(st.sampled_from([0x0303, 0x0301, 0x0304])).to_bytes(2, "big") + bytes(range(32))
            + _vec(1, draw(st.binary(max_size=33)))
            + _vec(2, _u16s(draw(st.lists(_u16, max_size=140))))
            + _vec(1, draw(st.binary(max_size=3))))
    if draw(st.integers(0, 9)):
        body += _vec(2, draw(_extensions()))
    return body


@st.composite
def _synthetic_server_hello(draw: st.DrawFn) -> bytes:
    random = draw(st.sampled_from([bytes(range(32)), messages.HELLO_RETRY_REQUEST_RANDOM,
                                   bytes(24) + messages.DOWNGRADE_TLS12, bytes(24) + messages.DOWNGRADE_TLS11]))
    body = (b"\x03\x03" + random + _vec(1, draw(st.binary(max_size=33))) + draw(_u16).to_bytes(2, "big")
            + bytes([draw(st.integers(0, 1))]))
    if draw(st.integers(0, 9)):
        types = st.sampled_from([43, 51, 16, 44, 0, 0x0A0A])
        exts = b""
        for etype in draw(st.lists(types, max_size=5)):
            if etype == 43 or (etype == 51 and draw(st.booleans())):
                data = draw(_u16).to_bytes(2, "big")
            elif etype == 51:
                data = draw(_u16).to_bytes(2, "big") + _vec(2, draw(_small))
            elif etype == 16:
                data = _vec(2, _vec(1, draw(_names)))
            else:
                data = draw(_small)
            if draw(st.integers(0, 5)) == 0:
                data = draw(_small)
            exts += etype.to_bytes(2, "big") + _vec(2, data)
        body += _vec(2, exts)
    return body


# --- the message parsers: fast path == reference ---------------------------------------------------------

def _same_client_hello(body: bytes) -> None:
    reference = _parse_client_hello_reference(body)
    assert parse_client_hello(body) == reference
    assert parse_client_hello(body) == reference  # again, with its extensions now in the field cache


@settings(max_examples=600, deadline=None)
@given(_mutated(_bodies(1), client=True))
def test_mutated_client_hellos_match_the_reference(body: bytes) -> None:
    _same_client_hello(body)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_synthetic_client_hello())
def test_synthetic_client_hellos_match_the_reference(body: bytes) -> None:
    _same_client_hello(body)


def test_real_client_hellos_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(body: bytes) -> object:
        raise AssertionError("the reference decoder was used")

    expected = {body: _parse_client_hello_reference(body) for body in _bodies(1)}
    monkeypatch.setattr(messages, "_parse_client_hello_reference", fail)
    for body, reference in expected.items():
        assert parse_client_hello(body) == reference


def test_the_field_caches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messages, "FIELD_CACHE_SIZE", 1)
    caches = (*messages._FIELD_CACHES, messages._UNDECODED)
    for cache in caches:
        cache.clear()
    for body in _bodies(1) * 2:
        assert parse_client_hello(body) == _parse_client_hello_reference(body)
        assert all(len(cache) <= 1 for cache in caches)
    assert any(messages._FIELD_CACHES)
    assert messages._UNDECODED  # OpenSSL sends extended_master_secret, which no decoder reads


def test_an_undecoded_extension_is_kept_by_its_type_too() -> None:
    # Two hellos whose only difference is the type of one undecoded extension with the same bytes:
    # the cache of undecoded extensions is keyed by type and length as well as data.
    messages._UNDECODED.clear()
    body = _bodies(1)[0]
    first = parse_client_hello(body)
    assert isinstance(first, messages.ClientHello)
    ems = next(e for e in first.extensions if e.type == 23)  # extended_master_secret: empty, undecoded
    at = body.index(b"\x00\x17\x00\x00")
    other = body[:at] + b"\x00\x16\x00\x00" + body[at + 4:]  # the same empty data as encrypt_then_mac
    second = parse_client_hello(other)
    assert second == _parse_client_hello_reference(other)
    assert isinstance(second, messages.ClientHello)
    assert [e.type for e in second.extensions].count(22) == [e.type for e in first.extensions].count(22) + 1
    assert ems in first.extensions and ems not in second.extensions


def test_a_bytearray_body_is_decoded_as_before_or_refused_when_compiled() -> None:
    # The parsers take bytes (mypy's strict_bytes holds every caller to it). Plain Python still decodes
    # a bytearray, by the reference decoder (it would make unhashable cache keys); compiled by mypyc
    # (setup.py), the call itself refuses it.
    body = bytearray(_bodies(1)[0])
    if "tlsdoctor.tls.messages" in compiled_modules():
        with pytest.raises(TypeError, match="bytes object expected"):
            parse_client_hello(body)  # type: ignore[arg-type]
    else:
        assert parse_client_hello(body) == _parse_client_hello_reference(body)  # type: ignore[arg-type]


def test_decoded_extensions_match_the_registry() -> None:
    reference_fields = {"server_names", "supported_versions", "supported_groups", "key_shares",
                        "signature_algorithms", "signature_algorithms_cert", "alpn", "ec_point_formats",
                        "psk_key_exchange_modes", "ech_present", "padding_length", "psk_present", "early_data",
                        "session_ticket_length", "status_request", "record_size_limit",
                        "compress_certificate_algorithms", "cookie_present"}
    assert {int(t) for t in messages._CH_DECODERS} <= {int(t) for t in ExtensionType}
    assert len(messages._CH_DECODERS) == len(reference_fields)
    assert reference_fields <= {f.name for f in dataclasses.fields(ClientHello)}


def test_built_hellos_are_ordinary_frozen_instances() -> None:
    ch = parse_client_hello(_bodies(1)[0])
    assert type(ch) is ClientHello and ch == _parse_client_hello_reference(_bodies(1)[0])
    assert hash(ch) == hash(_parse_client_hello_reference(_bodies(1)[0]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ch.random = b""  # type: ignore[misc]
    sh = parse_server_hello(_bodies(2)[0])
    assert type(sh) is ServerHello and dataclasses.replace(sh, cipher_suite=1).cipher_suite == 1


@settings(max_examples=400, deadline=None)
@given(_mutated(_bodies(2), client=False) | _synthetic_server_hello())
def test_server_hellos_match_the_reference(body: bytes) -> None:
    assert parse_server_hello(body) == _parse_server_hello_reference(body)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_bodies(11)), st.lists(st.tuples(st.integers(0, 12), st.integers(0, 255)), max_size=3),
       st.integers(0, 2000), st.booleans())
def test_certificates_match_the_reference(body: bytes, changes: list[tuple[int, int]], cut: int,
                                          tls13: bool) -> None:
    b = bytearray(body)
    for pos, value in changes:  # the outer and first inner length fields
        if pos < len(b):
            b[pos] = value
    data = bytes(b[:cut]) if cut < len(b) else bytes(b)
    result = parse_certificate(data, tls13)
    assert result == _parse_certificate_reference(data, tls13)
    if isinstance(result, CertificateMessage) and not tls13:
        assert len(result.certificates) <= messages.MAX_CERTIFICATES


def test_certificate_count_cap() -> None:
    cert = _bodies(11)[0]
    der = cert[6:6 + int.from_bytes(cert[3:6], "big")]
    entries = b"".join(_vec(3, der) for _ in range(messages.MAX_CERTIFICATES + 3))
    result = parse_certificate(_vec(3, entries))
    assert result == _parse_certificate_reference(_vec(3, entries))
    assert isinstance(result, CertificateMessage) and result.certificates_omitted == 3


_SKE_SUITES = [None, 0xC02B, 0xC02F, 0xC035, 0x009E, 0xC018, 0x00A6, 0xC0A8, 0xC01D, 0x1234, 0x0035]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_bodies(12)) | st.binary(max_size=80), st.sampled_from(_SKE_SUITES),
       st.sampled_from([None, 0x0301, 0x0303, 0x0304]), st.lists(st.tuples(st.integers(0, 6), st.integers(0, 255)),
                                                                  max_size=3), st.integers(0, 200))
def test_server_key_exchanges_match_the_reference(body: bytes, suite: int | None, version: int | None,
                                                  changes: list[tuple[int, int]], cut: int) -> None:
    assert suite is None or suite == 0x1234 or suite in CIPHER_SUITES
    b = bytearray(body[:cut])
    for pos, value in changes:
        if pos < len(b):
            b[pos] = value
    assert parse_server_key_exchange(bytes(b), suite, version) == _parse_server_key_exchange_reference(
        bytes(b), suite, version)


# --- the stream: fast path == general path ---------------------------------------------------------------

def _run(chunks: list[bytes], from_client: bool, fast: bool,
         **kwargs: int) -> tuple[list[TLSEvent], tuple[object, ...]]:
    parser = TLSDirectionParser(from_client, **kwargs)
    parser._fast_path = fast
    events: list[TLSEvent] = []
    for frame, chunk in enumerate(chunks, start=1):
        events += parser.feed(chunk, frame, frame * 1000)
    state = (parser.state, parser.stop_reason, parser.bytes_seen, parser.records_seen, parser.events_emitted,
             parser.anomalies_seen, parser.change_cipher_spec_seen, parser._offered_tls13, parser._version,
             parser._cipher_suite, bytes(parser._buf[parser._pos:]), bytes(parser._hs),
             None if parser.stopped else parser._base + parser._pos)  # the stream offset means nothing once stopped
    return events, state


def _same_both_ways(chunks: list[bytes], from_client: bool, **kwargs: int) -> list[TLSEvent]:
    fast = _run(chunks, from_client, True, **kwargs)
    assert fast == _run(chunks, from_client, False, **kwargs)
    return fast[0]


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(data))), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


DIRECTIONS = [(name, fc) for name in SCENARIOS for fc in (True, False)]


@pytest.mark.parametrize(("name", "from_client"), DIRECTIONS)
def test_real_directions_by_segment_whole_and_byte_by_byte(name: str, from_client: bool) -> None:
    t = transcript(name)
    events = _same_both_ways(t.side(from_client), from_client)
    assert any(isinstance(ev, HandshakeEvent) for ev in events) or name == "version_mismatch"
    data = t.bytes_of(from_client)
    _same_both_ways([data], from_client)
    _same_both_ways(_cut(data, list(range(0, len(data), 7))), from_client)
    _same_both_ways(t.side(from_client), from_client, max_record_events=3)
    _same_both_ways(t.side(from_client), from_client, max_handshake_bytes=100)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=st.sampled_from(DIRECTIONS), cuts=st.lists(st.integers(1, 6000), max_size=20),
       changes=st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 255)), max_size=4))
def test_cut_and_damaged_directions(scenario: tuple[str, bool], cuts: list[int],
                                    changes: list[tuple[int, int]]) -> None:
    name, from_client = scenario
    data = bytearray(transcript(name).bytes_of(from_client))
    for pos, value in changes:
        if pos < len(data):
            data[pos] = value
    _same_both_ways(_cut(bytes(data), cuts), from_client)


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from([b"\x16\x03\x01", b"\x16\x03\x03", b"\x15\x03\x03", b"\x17\x03\x03", b"\x80",
                               b"\x14\x03\x03\x00\x01"]),
       data=st.binary(max_size=600), from_client=st.booleans(), cuts=st.lists(st.integers(1, 600), max_size=4))
def test_random_records(prefix: bytes, data: bytes, from_client: bool, cuts: list[int]) -> None:
    _same_both_ways(_cut(prefix + data, cuts), from_client)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hello=_synthetic_client_hello(), split=st.integers(0, 3))
def test_synthetic_hellos_in_records(hello: bytes, split: int) -> None:
    message = b"\x01" + len(hello).to_bytes(3, "big") + hello
    # One record, two records, or the message followed by a second one in the same record.
    if split == 1:
        half = len(message) // 2
        records = [message[:half], message[half:]]
    elif split == 2:
        records = [message + message]
    else:
        records = [message]
    data = b"".join(b"\x16\x03\x01" + _vec(2, r) for r in records) + b"\x15\x03\x03\x00\x02\x02\x28"
    events = _same_both_ways([data], True)
    hellos = [ev.message for ev in events if isinstance(ev, HandshakeEvent) and isinstance(ev.message, ClientHello)]
    if hellos:
        parser = TLSDirectionParser(True)
        parser.feed(data, 1, 0)
        assert parser._offered_tls13 == (0x0304 in hellos[-1].offered_versions)
