"""``tlsdoctor probe``: the live test matrix and our own ClientHello builder.

``clienthello`` builds exact ClientHello bytes (sans-IO), ``answer`` reads the server's first answer
(sans-IO), ``wire`` is the only socket code for raw probes, ``certs`` runs one full handshake with
Python's ``ssl`` and checks the chain, ``matrix`` runs it all concurrently under one deadline,
``verdict`` turns outcomes into findings (pure), ``render`` prints JSON and the terminal table.
"""

import sys
import types

from tlsdoctor.probe.matrix import MATRIX, ResolutionError, parse_target, run_probe
from tlsdoctor.probe.model import ProbeReport

__all__ = ["MATRIX", "ResolutionError", "parse_target", "run_probe"]


class _CallableModule(types.ModuleType):
    """``tlsdoctor.probe(host, port)`` is the API's word for the verb, and ``tlsdoctor.probe`` is also this
    package: importing any ``tlsdoctor.probe.*`` module rebinds the name to the package, so the package
    itself answers the call (a module whose class has ``__call__``), the same as ``tlsdoctor.probe``."""

    def __call__(self, host: str, port: int = 443, *, connect: str | None = None, sni: str | None = None,
                 timeout: float = 10.0, ca_bundle: str | None = None) -> ProbeReport:
        return run_probe(host, port, connect=connect, sni=sni, timeout=timeout, ca_bundle=ca_bundle)


sys.modules[__name__].__class__ = _CallableModule
