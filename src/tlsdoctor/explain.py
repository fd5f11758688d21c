"""What an alert code or an error message means: one table, shared by ``explain`` and ``diagnose``.

Theory of operation. ``ENTRIES`` is the table: one frozen ``Entry`` per alert (from the registry in
``tlsdoctor.tls.alerts``), per OpenSSL reason that is not an alert, per X.509 verification error, and per
message of nginx, curl, Java, Go, Python, Node and browsers. Each row says what it means, who sends or
prints it, its usual causes ranked (each a cause code of shared/REPORT.md), the next tlsdoctor command to
run, and where the meaning comes from (an RFC section, an OpenSSL header, curl's libcurl-errors page, the
nginx source).

``explain_all(text)`` finds every row that matches, best first:

1. exact: the whole text is an alert number (``40``), a curl exit code, or a code token
   (``ERR_CONNECTION_RESET``, ``CERTIFICATE_VERIFY_FAILED``);
2. decoded: an OpenSSL packed error code (``error:14094410``, ``error:0A000410``, a bare ``0A000410``) is
   unpacked generically (``decode_openssl_code``); a reason of 1000 + N is "alert N received";
3. an alert named in the text: ``alert number 40``, ``sslv3 alert handshake failure``,
   ``Received fatal alert: handshake_failure``, ``remote error: tls: handshake failure``,
   ``SSLV3_ALERT_HANDSHAKE_FAILURE``;
4. the rows' regular expressions, the longest match first.

``explain(text)`` is the first of those, or None.

OpenSSL packs an error in 32 bits. Up to 1.1.1 (crypto/err/err.c, include/openssl/err.h):
``lib << 24 | func << 12 | reason``, so ``14094410`` is lib 0x14 = 20 (ERR_LIB_SSL), function 0x094
(ssl3_read_bytes), reason 0x410 = 1040. From 3.0 functions are gone: ``lib << 23 | reason`` (reason
23 bits, ERR_LIB_OFFSET 23), so the same error is ``0A000410``; a system error is ``ERR_SYSTEM_FLAG``
(bit 31) with the errno below. In include/openssl/sslerr.h, ``SSL_AD_REASON_OFFSET`` is 1000: reason
1040 is SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, i.e. alert 40 *received from the peer*.
"""

from __future__ import annotations

import enum
import errno
import re
from dataclasses import dataclass
from typing import Final

from tlsdoctor.tls.alerts import ALERTS, describe, lookup_name

ERR_LIB_SYS: Final = 2
ERR_LIB_SSL: Final = 20
SSL_AD_REASON_OFFSET: Final = 1000
"""include/openssl/ssl.h: an SSL_R_* reason of 1000 + N means alert N was received."""
ERR_SYSTEM_FLAG: Final = 0x80000000
"""OpenSSL 3.x include/openssl/err.h: set for a system (errno) error."""


class Kind(enum.StrEnum):
    ALERT = "alert"
    OPENSSL = "openssl"
    X509 = "x509"
    NGINX = "nginx"
    CURL = "curl"
    JAVA = "java"
    GO = "go"
    PYTHON = "python"
    NODE = "node"
    BROWSER = "browser"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Cause:
    code: str
    """A cause code of shared/REPORT.md."""
    why: str


@dataclass(frozen=True, slots=True)
class NextStep:
    command: str
    why: str


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    """Stable id: ``alert:40``, ``openssl:267``, ``x509:10``, ``curl:35``, ``nginx:handshake_failed``..."""
    kind: Kind
    title: str
    meaning: str
    sender: str
    """Who sends the alert or prints the message, and what that says about who failed."""
    causes: tuple[Cause, ...]
    """Usual causes, most frequent first."""
    next_steps: tuple[NextStep, ...]
    source: str
    patterns: tuple[str, ...] = ()
    """Regular expressions (case-insensitive) that find this row in a message."""
    codes: tuple[str, ...] = ()
    """Exact tokens (case-insensitive) that name this row when they are the whole text."""
    alert: int | None = None
    openssl_reason: int | None = None
    x509_error: int | None = None
    curl_code: int | None = None


@dataclass(frozen=True, slots=True)
class OpenSSLCode:
    """A packed OpenSSL error code, unpacked."""

    code: int
    packing: str
    """``1.x`` (1.0.2 and 1.1.1: lib<<24 | func<<12 | reason) or ``3.x`` (lib<<23 | reason)."""
    library: int
    library_name: str
    function: int | None
    reason: int
    reason_text: str | None
    alert: int | None
    """The alert received, for an SSL reason of 1000 + N."""
    system_errno: int | None = None

    def describe(self) -> str:
        if self.system_errno is not None:
            return (f"{self.code:08X}: OpenSSL 3.x system error, errno {self.system_errno} "
                    f"({errno.errorcode.get(self.system_errno, '?')})")
        func = f", function {self.function:#05x}" if self.function else ""
        text = f" ({self.reason_text})" if self.reason_text else ""
        alert = f" = alert {self.alert} received" if self.alert is not None else ""
        return (f"{self.code:08X}: OpenSSL {self.packing} packing, library {self.library} ({self.library_name})"
                f"{func}, reason {self.reason}{text}{alert}")


@dataclass(frozen=True, slots=True)
class Explanation:
    entry: Entry
    matched_by: str
    """``exact``, ``openssl code``, ``alert``, ``pattern``."""
    matched: str
    """The part of the text that matched."""
    decoded: OpenSSLCode | None = None


# --- next steps, reused by many rows --------------------------------------------------------------

_PROBE = NextStep("tlsdoctor probe HOST[:PORT]", "replays the handshake with and without SNI, each version, "
                  "and checks the certificate chain: which offer the server refuses")
_PROBE_CERT = NextStep("tlsdoctor probe HOST[:PORT] --ca-bundle CA.pem",
                       "fetches the chain and checks validity, name, order and trust")
_DIAGNOSE = NextStep("tlsdoctor diagnose CAPTURE.pcap", "shows who sent it, after which message, and names the cause")
_CONNECTIONS = NextStep("tlsdoctor connections CAPTURE.pcap", "one line per connection: who ended it, how, when")
_NGINX = NextStep("tlsdoctor nginx /etc/nginx/nginx.conf", "checks proxy_ssl_server_name, proxy_ssl_name, "
                  "proxy_ssl_verify and certificate files of HTTPS upstreams")


def _c(code: str, why: str) -> Cause:
    return Cause(code, why)


# --- alerts: every code of the registry, with ranked causes ----------------------------------------

_ALERT_CAUSES: Final[dict[int, tuple[Cause, ...]]] = {
    0: (_c("handshake_stalled", "during a handshake, the peer gave up without saying why"),),
    10: (_c("alert_unexplained", "an implementation bug or an incompatible TLS stack"),
         _c("tls_interception", "a middlebox that rewrites or injects handshake records")),
    20: (_c("tls_interception", "a box in the path alters records"),
         _c("alert_unexplained", "corruption in transit (NIC offload bugs) or a key-derivation bug")),
    21: (_c("alert_unexplained", "an obsolete stack (TLS 1.0 and older)"),),
    22: (_c("alert_unexplained", "a peer bug, or max_fragment_length/record_size_limit disagreement"),),
    30: (_c("alert_unexplained", "obsolete TLS compression"),),
    40: (_c("sni_missing", "the server requires SNI and the ClientHello had none (seeds 000, 002)"),
         _c("no_shared_cipher", "no cipher suite in common (e.g. an RSA-only server and an ECDSA-only client)"),
         _c("no_shared_group", "no key-exchange group or signature algorithm in common"),
         _c("client_certificate_required", "the server requires a client certificate (TLS 1.2)"),
         _c("sni_not_hostname", "SNI that is an nginx upstream group name or an IP literal"),
         _c("certificate_expired", "some servers answer 40 when their own certificate cannot be used")),
    41: (_c("client_certificate_required", "SSL 3.0: the client had no certificate"),),
    42: (_c("client_certificate_required", "the client's certificate was rejected"),
         _c("certificate_untrusted", "a certificate's signature did not verify")),
    43: (_c("client_certificate_required", "a client certificate of a type the server does not accept"),
         _c("certificate_untrusted", "a certificate with a key or signature type the peer does not support")),
    44: (_c("certificate_untrusted", "the certificate was revoked (CRL or OCSP)"),),
    45: (_c("certificate_expired", "the peer's certificate is past notAfter by the sender's clock"),
         _c("certificate_not_yet_valid", "before notBefore, or the sender's clock is wrong")),
    46: (_c("certificate_untrusted", "unknown issuer: Java sends 46 for 'PKIX path building failed'"),
         _c("certificate_chain_incomplete", "a missing intermediate"),
         _c("certificate_name_mismatch", "the certificate does not cover the name")),
    47: (_c("no_shared_group", "a key share or group the peer cannot use"),
         _c("alert_unexplained", "an inconsistent field: an implementation bug"),
         _c("tls_interception", "a middlebox that rewrites the hello")),
    48: (_c("certificate_untrusted", "the chain does not lead to a root the sender trusts"),
         _c("certificate_chain_incomplete", "the server does not send its intermediate"),
         _c("tls_interception", "a TLS-intercepting proxy whose CA the client does not trust")),
    49: (_c("client_certificate_required", "the client certificate is valid but not allowed"),),
    50: (_c("alert_unexplained", "a malformed message: an implementation bug"),
         _c("tls_interception", "a middlebox that truncates or rewrites the hello"),
         _c("clienthello_fragment_lost", "a ClientHello cut in transit")),
    51: (_c("alert_unexplained", "a signature or Finished did not verify: a bug or a wrong key"),
         _c("tls_interception", "a box that alters the handshake")),
    52: (_c("alert_unexplained", "DTLS connection IDs"),),
    60: (_c("alert_unexplained", "obsolete export ciphers"),),
    70: (_c("protocol_version_mismatch", "the peers share no TLS version (e.g. a TLS 1.3-only server and a "
                                         "TLS 1.2 client, or a TLS 1.0 client and a modern server)"),),
    71: (_c("no_shared_cipher", "the client's ciphers are below the server's minimum"),
         _c("no_shared_group", "the client's groups are below the server's minimum")),
    80: (_c("server_internal_error", "a failure at the sender unrelated to the peer"),
         _c("certificate_expired", "some servers send 80 when their certificate expired (seed 001)"),
         _c("no_shared_group", "some stacks send 80 when no group works")),
    86: (_c("protocol_version_mismatch", "a fallback retry to a lower version was refused (TLS_FALLBACK_SCSV)"),),
    90: (_c("handshake_stalled", "the sender cancelled the handshake"),),
    100: (_c("alert_unexplained", "a refused renegotiation"),),
    109: (_c("protocol_version_mismatch", "a TLS 1.3 hello without supported_versions or key_share"),
          _c("alert_unexplained", "an implementation bug")),
    110: (_c("alert_unexplained", "an extension that was not offered"),),
    111: (_c("alert_unexplained", "obsolete client certificate URLs"),),
    112: (_c("sni_missing", "the server requires SNI (nginx ssl_reject_handshake on, CDNs)"),
          _c("sni_not_hostname", "the SNI is not a name the server serves (an upstream group name, an IP)"),
          _c("certificate_name_mismatch", "the server has no virtual host for that name")),
    113: (_c("certificate_untrusted", "the stapled OCSP response is invalid"),),
    114: (_c("alert_unexplained", "obsolete certificate hash"),),
    115: (_c("alert_unexplained", "an unknown PSK identity (resumption or external PSK)"),),
    116: (_c("client_certificate_required", "TLS 1.3: the server requires a client certificate"),),
    117: (_c("alert_unexplained", "a generic error with no more specific alert"),),
    120: (_c("alert_unexplained", "no ALPN protocol in common (h2 only vs http/1.1 only)"),),
    121: (_c("alert_unexplained", "ECH offered but not accepted"),),
}

