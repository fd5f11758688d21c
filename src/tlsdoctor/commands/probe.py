"""``tlsdoctor probe HOST[:PORT]``: the matrix an expert runs with ``openssl s_client``, at once and judged.

Exit status: 0 when no problem was found, 1 when there are findings, 2 for a usage error or a name
that does not resolve.
"""

from __future__ import annotations

import argparse

HELP = "Probe a live TLS server: with/without/wrong SNI, each version, a large ClientHello, the certificate chain."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="HOST[:PORT]", help="host name or address, port 443 by default")
    parser.add_argument("--connect", metavar="IP", help="probe this address instead of resolving HOST")
    parser.add_argument("--sni", metavar="NAME", help="the name to send as SNI (default: HOST when it is a name)")
    parser.add_argument("--timeout", metavar="S", type=float, default=10.0,
                        help="the whole run finishes within S seconds (default 10)")
    parser.add_argument("--ca-bundle", metavar="FILE", help="trust these CA certificates instead of the system store")
    parser.add_argument("--json", action="store_true", help="the report as JSON (schema tlsdoctor.probe/1)")


def run(args: argparse.Namespace) -> int:
    import ipaddress
    import json
    import os
    import sys

    from tlsdoctor.probe import ResolutionError, parse_target, run_probe
    from tlsdoctor.probe.render import print_terminal, report_json

    try:
        host, port = parse_target(args.target)
    except ValueError as exc:
        sys.stderr.write(f"tlsdoctor: {exc}\n")
        return 2
    if args.connect is not None:
        try:
            ipaddress.ip_address(args.connect)
        except ValueError:
            sys.stderr.write(f"tlsdoctor: --connect wants an IP address, not {args.connect!r}\n")
            return 2
    if not 0.5 <= args.timeout <= 600:
        sys.stderr.write("tlsdoctor: --timeout must be between 0.5 and 600 seconds\n")
        return 2
    if args.ca_bundle is not None and not os.path.isfile(args.ca_bundle):
        sys.stderr.write(f"tlsdoctor: --ca-bundle {args.ca_bundle}: no such file\n")
        return 2
    try:
        report = run_probe(host, port, connect=args.connect, sni=args.sni, timeout=args.timeout,
                           ca_bundle=args.ca_bundle)
    except ResolutionError as exc:
        sys.stderr.write(f"tlsdoctor: {exc}\n")
        return 2
    if args.json:
        sys.stdout.write(json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n")
    else:
        print_terminal(report)
    return 1 if report.findings else 0
