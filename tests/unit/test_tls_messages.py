"""Handshake message parsers: the fields of real OpenSSL hellos, every cut of a real ClientHello,
random mutations, the SSLv2-compatible hello, certificate facts and the registries."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tls_handshakes import pki, transcript

from tlsdoctor.tls.certificates import certificate_facts
from tlsdoctor.tls.events import HandshakeEvent
from tlsdoctor.tls.messages import (
    HELLO_RETRY_REQUEST_RANDOM,
    ClientHello,
    HandshakeContext,
    NeedMoreData,
    ParsedHandshake,
    ProtocolError,
    RawHandshake,
    ServerHello,
    parse_certificate,
    parse_client_hello,
    parse_handshake,
    parse_server_hello,
    parse_sslv2_client_hello,
)
from tlsdoctor.tls.registry import (
    ExtensionType,
    NamedGroup,
    cipher_suite_name,
    extension_name,
    group_name,
    is_grease,
    signature_scheme_name,
    version_name,
)
from tlsdoctor.tls.stream import TLSDirectionParser


def _hello_message(name: str, from_client: bool = True) -> bytes:
    """The first handshake message (header included) of a direction: it is alone in the first record."""
    first = transcript(name).side(from_client)[0]
    length = int.from_bytes(first[3:5], "big")
    record = first[5:5 + length]
    return record[:4 + int.from_bytes(record[1:4], "big")]


def _parse(message: bytes, from_client: bool = True) -> object:
    result = parse_handshake(message, HandshakeContext(from_client))
    assert isinstance(result, ParsedHandshake) and result.error is None
    return result.message


# --- ClientHello fields against what we configured --------------------------------------------------

def test_client_hello_tls13_fields() -> None:
    ch = _parse(_hello_message("tls13_sni_alpn"))
    assert isinstance(ch, ClientHello)
    assert ch.legacy_version == 0x0303 and len(ch.random) == 32 and len(ch.session_id) == 32  # compat mode
    assert ch.server_names == ("localhost",) and ch.server_name == "localhost"
    assert ch.alpn == ("h2", "http/1.1") and ch.alpn_raw == (b"h2", b"http/1.1")
    assert ch.supported_versions == (0x0304, 0x0303) and ch.offered_versions == (0x0304, 0x0303)
    assert ch.key_shares[0].group == NamedGroup.X25519 and ch.key_shares[0].key_length == 32
    assert NamedGroup.SECP256R1 in ch.supported_groups
    assert 0x0804 in ch.signature_algorithms and 0x1301 in ch.cipher_suites
    assert ch.compression_methods == (0,)
    assert ch.extension_types[0] == ExtensionType.SERVER_NAME or ExtensionType.SERVER_NAME in ch.extension_types
    assert ch.psk_key_exchange_modes == (1,)
    assert not ch.ech_present and not ch.psk_present and not ch.early_data and ch.decode_errors == ()
    assert ch.renegotiation_scsv and not ch.fallback_scsv


def test_client_hello_without_sni_and_tls12_only() -> None:
    ch = _parse(_hello_message("tls13_no_sni"))
    assert isinstance(ch, ClientHello) and ch.server_name is None and not ch.has_server_name_extension
    ch12 = _parse(_hello_message("tls12_sni"))
    assert isinstance(ch12, ClientHello)
    assert ch12.server_names == ("example.test",) and ch12.supported_versions == ()
    assert ch12.offered_versions == (0x0303,) and ch12.max_version == 0x0303


def test_server_hello_tls12_alpn_and_tls13_version() -> None:
    sh = _parse(_hello_message("tls12_alpn", False), False)
    assert isinstance(sh, ServerHello)
    assert sh.alpn == "http/1.1" == transcript("tls12_alpn").alpn and sh.selected_version is None
    assert sh.version == 0x0303 and not sh.is_hrr
    sh13 = _parse(_hello_message("tls13_sni_alpn", False), False)
    assert isinstance(sh13, ServerHello)
    assert sh13.legacy_version == 0x0303 and sh13.selected_version == 0x0304 and sh13.version == 0x0304
    assert sh13.key_share_group == NamedGroup.X25519 and sh13.alpn is None  # ALPN is in EncryptedExtensions
    hrr = _parse(_hello_message("tls13_hrr", False), False)
    assert isinstance(hrr, ServerHello) and hrr.is_hrr and hrr.random == HELLO_RETRY_REQUEST_RANDOM


# --- three outcomes, never an exception --------------------------------------------------------------

@pytest.mark.parametrize("name", ["tls13_sni_alpn", "tls12_sni", "tls13_hrr"])
def test_every_cut_of_a_real_hello_needs_more_data(name: str) -> None:
    for from_client in (True, False):
        message = _hello_message(name, from_client)
        for cut in range(len(message)):
            result = parse_handshake(message[:cut], HandshakeContext(from_client))
            assert isinstance(result, NeedMoreData), cut
            assert result.needed == (4 - cut if cut < 4 else len(message) - cut)


@pytest.mark.parametrize("name", ["tls13_sni_alpn", "tls12_sni"])
def test_every_cut_of_a_body_is_an_error_or_a_value(name: str) -> None:
    for from_client, parse in ((True, parse_client_hello), (False, parse_server_hello)):
        body = _hello_message(name, from_client)[4:]
        for cut in range(len(body)):
            result = parse(body[:cut])
            assert isinstance(result, ProtocolError | ClientHello | ServerHello)
            if isinstance(result, ProtocolError):
                assert result.raw == body[:cut][:512] and result.reason


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_client_hello_never_raises(data: st.DataObject) -> None:
    record = bytearray(transcript("tls13_sni_alpn").side(True)[0])
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(record) - 1))
        record[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(record)))
        del record[cut:cut + data.draw(st.integers(0, 40))]
    events = TLSDirectionParser(True).feed(bytes(record), 1, 0)
    for ev in events:
        if isinstance(ev, HandshakeEvent):
            assert isinstance(ev.message, ClientHello | RawHandshake) or ev.msg_type != 1


def test_overrunning_extension_is_a_protocol_error_with_raw_bytes() -> None:
    body = bytearray(_hello_message("tls13_sni_alpn")[4:])
    ext_block = 2 + 32 + 1 + 32 + 2 + int.from_bytes(body[67:69], "big") + 2
    body[ext_block:ext_block + 2] = (len(body)).to_bytes(2, "big")  # the extensions length lies
    result = parse_client_hello(bytes(body))
    assert isinstance(result, ProtocolError) and "runs past" in result.reason and result.raw == bytes(body)


def test_bad_server_name_extension_keeps_the_hello() -> None:
    body = bytearray(_hello_message("tls13_sni_alpn")[4:])
    i = body.find(b"localhost")
    body[i - 2:i] = (200).to_bytes(2, "big")  # host_name length overruns the extension
    ch = parse_client_hello(bytes(body))
    assert isinstance(ch, ClientHello) and ch.server_names == ()
    assert ch.has_server_name_extension and ch.decode_errors and "server_name" in ch.decode_errors[0]
    events = TLSDirectionParser(True).feed(transcript("tls13_sni_alpn").side(True)[0][:5 + 4] + bytes(body), 1, 0)
    assert [type(ev).__name__ for ev in events] == ["TLSAnomaly", "HandshakeEvent"]


# --- SSLv2-compatible ClientHello, RFC 5246 appendix E.2 ----------------------------------------------

def _sslv2_hello(specs: list[int], challenge: bytes = bytes(range(16)), version: int = 0x0301) -> bytes:
    spec_bytes = b"".join(s.to_bytes(3, "big") for s in specs)
    body = (b"\x01" + version.to_bytes(2, "big") + len(spec_bytes).to_bytes(2, "big") + b"\x00\x00"
            + len(challenge).to_bytes(2, "big") + spec_bytes + challenge)
    return (0x8000 | len(body)).to_bytes(2, "big") + body


def test_sslv2_client_hello_is_converted() -> None:
    record = _sslv2_hello([0x00002F, 0x000035, 0x010080, 0x0000FF])
    ch = parse_sslv2_client_hello(record)
    assert isinstance(ch, ClientHello) and ch.from_sslv2
    assert ch.cipher_suites == (0x002F, 0x0035, 0x00FF) and ch.sslv2_cipher_specs == (0x010080,)
    assert ch.legacy_version == 0x0301 and ch.random == bytes(16) + bytes(range(16))
    for cut in range(len(record)):
        assert isinstance(parse_sslv2_client_hello(record[:cut]), NeedMoreData)
    parser = TLSDirectionParser(True)
    events = [ev for i in range(len(record)) for ev in parser.feed(record[i:i + 1], i + 1, 0)]
    assert len(events) == 1 and isinstance(events[0], HandshakeEvent) and events[0].message == ch
    assert (events[0].first_frame, events[0].frame) == (1, len(record))
    # The client goes on with ordinary TLS records.
    assert parser.feed(b"\x15\x03\x01\x00\x02\x02\x28", 99, 0)[0].frame == 99


def test_bad_sslv2_client_hello_is_a_fatal_anomaly() -> None:
    record = bytearray(_sslv2_hello([0x00002F]))
    record[6] = 5  # cipher_spec_length 5: not a multiple of 3 (and the lengths no longer add up)
    events = TLSDirectionParser(True).feed(bytes(record), 1, 0)
    assert len(events) == 1 and type(events[0]).__name__ == "TLSAnomaly"


# --- certificates ------------------------------------------------------------------------------------

def _der(path_name: str) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(getattr(pki(), path_name).read_bytes())
    return cert.public_bytes(serialization.Encoding.DER)


def test_certificate_facts() -> None:
    facts = certificate_facts(_der("rsa_cert"))
    assert facts.parse_error is None and facts.subject == "O=tlsdoctor tests,CN=rsa.test"
    assert facts.issuer == facts.subject and facts.is_self_signed and facts.is_ca
    assert facts.key_type == "RSA" and facts.key_size == 2048 and facts.ec_curve is None
    assert facts.san_dns == ("rsa.test", "www.rsa.test") and facts.san_ips == ("127.0.0.1",)
    assert facts.signature_algorithm == "sha256WithRSAEncryption"
    assert facts.not_before is not None and facts.not_before.tzinfo is not None
    assert facts.is_valid_at(dt.datetime.now(dt.UTC)) is True
    assert len(facts.sha256) == 64 and facts.serial is not None and int(facts.serial, 16) > 0
    ec_facts = certificate_facts(_der("expired_cert"))
    assert ec_facts.key_type == "EC" and ec_facts.ec_curve == "secp256r1" and ec_facts.key_size == 256
    assert ec_facts.is_valid_at(dt.datetime.now(dt.UTC)) is False


def test_unparseable_certificate_is_a_fact_not_an_exception() -> None:
    facts = certificate_facts(b"\x30\x03\x02\x01\x00")
    assert facts.parse_error and facts.raw_length == 5 and facts.subject is None
    der = _der("server_cert")
    body = (len(der) + 3 + 5 + 3).to_bytes(3, "big") + len(der).to_bytes(3, "big") + der + (5).to_bytes(3, "big") + \
        b"\x30\x03\x02\x01\x00"
    msg = parse_certificate(body)
    assert not isinstance(msg, ProtocolError)
    assert msg.certificates[0].parse_error is None and msg.certificates[1].parse_error is not None


def test_tls13_certificate_format() -> None:
    der = _der("server_cert")
    entry = len(der).to_bytes(3, "big") + der + b"\x00\x00"
    body = b"\x00" + len(entry).to_bytes(3, "big") + entry
    msg = parse_certificate(body, tls13=True)
    assert not isinstance(msg, ProtocolError)
    assert msg.tls13_format and msg.request_context == b"" and msg.entry_extensions == ((),)
    assert isinstance(parse_certificate(body[:-1], tls13=True), ProtocolError)


# --- registries --------------------------------------------------------------------------------------

def test_registry_names() -> None:
    assert version_name(0x0303) == "TLSv1.2" and version_name(0x0304) == "TLSv1.3" and version_name(0x0300) == "SSLv3"
    assert version_name(0x0A0A) == "grease(0x0a0a)" and version_name(0x1234) == "unknown(0x1234)"
    assert version_name(0x7F1C) == "TLSv1.3-draft28"
    assert cipher_suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert cipher_suite_name(0x5600) == "TLS_FALLBACK_SCSV" and cipher_suite_name(0x00FF).endswith("_SCSV")
    assert cipher_suite_name(0x000A) == "TLS_RSA_WITH_3DES_EDE_CBC_SHA"
    assert cipher_suite_name(0x0005) == "TLS_RSA_WITH_RC4_128_SHA"
    assert extension_name(0xFE0D) == "encrypted_client_hello" and extension_name(0xFF01) == "renegotiation_info"
    assert extension_name(16) == "application_layer_protocol_negotiation"
    assert extension_name(0x2A2A) == "grease(0x2a2a)"
    assert group_name(0x11EC) == "X25519MLKEM768" and group_name(29) == "x25519" and group_name(23) == "secp256r1"
    assert signature_scheme_name(0x0804) == "rsa_pss_rsae_sha256"
    assert sum(is_grease(v) for v in range(0x10000)) == 16


def test_a_serial_number_rfc_5280_forbids_is_a_fact_not_a_warning() -> None:
    # A certificate whose serial is negative (one byte of a real one changed): cryptography parses it with a
    # CryptographyDeprecationWarning, which Python prints on the user's terminal (it is a UserWarning) unless
    # the parser keeps it. The serial keeps its sign in the facts instead.
    import warnings

    der = bytearray(_der("rsa_cert"))
    at = der.index(b"\xa0\x03\x02\x01\x02\x02") + 6  # [0] version v3, then the serial's INTEGER
    length = der[at]
    assert 1 <= length <= 20
    der[at + 1] |= 0x80  # a negative number, same length
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        facts = certificate_facts(bytes(der))
    assert [str(w.message) for w in seen] == []
    assert facts.parse_error is None and facts.serial is not None and facts.serial.startswith("-")
    assert facts.subject == "O=tlsdoctor tests,CN=rsa.test"