_CERT_ALERTS: Final = frozenset((42, 43, 44, 45, 46, 48, 113))


def _alert_entry(code: int) -> Entry:
    info = describe(code)
    causes = _ALERT_CAUSES.get(code, (_c("alert_unexplained", "an alert outside the registry"),))
    steps: tuple[NextStep, ...] = (_PROBE_CERT, _DIAGNOSE) if code in _CERT_ALERTS else (_PROBE, _DIAGNOSE)
    if code in (40, 112):
        steps = (_PROBE, _NGINX, _DIAGNOSE)
    sender = {"server": "usually the server", "client": "usually the client", "either": "either side"}.get(
        info.usual_sender, info.usual_sender)
    return Entry(
        key=f"alert:{code}", kind=Kind.ALERT, title=f"TLS alert {code} {info.name}", meaning=info.meaning,
        sender=f"{sender}. In a log, 'alert received' or OpenSSL's 'sslv3/tlsv1 alert ...' means the PEER sent it; "
               "'alert sent'/'SSL alert number' on nginx's server side means nginx refused.",
        causes=causes, next_steps=steps,
        source=f"{info.reference}; include/openssl/sslerr.h SSL_R_* = {SSL_AD_REASON_OFFSET + code}",
        codes=(info.name,), alert=code)


# --- OpenSSL 3.0 SSL_R_* reasons (generated from include/openssl/sslerr.h; OpenSSL prints the macro name
# lower-cased with spaces, so these are its reason strings) ---------------------------------------

_SSL_REASONS: Final[dict[int, str]] = {
    100: "app data in handshake", 101: "no suitable key share", 102: "bad dh value", 103: "bad change cipher spec",
    104: "inconsistent extms", 105: "bad hello request", 106: "bad data returned by callback",
    107: "bad decompression", 108: "bad key share", 109: "cannot change cipher", 110: "bad extension",
    111: "bad digest length", 112: "missing sigalgs extension", 113: "invalid configuration name",
    114: "bad psk identity", 115: "bad packet length", 116: "bad protocol version number",
    117: "ssl command section empty", 118: "no suitable signature algorithm", 119: "bad rsa encrypt",
    120: "invalid key update type", 121: "still in init", 122: "bad key update", 123: "bad signature",
    124: "bad ssl filetype", 125: "ssl command section not found", 126: "ssl section empty", 127: "bad write retry",
    128: "bio not set", 129: "block cipher pad is wrong", 130: "bn lib", 131: "ca dn length mismatch",
    132: "too many key updates", 133: "ccs received early", 134: "certificate verify failed",
    135: "cert length mismatch", 136: "ssl section not found", 137: "cipher code wrong length",
    139: "unknown command", 140: "compressed length too long", 141: "compression failure",
    142: "compression library error", 144: "connection type not set", 145: "data between ccs and finished",
    146: "data length too long", 147: "decryption failed", 148: "dh public value length is wrong",
    149: "digest check failed", 150: "encrypted length too long", 151: "error in received cipher list",
    152: "excessive message size", 153: "extra data in message", 154: "got a fin before a ccs",
    155: "https proxy request", 156: "http request", 157: "tls invalid ecpointformat list",
    158: "at least tls 1 2 needed in suiteb mode", 159: "length mismatch", 160: "length too short",
    161: "library has no ciphers", 162: "illegal point compression", 163: "ext length mismatch",
    164: "too much early data", 165: "missing dsa signing cert", 166: "version too high",
    167: "context not dane enabled", 168: "missing rsa certificate", 169: "missing rsa encrypting cert",
    170: "missing rsa signing cert", 171: "missing tmp dh key", 172: "dane already enabled",
    173: "dane cannot override mtype full", 174: "invalid max early data", 175: "dane not enabled",
    176: "no certificates returned", 177: "no certificate assigned", 178: "unexpected end of early data",
    179: "no certificate set", 180: "dane tlsa bad certificate", 181: "no ciphers available",
    182: "not on record boundary", 183: "no ciphers specified", 184: "dane tlsa bad certificate usage",
    185: "no cipher match", 186: "bad cipher", 187: "no compression specified", 188: "no method specified",
    189: "dane tlsa bad data length", 190: "no private key assigned", 191: "no protocols available",
    192: "dane tlsa bad digest length", 193: "no shared cipher", 194: "exceeds max fragment size",
    195: "null ssl ctx", 196: "null ssl method passed", 197: "old session cipher not returned",
    198: "packet length too long", 199: "peer did not return a certificate", 200: "dane tlsa bad matching type",
    201: "dane tlsa bad public key", 202: "dane tlsa bad selector", 203: "dane tlsa null data",
    204: "error setting tlsa base domain", 205: "invalid alert", 206: "custom ext handler already installed",
    207: "protocol is shutdown", 208: "sct verification failed", 209: "missing supported groups extension",
    210: "ssl session version mismatch", 211: "read bio not set", 212: "invalid ct validation type",
    213: "record length mismatch", 214: "no change following hrr", 215: "required cipher missing",
    216: "no valid scts", 217: "unsolicited extension", 218: "ciphersuite digest has changed", 219: "bad psk",
    220: "signature for non signing certificate", 221: "missing signing cert", 222: "inconsistent early data alpn",
    223: "psk identity not found", 224: "psk no client cb", 225: "psk no server cb", 226: "clienthello tlsext",
    227: "parse tlsext", 228: "ssl ctx has no default ssl version", 229: "ssl handshake failure",
    230: "ssl library has no ciphers", 231: "inconsistent early data sni",
    232: "ssl3 ext invalid max fragment length", 233: "bad early data", 234: "callback failed",
    235: "no application protocol", 236: "bad handshake state", 237: "overflow error",
    238: "invalid certificate or alg", 239: "unable to find public key parameters", 240: "bad packet",
    241: "insufficient security", 242: "unable to load ssl3 md5 routines", 243: "unable to load ssl3 sha1 routines",
    244: "unexpected message", 245: "unexpected record", 246: "unknown alert type", 247: "unknown certificate type",
    248: "unknown cipher returned", 249: "unknown cipher type", 250: "unknown key exchange type",
    251: "unknown pkey type", 252: "unknown protocol", 253: "binder does not verify", 254: "unknown ssl version",
    255: "unknown state", 256: "missing fatal", 257: "unsupported compression algorithm", 258: "unsupported protocol",
    259: "unsupported ssl version", 260: "invalid ccs message", 261: "wrong cipher returned",
    262: "unexpected ccs message", 263: "bad hrr version", 264: "wrong signature length", 265: "wrong signature size",
    266: "wrong ssl version", 267: "wrong version number", 268: "x509 lib", 269: "x509 verification setup problems",
    270: "path too long", 271: "bad length", 272: "attempt to reuse session in different context",
    273: "ssl session id context too long", 274: "library bug", 275: "serverhello tlsext", 276: "uninitialized",
    277: "session id context uninitialized", 278: "post handshake auth encoding err", 279: "extension not received",
    280: "invalid command", 281: "decryption failed or bad record mac", 282: "invalid context", 283: "invalid config",
    284: "not server", 285: "request pending", 286: "request sent", 287: "no cookie callback set",
    288: "private key mismatch", 289: "not replacing certificate", 290: "missing parameters",
    291: "application data after close notify", 292: "bad legacy version",
    293: "mixed handshake and non handshake data", 294: "unexpected eof while reading", 295: "no suitable groups",
    296: "copy parameters failed", 297: "no suitable digest algorithm", 298: "record too small",
    299: "cannot get group name", 300: "ssl3 session id too long", 301: "ssl session id callback failed",
    302: "ssl session id conflict", 303: "ssl session id has bad length", 304: "bad ecc cert",
    305: "ocsp callback failure", 306: "bad ecpoint", 307: "compression id not within private range",
    308: "cookie mismatch", 309: "duplicate compression id", 310: "missing psk kex modes extension",
    311: "missing tmp ecdh key", 312: "read timeout expired", 314: "unable to find ecdh parameters",
    315: "unsupported elliptic curve", 318: "ecc cert not for signing", 319: "ssl3 ext invalid servername",
    320: "ssl3 ext invalid servername type", 324: "no required digest", 325: "invalid ticket keys length",
    328: "invalid status response", 329: "unsupported status type", 330: "no gost certificate sent by peer",
    331: "no client cert method", 332: "bad handshake length", 333: "legacy sigalg disallowed or unsupported",
    334: "dtls message too big", 335: "renegotiate ext too long", 336: "renegotiation encoding err",
    337: "renegotiation mismatch", 338: "unsafe legacy renegotiation disabled", 339: "no renegotiation",
    340: "inconsistent compression", 341: "invalid compression algorithm",
    342: "required compression algorithm missing", 343: "compression disabled",
    344: "old session compression algorithm not returned", 345: "scsv received when renegotiating",
    347: "bad srp a length", 352: "bad srtp mki value", 353: "bad srtp protection profile list",
    354: "empty srtp protection profile list", 357: "invalid srp username", 358: "missing srp param",
    359: "no srtp profiles", 360: "signature algorithms error", 361: "srp a calc",
    362: "srtp could not allocate profiles", 363: "srtp protection profile list too long",
    364: "srtp unknown protection profile", 367: "tls illegal exporter label", 368: "unknown digest",
    369: "use srtp not negotiated", 370: "wrong signature type", 371: "bad srp parameters",
    372: "ssl negative length", 373: "inappropriate fallback", 374: "ecdh required for suiteb mode",
    376: "no shared signature algorithms", 377: "cert cb error", 378: "wrong curve", 380: "illegal suiteb digest",
    381: "missing ecdsa signing cert", 383: "wrong certificate type", 384: "bad value", 385: "invalid null cmd name",
    386: "unknown cmd name", 388: "invalid serverinfo data", 389: "no pem extensions", 390: "bad data",
    391: "pem name bad prefix", 392: "pem name too short", 394: "dh key too small", 396: "version too low",
    397: "ca key too small", 398: "ca md too weak", 399: "ee key too small", 400: "cookie gen callback failure",
    401: "fragmented client hello", 402: "invalid sequence number", 403: "no verify cookie callback",
    404: "length too long", 405: "failed to init async", 406: "pipeline failure", 407: "shutdown while in init",
    408: "ssl session id too long", 409: "too many warn alerts", 410: "no shared groups", 443: "bad record type",
    999: "invalid session id", 1010: "sslv3 alert unexpected message", 1020: "sslv3 alert bad record mac",
    1021: "tlsv1 alert decryption failed", 1022: "tlsv1 alert record overflow",
    1030: "sslv3 alert decompression failure", 1040: "sslv3 alert handshake failure",
    1041: "sslv3 alert no certificate", 1042: "sslv3 alert bad certificate",
    1043: "sslv3 alert unsupported certificate", 1044: "sslv3 alert certificate revoked",
    1045: "sslv3 alert certificate expired", 1046: "sslv3 alert certificate unknown",
    1047: "sslv3 alert illegal parameter", 1048: "tlsv1 alert unknown ca", 1049: "tlsv1 alert access denied",
    1050: "tlsv1 alert decode error", 1051: "tlsv1 alert decrypt error", 1060: "tlsv1 alert export restriction",
    1070: "tlsv1 alert protocol version", 1071: "tlsv1 alert insufficient security",
    1080: "tlsv1 alert internal error", 1086: "tlsv1 alert inappropriate fallback",
    1090: "tlsv1 alert user cancelled", 1100: "tlsv1 alert no renegotiation", 1109: "tlsv13 alert missing extension",
    1110: "tlsv1 unsupported extension", 1111: "tlsv1 certificate unobtainable", 1112: "tlsv1 unrecognized name",
    1113: "tlsv1 bad certificate status response", 1114: "tlsv1 bad certificate hash value",
    1115: "tlsv1 alert unknown psk identity", 1116: "tlsv13 alert certificate required",
    1120: "tlsv1 alert no application protocol",
}


