"""Network layers: link/IP/TCP header decoding and per-direction TCP reassembly (no TLS here)."""
