"""The TLS alert registry: every alert of the IANA "TLS Alerts" registry, with its RFC section.

Alert descriptions are one byte (RFC 8446 section 6, RFC 5246 section 7.2). The names are the RFC's,
so alert 40 is ``AlertDescription.HANDSHAKE_FAILURE``. ``ALERTS`` adds, for each code, who usually
sends it and where it is defined; ``describe(code)`` never fails, also for codes outside the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class AlertLevel(IntEnum):
    """RFC 5246 section 7.2; in TLS 1.3 the level is ignored and every alert but close_notify
    and user_canceled is fatal (RFC 8446 section 6)."""

    WARNING = 1
    FATAL = 2


class AlertDescription(IntEnum):
    CLOSE_NOTIFY = 0
    UNEXPECTED_MESSAGE = 10
    BAD_RECORD_MAC = 20
    DECRYPTION_FAILED = 21
    RECORD_OVERFLOW = 22
    DECOMPRESSION_FAILURE = 30
    HANDSHAKE_FAILURE = 40
    NO_CERTIFICATE = 41
    BAD_CERTIFICATE = 42
    UNSUPPORTED_CERTIFICATE = 43
    CERTIFICATE_REVOKED = 44
    CERTIFICATE_EXPIRED = 45
    CERTIFICATE_UNKNOWN = 46
    ILLEGAL_PARAMETER = 47
    UNKNOWN_CA = 48
    ACCESS_DENIED = 49
    DECODE_ERROR = 50
    DECRYPT_ERROR = 51
    TOO_MANY_CIDS_REQUESTED = 52
    EXPORT_RESTRICTION = 60
    PROTOCOL_VERSION = 70
    INSUFFICIENT_SECURITY = 71
    INTERNAL_ERROR = 80
    INAPPROPRIATE_FALLBACK = 86
    USER_CANCELED = 90
    NO_RENEGOTIATION = 100
    MISSING_EXTENSION = 109
    UNSUPPORTED_EXTENSION = 110
    CERTIFICATE_UNOBTAINABLE = 111
    UNRECOGNIZED_NAME = 112
    BAD_CERTIFICATE_STATUS_RESPONSE = 113
    BAD_CERTIFICATE_HASH_VALUE = 114
    UNKNOWN_PSK_IDENTITY = 115
    CERTIFICATE_REQUIRED = 116
    GENERAL_ERROR = 117
    NO_APPLICATION_PROTOCOL = 120
    ECH_REQUIRED = 121


@dataclass(frozen=True, slots=True)
class AlertInfo:
    code: int
    name: str
    """The RFC's name, e.g. ``handshake_failure``."""
    reference: str
    """Where it is defined, e.g. ``RFC 8446 section 6.2``."""
    usual_sender: str
    """``client``, ``server`` or ``either``."""
    meaning: str
    """One sentence for a person."""


_RFC8446 = "RFC 8446 section 6.2"
_RFC5246 = "RFC 5246 section 7.2.2"