# --- OpenSSL reasons that are not alerts (include/openssl/sslerr.h) ---------------------------------

_SSLERR = "include/openssl/sslerr.h"
_X509 = "include/openssl/x509_vfy.h; crypto/x509/x509_txt.c"
_NGX = "nginx src/event/ngx_event_openssl.c"
_NGXP = "nginx src/http/ngx_http_upstream.c / ngx_http_proxy_module.c"
_CURL = "curl docs/libcurl/libcurl-errors.md"


def _ossl(reason: int, name: str, meaning: str, sender: str, causes: tuple[Cause, ...],
          steps: tuple[NextStep, ...], extra: tuple[str, ...] = ()) -> Entry:
    text = _SSL_REASONS.get(reason, name.lower().replace("_", " "))
    return Entry(key=f"openssl:{reason}", kind=Kind.OPENSSL, title=f"OpenSSL: {text} (SSL_R_{name} {reason})",
                 meaning=meaning, sender=sender, causes=causes, next_steps=steps,
                 source=f"{_SSLERR} SSL_R_{name} = {reason} (3.x code 0A{reason:06X})",
                 patterns=(re.escape(text), *extra), codes=(f"SSL_R_{name}", name),
                 openssl_reason=reason)


def _x509(code: int, text: str, causes: tuple[Cause, ...], extra: tuple[str, ...] = ()) -> Entry:
    name_pattern = re.escape(text).replace(r"\ ", r"[ _-]")
    return Entry(key=f"x509:{code}", kind=Kind.X509, title=f"X.509 verify error {code}: {text}",
                 meaning=f"Certificate verification failed: {text}. The side that prints it (a client checking "
                         "the server, or a server checking a client certificate) rejected the peer's chain.",
                 sender="printed by the verifying side, about the peer's certificate",
                 causes=causes, next_steps=(_PROBE_CERT, _NGINX), source=f"{_X509} X509_V_ERR {code}",
                 patterns=(rf"\b{code}\s*:\s*{name_pattern}", name_pattern, *extra), x509_error=code)


def _row(key: str, kind: Kind, title: str, meaning: str, sender: str, causes: tuple[Cause, ...],
         steps: tuple[NextStep, ...], source: str, patterns: tuple[str, ...] = (), codes: tuple[str, ...] = (),
         curl_code: int | None = None) -> Entry:
    return Entry(key=key, kind=kind, title=title, meaning=meaning, sender=sender, causes=causes, next_steps=steps,
                 source=source, patterns=patterns, codes=codes, curl_code=curl_code)


_VERIFY_CAUSES = (_c("certificate_expired", "the peer's certificate (or an intermediate) expired"),
                  _c("certificate_untrusted", "unknown issuer or self-signed"),
                  _c("certificate_chain_incomplete", "the server does not send its intermediate"),
                  _c("certificate_name_mismatch", "the name checked is not in the certificate"))
_NOT_TLS = _c("not_tls", "the peer answered with plain HTTP or another protocol (a TLS client on an HTTP port)")
_EOF_CAUSES = (_c("clienthello_unanswered", "the server closed (FIN) after the ClientHello without an answer"),
               _c("sni_missing", "some servers close instead of sending alert 40/112 when SNI is missing"),
               _c("rst_after_clienthello", "a reset right after the ClientHello (seen as EOF by some stacks)"),
               _c("handshake_stalled", "the peer stopped mid-handshake"))
_RESET_CAUSES = (_c("rst_injection", "a box on the path forges resets, often keyed on the SNI (seed 004)"),
                 _c("rst_after_clienthello", "the server itself resets (overload, a TLS-less listener, a ban)"),
                 _c("sni_missing", "a server or CDN that resets ClientHellos without SNI"),
                 _c("clienthello_fragment_lost", "a large ClientHello whose later segment a middlebox refuses"))
_TIMEOUT_CAUSES = (_c("clienthello_unanswered", "the ClientHello is acknowledged and never answered"),
                   _c("middlebox_clienthello_blackhole", "something that is not the server ACKs it (seed 003)"),
                   _c("clienthello_fragment_lost", "a large ClientHello whose later segment never arrives"),
                   _c("flow_split", "a load-balancer hash split the flow across nodes (seed 003)"),
                   _c("tcp_connect_timeout", "the TCP connection itself was never established"))

