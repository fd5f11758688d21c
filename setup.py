"""Build: the capture pass's modules are compiled to C extensions by mypyc (docs/design.md, "Compiled").

Everything else about the package is in pyproject.toml. The modules below are ordinary, fully typed
Python (``mypy --strict``); mypyc turns each into a C extension that CPython imports in place of the
``.py``. Output is the same byte for byte (tests/unit/test_compiled.py compares the two builds on every
committed capture); the compiled one runs the capture pass about twice as fast (docs/performance.md).
One hand-written C extension is built with them: ``tlsdoctor._lightpath``, which reads the plain packets
of established connections of a classic pcap without making Python objects (its source's header).

``TLSDOCTOR_PURE_PYTHON=1 pip install .`` builds without compiling (no C compiler needed): the same
package, slower. An editable install (``pip install -e .``) never compiles, so that an edited ``.py``
is what runs. Where compiling fails (no compiler, no Python headers), the install says so and goes on
with the plain modules rather than failing.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _compiled_modules() -> list[str]:
    """The files of ``tlsdoctor.build.CAPTURE_PASS``, the one list of what is compiled (read from its
    source, not imported: the build imports nothing of the package)."""
    tree = ast.parse(Path(__file__).with_name("src").joinpath("tlsdoctor", "build.py").read_text("utf-8"))
    names = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.AnnAssign)
                 and isinstance(node.target, ast.Name) and node.target.id == "CAPTURE_PASS" and node.value)
    return ["src/" + name.replace(".", "/") + ".py" for name in names]


def _compiling() -> bool:
    """Only a build of the package compiles: not the metadata steps that pip runs first (mypyc would
    type-check and generate C for nothing), not an editable install."""
    return any(arg in ("bdist_wheel", "build", "build_ext", "install") for arg in sys.argv)


def _ext_modules() -> list[object]:
    if os.environ.get("TLSDOCTOR_PURE_PYTHON") or not _compiling():
        return []
    from mypyc.build import mypycify

    # A working copy's build/lib keeps the extensions of earlier builds, and a wheel takes all it holds:
    # a module since dropped from the list would still shadow its .py. Each build compiles afresh anyway.
    for stale in Path(__file__).parent.glob("build/lib*/**/*.so"):
        stale.unlink()

    # The light path of the classic pcap reader (src/tlsdoctor/_lightpath.c, hand-written C): the engine
    # uses it when it was built, and reads every packet itself when it was not.
    lightpath = Extension("tlsdoctor._lightpath", ["src/tlsdoctor/_lightpath.c"], extra_compile_args=["-O2"])
    return [*mypycify(_compiled_modules(), opt_level="3"), lightpath]


class _BuildExtOrPlain(build_ext):
    """build_ext, but a failed compile leaves the plain ``.py`` modules (none of the C extensions: a
    module's extension without mypyc's shared library beside it would not import)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # CompileError, LinkError, a missing compiler: all end the same way
            for ext in self.extensions:
                built = self.get_ext_fullpath(ext.name)
                if os.path.exists(built):
                    os.remove(built)
            self.extensions = []
            sys.stderr.write(f"tlsdoctor: compiling the capture pass failed ({exc}); installing it as plain "
                             "Python, which gives the same output more slowly (docs/design.md, 'Compiled')\n")


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": _BuildExtOrPlain})
