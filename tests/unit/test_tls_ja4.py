"""JA4 against FoxIO's published vectors (FoxIO-LLC/ja4, BSD 3-Clause) and the examples of JA4.md."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from test_tls_handshakes import transcript

from tlsdoctor.tls import ja4 as ja4_module
from tlsdoctor.tls.events import HandshakeEvent
from tlsdoctor.tls.ja4 import ja4, ja4_alpn_chars, ja4_raw
from tlsdoctor.tls.messages import ClientHello, Extension, parse_client_hello
from tlsdoctor.tls.registry import is_grease
from tlsdoctor.tls.stream import TLSDirectionParser

# ClientHello records (TCP payloads) from FoxIO-LLC/ja4 pcap/*, with the JA4 its
# python/test/testdata/*.json and rust snapshots publish.
FOXIO_VECTORS: dict[str, tuple[str, str]] = {
    "tls-alpn-h2.pcap#0": (
        "t12d4605h2_85626a9a5f7f_aaf95bb78ec9",
        "16030100e8010000e40303858226c04fbaeddef4246093b4cfdab38f9dcfef145360e417686575cac49c7000005cc030c02c"
        "c028c024c014c00a009f006b0039cca9cca8ccaaff8500c400880081009d003d003500c00084c02fc02bc027c023c013c009"
        "009e0067003300be0045009c003c002f00ba0041c011c00700050004c012c0080016000a00ff0100005f0000001700150000"
        "127777772e636c6f7564666c6172652e636f6d000b00020100000a00080006001d00170018000d001c001a06010603efef05"
        "01050304010403eeeeeded03010303020102030010000e000c02683208687474702f312e31"
    ),
    "tls12.pcap#0": (
        "t13d1715h2_5b57614c22b0_3d5424432f57",
        "1603010200010001fc0303ecb2691addb2bf6c599c7aaae23de5f42561cc04eb41029acc6fc050a16ac1d22046f8617b580a"
        "c9358e2aa44e306d52466bcc989c87c8ca64309f5faf50ba7b4d0022130113031302c02bc02fcca9cca8c02cc030c00ac009"
        "c013c014009c009d002f00350100019100000021001f00001c636f6e74696c652e73657276696365732e6d6f7a696c6c612e"
        "636f6d00170000ff01000100000a000e000c001d00170018001901000101000b00020100002300000010000e000c02683208"
        "687474702f312e310005000501000000000022000a000804030503060302030033006b0069001d00208909858fbeb6ed2f12"
        "48ba5b9e2978bead0e840110192c61daed0096798b184400170041044d183d91f5eed35791fa982464e3b0214aaa5f5d1b78"
        "616d9b9fbebc22d11f535b2f94c686143136aa795e6e5a875d6c08064ad5b76d44caad766e2483012748002b000504030403"
        "03000d0018001604030503060308040805080604010501060102030201002d00020101001c000240010015007a0000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000"
    ),
    "tls-sni.pcapng#0": (
        "t13d1516h2_8daaf6152771_e5627efa2ab1",
        "1603010200010001fc03030f9e38acb9a54a7c6e00e29a70ac2feee180ff76d7f25dca84932a66a42d1e5a20bc58b92f865e"
        "6b9aa4a6371cadcb0afe1da1c0f705209a11d52357f56d5dd9620020aaaa130113021303c02bc02fc02cc030cca9cca8c013"
        "c014009c009d002f0035010001939a9a0000ff010001000033002b00290a0a000100001d0020cf55af2603e92f59eb321779"
        "706a18fa6b96b16c16404c2264ed687a59401878002d00020101000500050100000000446900050003026832000d00120010"
        "040308040401050308050501080606010010000e000c02683208687474702f312e3100230000001b0003020002002b000706"
        "0a0a0304030300000022002000001d636c69656e7473657276696365732e676f6f676c65617069732e636f6d00120000000a"
        "000a00080a0a001d0017001800170000000b000201006a6a000100001500ba00000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000"
    ),
    "tls-sni.pcapng#5": (
        "t13d1516h1_8daaf6152771_e5627efa2ab1",
        "1603010200010001fc03033f57def90400ffa48568b4c59c0d1b211eea65d93ed25e6797e2f142171682a02028f89763feb4"
        "ce3d63b25210d744621b7e334cf99ea58da273e57b06804d46c300204a4a130113021303c02bc02fc02cc030cca9cca8c013"
        "c014009c009d002f003501000193aaaa0000000d00120010040308040401050308050501080606010033002b0029aaaa0001"
        "00001d0020b15c4efe2dbf4846ff2b6636610aedfe050b3e5a1db825b45869ddf77a68dd2500000024002200001f6c702d70"
        "7573682d7365727665722d3435322e6c617374706173732e636f6dff01000100002b000706aaaa0304030300230000002d00"
        "02010100050005010000000000120000000b00020100001700004469000500030268320010000b000908687474702f312e31"
        "001b0003020002000a000a0008aaaa001d001700181a1a000100001500bb0000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000"
    ),
    "tls-sni.pcapng#6": (
        "t13d151400_8daaf6152771_de4a06bb82e3",
        "1603010200010001fc0303554ec83cae046898f73292a02c9850a0189083f0ae3f068ff48f1199cae47339200d8a5d83e0bf"
        "08a2b208de442a12235d924174c1669294c652a881d885248f920020aaaa130113021303c02bc02fc02cc030cca9cca8c013"
        "c014009c009d002f0035010001931a1a00000033002b00291a1a000100001d0020ee3adc5abf132c803e2a783d35ad5438cd"
        "eacb660293f6079b3f68eb6f9cff73002b0007069a9a03040303001b00030200020000001500130000106d74616c6b2e676f"
        "6f676c652e636f6d00120000002d00020101000d0012001004030804040105030805050108060601000a000a00081a1a001d"
        "001700180005000501000000000023000000170000ff01000100000b00020100caca000100001500e2000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000"
    ),
    "tls-non-ascii-alpn.pcapng#0": (
        "t13d1516bd_8daaf6152771_e5627efa2ab1",
        "1603010200010001fc03030f9e38acb9a54a7c6e00e29a70ac2feee180ff76d7f25dca84932a66a42d1e5a20bc58b92f865e"
        "6b9aa4a6371cadcb0afe1da1c0f705209a11d52357f56d5dd9620020aaaa130113021303c02bc02fc02cc030cca9cca8c013"
        "c014009c009d002f0035010001939a9a0000ff010001000033002b00290a0a000100001d0020cf55af2603e92f59eb321779"
        "706a18fa6b96b16c16404c2264ed687a59401878002d00020101000500050100000000446900050003026832000d00120010"
        "040308040401050308050501080606010010000e000c02baad08687474702f312e3100230000001b0003020002002b000706"
        "0a0a0304030300000022002000001d636c69656e7473657276696365732e676f6f676c65617069732e636f6d00120000000a"
        "000a00080a0a001d0017001800170000000b000201006a6a000100001500ba00000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000"
    ),
}
# FoxIO's python and rust tools print "99" for this ALPN (0xba 0xad); JA4.md says: when the first or
# last byte is not an ASCII letter or digit, print the first and last characters of its hex, "bd".
# We follow the specification (see tlsdoctor/tls/ja4.py).
SPEC_OVER_IMPLEMENTATION = {"tls-non-ascii-alpn.pcapng#0"}


def _client_hello(record_hex: str) -> ClientHello:
    events = TLSDirectionParser(True).feed(bytes.fromhex(record_hex), 1, 0)
    assert isinstance(events[0], HandshakeEvent)
    msg = events[0].message
    assert isinstance(msg, ClientHello)
    return msg


@pytest.mark.parametrize("name", sorted(FOXIO_VECTORS))
def test_foxio_vectors(name: str) -> None:
    expected, record = FOXIO_VECTORS[name]
    assert ja4(_client_hello(record)) == expected


def test_raw_form_matches_foxio() -> None:
    ch = _client_hello(FOXIO_VECTORS["tls-sni.pcapng#0"][1])
    assert ja4_raw(ch) == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
        "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
        "0403,0804,0401,0503,0805,0501,0806,0601")


@pytest.mark.parametrize(("alpn", "chars"), [
    (None, "00"), (b"", "00"), (b"h2", "h2"), (b"http/1.1", "h1"), (b"a", "aa"),
    # The examples of JA4.md "ALPN Extension Value", verbatim.
    (b"\xab", "ab"), (b"\x20", "20"), (b"\xab\xcd", "ad"), (b"\x20\x61", "21"), (b"\x30\xab", "3b"),
    (b"\x61\x20", "60"), (b"\x30\x31\xab\xcd", "3d"), (b"\x30\xab\xcd\x31", "01"),
])
def test_alpn_characters(alpn: bytes | None, chars: str) -> None:
    assert ja4_alpn_chars(alpn) == chars


def _hello(suites: tuple[int, ...], exts: tuple[Extension, ...], version: int = 0x0303) -> ClientHello:
    body = version.to_bytes(2, "big") + bytes(32) + b"\x00"
    body += (2 * len(suites)).to_bytes(2, "big") + b"".join(s.to_bytes(2, "big") for s in suites) + b"\x01\x00"
    ext_bytes = b"".join(e.type.to_bytes(2, "big") + len(e.data).to_bytes(2, "big") + e.data for e in exts)
    body += len(ext_bytes).to_bytes(2, "big") + ext_bytes
    ch = parse_client_hello(body)
    assert isinstance(ch, ClientHello)
    return ch


def test_empty_lists_hash_to_zeros_and_grease_is_ignored() -> None:
    ch = _hello((0x0A0A,), (Extension(0x1A1A, b""), Extension(0, b"")))
    assert ja4(ch) == "t12d000100_000000000000_000000000000"


def test_version_from_supported_versions_skips_grease() -> None:
    sv = Extension(43, bytes([6]) + bytes.fromhex("7a7a03040303"))
    assert ja4(_hello((0x1301,), (sv,)))[:4] == "t13i"
    assert ja4(_hello((0x1301,), ()), transport="q")[:4] == "q12i"
    assert ja4(_hello((0x1301,), (), version=0x0300))[:3] == "ts3"
    assert ja4(_hello((0x1301,), (), version=0x0999))[:3] == "t00"


def test_openssl_client_fingerprint_is_stable_across_sni() -> None:
    with_sni = transcript("tls13_sni_alpn")
    without = transcript("tls13_no_sni")
    a = ja4(_client_hello(with_sni.side(True)[0].hex()))
    b = ja4(_client_hello(without.side(True)[0].hex()))
    assert a.startswith("t13d") and b.startswith("t13i")
    assert a[4:6] == b[4:6]  # same cipher count
    assert a.split("_")[1:] == b.split("_")[1:]  # SNI and ALPN are outside the hashes


def test_hashes_are_remembered_and_the_memory_stays_bounded() -> None:
    for i in range(ja4_module._HASHED_MAX + 10):
        text = f"{i:04x},1301"
        expected = hashlib.sha256(text.encode("ascii")).hexdigest()[:12]
        assert ja4_module._hash12(text) == expected
        assert ja4_module._hash12(text) == expected  # the second time from memory
    assert 0 < len(ja4_module._HASHED) <= ja4_module._HASHED_MAX
    assert ja4_module._hash12("") == "000000000000"


def test_remembered_fingerprints_follow_every_list_they_depend_on() -> None:
    base = _client_hello(FOXIO_VECTORS["tls-sni.pcapng#0"][1])
    suite = next(c for c in base.cipher_suites if not is_grease(c))
    extension = next(e for e in base.extensions if not is_grease(e.type))
    hellos = [
        base,
        dataclasses.replace(base, cipher_suites=tuple(c for c in base.cipher_suites if c != suite)),
        dataclasses.replace(base, extensions=tuple(e for e in base.extensions if e != extension)),
        dataclasses.replace(base, supported_versions=(0x0303,)),
        dataclasses.replace(base, signature_algorithms=base.signature_algorithms[:-1]),
        dataclasses.replace(base, alpn_raw=(b"http/1.1",)),
        dataclasses.replace(base, legacy_version=0x0301, supported_versions=()),
    ]
    fresh = []
    for ch in hellos:
        ja4_module._FINGERPRINTS.clear()
        fresh.append(ja4(ch))
    assert len(set(fresh)) == len(hellos)  # each change changes the fingerprint
    ja4_module._FINGERPRINTS.clear()
    assert [ja4(ch) for ch in hellos] == fresh  # none given another's remembered fingerprint
    assert [ja4(ch) for ch in hellos] == fresh  # all from memory now
    assert ja4(base, "q") == "q" + fresh[0][1:]
    with pytest.raises(ValueError):
        ja4(base, "x")


def test_remembered_fingerprints_stay_bounded() -> None:
    ch = _hello((0x1301,), ())
    for n in range(ja4_module._FINGERPRINTS_MAX + 3):
        ja4(dataclasses.replace(ch, cipher_suites=(n,)))
    assert 0 < len(ja4_module._FINGERPRINTS) <= ja4_module._FINGERPRINTS_MAX