ROWS: Final[tuple[Entry, ...]] = (
    # OpenSSL reasons
    _ossl(134, "CERTIFICATE_VERIFY_FAILED", "This side verified the peer's certificate chain and rejected it; "
          "the X.509 reason (expired, unable to get local issuer certificate, hostname mismatch) follows.",
          "printed by the verifying side (a client about the server, or a server about a client certificate)",
          _VERIFY_CAUSES, (_PROBE_CERT, _NGINX)),
    _ossl(267, "WRONG_VERSION_NUMBER", "The bytes received where a TLS record was expected do not carry a TLS "
          "version: usually plain HTTP (\"HTTP/1.1 400\") answering a ClientHello, or a TLS client talking to a "
          "non-TLS port.", "printed by the side that received the non-TLS bytes",
          (_NOT_TLS, _c("protocol_version_mismatch", "rarely: a record version the stack refuses"),
           _c("tls_interception", "a proxy that answers in plain text (an HTTP proxy's error page)")),
          (_PROBE, _DIAGNOSE, _NGINX)),
    _ossl(252, "UNKNOWN_PROTOCOL", "OpenSSL 1.0.2's name for a non-TLS answer to a ClientHello "
          "(SSL23_GET_SERVER_HELLO:unknown protocol): the peer does not speak TLS on this port.",
          "printed by the client", (_NOT_TLS,), (_PROBE, _DIAGNOSE)),
    _ossl(156, "HTTP_REQUEST", "A server received a plain HTTP request on its TLS port.",
          "printed by the TLS server; the client spoke HTTP", (_NOT_TLS,), (_NGINX, _DIAGNOSE)),
    _ossl(155, "HTTPS_PROXY_REQUEST", "A server received an HTTP CONNECT (proxy) request on its TLS port.",
          "printed by the TLS server", (_NOT_TLS,), (_DIAGNOSE,)),
    _ossl(198, "PACKET_LENGTH_TOO_LONG", "A record header announced a length over the limit: the peer's bytes "
          "are probably not TLS.", "printed by the receiving side", (_NOT_TLS,
          _c("tls_interception", "a box that corrupts the stream")), (_PROBE, _DIAGNOSE)),
    _ossl(193, "NO_SHARED_CIPHER", "The server found no cipher suite it accepts in the ClientHello (it then "
          "sends alert 40).", "printed by the server",
          (_c("no_shared_cipher", "the client's suites and the server's differ (key type, seclevel, TLS 1.3 "
              "suites only)"), _c("sni_missing", "no certificate for the (missing) name, so no suite fits")),
          (_PROBE, _DIAGNOSE)),
    _ossl(410, "NO_SHARED_GROUPS", "No key-exchange group in common.", "printed by the server",
          (_c("no_shared_group", "the client's groups and the server's differ"),), (_PROBE, _DIAGNOSE)),
    _ossl(118, "NO_SUITABLE_SIGNATURE_ALGORITHM", "No signature algorithm that both sides accept fits the "
          "certificate's key.", "printed by the side choosing the signature",
          (_c("no_shared_group", "no signature algorithm in common with the certificate's key type"),
           _c("no_shared_cipher", "an ECDSA-only offer against an RSA certificate, or the reverse")), (_PROBE,)),
    _ossl(258, "UNSUPPORTED_PROTOCOL", "The peer chose, or only offers, a version this side does not allow.",
          "printed by the side that refused the version",
          (_c("protocol_version_mismatch", "TLS 1.0/1.1 on one side, 1.2+ only on the other"),), (_PROBE,)),
    _ossl(191, "NO_PROTOCOLS_AVAILABLE", "This side's own configuration allows no TLS version (MinProtocol "
          "above MaxProtocol, or seclevel forbids them).", "printed by the misconfigured side (ours)",
          (_c("protocol_version_mismatch", "a local configuration error"),), (_NGINX,)),
    _ossl(396, "VERSION_TOO_LOW", "The peer's version is below this side's minimum.", "printed by the refusing side",
          (_c("protocol_version_mismatch", "an old client or server (TLS 1.0/1.1)"),), (_PROBE,)),
    _ossl(166, "VERSION_TOO_HIGH", "The peer's version is above this side's maximum.", "printed by the refusing side",
          (_c("protocol_version_mismatch", "a max version configured too low"),), (_PROBE,)),
    _ossl(294, "UNEXPECTED_EOF_WHILE_READING", "The peer closed the TCP connection (FIN) in the middle of the "
          "handshake without an alert (OpenSSL 3.x; 1.1.1 reported SSL_ERROR_SYSCALL with errno 0).",
          "printed by the side that saw the close: the PEER closed", _EOF_CAUSES, (_PROBE, _DIAGNOSE)),
    _ossl(229, "SSL_HANDSHAKE_FAILURE", "The handshake failed; the reasons before it in the error queue say why.",
          "either side", (_c("alert_unexplained", "read the other errors of the same line"),), (_PROBE, _DIAGNOSE)),
    _ossl(281, "DECRYPTION_FAILED_OR_BAD_RECORD_MAC", "A record failed authentication.", "the receiving side",
          (_c("tls_interception", "a box that alters records"),
           _c("alert_unexplained", "corruption or a stack bug")), (_DIAGNOSE,)),
    _ossl(338, "UNSAFE_LEGACY_RENEGOTIATION_DISABLED", "OpenSSL 3.x refuses a server that does not support secure "
          "renegotiation (RFC 5746), which 1.1.1 accepted.", "printed by an OpenSSL 3.x client",
          (_c("protocol_version_mismatch", "an old server or middlebox; Options UnsafeLegacyServerConnect "
              "works around it"),), (_PROBE,)),
    _ossl(394, "DH_KEY_TOO_SMALL", "The server's DH parameters are below this side's security level.",
          "printed by the client", (_c("no_shared_group", "a 1024-bit DH group; prefer ECDHE"),), (_PROBE,)),
    _ossl(398, "CA_MD_TOO_WEAK", "A certificate of the chain is signed with a digest below the security level "
          "(MD5, SHA-1).", "printed by the verifying side",
          (_c("certificate_untrusted", "a SHA-1 (or MD5) signed certificate"),), (_PROBE_CERT,)),
    _ossl(399, "EE_KEY_TOO_SMALL", "The certificate's key is below the security level (RSA < 2048).",
          "printed by the side loading or verifying the certificate",
          (_c("certificate_untrusted", "a weak key"),), (_PROBE_CERT,)),
    _ossl(199, "PEER_DID_NOT_RETURN_A_CERTIFICATE", "A server that requires client certificates got none.",
          "printed by the server", (_c("client_certificate_required", "the client sent no certificate"),),
          (_PROBE, _DIAGNOSE)),
    _ossl(152, "EXCESSIVE_MESSAGE_SIZE", "A handshake message exceeds this side's limit (100 KiB certificate "
          "list by default).", "printed by the receiving side",
          (_c("handshake_stalled", "an oversized certificate chain or a broken peer"),), (_PROBE,)),
    _ossl(244, "UNEXPECTED_MESSAGE", "A handshake message arrived out of order.", "the receiving side",
          (_c("alert_unexplained", "an implementation bug"), _c("tls_interception", "a rewriting middlebox")),
          (_DIAGNOSE,)),
    _ossl(245, "UNEXPECTED_RECORD", "A record of an unexpected type arrived.", "the receiving side",
          (_c("tls_interception", "a rewriting middlebox"), _c("alert_unexplained", "a bug")), (_DIAGNOSE,)),
    # X.509 verification errors (nginx "(10:certificate has expired)", curl 60, Python, Node)
    _x509(10, "certificate has expired", (_c("certificate_expired", "notAfter is in the past"),),
          (r"CERT_HAS_EXPIRED", r"certificate (?:has )?expired")),
    _x509(9, "certificate is not yet valid", (_c("certificate_not_yet_valid", "notBefore in the future, or a "
                                                                              "wrong clock"),),
          (r"CERT_NOT_YET_VALID",)),
    _x509(18, "self-signed certificate", (_c("certificate_untrusted", "a self-signed leaf"),),
          (r"DEPTH_ZERO_SELF_SIGNED_CERT", r"self[ -]signed certificate(?! in)")),
    _x509(19, "self-signed certificate in certificate chain",
          (_c("certificate_untrusted", "a private root the client does not trust"),
           _c("tls_interception", "an intercepting proxy's root")), (r"SELF_SIGNED_CERT_IN_CHAIN",
                                                                     r"self[ -]signed certificate in")),
    _x509(20, "unable to get local issuer certificate",
          (_c("certificate_chain_incomplete", "the server does not send its intermediate"),
           _c("certificate_untrusted", "a root missing from the client's store (private CA, old store)"),
           _c("tls_interception", "an intercepting proxy's CA")), (r"UNABLE_TO_GET_ISSUER_CERT_LOCALLY",)),
    _x509(21, "unable to verify the first certificate",
          (_c("certificate_chain_incomplete", "the server sends the leaf without its intermediate"),),
          (r"UNABLE_TO_VERIFY_LEAF_SIGNATURE",)),
    _x509(2, "unable to get issuer certificate",
          (_c("certificate_chain_incomplete", "an intermediate's issuer is missing"),), ()),
    _x509(23, "certificate revoked", (_c("certificate_untrusted", "revoked by its CA"),), (r"CERT_REVOKED",)),
    _x509(62, "hostname mismatch", (_c("certificate_name_mismatch", "the name asked for is not in the "
                                                                   "certificate"),
                                    _c("sni_missing", "without SNI the server sent its default certificate")),
          (r"ERR_TLS_CERT_ALTNAME_INVALID", r"Hostname/IP does not match", r"no alternative certificate subject "
           r"name matches", r"No subject alternative (?:DNS )?names? matching", r"certificate is (?:valid for|not "
           r"valid for)", r"doesn't match", r"IP address mismatch")),
    # nginx error log
    _row("nginx:handshake_failed", Kind.NGINX, "nginx: SSL_do_handshake() failed",
         "nginx's TLS handshake failed. 'while SSL handshaking to upstream' means nginx was the CLIENT (the "
         "upstream refused or nginx rejected it: the text in parentheses says which); without it, a client of "
         "nginx failed to handshake with nginx as the server.",
         "nginx; the OpenSSL reason in parentheses says which side failed",
         (_c("sni_missing", "to upstream: proxy_pass https:// without proxy_ssl_server_name on (seeds 000, 002)"),
          _c("sni_not_hostname", "to upstream: SNI = the upstream group's name"),
          _c("certificate_expired", "to upstream: the upstream's certificate expired (seed 001)"),
          _c("protocol_version_mismatch", "proxy_ssl_protocols vs the upstream's versions"),
          _c("no_shared_cipher", "proxy_ssl_ciphers vs the upstream's suites")),
         (_NGINX, _PROBE, _DIAGNOSE), f"{_NGX} ngx_ssl_handshake()",
         (r"SSL_do_handshake\(\) failed",), ("SSL_do_handshake",)),
    _row("nginx:peer_closed", Kind.NGINX, "nginx: peer closed connection in SSL handshake",
         "The peer closed (FIN) or reset (104) the connection during the handshake. With '(104: Connection reset "
         "by peer)' the peer, or something forging its packets, sent a RST.",
         "nginx, about the peer (a client, or the upstream when 'to upstream')",
         (_c("rst_injection", "a box on the path resets by SNI: both ends see a reset (seed 004)"),
          _c("rst_after_clienthello", "the upstream resets right after the ClientHello"),
          _c("sni_missing", "an upstream that closes when SNI is missing"),
          _c("clienthello_unanswered", "scanners and health checks that close at once")),
         (_PROBE, _DIAGNOSE), f"{_NGX} ngx_ssl_handshake()",
         (r"peer closed connection in SSL handshake",)),
    _row("nginx:upstream_verify", Kind.NGINX, "nginx: upstream SSL certificate verify error",
         "With proxy_ssl_verify on, nginx rejected the upstream's certificate; the X.509 error is in parentheses, "
         "e.g. (10:certificate has expired), (20:unable to get local issuer certificate).",
         "nginx as the client, about the upstream's certificate", _VERIFY_CAUSES, (_PROBE_CERT, _NGINX),
         f"{_NGXP} ngx_http_upstream_ssl_handshake()", (r"upstream SSL certificate verify error",)),
    _row("nginx:upstream_name", Kind.NGINX, "nginx: upstream SSL certificate does not match",
         "proxy_ssl_verify is on and the upstream's certificate does not cover proxy_ssl_name (default: the "
         "proxy_pass host, i.e. the upstream group's name).", "nginx as the client",
         (_c("certificate_name_mismatch", "the certificate does not cover the checked name"),
          _c("sni_not_hostname", "proxy_ssl_name unset: the group name is checked and sent as SNI")),
         (_NGINX, _PROBE_CERT), f"{_NGXP} ngx_http_upstream_ssl_handshake()",
         (r"upstream SSL certificate does not match",)),
    _row("nginx:handshake_timeout", Kind.NGINX, "nginx: timed out while SSL handshaking",
         "nginx waited for the peer's next handshake message until proxy_connect_timeout / client_header_timeout.",
         "nginx, about a silent peer", _TIMEOUT_CAUSES, (_PROBE, _DIAGNOSE),
         f"{_NGXP} / src/http/ngx_http_request.c", (r"timed out .{0,40}while SSL handshaking",
                                                    r"client timed out .{0,40}SSL handshak")),
    _row("nginx:no_live_upstreams", Kind.NGINX, "nginx: no live upstreams",
         "Every server of the upstream group is marked down after earlier failures (max_fails/fail_timeout): the "
         "real error is the one logged before, for each server.", "nginx",
         (_c("sni_missing", "each server failed the handshake (seed 002)"),
          _c("certificate_expired", "each server's certificate was rejected"),
          _c("tcp_connect_refused", "the servers refuse TCP")), (_NGINX, _PROBE),
         f"{_NGXP} ngx_http_upstream_next()", (r"no live upstreams",)),
    _row("nginx:ssl_read", Kind.NGINX, "nginx: SSL_read() failed",
         "Reading application data over an established TLS connection failed (after the handshake).",
         "nginx, about the peer", (_c("rst_injection", "resets injected mid-stream"),
                                   _c("handshake_stalled", "a peer that broke the session")),
         (_DIAGNOSE,), f"{_NGX} ngx_ssl_recv()", (r"SSL_read\(\) failed",)),
    _row("nginx:ssl_reject_handshake", Kind.NGINX, "nginx: ssl_reject_handshake",
         "A server block with 'ssl_reject_handshake on' refuses every handshake it gets (alert 112 "
         "unrecognized_name): it is used as the default server so that unknown or missing SNI is refused.",
         "nginx as the server", (_c("sni_missing", "the client sent no SNI and fell on the default server"),
                                 _c("sni_not_hostname", "the client's SNI matches no server_name")),
         (_NGINX, _PROBE), "nginx src/http/modules/ngx_http_ssl_module.c (ssl_reject_handshake, 1.19.4)",
         (r"ssl_reject_handshake",)),
    _row("nginx:plain_http", Kind.NGINX, "nginx: the plain HTTP request was sent to HTTPS port",
         "nginx (400) received plain HTTP on a TLS listener.", "nginx as the server, about the client",
         (_NOT_TLS,), (_NGINX,), "nginx src/http/ngx_http_special_response.c (497)",
         (r"plain HTTP request was sent to HTTPS port", r"client sent plain HTTP request to HTTPS port")),
    # curl exit codes (libcurl-errors)
    _row("curl:35", Kind.CURL, "curl (35) CURLE_SSL_CONNECT_ERROR", "The TLS handshake failed; the rest of the "
         "message (OpenSSL's reason, SSL_ERROR_SYSCALL, an alert) says how.", "curl, the client",
         (_c("sni_missing", "curl by IP address sends no SNI"), _c("rst_injection", "SSL_ERROR_SYSCALL: a reset "
          "(seed 004)"), _c("protocol_version_mismatch", "alert protocol version"),
          _c("no_shared_cipher", "alert handshake failure"), _NOT_TLS),
         (_PROBE, _DIAGNOSE), f"{_CURL} CURLE_SSL_CONNECT_ERROR (35)",
         (r"curl: \(35\)", r"SSL connect error", r"CURLE_SSL_CONNECT_ERROR"), ("35", "CURLE_SSL_CONNECT_ERROR"), 35),
    _row("curl:28", Kind.CURL, "curl (28) CURLE_OPERATION_TIMEDOUT", "A timeout: in the TCP connect, or in the "
         "handshake ('SSL connection timeout').", "curl, the client", _TIMEOUT_CAUSES, (_PROBE, _DIAGNOSE),
         f"{_CURL} CURLE_OPERATION_TIMEDOUT (28)", (r"curl: \(28\)", r"SSL connection timeout",
                                                     r"Connection timed out after", r"Operation timed out"),
         ("28", "CURLE_OPERATION_TIMEDOUT"), 28),
    _row("curl:56", Kind.CURL, "curl (56) CURLE_RECV_ERROR", "Receiving data failed, typically 'Connection reset by "
         "peer' or an unexpected EOF after the handshake or during it.", "curl, the client", _RESET_CAUSES,
         (_PROBE, _DIAGNOSE), f"{_CURL} CURLE_RECV_ERROR (56)", (r"curl: \(56\)", r"Failure when receiving data",
                                                                 r"CURLE_RECV_ERROR"), ("56", "CURLE_RECV_ERROR"), 56),
    _row("curl:60", Kind.CURL, "curl (60) CURLE_PEER_FAILED_VERIFICATION", "The server's certificate failed "
         "verification: expired, unknown issuer, or a name mismatch (the text says which).", "curl, the client",
         _VERIFY_CAUSES, (_PROBE_CERT,), f"{_CURL} CURLE_PEER_FAILED_VERIFICATION (60)",
         (r"curl: \(60\)", r"SSL certificate problem", r"CURLE_PEER_FAILED_VERIFICATION"),
         ("60", "CURLE_PEER_FAILED_VERIFICATION"), 60),
    _row("curl:51", Kind.CURL, "curl (51) server certificate name mismatch", "In current curl 51 is "
         "CURLE_PEER_FAILED_VERIFICATION's older number for 'SSL: no alternative certificate subject name matches "
         "target host name': the certificate does not cover the name.", "curl, the client",
         (_c("certificate_name_mismatch", "the certificate does not cover the host"),
          _c("sni_missing", "by IP address: no SNI, so the default certificate")), (_PROBE_CERT,),
         f"{_CURL} (51, before 7.62 CURLE_PEER_FAILED_VERIFICATION)", (r"curl: \(51\)",), ("51",), 51),
    _row("curl:7", Kind.CURL, "curl (7) CURLE_COULDNT_CONNECT", "The TCP connection failed: refused, or no route.",
         "curl, the client", (_c("tcp_connect_refused", "nothing listens (RST to the SYN)"),
                              _c("tcp_connect_timeout", "no SYN-ACK: a firewall drops it")),
         (_PROBE,), f"{_CURL} CURLE_COULDNT_CONNECT (7)", (r"curl: \(7\)", r"Failed to connect to",
                                                           r"Couldn't connect to server"),
         ("7", "CURLE_COULDNT_CONNECT"), 7),
    _row("curl:6", Kind.CURL, "curl (6) CURLE_COULDNT_RESOLVE_HOST", "The host name did not resolve: DNS, not TLS.",
         "curl, the client", (_c("tcp_connect_timeout", "no connection was even attempted"),), (_PROBE,),
         f"{_CURL} CURLE_COULDNT_RESOLVE_HOST (6)", (r"curl: \(6\)", r"Could not resolve host"),
         ("6", "CURLE_COULDNT_RESOLVE_HOST"), 6),
    _row("openssl:ssl_error_syscall", Kind.OPENSSL, "SSL_ERROR_SYSCALL",
         "OpenSSL's I/O failed with a system error (errno) or, in 1.1.1, an EOF nobody announced: the TCP "
         "connection was reset or closed under the handshake. curl prints it for (35) and (56).",
         "printed by the side whose socket failed: the PEER (or the path) ended the connection",
         _RESET_CAUSES + _EOF_CAUSES[:1], (_PROBE, _DIAGNOSE), "include/openssl/ssl.h SSL_ERROR_SYSCALL (5)",
         (r"SSL_ERROR_SYSCALL",), ("SSL_ERROR_SYSCALL",)),
    _row("system:econnreset", Kind.SYSTEM, "Connection reset by peer (ECONNRESET, errno 104)",
         "A TCP RST arrived. During a handshake: the server refused abruptly, or a box on the path forged the RST.",
         "the kernel, about a RST from the peer or the path", _RESET_CAUSES, (_PROBE, _DIAGNOSE),
         "errno ECONNRESET (Linux 104); SSL_connect in curl's message",
         (r"Connection reset by peer", r"\bECONNRESET\b", r"\b104: Connection reset", r"SSL_connect: Connection "
          r"reset", r"connection reset", r"Connection reset"), ("ECONNRESET",)),
    _row("system:econnrefused", Kind.SYSTEM, "Connection refused (ECONNREFUSED, errno 111)",
         "A RST answered the SYN: nothing listens, or a firewall rejects.", "the kernel",
         (_c("tcp_connect_refused", "no listener on that address and port"),), (_PROBE,), "errno ECONNREFUSED",
         (r"Connection refused", r"\bECONNREFUSED\b"), ("ECONNREFUSED",)),
    # Java (JSSE)
    _row("java:pkix", Kind.JAVA, "Java: PKIX path building failed",
         "JSSE found no path from the server's certificate to a root in its truststore "
         "(sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path).",
         "the Java client, about the server's chain",
         (_c("certificate_untrusted", "a private CA not in the JVM's cacerts"),
          _c("certificate_chain_incomplete", "the server does not send its intermediate (browsers fetch it, "
                                             "Java does not)"), _c("tls_interception", "an intercepting proxy")),
         (_PROBE_CERT,), "JDK sun.security.validator.PKIXValidator",
         (r"PKIX path building failed", r"unable to find valid certification path", r"SunCertPathBuilderException")),
    _row("java:san", Kind.JAVA, "Java: No subject alternative DNS name matching",
         "JSSE's hostname check failed: the certificate does not cover the name (CertificateException).",
         "the Java client", (_c("certificate_name_mismatch", "the name is not in subjectAltName"),
                             _c("sni_missing", "no SNI sent, default certificate served")), (_PROBE_CERT,),
         "JDK sun.security.util.HostnameChecker", (r"No subject alternative (?:DNS )?names? matching",
                                                   r"No name matching .* found")),
    _row("java:plaintext", Kind.JAVA, "Java: Unrecognized SSL message, plaintext connection?",
         "JSSE received bytes that are not a TLS record.", "the Java side", (_NOT_TLS,), (_PROBE,),
         "JDK sun.security.ssl.SSLSocketInputRecord", (r"Unrecognized SSL message", r"plaintext connection\?")),
    _row("java:remote_closed", Kind.JAVA, "Java: Remote host terminated the handshake",
         "The peer closed the connection during the handshake (javax.net.ssl.SSLHandshakeException).",
         "the Java client, about the peer", _EOF_CAUSES, (_PROBE, _DIAGNOSE), "JDK sun.security.ssl.SSLSocketImpl",
         (r"Remote host (?:terminated|closed connection during) the handshake",)),
    _row("java:protocol", Kind.JAVA, "Java: No appropriate protocol", "The JVM's enabled protocols and the peer's "
         "have nothing in common (jdk.tls.disabledAlgorithms disables TLS 1.0/1.1).", "the Java side",
         (_c("protocol_version_mismatch", "TLS 1.0/1.1 disabled in the JVM, or TLS 1.3-only server with Java 8"),),
         (_PROBE,), "JDK sun.security.ssl.HandshakeContext",
         (r"No appropriate protocol", r"protocol is disabled or cipher suites are inappropriate")),
    # Go crypto/tls
    _row("go:not_tls", Kind.GO, "Go: first record does not look like a TLS handshake",
         "crypto/tls received bytes that are not TLS (typically an HTTP response).", "the Go client", (_NOT_TLS,),
         (_PROBE,), "Go src/crypto/tls/conn.go", (r"first record does not look like a TLS handshake",
                                                  r"server gave HTTP response to HTTPS client")),
    _row("go:unknown_authority", Kind.GO, "Go: x509: certificate signed by unknown authority",
         "Go's verifier found no path to a trusted root.", "the Go client",
         (_c("certificate_untrusted", "a private CA not in the system pool"),
          _c("certificate_chain_incomplete", "a missing intermediate"),
          _c("tls_interception", "an intercepting proxy")), (_PROBE_CERT,), "Go src/crypto/x509/verify.go",
         (r"x509: certificate signed by unknown authority",)),
    _row("go:expired", Kind.GO, "Go: x509: certificate has expired or is not yet valid",
         "Go's verifier found the certificate outside its validity at the current time.", "the Go client",
         (_c("certificate_expired", "notAfter in the past"), _c("certificate_not_yet_valid", "a wrong clock")),
         (_PROBE_CERT,), "Go src/crypto/x509/verify.go", (r"x509: certificate has expired or is not yet valid",)),
    _row("go:name", Kind.GO, "Go: x509: certificate is valid for X, not Y",
         "Go's hostname check failed.", "the Go client",
         (_c("certificate_name_mismatch", "the certificate does not cover the name"),
          _c("sni_missing", "no SNI, default certificate")), (_PROBE_CERT,), "Go src/crypto/x509/verify.go",
         (r"x509: certificate is valid for \S.*, not \S", r"x509: certificate is not valid for any names")),
    _row("go:eof", Kind.GO, "Go: EOF during the TLS handshake", "The peer closed the connection before answering "
         "('tls: handshake failure' with EOF, or 'EOF').", "the Go client, about the peer", _EOF_CAUSES,
         (_PROBE, _DIAGNOSE), "Go src/crypto/tls/handshake_client.go", (r"TLS handshake.{0,20}\bEOF\b",)),
    # Python ssl
    _row("python:verify", Kind.PYTHON, "Python: ssl.SSLCertVerificationError CERTIFICATE_VERIFY_FAILED",
         "Python's ssl (OpenSSL) rejected the server's certificate; the text after the colon is the X.509 reason.",
         "the Python client", _VERIFY_CAUSES, (_PROBE_CERT,), "CPython Modules/_ssl.c; " + _SSLERR,
         (r"SSLCertVerificationError", r"CERTIFICATE_VERIFY_FAILED"), ("CERTIFICATE_VERIFY_FAILED",)),
    _row("python:eof", Kind.PYTHON, "Python: ssl.SSLEOFError UNEXPECTED_EOF_WHILE_READING",
         "The peer closed the connection in the handshake without an alert ('EOF occurred in violation of "
         "protocol').", "the Python client, about the peer", _EOF_CAUSES, (_PROBE, _DIAGNOSE),
         "CPython Modules/_ssl.c; " + _SSLERR, (r"SSLEOFError", r"EOF occurred in violation of protocol",
                                                r"UNEXPECTED_EOF_WHILE_READING"), ("UNEXPECTED_EOF_WHILE_READING",)),
    # Node
    _row("node:wrong_version", Kind.NODE, "Node: ERR_SSL_WRONG_VERSION_NUMBER",
         "OpenSSL's wrong version number, as Node names it: the server did not answer in TLS.", "the Node client",
         (_NOT_TLS,), (_PROBE,), "Node lib/_tls_wrap.js (OpenSSL reason as ERR_SSL_*)",
         (r"ERR_SSL_WRONG_VERSION_NUMBER",), ("ERR_SSL_WRONG_VERSION_NUMBER",)),
    _row("node:leaf", Kind.NODE, "Node: UNABLE_TO_VERIFY_LEAF_SIGNATURE",
         "OpenSSL's X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE (21): the server sent its leaf without the "
         "intermediate, or a private CA.", "the Node client",
         (_c("certificate_chain_incomplete", "a missing intermediate"),
          _c("certificate_untrusted", "a private CA (NODE_EXTRA_CA_CERTS)")), (_PROBE_CERT,),
         f"Node src/crypto/crypto_common.cc; {_X509} 21", (r"UNABLE_TO_VERIFY_LEAF_SIGNATURE",),
         ("UNABLE_TO_VERIFY_LEAF_SIGNATURE",)),
    _row("node:altname", Kind.NODE, "Node: ERR_TLS_CERT_ALTNAME_INVALID",
         "Node's checkServerIdentity failed: 'Hostname/IP does not match certificate's altnames'.",
         "the Node client", (_c("certificate_name_mismatch", "the certificate does not cover the name"),
                             _c("sni_missing", "servername not set, default certificate served")),
         (_PROBE_CERT,), "Node lib/tls.js checkServerIdentity", (r"ERR_TLS_CERT_ALTNAME_INVALID",),
         ("ERR_TLS_CERT_ALTNAME_INVALID",)),
    _row("node:socket_disconnected", Kind.NODE, "Node: Client network socket disconnected before secure TLS "
         "connection was established", "The connection ended (RST or FIN) before the handshake finished "
         "(ECONNRESET).", "the Node client, about the peer", _RESET_CAUSES, (_PROBE, _DIAGNOSE),
         "Node lib/_tls_wrap.js", (r"socket disconnected before secure TLS connection",)),
    # Browsers (Chromium net/base/net_error_list.h)
    _row("browser:connection_reset", Kind.BROWSER, "Browser: ERR_CONNECTION_RESET",
         "The connection was reset; during a handshake, right after the ClientHello.", "the browser",
         _RESET_CAUSES, (_PROBE, _DIAGNOSE), "Chromium net/base/net_error_list.h (-101)",
         (r"ERR_CONNECTION_RESET",), ("ERR_CONNECTION_RESET",)),
    _row("browser:ssl_protocol", Kind.BROWSER, "Browser: ERR_SSL_PROTOCOL_ERROR",
         "The handshake failed for a protocol reason: an alert, a non-TLS answer, an unexpected close.",
         "the browser", (_c("sni_missing", "the server refuses the name (alert 112/40)"), _NOT_TLS,
                         _c("protocol_version_mismatch", "TLS 1.0/1.1 only server"),
                         _c("no_shared_cipher", "no suite in common")),
         (_PROBE, _DIAGNOSE), "Chromium net/base/net_error_list.h (-107)", (r"ERR_SSL_PROTOCOL_ERROR",),
         ("ERR_SSL_PROTOCOL_ERROR",)),
    _row("browser:version", Kind.BROWSER, "Browser: ERR_SSL_VERSION_OR_CIPHER_MISMATCH",
         "No version or cipher suite in common with the browser.", "the browser",
         (_c("protocol_version_mismatch", "TLS 1.0/1.1 only"), _c("no_shared_cipher", "obsolete suites only")),
         (_PROBE,), "Chromium net/base/net_error_list.h (-113)", (r"ERR_SSL_VERSION_OR_CIPHER_MISMATCH",),
         ("ERR_SSL_VERSION_OR_CIPHER_MISMATCH",)),
    _row("browser:date", Kind.BROWSER, "Browser: ERR_CERT_DATE_INVALID / NET::ERR_CERT_DATE_INVALID",
         "The certificate is expired or not yet valid by the browser's clock.", "the browser",
         (_c("certificate_expired", "notAfter in the past"), _c("certificate_not_yet_valid", "a wrong clock")),
         (_PROBE_CERT,), "Chromium net/base/net_error_list.h (-201)", (r"ERR_CERT_DATE_INVALID",),
         ("ERR_CERT_DATE_INVALID", "NET::ERR_CERT_DATE_INVALID")),
    _row("browser:authority", Kind.BROWSER, "Browser: ERR_CERT_AUTHORITY_INVALID",
         "The chain does not lead to a root the browser trusts.", "the browser",
         (_c("certificate_untrusted", "a private or self-signed CA"),
          _c("tls_interception", "an intercepting proxy"), _c("certificate_chain_incomplete", "missing "
                                                                                            "intermediate")),
         (_PROBE_CERT,), "Chromium net/base/net_error_list.h (-202)", (r"ERR_CERT_AUTHORITY_INVALID",),
         ("ERR_CERT_AUTHORITY_INVALID", "NET::ERR_CERT_AUTHORITY_INVALID")),
    _row("browser:name", Kind.BROWSER, "Browser: ERR_CERT_COMMON_NAME_INVALID",
         "The certificate does not cover the site's name.", "the browser",
         (_c("certificate_name_mismatch", "the name is not in subjectAltName"),), (_PROBE_CERT,),
         "Chromium net/base/net_error_list.h (-200)", (r"ERR_CERT_COMMON_NAME_INVALID",),
         ("ERR_CERT_COMMON_NAME_INVALID", "NET::ERR_CERT_COMMON_NAME_INVALID")),
    _row("browser:timed_out", Kind.BROWSER, "Browser: ERR_TIMED_OUT / ERR_CONNECTION_TIMED_OUT",
         "No answer in time: the TCP connection or the handshake stalled.", "the browser", _TIMEOUT_CAUSES,
         (_PROBE, _DIAGNOSE), "Chromium net/base/net_error_list.h (-7, -118)",
         (r"ERR_(?:CONNECTION_)?TIMED_OUT",), ("ERR_TIMED_OUT", "ERR_CONNECTION_TIMED_OUT")),
    _row("browser:closed", Kind.BROWSER, "Browser: ERR_CONNECTION_CLOSED / ERR_EMPTY_RESPONSE",
         "The server closed the connection without an answer.", "the browser", _EOF_CAUSES, (_PROBE, _DIAGNOSE),
         "Chromium net/base/net_error_list.h (-100, -324)", (r"ERR_CONNECTION_CLOSED", r"ERR_EMPTY_RESPONSE"),
         ("ERR_CONNECTION_CLOSED", "ERR_EMPTY_RESPONSE")),
)

