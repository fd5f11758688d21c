"""``no_shared_cipher``: the client and the server have no cipher suite in common.

How the two are told apart, with one alert code for both: see ``rules/_negotiation.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Finding
from tlsdoctor.rules import _negotiation
from tlsdoctor.rules.base import Context, Conversation, Match

CAUSE = "no_shared_cipher"
TITLE = "No cipher suite in common with"
FIX = ("Offer a cipher suite the server supports, or enable one on the server: nginx: ssl_ciphers / proxy_ssl_ciphers "
       "(e.g. ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256); OpenSSL: -cipher / -ciphersuites; "
       "compare with: openssl s_client -connect {server} -cipher <suite>, or run tlsdoctor probe.")


def match(conv: Conversation, ctx: Context) -> Match | None:
    return _negotiation.match_cause(CAUSE, conv, ctx)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    return _negotiation.build_finding(matches, TITLE, FIX)
