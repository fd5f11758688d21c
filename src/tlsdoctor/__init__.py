"""tlsdoctor: diagnose failing TLS handshakes from the evidence people have.

The pipeline runs one way (see docs/design.md):
capture bytes -> frames (capture/) -> packets and TCP flows (net/) -> TLS records and
handshake messages (tls/) -> one record per connection (connection.py) -> findings (rules/) -> reports.

>>> import tlsdoctor
>>> report = tlsdoctor.diagnose(["upstream.pcap", "/etc/nginx/nginx.conf", "error.log"])  # doctest: +SKIP
>>> for finding in report.findings:                                                       # doctest: +SKIP
...     print(finding.cause, finding.confidence, finding.fix)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsdoctor.report.model import Report

__version__ = "0.1.0"


def diagnose(evidence: Sequence[str], *, vantages: Mapping[str, str] | None = None,
             ca_bundle: str | None = None) -> Report:
    """The Python face of ``tlsdoctor diagnose``: files and folders (any mix, recognised by content),
    and captures labelled by vantage point (``{"client": "a.pcap", "server": "b.pcap"}``). Returns the
    frozen ``Report``; ``tlsdoctor.report.json.report_to_json(report)`` gives REPORT.md's JSON."""
    from tlsdoctor.investigate import investigate

    return investigate(evidence, vantages=vantages, ca_bundle=ca_bundle)