ALERT_ENTRIES: Final[dict[int, Entry]] = {code: _alert_entry(code) for code in sorted(ALERTS)}
ENTRIES: Final[tuple[Entry, ...]] = (*ALERT_ENTRIES.values(), *ROWS)
"""The whole table: every alert of the registry, then the rows above."""


# --- decoding and matching ------------------------------------------------------------------------

_LIB_NAMES: Final[dict[int, str]] = {
    1: "NONE", 2: "SYS", 3: "BN", 4: "RSA", 5: "DH", 6: "EVP", 7: "BUF", 8: "OBJ", 9: "PEM", 10: "DSA",
    11: "X509", 13: "ASN1", 14: "CONF", 15: "CRYPTO", 16: "EC", 20: "SSL", 32: "BIO", 33: "PKCS7", 34: "X509V3",
    35: "PKCS12", 36: "RAND", 37: "DSO", 38: "ENGINE", 39: "OCSP", 40: "UI", 41: "COMP", 42: "ECDSA", 43: "ECDH",
    44: "OSSL_STORE", 45: "FIPS", 46: "CMS", 47: "TS", 48: "HMAC", 50: "CT", 51: "ASYNC", 52: "KDF", 53: "SM2",
    54: "ESS", 55: "PROP", 56: "CRMF", 57: "PROV", 58: "CMP", 59: "OSSL_ENCODER", 60: "OSSL_DECODER", 61: "HTTP",
    128: "USER",
}
"""include/openssl/err.h ERR_LIB_*."""


