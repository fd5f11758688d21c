"""tlsdoctor: diagnose failing TLS handshakes from the evidence people have.

The pipeline runs one way (see docs/design.md):
capture bytes -> frames (capture/) -> packets and TCP flows (net/) -> TLS records and
handshake messages (tls/) -> one record per connection (connection.py) -> findings -> reports.
"""

__version__ = "0.1.0"
