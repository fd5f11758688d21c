"""Which of tlsdoctor's modules run compiled (mypyc, see setup.py) and which as plain Python.

A build from ``pip install .`` compiles the capture pass's modules (``setup.py``'s
``COMPILED_MODULES``); an editable install or ``TLSDOCTOR_PURE_PYTHON=1`` does not. Output is the
same either way; ``tlsdoctor --version`` says which build runs, for bug reports and benchmarks.
"""

from __future__ import annotations

import importlib
import importlib.machinery
from typing import Final

CAPTURE_PASS: Final = (
    # The packet path and TCP: every frame goes through these.
    "tlsdoctor.capture.pcap",
    "tlsdoctor.connection",
    "tlsdoctor.engine",
    "tlsdoctor.handshake",
    "tlsdoctor.net.decode",
    "tlsdoctor.net.reassembly",
    "tlsdoctor.report.connections",
    "tlsdoctor.tls.events",
    "tlsdoctor.tls.ja4",
    "tlsdoctor.tls.messages",
    "tlsdoctor.tls.stream",
)
"""The modules that setup.py compiles: the reader, the engine and ``net/`` (every frame), the TLS parser
and tracker (every handshake), the record and its JSON (every connection). setup.py reads this tuple
from this file's source."""


def compiled_modules() -> list[str]:
    """The modules of ``CAPTURE_PASS`` that were imported from a C extension."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [name for name in CAPTURE_PASS
            if (getattr(importlib.import_module(name), "__file__", None) or "").endswith(suffixes)]


def describe() -> str:
    """``compiled (11 of 11 capture-pass modules, mypyc)`` or ``plain Python, not compiled``."""
    n = len(compiled_modules())
    if n == 0:
        return "plain Python, not compiled"
    return f"compiled ({n} of {len(CAPTURE_PASS)} capture-pass modules, mypyc)"
