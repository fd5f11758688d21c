"""The command line: one verb per module of ``tlsdoctor.commands``.

Exit status: 0 when nothing failed, 1 when failures were found (diagnose) or a verb's own failure,
2 for a usage error or unreadable input. An internal bug is reported as ours, with a hint to file it,
never as a diagnosis of the user's network.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pkgutil
import sys
import traceback
from types import ModuleType

from tlsdoctor import __version__, commands

EXIT_USAGE = 2
EXIT_INTERNAL = 3


def _verb_modules() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        found[info.name.replace("_", "-")] = module
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlsdoctor",
        description="Diagnose failing TLS handshakes: captures, nginx config and logs, live probes.",
    )
    parser.add_argument("-V", "--version", action=_Version, nargs=0,
                        help="show the version, and whether the capture pass runs compiled, then exit")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, module in _verb_modules().items():
        verb_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(verb_parser)
        verb_parser.set_defaults(_run=module.run)
    return parser


class _Version(argparse.Action):
    """``--version``, which imports the capture pass to say how it was built: only when asked."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from tlsdoctor.build import describe

        print(f"tlsdoctor {__version__} ({describe()})")
        parser.exit()


GC_THRESHOLDS = (1_000_000, 10, 10)
"""The cyclic collector's thresholds while a verb runs. A capture pass allocates and frees millions of
small containers, none left in reference cycles (``engine.CaptureAnalyzer._finish`` cuts the one a
connection has; tests/unit/test_engine.py checks that a pass over every committed capture leaves no
cyclic garbage), so reference counting frees them. The collector still runs when the objects alive
grow by a million, as a bound should a cycle ever be left. At CPython's default (700) it cost a fifth
of the run, at 50,000 still a seventh: CPython 3.11 counts a young collection from allocations less
deallocations, so while connections come and go the young generation fills with every connection's
state, and each collection walks all of it (docs/performance.md). Memory is unchanged."""


def main(argv: list[str] | None = None) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        status: int = args._run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `tlsdoctor connections big.pcap | head` is normal use, not an error.
        sys.stderr.close()
        return 0
    except Exception:
        sys.stderr.write(
            "tlsdoctor: internal error (this is our bug, not a finding about your network).\n"
            "Please report it with the text below:\n"
        )
        traceback.print_exc()
        return EXIT_INTERNAL
    return status


if __name__ == "__main__":
    raise SystemExit(main())
