"""Registries of TLS protocol numbers, with the names IANA and the RFCs give them.

Theory of operation. Every number that appears on the wire (content types, handshake types,
versions, extensions, groups, signature schemes, cipher suites) has one ``IntEnum`` here whose
member names are the RFC's names in upper case, and a ``*_name(code)`` function that never fails:
it returns the IANA spelling for a known code, ``grease(0x0a0a)`` for a GREASE value (RFC 8701)
and ``unknown(0x1234)`` otherwise. Parsers keep plain ``int``s on their results (a peer may send
any code); these tables give them names when a person reads them.

Sources: IANA "Transport Layer Security (TLS) Parameters" and "TLS ExtensionType Values";
RFC 8446 section 4 and appendix B (TLS 1.3), RFC 5246 section 7.4 and appendix A (TLS 1.2),
RFC 6066 (server_name, max_fragment_length, status_request), RFC 7301 (ALPN), RFC 8422 (ECC),
RFC 7919 (FFDHE groups), RFC 8701 (GREASE), draft-ietf-tls-esni (ECH),
draft-ietf-tls-ecdhe-mlkem (post-quantum hybrid groups).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

# --- GREASE, RFC 8701 section 2 ----------------------------------------------------------------

def is_grease(value: int) -> bool:
    """True for the 16 reserved GREASE values 0x0a0a, 0x1a1a, ... 0xfafa (RFC 8701 section 2).

    They are used for cipher suites, extensions, named groups, signature algorithms, versions
    and ALPN-less code points alike; a client sends them so that servers learn to ignore
    unknown values, so every count and fingerprint must skip them.
    """
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


GREASE_VALUES: Final[frozenset[int]] = frozenset(0x0A0A + 0x1010 * i for i in range(16))


def _unknown(code: int) -> str:
    return f"grease(0x{code:04x})" if is_grease(code) else f"unknown(0x{code:04x})"


# --- Record layer, RFC 8446 section 5.1 / RFC 5246 section 6.2.1 -------------------------------

class ContentType(IntEnum):
    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23
    HEARTBEAT = 24  # RFC 6520
    TLS12_CID = 25  # RFC 9146 (DTLS only)
    ACK = 26  # RFC 9147 (DTLS 1.3 only)


_CONTENTTYPE_NAMES: Final[dict[int, str]] = {m.value: m.name.lower() for m in ContentType}


def content_type_name(code: int) -> str:
    # A dict lookup: this runs for every extension of every hello (IntEnum(code) is ~10x slower).
    name = _CONTENTTYPE_NAMES.get(code)
    return name if name is not None else f"unknown({code})"


# --- Handshake types, RFC 8446 section 4 / RFC 5246 section 7.4 ---------------------------------

class HandshakeType(IntEnum):
    HELLO_REQUEST = 0
    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    HELLO_VERIFY_REQUEST = 3  # DTLS, RFC 6347
    NEW_SESSION_TICKET = 4  # RFC 5077, RFC 8446 section 4.6.1
    END_OF_EARLY_DATA = 5
    HELLO_RETRY_REQUEST = 6  # TLS 1.3 drafts only; RFC 8446 sends it as a ServerHello (section 4.1.3)
    ENCRYPTED_EXTENSIONS = 8
    REQUEST_CONNECTION_ID = 9
    NEW_CONNECTION_ID = 10
    CERTIFICATE = 11
    SERVER_KEY_EXCHANGE = 12
    CERTIFICATE_REQUEST = 13
    SERVER_HELLO_DONE = 14
    CERTIFICATE_VERIFY = 15
    CLIENT_KEY_EXCHANGE = 16
    CLIENT_CERTIFICATE_REQUEST = 17
    FINISHED = 20
    CERTIFICATE_URL = 21  # RFC 6066 section 5
    CERTIFICATE_STATUS = 22  # RFC 6066 section 8
    SUPPLEMENTAL_DATA = 23  # RFC 4680
    KEY_UPDATE = 24
    COMPRESSED_CERTIFICATE = 25  # RFC 8879
    EKT_KEY = 26
    MESSAGE_HASH = 254


_HANDSHAKETYPE_NAMES: Final[dict[int, str]] = {m.value: m.name.lower() for m in HandshakeType}


def handshake_type_name(code: int) -> str:
    # A dict lookup: this runs for every extension of every hello (IntEnum(code) is ~10x slower).
    name = _HANDSHAKETYPE_NAMES.get(code)
    return name if name is not None else f"unknown({code})"


# --- Versions, RFC 8446 section 4.2.1 / RFC 5246 appendix E -------------------------------------

class ProtocolVersion(IntEnum):
    SSL2_0 = 0x0002  # only inside an SSLv2-format ClientHello (RFC 5246 appendix E.2)
    SSL3_0 = 0x0300
    TLS1_0 = 0x0301
    TLS1_1 = 0x0302
    TLS1_2 = 0x0303
    TLS1_3 = 0x0304
    DTLS1_0 = 0xFEFF
    DTLS1_2 = 0xFEFD
    DTLS1_3 = 0xFEFC


# The spelling OpenSSL (SSL_get_version), nginx ($ssl_protocol) and Python's ssl use, so that a
# version seen on the wire compares equal to one in a server log.
_VERSION_NAMES: Final[dict[int, str]] = {
    0x0002: "SSLv2",
    0x0300: "SSLv3",
    0x0301: "TLSv1",
    0x0302: "TLSv1.1",
    0x0303: "TLSv1.2",
    0x0304: "TLSv1.3",
    0xFEFF: "DTLSv1",
    0xFEFD: "DTLSv1.2",
    0xFEFC: "DTLSv1.3",
}


def version_name(version: int) -> str:
    """``TLSv1.2`` for 0x0303 etc. (OpenSSL's spelling; TLS 1.0 is ``TLSv1``).

    TLS 1.3 drafts (0x7fNN, RFC 8446 predecessors) are ``TLSv1.3-draftNN``; a GREASE version
    (RFC 8701) is ``grease(0x1a1a)``; anything else ``unknown(0x1234)``.
    """
    name = _VERSION_NAMES.get(version)
    if name is not None:
        return name
    if version >> 8 == 0x7F:
        return f"TLSv1.3-draft{version & 0xFF}"
    return _unknown(version)


def is_known_version(version: int) -> bool:
    return version in _VERSION_NAMES


# --- Extensions, IANA "TLS ExtensionType Values" ------------------------------------------------

class ExtensionType(IntEnum):
    SERVER_NAME = 0  # RFC 6066 section 3
    MAX_FRAGMENT_LENGTH = 1  # RFC 6066 section 4
    CLIENT_CERTIFICATE_URL = 2
    TRUSTED_CA_KEYS = 3
    TRUNCATED_HMAC = 4
    STATUS_REQUEST = 5  # RFC 6066 section 8
    USER_MAPPING = 6
    CLIENT_AUTHZ = 7
    SERVER_AUTHZ = 8
    CERT_TYPE = 9
    SUPPORTED_GROUPS = 10  # RFC 8422, RFC 7919, RFC 8446 section 4.2.7
    EC_POINT_FORMATS = 11  # RFC 8422 section 5.1.2
    SRP = 12
    SIGNATURE_ALGORITHMS = 13  # RFC 8446 section 4.2.3
    USE_SRTP = 14
    HEARTBEAT = 15  # RFC 6520
    APPLICATION_LAYER_PROTOCOL_NEGOTIATION = 16  # RFC 7301 section 3.1
    STATUS_REQUEST_V2 = 17
    SIGNED_CERTIFICATE_TIMESTAMP = 18  # RFC 6962
    CLIENT_CERTIFICATE_TYPE = 19  # RFC 7250
    SERVER_CERTIFICATE_TYPE = 20
    PADDING = 21  # RFC 7685
    ENCRYPT_THEN_MAC = 22  # RFC 7366
    EXTENDED_MASTER_SECRET = 23  # RFC 7627
    TOKEN_BINDING = 24
    CACHED_INFO = 25
    TLS_LTS = 26
    COMPRESS_CERTIFICATE = 27  # RFC 8879
    RECORD_SIZE_LIMIT = 28  # RFC 8449
    PWD_PROTECT = 29
    PWD_CLEAR = 30
    PASSWORD_SALT = 31
    TICKET_PINNING = 32
    TLS_CERT_WITH_EXTERN_PSK = 33
    DELEGATED_CREDENTIAL = 34  # RFC 9345
    SESSION_TICKET = 35  # RFC 5077
    TLMSP = 36
    TLMSP_PROXYING = 37
    TLMSP_DELEGATE = 38
    SUPPORTED_EKT_CIPHERS = 39
    PRE_SHARED_KEY = 41  # RFC 8446 section 4.2.11
    EARLY_DATA = 42  # RFC 8446 section 4.2.10
    SUPPORTED_VERSIONS = 43  # RFC 8446 section 4.2.1
    COOKIE = 44  # RFC 8446 section 4.2.2
    PSK_KEY_EXCHANGE_MODES = 45  # RFC 8446 section 4.2.9
    CERTIFICATE_AUTHORITIES = 47  # RFC 8446 section 4.2.4
    OID_FILTERS = 48
    POST_HANDSHAKE_AUTH = 49
    SIGNATURE_ALGORITHMS_CERT = 50
    KEY_SHARE = 51  # RFC 8446 section 4.2.8
    TRANSPARENCY_INFO = 52
    CONNECTION_ID_DEPRECATED = 53
    CONNECTION_ID = 54  # RFC 9146
    EXTERNAL_ID_HASH = 55
    EXTERNAL_SESSION_ID = 56
    QUIC_TRANSPORT_PARAMETERS = 57  # RFC 9001
    TICKET_REQUEST = 58  # RFC 9149
    DNSSEC_CHAIN = 59
    SEQUENCE_NUMBER_ENCRYPTION_ALGORITHMS = 60
    RRC = 61
    NEXT_PROTOCOL_NEGOTIATION = 13172  # 0x3374, pre-ALPN draft (not IANA-assigned)
    APPLICATION_SETTINGS_OLD = 17513  # 0x4469, ALPS as first shipped by Chrome (not IANA-assigned)
    APPLICATION_SETTINGS = 17613  # 0x44cd, ALPS (draft-vvv-tls-alps; Chrome 2024+)
    CHANNEL_ID = 30032  # 0x7550, Google (not IANA-assigned)
    ECH_OUTER_EXTENSIONS = 0xFD00  # draft-ietf-tls-esni section 5.1
    ENCRYPTED_CLIENT_HELLO = 0xFE0D  # draft-ietf-tls-esni section 5
    RENEGOTIATION_INFO = 0xFF01  # RFC 5746 section 3.2


_EXTENSIONTYPE_NAMES: Final[dict[int, str]] = {m.value: m.name.lower() for m in ExtensionType}


def extension_name(code: int) -> str:
    """IANA name of an extension type (``server_name``, ``key_share``, ...), never fails."""
    # A dict lookup: this runs for every extension of every hello (IntEnum(code) is ~10x slower).
    name = _EXTENSIONTYPE_NAMES.get(code)
    return name if name is not None else _unknown(code)


# --- Named groups, RFC 8446 section 4.2.7, RFC 8422, RFC 7919, draft-ietf-tls-ecdhe-mlkem -------

class NamedGroup(IntEnum):
    SECT163K1 = 1
    SECT163R1 = 2
    SECT163R2 = 3
    SECT193R1 = 4
    SECT193R2 = 5
    SECT233K1 = 6
    SECT233R1 = 7
    SECT239K1 = 8
    SECT283K1 = 9
    SECT283R1 = 10
    SECT409K1 = 11
    SECT409R1 = 12
    SECT571K1 = 13
    SECT571R1 = 14
    SECP160K1 = 15
    SECP160R1 = 16
    SECP160R2 = 17
    SECP192K1 = 18
    SECP192R1 = 19
    SECP224K1 = 20
    SECP224R1 = 21
    SECP256K1 = 22
    SECP256R1 = 23
    SECP384R1 = 24
    SECP521R1 = 25
    BRAINPOOLP256R1 = 26
    BRAINPOOLP384R1 = 27
    BRAINPOOLP512R1 = 28
    X25519 = 29
    X448 = 30
    BRAINPOOLP256R1TLS13 = 31
    BRAINPOOLP384R1TLS13 = 32
    BRAINPOOLP512R1TLS13 = 33
    GC256A = 34
    GC256B = 35
    GC256C = 36
    GC256D = 37
    GC512A = 38
    GC512B = 39
    GC512C = 40
    CURVESM2 = 41
    FFDHE2048 = 256
    FFDHE3072 = 257
    FFDHE4096 = 258
    FFDHE6144 = 259
    FFDHE8192 = 260
    MLKEM512 = 0x0200
    MLKEM768 = 0x0201
    MLKEM1024 = 0x0202
    SECP256R1MLKEM768 = 0x11EB
    X25519MLKEM768 = 0x11EC
    SECP384R1MLKEM1024 = 0x11ED
    X25519KYBER768DRAFT00 = 0x6399  # pre-standard hybrid (Chrome 124-130), obsolete
    SECP256R1KYBER768DRAFT00 = 0x639A
    ARBITRARY_EXPLICIT_PRIME_CURVES = 0xFF01
    ARBITRARY_EXPLICIT_CHAR2_CURVES = 0xFF02


_GROUP_SPELLING: Final[dict[int, str]] = {
    26: "brainpoolP256r1", 27: "brainpoolP384r1", 28: "brainpoolP512r1",
    31: "brainpoolP256r1tls13", 32: "brainpoolP384r1tls13", 33: "brainpoolP512r1tls13",
    34: "GC256A", 35: "GC256B", 36: "GC256C", 37: "GC256D", 38: "GC512A", 39: "GC512B", 40: "GC512C",
    0x0200: "MLKEM512", 0x0201: "MLKEM768", 0x0202: "MLKEM1024",
    0x11EB: "SecP256r1MLKEM768", 0x11EC: "X25519MLKEM768", 0x11ED: "SecP384r1MLKEM1024",
    0x6399: "X25519Kyber768Draft00", 0x639A: "SecP256r1Kyber768Draft00",
}


_NAMEDGROUP_NAMES: Final[dict[int, str]] = {m.value: m.name.lower() for m in NamedGroup}


def group_name(code: int) -> str:
    """IANA name of a named group (``x25519``, ``secp256r1``, ``X25519MLKEM768``), never fails."""
    spelled = _GROUP_SPELLING.get(code)
    if spelled is not None:
        return spelled
    name = _NAMEDGROUP_NAMES.get(code)
    return name if name is not None else _unknown(code)


# --- Signature schemes, RFC 8446 section 4.2.3 (and RFC 5246 section 7.4.1.4.1 hash/sig pairs) ---

class SignatureScheme(IntEnum):
    RSA_PKCS1_MD5 = 0x0101  # TLS 1.2 pair (md5, rsa)
    RSA_PKCS1_SHA1 = 0x0201
    DSA_SHA1 = 0x0202
    ECDSA_SHA1 = 0x0203
    RSA_PKCS1_SHA224 = 0x0301
    DSA_SHA224 = 0x0302
    ECDSA_SHA224 = 0x0303
    RSA_PKCS1_SHA256 = 0x0401
    DSA_SHA256 = 0x0402
    ECDSA_SECP256R1_SHA256 = 0x0403
    RSA_PKCS1_SHA384 = 0x0501
    DSA_SHA384 = 0x0502
    ECDSA_SECP384R1_SHA384 = 0x0503
    RSA_PKCS1_SHA512 = 0x0601
    DSA_SHA512 = 0x0602
    ECDSA_SECP521R1_SHA512 = 0x0603
    SM2SIG_SM3 = 0x0708
    GOSTR34102012_256A = 0x0709
    GOSTR34102012_256B = 0x070A
    GOSTR34102012_256C = 0x070B
    GOSTR34102012_256D = 0x070C
    GOSTR34102012_512A = 0x070D
    GOSTR34102012_512B = 0x070E
    GOSTR34102012_512C = 0x070F
    RSA_PSS_RSAE_SHA256 = 0x0804
    RSA_PSS_RSAE_SHA384 = 0x0805
    RSA_PSS_RSAE_SHA512 = 0x0806
    ED25519 = 0x0807
    ED448 = 0x0808
    RSA_PSS_PSS_SHA256 = 0x0809
    RSA_PSS_PSS_SHA384 = 0x080A
    RSA_PSS_PSS_SHA512 = 0x080B
    ECDSA_BRAINPOOLP256R1TLS13_SHA256 = 0x081A
    ECDSA_BRAINPOOLP384R1TLS13_SHA384 = 0x081B
    ECDSA_BRAINPOOLP512R1TLS13_SHA512 = 0x081C
    MLDSA44 = 0x0904
    MLDSA65 = 0x0905
    MLDSA87 = 0x0906


_SIGNATURE_SPELLING: Final[dict[int, str]] = {
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
}


def signature_scheme_name(code: int) -> str:
    """IANA name of a signature scheme (``rsa_pss_rsae_sha256``), never fails."""
    spelled = _SIGNATURE_SPELLING.get(code)
    if spelled is not None:
        return spelled
    try:
        return SignatureScheme(code).name.lower()
    except ValueError:
        return _unknown(code)


# --- Cipher suites, IANA "TLS Cipher Suites" (RFC 8446 appendix B.4, RFC 5246 appendix A.5, ...) --
# Includes the signalling values TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 section 3.3) and
# TLS_FALLBACK_SCSV (RFC 7507 section 2), which are not suites but travel in the same list.

CIPHER_SUITES: Final[dict[int, str]] = {
    0x0000: "TLS_NULL_WITH_NULL_NULL",
    0x0001: "TLS_RSA_WITH_NULL_MD5",
    0x0002: "TLS_RSA_WITH_NULL_SHA",
    0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
    0x0004: "TLS_RSA_WITH_RC4_128_MD5",
    0x0005: "TLS_RSA_WITH_RC4_128_SHA",
    0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
    0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA",
    0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0009: "TLS_RSA_WITH_DES_CBC_SHA",
    0x000a: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x000b: "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA",
    0x000c: "TLS_DH_DSS_WITH_DES_CBC_SHA",
    0x000d: "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA",
    0x000e: "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x000f: "TLS_DH_RSA_WITH_DES_CBC_SHA",
    0x0010: "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0011: "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
    0x0012: "TLS_DHE_DSS_WITH_DES_CBC_SHA",
    0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
    0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
    0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
    0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0x0017: "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
    0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
    0x0019: "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
    0x001a: "TLS_DH_anon_WITH_DES_CBC_SHA",
    0x001b: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
    0x002c: "TLS_PSK_WITH_NULL_SHA",
    0x002d: "TLS_DHE_PSK_WITH_NULL_SHA",
    0x002e: "TLS_RSA_PSK_WITH_NULL_SHA",
    0x002f: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0030: "TLS_DH_DSS_WITH_AES_128_CBC_SHA",
    0x0031: "TLS_DH_RSA_WITH_AES_128_CBC_SHA",
    0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
    0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x0036: "TLS_DH_DSS_WITH_AES_256_CBC_SHA",
    0x0037: "TLS_DH_RSA_WITH_AES_256_CBC_SHA",
    0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
    0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
    0x003a: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
    0x003b: "TLS_RSA_WITH_NULL_SHA256",
    0x003c: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003d: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x003e: "TLS_DH_DSS_WITH_AES_128_CBC_SHA256",
    0x003f: "TLS_DH_RSA_WITH_AES_128_CBC_SHA256",
    0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
    0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0044: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA",
    0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
    0x0046: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
    0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
    0x0068: "TLS_DH_DSS_WITH_AES_256_CBC_SHA256",
    0x0069: "TLS_DH_RSA_WITH_AES_256_CBC_SHA256",
    0x006a: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
    0x006b: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
    0x006c: "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
    0x006d: "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
    0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0087: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA",
    0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
    0x0089: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
    0x008a: "TLS_PSK_WITH_RC4_128_SHA",
    0x008b: "TLS_PSK_WITH_3DES_EDE_CBC_SHA",
    0x008c: "TLS_PSK_WITH_AES_128_CBC_SHA",
    0x008d: "TLS_PSK_WITH_AES_256_CBC_SHA",
    0x0090: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA",
    0x0091: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA",
    0x0094: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA",
    0x0095: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA",
    0x0096: "TLS_RSA_WITH_SEED_CBC_SHA",
    0x0099: "TLS_DHE_DSS_WITH_SEED_CBC_SHA",
    0x009a: "TLS_DHE_RSA_WITH_SEED_CBC_SHA",
    0x009c: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009d: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x009e: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    0x009f: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
    0x00a0: "TLS_DH_RSA_WITH_AES_128_GCM_SHA256",
    0x00a1: "TLS_DH_RSA_WITH_AES_256_GCM_SHA384",
    0x00a2: "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
    0x00a3: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
    0x00a4: "TLS_DH_DSS_WITH_AES_128_GCM_SHA256",
    0x00a5: "TLS_DH_DSS_WITH_AES_256_GCM_SHA384",
    0x00a6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
    0x00a7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
    0x00a8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
    0x00a9: "TLS_PSK_WITH_AES_256_GCM_SHA384",
    0x00aa: "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256",
    0x00ab: "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
    0x00ac: "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256",
    0x00ad: "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384",
    0x00ae: "TLS_PSK_WITH_AES_128_CBC_SHA256",
    0x00af: "TLS_PSK_WITH_AES_256_CBC_SHA384",
    0x00b0: "TLS_PSK_WITH_NULL_SHA256",
    0x00b1: "TLS_PSK_WITH_NULL_SHA384",
    0x00b2: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256",
    0x00b3: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384",
    0x00b4: "TLS_DHE_PSK_WITH_NULL_SHA256",
    0x00b5: "TLS_DHE_PSK_WITH_NULL_SHA384",
    0x00b6: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256",
    0x00b7: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384",
    0x00b8: "TLS_RSA_PSK_WITH_NULL_SHA256",
    0x00b9: "TLS_RSA_PSK_WITH_NULL_SHA384",
    0x00ba: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00bd: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256",
    0x00be: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0x00bf: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
    0x00c0: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00c3: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256",
    0x00c4: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256",
    0x00c5: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
    0x00ff: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
    0x5600: "TLS_FALLBACK_SCSV",
    0xc001: "TLS_ECDH_ECDSA_WITH_NULL_SHA",
    0xc002: "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
    0xc003: "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xc004: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
    0xc005: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
    0xc006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
    0xc007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    0xc008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
    0xc009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xc00a: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xc00b: "TLS_ECDH_RSA_WITH_NULL_SHA",
    0xc00c: "TLS_ECDH_RSA_WITH_RC4_128_SHA",
    0xc00d: "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA",
    0xc00e: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
    0xc00f: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA",
    0xc010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
    0xc011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    0xc012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xc013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xc014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xc015: "TLS_ECDH_anon_WITH_NULL_SHA",
    0xc016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
    0xc017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
    0xc018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
    0xc019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
    0xc01d: "TLS_SRP_SHA_WITH_AES_128_CBC_SHA",
    0xc01e: "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA",
    0xc01f: "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA",
    0xc020: "TLS_SRP_SHA_WITH_AES_256_CBC_SHA",
    0xc021: "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA",
    0xc022: "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA",
    0xc023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xc024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xc025: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
    0xc026: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
    0xc027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xc028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xc029: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
    0xc02a: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
    0xc02b: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xc02c: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xc02d: "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
    0xc02e: "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
    0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xc030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xc031: "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
    0xc032: "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
    0xc033: "TLS_ECDHE_PSK_WITH_RC4_128_SHA",
    0xc034: "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA",
    0xc035: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
    0xc036: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
    0xc037: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
    0xc038: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384",
    0xc039: "TLS_ECDHE_PSK_WITH_NULL_SHA",
    0xc03a: "TLS_ECDHE_PSK_WITH_NULL_SHA256",
    0xc03b: "TLS_ECDHE_PSK_WITH_NULL_SHA384",
    0xc050: "TLS_RSA_WITH_ARIA_128_GCM_SHA256",
    0xc051: "TLS_RSA_WITH_ARIA_256_GCM_SHA384",
    0xc052: "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256",
    0xc053: "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xc056: "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256",
    0xc057: "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384",
    0xc05c: "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256",
    0xc05d: "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384",
    0xc060: "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
    0xc061: "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384",
    0xc06a: "TLS_PSK_WITH_ARIA_128_GCM_SHA256",
    0xc06b: "TLS_PSK_WITH_ARIA_256_GCM_SHA384",
    0xc06c: "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256",
    0xc06d: "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384",
    0xc06e: "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256",
    0xc06f: "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384",
    0xc072: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xc073: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xc076: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
    0xc077: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
    0xc094: "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xc095: "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xc096: "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xc097: "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xc098: "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xc099: "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xc09a: "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
    0xc09b: "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
    0xc09c: "TLS_RSA_WITH_AES_128_CCM",
    0xc09d: "TLS_RSA_WITH_AES_256_CCM",
    0xc09e: "TLS_DHE_RSA_WITH_AES_128_CCM",
    0xc09f: "TLS_DHE_RSA_WITH_AES_256_CCM",
    0xc0a0: "TLS_RSA_WITH_AES_128_CCM_8",
    0xc0a1: "TLS_RSA_WITH_AES_256_CCM_8",
    0xc0a2: "TLS_DHE_RSA_WITH_AES_128_CCM_8",
    0xc0a3: "TLS_DHE_RSA_WITH_AES_256_CCM_8",
    0xc0a4: "TLS_PSK_WITH_AES_128_CCM",
    0xc0a5: "TLS_PSK_WITH_AES_256_CCM",
    0xc0a6: "TLS_DHE_PSK_WITH_AES_128_CCM",
    0xc0a7: "TLS_DHE_PSK_WITH_AES_256_CCM",
    0xc0a8: "TLS_PSK_WITH_AES_128_CCM_8",
    0xc0a9: "TLS_PSK_WITH_AES_256_CCM_8",
    0xc0aa: "TLS_PSK_DHE_WITH_AES_128_CCM_8",
    0xc0ab: "TLS_PSK_DHE_WITH_AES_256_CCM_8",
    0xc0ac: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
    0xc0ad: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    0xc0ae: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
    0xc0af: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    0xcca8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xcca9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xccaa: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xccab: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xccac: "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xccad: "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xccae: "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256",
    0xd001: "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
    0xd002: "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384",
    0xd003: "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
    0xd005: "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256",
}

TLS_EMPTY_RENEGOTIATION_INFO_SCSV: Final = 0x00FF
TLS_FALLBACK_SCSV: Final = 0x5600


def cipher_suite_name(code: int) -> str:
    """IANA name of a cipher suite (``TLS_AES_128_GCM_SHA256``), never fails."""
    name = CIPHER_SUITES.get(code)
    return name if name is not None else _unknown(code)


def is_tls13_cipher_suite(code: int) -> bool:
    """The TLS 1.3 suites (RFC 8446 appendix B.4) name only the AEAD and hash, 0x1301-0x1305."""
    return 0x1301 <= code <= 0x1305


# --- Compression, RFC 5246 section 6.1 / RFC 3749 ---------------------------------------------

class CompressionMethod(IntEnum):
    NULL = 0
    DEFLATE = 1
    LZS = 64
