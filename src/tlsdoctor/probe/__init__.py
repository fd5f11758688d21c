"""``tlsdoctor probe``: the live test matrix and our own ClientHello builder.

``clienthello`` builds exact ClientHello bytes (sans-IO), ``answer`` reads the server's first answer
(sans-IO), ``wire`` is the only socket code for raw probes, ``certs`` runs one full handshake with
Python's ``ssl`` and checks the chain, ``matrix`` runs it all concurrently under one deadline,
``verdict`` turns outcomes into findings (pure), ``render`` prints JSON and the terminal table.
"""

from tlsdoctor.probe.matrix import MATRIX, ResolutionError, parse_target, run_probe

__all__ = ["MATRIX", "ResolutionError", "parse_target", "run_probe"]
