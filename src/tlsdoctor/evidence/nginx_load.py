"""The I/O edge of the nginx checks: crossplane reads the files, we read the certificates they name.

Theory of operation. ``crossplane.parse(path, combine=False, catch_errors=True, check_ctx=False)``
returns one statement list per file and the errors it met, each with file and line. We do not let
crossplane combine the files: we expand each ``include`` in place ourselves, so every directive keeps
the file it was written in (a finding cites that file), a file included from several places is
expanded at each of them (crossplane parses it once), and an include cycle is cut and reported.
``check_ctx=False`` so that a snippet (a ``server`` block on its own, as in sites-enabled/) is read
too; nginx -t, not us, is the validator of contexts.

Every crossplane error becomes an ``NginxAnomaly`` with file:line and the rest is still read: an
explicit include that cannot be opened (nginx refuses to start on it too), a file that does not lex
(its statements are lost; other files are still checked), a directive with the wrong arguments.

Relative paths (includes, certificates) are joined to the directory of the main file: nginx's
"conf prefix" when it runs with ``-c FILE``. Certificate files are read here (capped at
``MAX_CERTIFICATE_BYTES``) and parsed in the sans-IO core.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tlsdoctor.evidence.nginx_model import AnomalyKind, Directive, NginxAnomaly

MAX_CERTIFICATE_BYTES = 1 << 20  # a PEM chain is a few kB; anything past 1 MiB is not one
MAX_INCLUDE_DEPTH = 32  # nginx has no limit but a cycle; deeper than this is a cycle we did not see

CERTIFICATE_DIRECTIVES = ("ssl_certificate", "proxy_ssl_certificate", "grpc_ssl_certificate",
                          "uwsgi_ssl_certificate")


class NginxConfigError(ValueError):
    """The main configuration file cannot be read at all (the CLI's exit status 2)."""


@dataclass(slots=True)
class LoadedConfig:
    """What the loader read: the directive tree with includes expanded, the texts, certificate bytes."""

    path: str
    conf_dir: str
    root: tuple[Directive, ...]
    files: tuple[str, ...]
    texts: dict[str, str]
    anomalies: list[NginxAnomaly]
    certificates: dict[str, bytes | str] = field(default_factory=dict)  # resolved path -> bytes, or why not


def resolve_config_path(path: str) -> str:
    """A directory means its nginx.conf (as /etc/nginx); anything else is the file itself."""
    if os.path.isdir(path):
        candidate = os.path.join(path, "nginx.conf")
        if os.path.isfile(candidate):
            return candidate
        raise NginxConfigError(f"{path} is a directory without an nginx.conf")
    return path


def load_config(path: str) -> LoadedConfig:
    """Parse ``path`` and what it includes; raise NginxConfigError only when ``path`` itself is unreadable."""
    import crossplane  # heavy-ish, and only needed here

    path = resolve_config_path(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            main_text = f.read()
    except OSError as exc:
        raise NginxConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc

    payload: dict[str, Any] = crossplane.parse(
        path, combine=False, catch_errors=True, check_ctx=False, comments=False,
        onerror=lambda exc: type(exc).__name__,
    )
    configs: list[dict[str, Any]] = payload["config"]
    anomalies: list[NginxAnomaly] = []
    texts: dict[str, str] = {path: main_text}
    for cfg in configs[1:]:
        name = cfg["file"]
        try:
            with open(name, encoding="utf-8", errors="replace") as f:
                texts[name] = f.read()
        except OSError:
            pass
    lines_of = {name: text.splitlines() for name, text in texts.items()}

    for err in payload["errors"]:
        anomalies.append(_anomaly_from_error(err, lines_of))

    def expand(stmts: Iterable[dict[str, Any]], file: str, stack: tuple[int, ...]) -> tuple[Directive, ...]:
        out: list[Directive] = []
        for stmt in stmts:
            name = stmt["directive"]
            args = tuple(str(a) for a in stmt.get("args", ()))
            line = int(stmt.get("line", 0))
            if name == "include" and "includes" in stmt:
                for index in stmt["includes"]:
                    if index in stack or len(stack) >= MAX_INCLUDE_DEPTH:
                        anomalies.append(NginxAnomaly(
                            AnomalyKind.INCLUDE_CYCLE,
                            f"include of {configs[index]['file']} makes a cycle; not expanded again", file, line))
                        continue
                    inc = configs[index]
                    out.extend(expand(inc.get("parsed", ()), inc["file"], (*stack, index)))
                continue
            block = None
            if "block" in stmt:
                block = expand(stmt["block"], file, stack)
            out.append(Directive(name, args, file, line, block))
        return tuple(out)

    root = expand(configs[0].get("parsed", ()), configs[0]["file"], (0,)) if configs else ()
    files = tuple(cfg["file"] for cfg in configs)
    loaded = LoadedConfig(path, os.path.dirname(path), root, files, texts, anomalies)
    _read_certificates(loaded)
    return loaded


def _anomaly_from_error(err: dict[str, Any], lines_of: dict[str, list[str]]) -> NginxAnomaly:
    file, line, message = err.get("file"), err.get("line"), str(err.get("error", ""))
    callback = err.get("callback", "")
    source_line = ""
    if file in lines_of and isinstance(line, int) and 0 < line <= len(lines_of[file]):
        source_line = lines_of[file][line - 1].strip()
    if callback in ("FileNotFoundError", "PermissionError", "IsADirectoryError", "OSError") or (
            source_line.startswith("include") and message.startswith("[Errno")):
        kind = AnomalyKind.UNREADABLE_INCLUDE
        message = f"include cannot be read ({message}); nginx would refuse this configuration"
    elif callback == "NgxParserSyntaxError" or callback not in ("NgxParserDirectiveArgumentsError",
                                                                   "NgxParserDirectiveContextError",
                                                                   "NgxParserDirectiveUnknownError"):
        kind = AnomalyKind.PARSE_ERROR
        message = f"does not parse: {message}; the statements of this file are not checked"
    else:
        kind = AnomalyKind.DIRECTIVE_ERROR
        message = f"{message}; this directive is left out"
    return NginxAnomaly(kind, message, file, line if isinstance(line, int) else None)


def conf_relative(conf_dir: str, path: str) -> str:
    """A path as nginx resolves it against the conf prefix (the directory of the main file)."""
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(conf_dir, path))


def _walk(directives: Iterable[Directive]) -> Iterable[Directive]:
    for d in directives:
        yield d
        if d.block is not None:
            yield from _walk(d.block)


def _read_certificates(loaded: LoadedConfig) -> None:
    for d in _walk(loaded.root):
        if d.name not in CERTIFICATE_DIRECTIVES or not d.args:
            continue
        raw = d.args[0]
        if "$" in raw or raw.startswith("data:") or raw.startswith("engine:"):
            continue  # chosen per request, or not a file: nothing to read before a request comes
        resolved = conf_relative(loaded.conf_dir, raw)
        if resolved in loaded.certificates:
            continue
        try:
            with open(resolved, "rb") as f:
                data = f.read(MAX_CERTIFICATE_BYTES + 1)
        except OSError as exc:
            loaded.certificates[resolved] = f"cannot be read: {exc.strerror or exc}"
            continue
        except ValueError:  # a NUL in the path: no file can have that name
            loaded.certificates[resolved] = "cannot be read: the path holds a NUL byte"
            continue
        if len(data) > MAX_CERTIFICATE_BYTES:
            loaded.certificates[resolved] = f"larger than {MAX_CERTIFICATE_BYTES} bytes: not a certificate file"
            continue
        loaded.certificates[resolved] = data