_TABLE: tuple[tuple[AlertDescription, str, str, str], ...] = (
    (AlertDescription.CLOSE_NOTIFY, "RFC 8446 section 6.1", "either",
     "The sender will send no more data on this connection (an orderly close, not an error)."),
    (AlertDescription.UNEXPECTED_MESSAGE, _RFC8446, "either",
     "A message arrived that is not allowed at this point of the protocol."),
    (AlertDescription.BAD_RECORD_MAC, _RFC8446, "either",
     "A record could not be authenticated: corrupted in transit, or the two ends derived different keys."),
    (AlertDescription.DECRYPTION_FAILED, "RFC 5246 section 7.2.2", "either",
     "Obsolete (TLS 1.0 and older): a record failed to decrypt. Never sent by TLS 1.2 or 1.3 stacks."),
    (AlertDescription.RECORD_OVERFLOW, _RFC8446, "either",
     "A record was longer than the protocol allows (2^14 bytes of plaintext, plus expansion)."),
    (AlertDescription.DECOMPRESSION_FAILURE, "RFC 5246 section 7.2.2", "either",
     "Obsolete: TLS compression failed. Not used by TLS 1.3."),
    (AlertDescription.HANDSHAKE_FAILURE, _RFC8446, "server",
     "The sender could not agree on security parameters with the peer: no shared cipher, group or "
     "signature algorithm, a missing SNI the server requires, or a client certificate it requires."),
    (AlertDescription.NO_CERTIFICATE, "RFC 6101 section 5.4.2", "client",
     "SSL 3.0 only: the client had no certificate to send. Never sent by TLS stacks."),
    (AlertDescription.BAD_CERTIFICATE, _RFC8446, "either",
     "A certificate was corrupt or its signatures did not verify."),
    (AlertDescription.UNSUPPORTED_CERTIFICATE, _RFC8446, "either",
     "A certificate was of a type the sender does not support."),
    (AlertDescription.CERTIFICATE_REVOKED, _RFC8446, "either",
     "A certificate was revoked by its issuer."),
    (AlertDescription.CERTIFICATE_EXPIRED, _RFC8446, "either",
     "A certificate has expired or is not yet valid (checked against the sender's clock)."),
    (AlertDescription.CERTIFICATE_UNKNOWN, _RFC8446, "either",
     "A certificate was rejected for another reason (often a name mismatch or an unknown issuer)."),
    (AlertDescription.ILLEGAL_PARAMETER, _RFC8446, "either",
     "A field of the handshake was out of range or inconsistent with other fields."),
    (AlertDescription.UNKNOWN_CA, _RFC8446, "either",
     "The certificate chain did not lead to a trusted root: unknown issuer, self-signed, or a "
     "missing intermediate."),
    (AlertDescription.ACCESS_DENIED, _RFC8446, "server",
     "A valid certificate or PSK was received, but access control refused the handshake."),
    (AlertDescription.DECODE_ERROR, _RFC8446, "either",
     "A message could not be decoded: a field out of range or a wrong length."),
    (AlertDescription.DECRYPT_ERROR, _RFC8446, "either",
     "A cryptographic operation of the handshake failed: a signature, a key exchange or Finished."),
    (AlertDescription.TOO_MANY_CIDS_REQUESTED, "RFC 9146 section 9", "either",
     "DTLS only: the peer asked for more connection IDs than the sender will provide."),
    (AlertDescription.EXPORT_RESTRICTION, "RFC 4346 section 7.2.2", "either",
     "Obsolete (TLS 1.0 export ciphers). Never sent by current stacks."),
    (AlertDescription.PROTOCOL_VERSION, _RFC8446, "server",
     "The peers share no protocol version: the client offered only versions the server refuses, "
     "or the reverse."),
    (AlertDescription.INSUFFICIENT_SECURITY, _RFC8446, "server",
     "The client's offer is too weak for the server: its ciphers or groups are below the server's minimum."),
    (AlertDescription.INTERNAL_ERROR, _RFC8446, "server",
     "An error at the sender unrelated to the peer (a memory failure, a bad key, a misconfigured "
     "certificate); in practice also sent by some servers for certificate problems."),
    (AlertDescription.INAPPROPRIATE_FALLBACK, "RFC 7507 section 2", "server",
     "The client retried with a lower version (TLS_FALLBACK_SCSV) although the server supports a higher one."),
    (AlertDescription.USER_CANCELED, _RFC8446, "either",
     "The sender is cancelling the handshake for a reason unrelated to a protocol failure."),
    (AlertDescription.NO_RENEGOTIATION, "RFC 5246 section 7.2.2", "either",
     "The sender refuses to renegotiate. Not used by TLS 1.3."),
    (AlertDescription.MISSING_EXTENSION, _RFC8446, "either",
     "A mandatory extension for the offered version is absent (e.g. supported_versions or key_share)."),
    (AlertDescription.UNSUPPORTED_EXTENSION, _RFC8446, "client",
     "The peer sent an extension that was not offered or not allowed in that message."),
    (AlertDescription.CERTIFICATE_UNOBTAINABLE, "RFC 6066 section 9", "server",
     "Obsolete: a certificate could not be fetched from the URL the client gave."),
    (AlertDescription.UNRECOGNIZED_NAME, _RFC8446, "server",
     "The server has no virtual host for the name in the ClientHello's server_name, or requires one "
     "(nginx `ssl_reject_handshake on` sends this)."),
    (AlertDescription.BAD_CERTIFICATE_STATUS_RESPONSE, _RFC8446, "client",
     "An invalid or unacceptable OCSP response was stapled by the server."),
    (AlertDescription.BAD_CERTIFICATE_HASH_VALUE, "RFC 6066 section 9", "server",
     "Obsolete: a certificate hash did not match (client certificate URLs)."),
    (AlertDescription.UNKNOWN_PSK_IDENTITY, _RFC8446, "server",
     "The server does not know the PSK identity the client offered."),
    (AlertDescription.CERTIFICATE_REQUIRED, _RFC8446, "server",
     "TLS 1.3: the server requires a client certificate and none was sent."),
    (AlertDescription.GENERAL_ERROR, "RFC 8446bis section 6.2", "either",
     "An error with no more specific alert (draft-ietf-tls-rfc8446bis)."),
    (AlertDescription.NO_APPLICATION_PROTOCOL, "RFC 7301 section 3.2", "server",
     "ALPN: the server supports none of the application protocols the client offered."),
    (AlertDescription.ECH_REQUIRED, "draft-ietf-tls-esni section 11.2", "client",
     "ECH: the client offered Encrypted Client Hello and the server did not accept it."),
)

ALERTS: dict[int, AlertInfo] = {
    code.value: AlertInfo(code.value, code.name.lower(), ref, sender, meaning)
    for code, ref, sender, meaning in _TABLE
}


def alert_name(code: int) -> str:
    """The RFC's name of an alert, or ``unknown_alert_<code>`` outside the registry."""
    info = ALERTS.get(code)
    return info.name if info is not None else f"unknown_alert_{code}"


def describe(code: int) -> AlertInfo:
    """The registry entry of an alert; an unassigned code gets an entry that says so."""
    info = ALERTS.get(code)
    if info is not None:
        return info
    return AlertInfo(code, f"unknown_alert_{code}", "IANA TLS Alerts registry (unassigned)", "either",
                     f"Alert {code} is not in the IANA registry: a private or buggy stack, or a decoding error.")


def lookup_name(name: str) -> AlertInfo | None:
    """Find an alert by its name (``handshake_failure``, ``HANDSHAKE_FAILURE``, ``handshake failure``)."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    for info in ALERTS.values():
        if info.name == key:
            return info
    return None
