"""``certificate_chain_incomplete``:
the server's certificate was sent without its intermediate, and this ended the handshake.

The judgement (which problem, and whether it ended the handshake or was merely seen) is shared by the
certificate rules: see ``rules/_certificates.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Finding
from tlsdoctor.rules import _certificates
from tlsdoctor.rules.base import Context, Conversation, Match

CAUSE = "certificate_chain_incomplete"
TITLE = "The server does not send its intermediate certificate"
WHAT = ("sent without the intermediate certificate(s) that link it to a trusted root")
FIX = ("Configure the full chain on {servers}: leaf first, then the intermediates (nginx: "
       "ssl_certificate must point to fullchain.pem, not cert.pem); check with openssl s_client "
       "-showcerts.")


def match(conv: Conversation, ctx: Context) -> Match | None:
    return _certificates.match_cause(CAUSE, conv, ctx)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    return _certificates.build_finding(matches, TITLE, WHAT, FIX)
