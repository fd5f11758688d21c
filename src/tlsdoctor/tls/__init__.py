"""TLS: record layer, handshake messages, registries of protocol numbers, certificate facts.

The modules, in the order data flows through them: ``registry`` and ``alerts`` (protocol numbers
and their names), ``certificates`` (DER -> ``CertificateFacts``), ``messages`` (handshake bytes ->
``ClientHello``, ``ServerHello``, ...), ``events`` (what the stream emits), ``stream`` (one
direction's bytes -> events) and ``ja4`` (the JA4 fingerprint of a ClientHello).
"""
