"""The frozen records of the capture pass have their ``__init__`` written out (so that mypyc compiles it,
tlsdoctor/build.py): each must take exactly the dataclass's fields, in order, with the same
annotations and defaults, and set each one from its own parameter."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

from tlsdoctor.build import CAPTURE_PASS

SRC = Path(__file__).resolve().parents[2] / "src"


def _frozen_dataclasses(tree: ast.Module) -> list[ast.ClassDef]:
    out = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for d in node.decorator_list:
                if (isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "dataclass"
                        and any(k.arg == "frozen" and isinstance(k.value, ast.Constant) and k.value.value
                                for k in d.keywords)):
                    out.append(node)
    return out


def _declared_fields(src: str, cls: ast.ClassDef) -> list[tuple[str, str, str | None]]:
    fields = []
    for stmt in cls.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            default: str | None = None
            value = stmt.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "field":
                [kw] = value.keywords  # only field(default=...) is used in these modules
                assert kw.arg == "default"
                default = ast.get_source_segment(src, kw.value)
            elif value is not None:
                default = ast.get_source_segment(src, value)
            fields.append((stmt.target.id, ast.get_source_segment(src, stmt.annotation) or "", default))
    return fields


def _records() -> list[tuple[str, str]]:
    out = []
    for module in CAPTURE_PASS:
        path = SRC / (module.replace(".", "/") + ".py")
        for cls in _frozen_dataclasses(ast.parse(path.read_text())):
            out.append((module, cls.name))
    return out


RECORDS = _records()


def test_the_capture_pass_has_its_records() -> None:
    names = {name for _, name in RECORDS}
    assert {"ConnectionRecord", "TLSFacts", "DirectionFacts", "ClientHello", "ServerHello", "HandshakeEvent",
            "EncryptedRecordEvent", "HandshakeSummary"} <= names


@pytest.mark.parametrize(("module", "name"), RECORDS, ids=[n for _, n in RECORDS])
def test_written_out_init_matches_the_fields(module: str, name: str) -> None:
    path = SRC / (module.replace(".", "/") + ".py")
    src = path.read_text()
    [cls] = [c for c in _frozen_dataclasses(ast.parse(src)) if c.name == name]
    fields = _declared_fields(src, cls)
    # The declared fields are the dataclass's own (the parse above reads them right).
    live = getattr(importlib.import_module(module), name)
    assert [f.name for f in dataclasses.fields(live)] == [n for n, _, _ in fields]
    inits = [s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"]
    if not fields:
        assert inits == []
        return
    assert len(inits) == 1, f"{name}: write out its __init__ (see tlsdoctor/build.py)"
    init = inits[0]
    args = init.args
    assert [a.arg for a in args.args] == ["self"] + [n for n, _, _ in fields]
    assert not (args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs)
    assert [ast.get_source_segment(src, a.annotation) if a.annotation else None for a in args.args[1:]] == [
        a for _, a, _ in fields]
    defaults = [ast.get_source_segment(src, d) for d in args.defaults]
    assert [None] * (len(fields) - len(defaults)) + defaults == [d for _, _, d in fields]
    # The body sets each field from its own parameter, in order, and does nothing else.
    assert [ast.unparse(s) for s in init.body] == [f"object.__setattr__(self, '{n}', {n})" for n, _, _ in fields]
