"""``certificate_expired``: the server's certificate was outside its validity: expired, and this ended the handshake.

The judgement (which problem, and whether it ended the handshake or was merely seen) is shared by the
certificate rules: see ``rules/_certificates.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Finding
from tlsdoctor.rules import _certificates
from tlsdoctor.rules.base import Context, Conversation, Match

CAUSE = "certificate_expired"
TITLE = "The server's certificate had expired"
WHAT = ("expired at the time of the capture")
FIX = ("Renew the certificate of {servers} (notAfter {not_after}) and reload the server; check the "
       "renewal job (certbot renew --dry-run, the ACME client's logs).")


def match(conv: Conversation, ctx: Context) -> Match | None:
    return _certificates.match_cause(CAUSE, conv, ctx)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    return _certificates.build_finding(matches, TITLE, WHAT, FIX)
