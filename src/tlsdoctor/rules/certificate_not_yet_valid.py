"""``certificate_not_yet_valid``:
the server's certificate was outside its validity: not yet valid, and this ended the handshake.

The judgement (which problem, and whether it ended the handshake or was merely seen) is shared by the
certificate rules: see ``rules/_certificates.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tlsdoctor.findings import Finding
from tlsdoctor.rules import _certificates
from tlsdoctor.rules.base import Context, Conversation, Match

CAUSE = "certificate_not_yet_valid"
TITLE = "The server's certificate was not yet valid"
WHAT = ("not yet valid at the time of the capture (its notBefore is later), or a clock is wrong")
FIX = ("Check the clocks (timedatectl, chronyc tracking) of the client and of {servers}; if they are "
       "right, the certificate was issued with a future notBefore: reissue it.")


def match(conv: Conversation, ctx: Context) -> Match | None:
    return _certificates.match_cause(CAUSE, conv, ctx)


def build(matches: Sequence[tuple[Conversation, Match]], ctx: Context) -> Finding:
    return _certificates.build_finding(matches, TITLE, WHAT, FIX)