def decode_openssl_code(code: int) -> OpenSSLCode:
    """Unpack a 32-bit OpenSSL error code, telling the 1.x packing from the 3.x one.

    3.x: bit 31 set is a system error (errno in the low bits); otherwise ``lib = code >> 23``. 1.x: ``lib =
    code >> 24``. An SSL code decides by its top byte: 0x14 is 1.x (lib 20 << 24), 0x0A or 0x0B is 3.x
    (20 << 23). Any other code is read as 3.x when its 1.x function field would be 0 (3.x has no functions).
    """
    if code & ERR_SYSTEM_FLAG:
        return OpenSSLCode(code, "3.x", ERR_LIB_SYS, "SYS", None, code & 0x7FFFFFFF, None, None,
                           system_errno=code & 0x7FFFFFFF)
    top = code >> 24
    if top != ERR_LIB_SSL and ((code >> 23) & 0xFF == ERR_LIB_SSL or (code >> 12) & 0xFFF == 0):
        lib, func, reason, packing = (code >> 23) & 0xFF, None, code & 0x7FFFFF, "3.x"
    else:
        lib, func, reason, packing = top, (code >> 12) & 0xFFF, code & 0xFFF, "1.x"
    alert = None
    text = None
    if lib == ERR_LIB_SSL:
        text = _SSL_REASONS.get(reason)
        if SSL_AD_REASON_OFFSET <= reason < SSL_AD_REASON_OFFSET + 256:
            alert = reason - SSL_AD_REASON_OFFSET
            if text is None:
                text = f"alert {alert} {describe(alert).name} received"
    return OpenSSLCode(code, packing, lib, _LIB_NAMES.get(lib, f"lib {lib}"), func, reason, text, alert)


