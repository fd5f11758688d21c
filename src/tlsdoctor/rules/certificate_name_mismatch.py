"""``certificate_name_mismatch``: the server's certificate was issued for other names, and this ended the handshake.

The judgement (which problem, and whether it ended the handshake or was merely seen) is shared by the
certificate rules: see ``rules/_certificates.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Finding
from tlsdoctor.rules import _certificates
from tlsdoctor.rules.base import Context, Conversation, Match

CAUSE = "certificate_name_mismatch"
TITLE = "The server's certificate does not cover the name asked for"
WHAT = ("issued for other names than the one the client asked for")
FIX = ("Serve a certificate that covers {names} on {servers} (add it to the SAN list), or make the "
       "client ask for a name the certificate covers (nginx: proxy_ssl_name; curl: the URL's host).")


def match(conv: Conversation, ctx: Context) -> Match | None:
    return _certificates.match_cause(CAUSE, conv, ctx)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    return _certificates.build_finding(matches, TITLE, WHAT, FIX)
