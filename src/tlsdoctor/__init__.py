"""tlsdoctor: diagnose failing TLS handshakes from the evidence people have.

The pipeline runs one way (see docs/design.md):
capture bytes -> frames (capture/) -> packets and TCP flows (net/) -> TLS records and
handshake messages (tls/) -> one record per connection (connection.py) -> findings (rules/) -> reports.

The Python API has the CLI's words and returns the typed objects the JSON is made from:

>>> import tlsdoctor
>>> report = tlsdoctor.diagnose(["upstream.pcap", "/etc/nginx/nginx.conf", "error.log"])  # doctest: +SKIP
>>> for finding in report.findings:                                                       # doctest: +SKIP
...     print(finding.cause, finding.confidence, finding.fix)
>>> for rec in tlsdoctor.connections("capture.pcap"):                                     # doctest: +SKIP
...     if rec.failed:
...         print(rec.tcp_stream, rec.sni, rec.history, rec.ended_by)
>>> verdict = tlsdoctor.probe("origin.example", 443)                                      # doctest: +SKIP
>>> [f.cause for f in verdict.findings]                                                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tlsdoctor.api import ConnectionStream, KeyLogArg
    from tlsdoctor.probe.model import ProbeReport
    from tlsdoctor.report.model import Report

__version__ = "0.1.0"


def diagnose(evidence: Sequence[str], *, vantages: Mapping[str, str] | None = None,
             ca_bundle: str | None = None, jobs: int | None = None) -> Report:
    """The Python face of ``tlsdoctor diagnose``: files and folders (any mix, recognised by content),
    and captures labelled by vantage point (``{"client": "a.pcap", "server": "b.pcap"}``). Returns the
    frozen ``Report``; ``tlsdoctor.report.json.report_to_json(report)`` gives REPORT.md's JSON,
    ``tlsdoctor.report.html.render_html(report)`` the page, ``tlsdoctor.export.export_failing`` the
    failing connections' packets. ``jobs``: worker processes for one large capture (``--jobs``)."""
    from tlsdoctor.investigate import investigate

    return investigate(evidence, vantages=vantages, ca_bundle=ca_bundle, jobs=jobs)


def connections(capture: str, keylog: KeyLogArg = None) -> ConnectionStream:
    """The ``ConnectionRecord`` of every TCP connection of a capture, streamed in one pass as connections
    end (``tlsdoctor connections``); ``sorted(..., key=lambda r: r.tcp_stream)`` for Wireshark's order.
    ``keylog``: an SSLKEYLOGFILE's path (or a parsed ``KeyLog``) whose handshakes are decrypted.
    After the iteration the stream's ``anomalies`` lists the capture's own problems."""
    from tlsdoctor.api import iter_connections

    return iter_connections(capture, keylog=keylog)


def probe(host: str, port: int = 443, *, connect: str | None = None, sni: str | None = None,
          timeout: float = 10.0, ca_bundle: str | None = None) -> ProbeReport:
    """``tlsdoctor probe``: the s_client matrix against a live host, with its findings (``ProbeReport``).
    Raises ``tlsdoctor.probe.matrix.ResolutionError`` when the name does not resolve."""
    from tlsdoctor.probe.matrix import run_probe

    return run_probe(host, port, connect=connect, sni=sni, timeout=timeout, ca_bundle=ca_bundle)