_BY_KEY: Final[dict[str, Entry]] = {e.key: e for e in ENTRIES}
_BY_CODE: Final[dict[str, Entry]] = {}
for _e in ENTRIES:
    for _token in _e.codes:
        _BY_CODE.setdefault(_token.lower(), _e)
_BY_CURL: Final[dict[int, Entry]] = {e.curl_code: e for e in ROWS if e.curl_code is not None}
_BY_REASON: Final[dict[int, Entry]] = {e.openssl_reason: e for e in ROWS if e.openssl_reason is not None}
_BY_X509: Final[dict[int, Entry]] = {e.x509_error: e for e in ROWS if e.x509_error is not None}
_COMPILED: Final[tuple[tuple[Entry, tuple[re.Pattern[str], ...]], ...]] = tuple(
    (e, tuple(re.compile(p, re.IGNORECASE) for p in e.patterns)) for e in ROWS if e.patterns)

# Go's alert texts (src/crypto/tls/alert.go) differ from the RFC names.
_GO_ALERTS: Final[dict[str, int]] = {
    "close notify": 0, "unexpected message": 10, "bad record mac": 20, "decryption failed": 21,
    "record overflow": 22, "decompression failure": 30, "handshake failure": 40, "bad certificate": 42,
    "unsupported certificate": 43, "revoked certificate": 44, "expired certificate": 45,
    "unknown certificate": 46, "illegal parameter": 47, "unknown certificate authority": 48,
    "access denied": 49, "error decoding message": 50, "error decrypting message": 51,
    "protocol version not supported": 70, "insufficient security level": 71, "internal error": 80,
    "inappropriate fallback": 86, "user canceled": 90, "no renegotiation": 100, "missing extension": 109,
    "unsupported extension": 110, "unrecognized name": 112, "bad certificate status response": 113,
    "unknown PSK identity": 115, "certificate required": 116, "no application protocol": 120,
}

