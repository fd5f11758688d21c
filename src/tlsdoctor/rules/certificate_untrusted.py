"""``certificate_untrusted``:
the server's certificate was from an issuer the client does not trust, and this ended the handshake.

The judgement (which problem, and whether it ended the handshake or was merely seen) is shared by the
certificate rules: see ``rules/_certificates.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Finding
from tlsdoctor.rules import _certificates
from tlsdoctor.rules.base import Context, Conversation, Match

CAUSE = "certificate_untrusted"
TITLE = "The client does not trust the server's certificate"
WHAT = ("from an issuer the client does not trust (an unknown or private CA, or self-signed)")
FIX = ("Serve a certificate from a CA the clients trust, or give the clients the issuing CA (nginx: "
       "proxy_ssl_trusted_certificate; curl: --cacert; the system store: update-ca-certificates).")


def match(conv: Conversation, ctx: Context) -> Match | None:
    return _certificates.match_cause(CAUSE, conv, ctx)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    return _certificates.build_finding(matches, TITLE, WHAT, FIX)
