"""Which of tlsdoctor's modules run compiled (mypyc, see setup.py) and which as plain Python.

A build from ``pip install .`` compiles the capture pass's modules (``CAPTURE_PASS`` below, which
setup.py reads); an editable install or ``TLSDOCTOR_PURE_PYTHON=1`` does not. Output is the same
either way; ``tlsdoctor --version`` says which build runs, for bug reports and benchmarks.

Records. The frozen dataclasses of these modules (``ConnectionRecord``, ``ClientHello``, the parser's
events, ...) have their ``__init__`` written out, one ``object.__setattr__(self, "field", field)``
per field. mypyc compiles only the methods written in the source: the ``__init__`` that
``@dataclass`` generates at import stays interpreted, and its per-field ``object.__setattr__`` calls
took a sixth of the compiled capture pass. Written out, mypyc turns each of those calls into a
direct store (``mypyc/irbuild/specialize.py``, ``translate_object_setattr``): a record is built
about twenty times as fast, and is still frozen, hashable and comparable, as ``@dataclass`` makes it
(it keeps an ``__init__`` that the class defines). In the plain build the written-out ``__init__``
does what the generated one does. ``tests/unit/test_records_init.py`` checks that each one takes
exactly its class's fields, in order, with their annotations and defaults.
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
    "tlsdoctor.tls.registry",
    "tlsdoctor.tls.stream",
)
"""The modules that setup.py compiles: the reader, the engine and ``net/`` (every frame), the TLS parser
and tracker (every handshake) with the registry whose names they look up (``version_name``,
``is_grease``, ...: called from compiled code, an interpreted function is a generic call and a Python
frame each time, 2% of the pass), the record and its JSON (every connection). setup.py reads this
tuple from this file's source."""


def compiled_modules() -> list[str]:
    """The modules of ``CAPTURE_PASS`` that were imported from a C extension."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [name for name in CAPTURE_PASS
            if (getattr(importlib.import_module(name), "__file__", None) or "").endswith(suffixes)]


def describe() -> str:
    """``compiled (12 of 12 capture-pass modules, mypyc)`` or ``plain Python, not compiled``."""
    n = len(compiled_modules())
    if n == 0:
        return "plain Python, not compiled"
    return f"compiled ({n} of {len(CAPTURE_PASS)} capture-pass modules, mypyc)"
