"""Pickling of the dataclasses that setup.py compiles (records cross processes in ``parallel.py``).

mypyc makes a compiled dataclass a native class whose default unpickling sets each field on a new
object: a frozen one refuses (``FrozenInstanceError``), and a worker's records would never come back.
``pickle_by_fields(module)`` registers, with ``copyreg``, a reducer for each dataclass the module
defines that rebuilds it through its constructor, from its fields in order. Harmless for the
pure-Python build, where it is used as well, so that both builds pickle the same way.
"""

from __future__ import annotations

import copyreg
import dataclasses
import sys
from typing import Any


def _reduce(obj: Any) -> tuple[type, tuple[Any, ...]]:
    return type(obj), tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))


def pickle_by_fields(module: str) -> None:
    """Register ``_reduce`` for every dataclass defined in ``module`` (call it at the module's end)."""
    for value in list(vars(sys.modules[module]).values()):
        if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module:
            if any(not f.init for f in dataclasses.fields(value)):
                raise TypeError(f"{value.__name__}: a field outside __init__ cannot be rebuilt from the fields")
            copyreg.pickle(value, _reduce)
