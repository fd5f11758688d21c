"""The command line: one verb per module of ``tlsdoctor.commands``.

Exit status: 0 when nothing failed, 1 when failures were found (diagnose) or a verb's own failure,
2 for a usage error or unreadable input. An internal bug is reported as ours, with a hint to file it,
never as a diagnosis of the user's network.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--version", action="version", version=f"tlsdoctor {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, module in _verb_modules().items():
        verb_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(verb_parser)
        verb_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
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
