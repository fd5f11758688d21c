"""``no_shared_group``: the client and the server have no key-exchange group (or signature algorithm) in common.

How the two are told apart, with one alert code for both: see ``rules/_negotiation.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Finding
from tlsdoctor.rules import _negotiation
from tlsdoctor.rules.base import Context, Conversation, Match

CAUSE = "no_shared_group"
TITLE = "No key-exchange group in common with"
FIX = ("Offer a group the server supports (X25519 and P-256 are universal), or enable one on the server: "
       "nginx: ssl_ecdh_curve X25519:prime256v1; OpenSSL: -groups; compare with openssl s_client -connect "
       "{server} -groups X25519, or run tlsdoctor probe.")


def match(conv: Conversation, ctx: Context) -> Match | None:
    return _negotiation.match_cause(CAUSE, conv, ctx)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    return _negotiation.build_finding(matches, TITLE, FIX)