_RE_OPENSSL = re.compile(r"(?:error:|\b)([0-9A-Fa-f]{8})(?=:|\b)")
_RE_ALERT_NUMBER = re.compile(r"alert (?:number|code|desc(?:ription)?)[ :=]*(\d{1,3})\b", re.IGNORECASE)
_RE_OPENSSL_ALERT = re.compile(r"\b(?:sslv3|tlsv1|tlsv13)[ _](?:alert[ _])?([a-z][a-z _]*?[a-z])"
                               r"(?=$|[:)\],;(]| \(|\s+\d|\s*$)", re.IGNORECASE)
_RE_JAVA_ALERT = re.compile(r"Received fatal alert: ([a-z_]+)")
_RE_GO_ALERT = re.compile(r"(?:remote|local) error: tls: ([A-Za-z ]+)")
_RE_CURL = re.compile(r"curl: \((\d{1,3})\)|\bcurl (?:exit (?:code|status) )?(\d{1,3})\b|exit (?:code|status) "
                      r"(\d{1,3})\b", re.IGNORECASE)
_RE_X509_PAREN = re.compile(r"\((\d{1,2}):([a-z][a-z -]+)\)")
_RE_VERIFY_RETURN = re.compile(r"verify (?:error|return)[: ]*(?:num=)?(\d{1,2})\b", re.IGNORECASE)


def _alert_by_name(name: str) -> Entry | None:
    key = name.strip().lower().replace(" ", "_")
    info = lookup_name(key)
    if info is None and key.startswith("alert_"):
        info = lookup_name(key[6:])
    return ALERT_ENTRIES.get(info.code) if info is not None else None


def entry(key: str) -> Entry | None:
    """A row by its key (``alert:40``, ``curl:35``...)."""
    return _BY_KEY.get(key)


def explain_alert(code: int) -> Entry:
    """The row of an alert code; an unassigned code gets a row that says so (for ``diagnose``)."""
    return ALERT_ENTRIES.get(code) or _alert_entry(code)


def explain_all(text: str) -> list[Explanation]:
    """Every row that matches ``text``, best first (see the module docstring for the order)."""
    found: dict[str, tuple[int, int, Explanation]] = {}
    order = 0

    def add(rank: int, e: Explanation) -> None:
        nonlocal order
        order += 1
        best = found.get(e.entry.key)
        if best is None or (rank, order) < best[:2]:
            found[e.entry.key] = (rank, order, e)

    t = text.strip()
    if not t:
        return []
    low = t.lower()
    # 1. exact
    if t.isascii() and t.isdigit() and len(t) <= 3:  # "¹".isdigit() is true, int("¹") fails
        # A bare number: an alert of the registry first (``explain 40``), then a curl exit code
        # (``explain 35``), and an unassigned alert code only when nothing else has that number.
        n = int(t)
        if n in ALERT_ENTRIES:
            add(0, Explanation(ALERT_ENTRIES[n], "exact", t))
        if n in _BY_CURL:
            add(1, Explanation(_BY_CURL[n], "exact", t))
        if n <= 255 and n not in ALERT_ENTRIES:
            add(2, Explanation(explain_alert(n), "exact", t))
    exact = _BY_CODE.get(low) or _BY_CODE.get(low.replace(" ", "_"))
    if exact is not None:
        add(0, Explanation(exact, "exact", t))
    # 2. OpenSSL packed codes, 1.x or 3.x
    for m in _RE_OPENSSL.finditer(t):
        bare = not m.group(0).lower().startswith("error:") and not re.fullmatch(r"[0-9A-Fa-f]{8}", t)
        if bare and not re.fullmatch(r"(?:0A|14|80)[0-9A-Fa-f]{6}", m.group(1)):
            continue  # inside a sentence, a bare 8-hex word is a code only with an SSL or system prefix
        decoded = decode_openssl_code(int(m.group(1), 16))
        target: Entry | None = None
        if decoded.alert is not None:
            target = explain_alert(decoded.alert)
        elif decoded.library == ERR_LIB_SSL:
            target = _BY_REASON.get(decoded.reason)
        elif decoded.system_errno == errno.ECONNRESET:
            target = _BY_KEY["system:econnreset"]
        if target is not None:
            add(0, Explanation(target, "openssl code", m.group(0), decoded))
    # 3. alerts named in the text
    for m in _RE_ALERT_NUMBER.finditer(t):
        n = int(m.group(1))
        if n <= 255:
            add(1, Explanation(explain_alert(n), "alert", m.group(0)))
    for m in _RE_OPENSSL_ALERT.finditer(t):
        name = m.group(1).lower().replace("_", " ")
        e = _alert_by_name(name) or (ALERT_ENTRIES[112] if name.endswith("unrecognized name") else None)
        if e is not None:
            add(1, Explanation(e, "alert", m.group(0)))
    for m in _RE_JAVA_ALERT.finditer(t):
        e = _alert_by_name(m.group(1))
        if e is not None:
            add(1, Explanation(e, "alert", m.group(0)))
    for m in _RE_GO_ALERT.finditer(t):
        go = m.group(1).strip()
        code = next((c for name, c in _GO_ALERTS.items() if go.lower().startswith(name.lower())), None)
        if code is not None:
            add(1, Explanation(ALERT_ENTRIES[code], "alert", m.group(0)))
    if exact is None and (info := lookup_name(t)) is not None:
        add(0, Explanation(ALERT_ENTRIES[info.code], "alert", t))
    for m in _RE_X509_PAREN.finditer(t):
        x = _BY_X509.get(int(m.group(1)))
        if x is not None:
            add(1, Explanation(x, "x509 code", m.group(0)))
    for m in _RE_VERIFY_RETURN.finditer(t):
        x = _BY_X509.get(int(m.group(1)))
        if x is not None:
            add(1, Explanation(x, "x509 code", m.group(0)))
    # curl exit codes named in the text: generic, so ranked after specific messages
    for m in _RE_CURL.finditer(t):
        n = int(next(g for g in m.groups() if g is not None))
        if n in _BY_CURL:
            add(3, Explanation(_BY_CURL[n], "curl exit code", m.group(0)))
    # 4. patterns, longest match first
    pattern_hits: list[tuple[int, Entry, str]] = []
    for e, patterns in _COMPILED:
        best: re.Match[str] | None = None
        for p in patterns:
            hit = p.search(t)
            if hit is not None and (best is None or len(hit.group(0)) > len(best.group(0))):
                best = hit
        if best is not None:
            pattern_hits.append((len(best.group(0)), e, best.group(0)))
    for _length, e, matched in sorted(pattern_hits, key=lambda h: -h[0]):
        add(2 if e.curl_code is None else 3, Explanation(e, "pattern", matched))
    return [e for _rank, _order, e in sorted(found.values(), key=lambda v: v[:2])]


def explain(text: str) -> Explanation | None:
    """The best row for ``text``, or None when nothing matches."""
    matches = explain_all(text)
    return matches[0] if matches else None


def explanation_json(e: Explanation) -> dict[str, object]:
    row = e.entry
    out: dict[str, object] = {
        "key": row.key, "kind": row.kind.value, "title": row.title, "matched_by": e.matched_by,
        "matched": e.matched, "meaning": row.meaning, "sender": row.sender,
        "causes": [{"cause": c.code, "why": c.why} for c in row.causes],
        "next_steps": [{"command": s.command, "why": s.why} for s in row.next_steps],
        "source": row.source,
    }
    if row.alert is not None:
        out["alert"] = row.alert
    if e.decoded is not None:
        d = e.decoded
        out["openssl"] = {"code": f"{d.code:08X}", "packing": d.packing, "library": d.library,
                          "library_name": d.library_name, "function": d.function, "reason": d.reason,
                          "reason_text": d.reason_text, "alert": d.alert, "errno": d.system_errno}
    return out
