"""nginx configuration as evidence: what nginx will do when it talks TLS to its upstreams.

Public API (for ``tlsdoctor nginx`` and ``diagnose``)::

    analysis = analyze_config("/etc/nginx/nginx.conf")        # NginxAnalysis, frozen
    for loc in analysis.locations:                              # ProxiedLocation
        loc.pass_ref, loc.targets[0].upstream, loc.targets[0].sni, loc.targets[0].sni_kind
    analysis.log_format("main").format                          # for parsing access logs
    analysis.findings                                           # NginxFinding, REPORT.md's nginx check codes

Theory of operation. ``nginx_load`` (the I/O edge) gives a tree of ``Directive`` with includes
expanded in place. This module is sans-IO: it walks the tree as nginx merges configuration, from
``http`` to ``server`` to ``location`` (and ``if``/``limit_except`` inside one), and for every block
with a ``proxy_pass``, ``grpc_pass`` or ``uwsgi_pass`` computes the effective settings:

* Scalar directives (``proxy_ssl_server_name``, ``proxy_ssl_name``, ``proxy_ssl_verify``,
  ``proxy_ssl_protocols``, ...): the innermost block that has one wins, it replaces the outer one
  entirely; none anywhere means nginx's default (ngx_http_proxy_module: ``proxy_ssl_server_name off``,
  ``proxy_ssl_name $proxy_host``, ``proxy_ssl_verify off``).
* Array directives (``proxy_set_header``, ``access_log``, ``error_log``): "inherited from the previous
  configuration level if and only if there are no such directives defined on the current level"
  (ngx_http_proxy_module, proxy_set_header). The Host header defaults to ``$proxy_host``.
* Variables: ``proxy_pass https://$backend`` and ``proxy_ssl_name $name`` are resolved through the
  ``map`` blocks (every value, each with the entry's file:line) and the ``set`` directives of the
  enclosing server and locations. ``$proxy_host`` is the pass URL's host: for ``proxy_pass
  https://group/`` the name of the ``upstream`` block, which is what nginx then sends as SNI and
  as Host (seed 000). What stays a variable (``$host``) is kept as is, and classified.
* The SNI nginx sends (ngx_http_upstream_ssl_name in ngx_http_upstream.c): none when
  ``*_ssl_server_name`` is off; otherwise ``*_ssl_name`` evaluated, the port stripped, and none
  again when the result is empty or an IP literal (RFC 6066 section 3).

The checks that turn these values into findings are in ``nginx_checks`` (one function per check
code); ``nginx_patch`` turns the findings' changes into a unified diff.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from tlsdoctor.evidence.nginx_load import (
    CERTIFICATE_DIRECTIVES,
    LoadedConfig,
    NginxConfigError,
    conf_relative,
    load_config,
)
from tlsdoctor.evidence.nginx_model import (
    COMBINED_FORMAT,
    AnomalyKind,
    CertificateFile,
    Directive,
    HeaderSetting,
    LogFormat,
    LogTarget,
    MapBlock,
    MapEntry,
    NginxAnalysis,
    NginxAnomaly,
    NginxFinding,
    PassTarget,
    ProtocolsDirective,
    ProxiedLocation,
    ServerBlock,
    SniKind,
    SourceRef,
    UpstreamGroup,
    UpstreamServer,
)
from tlsdoctor.findings import Confidence, Evidence

__all__ = [
    "AnomalyKind", "CertificateFile", "Confidence", "Evidence", "LogFormat", "LogTarget", "MapBlock",
    "NginxAnalysis", "NginxAnomaly", "NginxConfigError", "NginxFinding", "PassTarget", "ProxiedLocation",
    "SniKind", "SourceRef", "UpstreamGroup", "UpstreamServer", "analyze_config", "analyze_loaded",
]

MAX_VALUES_PER_EXPRESSION = 64  # a map of maps can multiply; past this the rest is an anomaly
MAX_VARIABLE_DEPTH = 4  # map values that name variables that are maps ...

# The *_pass directives and the schemes that mean TLS to the upstream (ngx_http_proxy_module,
# ngx_http_grpc_module "grpcs://", ngx_http_uwsgi_module "suwsgi://").
PASS_DIRECTIVES = {"proxy_pass": "proxy", "grpc_pass": "grpc", "uwsgi_pass": "uwsgi"}
TLS_SCHEMES = {"https", "grpcs", "suwsgi"}
DEFAULT_SCHEME = {"proxy": "http", "grpc": "grpc", "uwsgi": "uwsgi"}
DEFAULT_PORT = {"https": 443, "http": 80, "grpcs": 443, "grpc": 80, "suwsgi": None, "uwsgi": None}
# The Host header each module sends by default: proxy sends $proxy_host (ngx_http_proxy_module,
# proxy_set_header); grpc passes the client's Host; uwsgi has no Host header of its own.
DEFAULT_HOST_HEADER = {"proxy": "$proxy_host", "grpc": "$http_host", "uwsgi": None}
CLIENT_HOST_VARIABLES = {"host", "http_host"}
OBSOLETE_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
PROTOCOL_DIRECTIVES = ("ssl_protocols", "proxy_ssl_protocols", "grpc_ssl_protocols", "uwsgi_ssl_protocols")

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$")


# --- scopes: the blocks nginx merges configuration through ------------------------------------------

@dataclass(slots=True)
class _Scope:
    kind: str  # http, server, location, if, limit_except
    node: Directive | None
    directives: tuple[Directive, ...]
    parent: _Scope | None
    server: _Scope | None = None
    location_label: str | None = None

    def chain(self) -> Iterator[_Scope]:
        scope: _Scope | None = self
        while scope is not None:
            yield scope
            scope = scope.parent

    def own(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.name == name]

    def effective(self, name: str) -> Directive | None:
        """The scalar directive in effect: the innermost one (an inner block replaces the outer)."""
        for scope in self.chain():
            found = scope.own(name)
            if found:
                return found[0]
        return None

    def effective_array(self, name: str) -> tuple[list[Directive], bool]:
        """An array directive in effect: all of the innermost level that has any; and whether inherited."""
        for scope in self.chain():
            found = scope.own(name)
            if found:
                return found, scope is not self
        return [], True

    @property
    def server_names(self) -> tuple[str, ...]:
        if self.server is None:
            return ()
        return tuple(n for d in self.server.own("server_name") for n in d.args)


def _walk(directives: Iterable[Directive]) -> Iterator[Directive]:
    for d in directives:
        yield d
        if d.block is not None:
            yield from _walk(d.block)


def _http_scopes(root: tuple[Directive, ...]) -> list[_Scope]:
    """The http blocks; a snippet without one (a server block on its own) is read as if inside one."""
    https = [d for d in root if d.name == "http" and d.block is not None]
    if https:
        return [_Scope("http", d, d.block or (), None) for d in https]
    top = tuple(d for d in root if d.name not in ("events", "stream", "mail"))
    if any(d.name == "location" for d in top):  # a server's inside on its own: wrap it in a server too
        server = Directive("server", (), "", 0, top)
        return [_Scope("http", None, (server,), None)]
    return [_Scope("http", None, top, None)]


def _location_label(d: Directive) -> str:
    return " ".join(d.args)


def _child_scopes(scope: _Scope) -> Iterator[_Scope]:
    """Every server/location/if/limit_except scope below ``scope``, depth first."""
    for d in scope.directives:
        if d.block is None:
            continue
        if scope.kind == "http" and d.name == "server":
            child = _Scope("server", d, d.block, scope)
            child.server = child
        elif scope.kind in ("server", "location", "if", "limit_except") and d.name == "location":
            child = _Scope("location", d, d.block, scope, scope.server, _location_label(d))
        elif scope.kind in ("server", "location") and d.name == "if":
            label = scope.location_label
            child = _Scope("if", d, d.block, scope, scope.server, label)
        elif scope.kind in ("location", "if") and d.name == "limit_except":
            child = _Scope("limit_except", d, d.block, scope, scope.server, scope.location_label)
        else:
            continue
        yield child
        yield from _child_scopes(child)


# --- variables ------------------------------------------------------------------------------------

@dataclass(slots=True)
class _Resolver:
    maps: dict[str, MapBlock]
    anomalies: list[NginxAnomaly]
    reported: set[tuple[str, int]] = field(default_factory=set)

    def sets_in_scope(self, scope: _Scope) -> dict[str, list[Directive]]:
        """``set $var value`` of the enclosing locations and server (and the ``if`` blocks in them)."""
        found: dict[str, list[Directive]] = {}
        for s in scope.chain():
            if s.kind == "http":
                break
            for d in _walk_if(s.directives):
                if d.name == "set" and len(d.args) >= 2 and d.args[0].startswith("$"):
                    found.setdefault(d.args[0][1:], []).append(d)
        return found

    def resolve(self, expr: str, scope: _Scope, special: dict[str, str], depth: int = 0,
                anchor: Directive | None = None) -> list[tuple[str, tuple[SourceRef, ...]]]:
        """Every value ``expr`` can take, each with the map entries / set directives it came through."""
        pieces: list[tuple[bool, str]] = []  # (is_variable, text or name)
        pos = 0
        for m in _VARIABLE.finditer(expr):
            if m.start() > pos:
                pieces.append((False, expr[pos:m.start()]))
            pieces.append((True, m.group(1) or m.group(2)))
            pos = m.end()
        if pos < len(expr):
            pieces.append((False, expr[pos:]))
        sets = self.sets_in_scope(scope) if any(v for v, _ in pieces) else {}
        combos: list[tuple[str, tuple[SourceRef, ...]]] = [("", ())]
        for is_var, text in pieces:
            if not is_var:
                combos = [(v + text, via) for v, via in combos]
                continue
            candidates = self._variable(text, scope, special, sets, depth)
            combos = [(v + c, via + cvia) for (v, via), (c, cvia) in itertools.product(combos, candidates)]
            if len(combos) > MAX_VALUES_PER_EXPRESSION:
                combos = combos[:MAX_VALUES_PER_EXPRESSION]
                if anchor is not None and (anchor.file, anchor.line) not in self.reported:
                    self.reported.add((anchor.file, anchor.line))
                    self.anomalies.append(NginxAnomaly(
                        AnomalyKind.CAP_HIT, f"{expr!r} takes more than {MAX_VALUES_PER_EXPRESSION} values; "
                        "only the first are checked", anchor.file, anchor.line))
        return combos

    def _variable(self, name: str, scope: _Scope, special: dict[str, str], sets: dict[str, list[Directive]],
                  depth: int) -> list[tuple[str, tuple[SourceRef, ...]]]:
        if name in special:
            return [(special[name], ())]
        if depth >= MAX_VARIABLE_DEPTH:
            return [(f"${name}", ())]
        out: list[tuple[str, tuple[SourceRef, ...]]] = []
        if name in sets:
            for d in sets[name]:
                for value, via in self.resolve(d.args[1], scope, special, depth + 1):
                    out.append((value, (d.ref, *via)))
        elif name in self.maps:
            for entry in self._map_entries(self.maps[name], scope, special, depth):
                if entry.value == "":
                    continue
                for value, via in self.resolve(entry.value, scope, special, depth + 1):
                    out.append((value, (entry.ref, *via)))
        return out or [(f"${name}", ())]


    def _map_entries(self, mp: MapBlock, scope: _Scope, special: dict[str, str], depth: int) -> list[MapEntry]:
        """The entries a map can yield: the matching one when its source is known here, else all of them."""
        sources = self.resolve(mp.source, scope, special, depth + 1)
        if len(sources) != 1 or "$" in sources[0][0]:
            return list(mp.entries)  # the source is up to the request ($http_x_region): every value is possible
        value = sources[0][0]
        for entry in mp.entries:
            key = entry.key[1:] if entry.key.startswith("\\") else entry.key
            if entry.key.startswith("~"):
                flags = re.IGNORECASE if entry.key.startswith("~*") else 0
                with contextlib.suppress(re.error):
                    if re.search(entry.key.lstrip("~*") if flags else entry.key[1:], value, flags):
                        return [entry]
            elif entry.key != "default" and key == value:
                return [entry]
        return [e for e in mp.entries if e.key == "default"]


def _walk_if(directives: Iterable[Directive]) -> Iterator[Directive]:
    for d in directives:
        yield d
        if d.name == "if" and d.block is not None:
            yield from _walk_if(d.block)


# --- URLs and names -------------------------------------------------------------------------------

def split_host_port(hostport: str) -> tuple[str, int | None]:
    """``host:port`` / ``[v6]:port`` / ``host`` -> (host, port or None); a non-numeric port stays in host."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end > 0:
            host, rest = hostport[1:end], hostport[end + 1:]
            if rest.startswith(":") and rest[1:].isdigit():
                return host, int(rest[1:])
            return host, None
    if hostport.count(":") == 1:
        host, port = hostport.split(":")
        if port.isdigit():
            return host, int(port)
    return hostport, None


def strip_port(name: str) -> str:
    """What ngx_http_upstream_ssl_name does before SNI: drop ``:port`` (and keep ``[v6]`` whole)."""
    if name.startswith("["):
        end = name.find("]")
        return name[: end + 1] if end > 0 else name
    return name.split(":", 1)[0]


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def classify_name(name: str, group_names: set[str]) -> SniKind:
    if name == "":
        return SniKind.NONE
    if "$" in name:
        variables = {m.group(1) or m.group(2) for m in _VARIABLE.finditer(name)}
        return SniKind.CLIENT_HOST if variables & CLIENT_HOST_VARIABLES else SniKind.UNRESOLVED
    if is_ip_literal(name):
        return SniKind.IP_LITERAL
    if name in group_names:
        return SniKind.GROUP_NAME
    if "." not in name:
        return SniKind.BARE_WORD
    return SniKind.HOSTNAME


def parse_pass_url(module: str, url: str) -> tuple[str | None, str, int | None]:
    """(scheme, host, port) of a *_pass argument; scheme None when it is still a variable."""
    m = _URL.match(url)
    if m:
        scheme: str | None = m.group("scheme").lower()
        rest = m.group("rest")
    elif url.startswith("$"):
        return None, url, None
    else:
        scheme, rest = DEFAULT_SCHEME[module], url  # grpc_pass host:port, uwsgi_pass host:port
    if scheme is not None and "$" in scheme:
        scheme = None
    if rest.startswith("unix:"):
        return scheme, rest.split(":", 2)[1] if rest.count(":") >= 1 else rest, None
    hostport = rest.split("/", 1)[0]
    host, port = split_host_port(hostport)
    return scheme, host, port


def _parse_upstream(d: Directive) -> UpstreamGroup:
    servers: list[UpstreamServer] = []
    for s in d.block or ():
        if s.name != "server" or not s.args:
            continue
        address = s.args[0]
        if address.startswith("unix:"):
            servers.append(UpstreamServer(address, address[5:], None, False, False, True, s.args[1:], s.ref))
            continue
        host, port = split_host_port(address)
        servers.append(UpstreamServer(address, host, port if port is not None else 80, port is not None,
                                      is_ip_literal(host), False, s.args[1:], s.ref))
    return UpstreamGroup(d.args[0] if d.args else "", tuple(servers), d.ref)


def _parse_map(d: Directive) -> MapBlock | None:
    if len(d.args) < 2 or not d.args[1].startswith("$"):
        return None
    entries = tuple(MapEntry(e.name, e.args[0] if e.args else "", e.ref) for e in d.block or ()
                    if e.name not in ("hostnames", "volatile", "include"))
    return MapBlock(d.args[0], d.args[1][1:], entries, d.ref)


def _parse_log_format(d: Directive) -> LogFormat | None:
    if not d.args:
        return None
    rest = list(d.args[1:])
    escape = "default"
    if rest and rest[0].startswith("escape="):
        escape = rest.pop(0).split("=", 1)[1]
    return LogFormat(d.args[0], "".join(rest), escape, d.ref)


# --- certificates (bytes in, facts out) -----------------------------------------------------------

def certificate_facts(cert: CertificateFile, data: bytes | str | None) -> CertificateFile:
    """Parse the first certificate of a PEM file (the leaf, as nginx sends it first)."""
    from cryptography import x509

    from tlsdoctor.tls.certificates import defects_unwarned

    if data is None:
        return replace(cert, error="was not read")
    if isinstance(data, str):
        return replace(cert, error=data)
    try:
        with defects_unwarned():
            leaf = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        try:
            with defects_unwarned():
                leaf = x509.load_der_x509_certificate(data)
        except ValueError:
            return replace(cert, error=f"is not a PEM certificate ({exc})")
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        dns_names = ()
    return replace(cert, subject=leaf.subject.rfc4514_string(), not_before=leaf.not_valid_before_utc,
                   not_after=leaf.not_valid_after_utc, dns_names=dns_names)


# --- the analysis ---------------------------------------------------------------------------------

@dataclass(slots=True)
class _Collected:
    servers: list[ServerBlock] = field(default_factory=list)
    upstreams: dict[str, UpstreamGroup] = field(default_factory=dict)
    maps: dict[str, MapBlock] = field(default_factory=dict)
    log_formats: list[LogFormat] = field(default_factory=list)
    access_logs: list[LogTarget] = field(default_factory=list)
    error_logs: list[LogTarget] = field(default_factory=list)
    certificates: list[CertificateFile] = field(default_factory=list)
    protocols: list[ProtocolsDirective] = field(default_factory=list)


def _log_target(d: Directive, kind: str, scope: _Scope | None) -> LogTarget:
    path = d.args[0] if d.args else ""
    fmt: str | None
    if kind == "access":
        fmt = None if path == "off" else (d.args[1] if len(d.args) > 1 and "=" not in d.args[1] else "combined")
    else:
        fmt = d.args[1] if len(d.args) > 1 else "error"
    names = scope.server_names if scope is not None else ()
    label = scope.location_label if scope is not None else None
    return LogTarget(kind, path, fmt, names, label, d.ref)


def _collect(loaded: LoadedConfig, https: list[_Scope], all_scopes: list[_Scope]) -> _Collected:
    c = _Collected()
    for top in loaded.root:  # error_log at main level
        if top.name == "error_log":
            c.error_logs.append(_log_target(top, "error", None))
    for http in https:
        for d in http.directives:
            if d.name == "upstream" and d.block is not None:
                group = _parse_upstream(d)
                c.upstreams.setdefault(group.name, group)
            elif d.name == "map" and d.block is not None:
                mp = _parse_map(d)
                if mp is not None:
                    c.maps.setdefault(mp.variable, mp)
            elif d.name == "log_format":
                lf = _parse_log_format(d)
                if lf is not None:
                    c.log_formats.append(lf)
    for http in https:
        for scope in [http, *(s for s in all_scopes if _root_of(s) is http)]:
            if scope.kind == "server":
                listens = tuple(" ".join(d.args) for d in scope.own("listen"))
                c.servers.append(ServerBlock(scope.server_names, listens,
                                             scope.node.ref if scope.node and scope.node.line else None))
            for d in scope.directives:
                if d.name == "access_log":
                    c.access_logs.append(_log_target(d, "access", scope))
                elif d.name == "error_log":
                    c.error_logs.append(_log_target(d, "error", scope))
                elif d.name in CERTIFICATE_DIRECTIVES and d.args:
                    c.certificates.append(certificate_facts(
                        CertificateFile(d.name, d.args[0], conf_relative(loaded.conf_dir, d.args[0]), d.ref),
                        loaded.certificates.get(conf_relative(loaded.conf_dir, d.args[0]))
                        if "$" not in d.args[0] else "names a variable: chosen per request, not checked"))
                elif d.name in PROTOCOL_DIRECTIVES:
                    c.protocols.append(ProtocolsDirective(d.name, d.args, d.ref, scope.server_names,
                                                          scope.location_label))
    return c


def _root_of(scope: _Scope) -> _Scope:
    last = scope
    for s in scope.chain():
        last = s
    return last


def _site(scope: _Scope, pass_directive: Directive, c: _Collected, resolver: _Resolver) -> ProxiedLocation:
    module = PASS_DIRECTIVES[pass_directive.name]
    prefix = module
    group_names = set(c.upstreams)

    def eff(suffix: str) -> Directive | None:
        return scope.effective(f"{prefix}_{suffix}")

    sni_on_d, sni_name_d, verify_d = eff("ssl_server_name"), eff("ssl_name"), eff("ssl_verify")
    trusted_d, protocols_d, cert_d = eff("ssl_trusted_certificate"), eff("ssl_protocols"), eff("ssl_certificate")
    sni_enabled = bool(sni_on_d and sni_on_d.args and sni_on_d.args[0].lower() == "on")
    verify = bool(verify_d and verify_d.args and verify_d.args[0].lower() == "on")
    sni_name = sni_name_d.args[0] if sni_name_d and sni_name_d.args else None

    header_ds, inherited = scope.effective_array(f"{prefix}_set_header") if module != "uwsgi" else ([], True)
    headers = tuple(HeaderSetting(d.args[0], d.args[1] if len(d.args) > 1 else "", d.ref)
                    for d in header_ds if d.args)
    shadowed: list[HeaderSetting] = []
    if module != "uwsgi" and header_ds:
        outer_scopes = list(scope.chain())
        level = next(i for i, s in enumerate(outer_scopes) if s.own(f"{prefix}_set_header"))
        for outer in outer_scopes[level + 1:]:
            shadowed += [HeaderSetting(d.args[0], d.args[1] if len(d.args) > 1 else "", d.ref)
                         for d in outer.own(f"{prefix}_set_header") if d.args]
    host_setting = next((h for h in headers if h.name.lower() == "host"), None)
    host_expr = host_setting.value if host_setting else DEFAULT_HOST_HEADER[module]

    special_server = {"server_name": scope.server_names[0]} if scope.server_names else {}
    raw_url = pass_directive.args[0] if pass_directive.args else ""
    targets: list[PassTarget] = []
    for url, via in resolver.resolve(raw_url, scope, special_server, anchor=pass_directive):
        scheme, host, port = parse_pass_url(module, url)
        upstream = c.upstreams.get(host) if port is None and "$" not in host else None
        default_port = DEFAULT_PORT.get(scheme or "")
        proxy_host = host if port is None or port == default_port else f"{host}:{port}"
        special = {**special_server, "proxy_host": proxy_host}
        host_header: str | None = None
        if host_expr is not None:
            host_header = resolver.resolve(host_expr, scope, special, anchor=pass_directive)[0][0]
        tls = scheme in TLS_SCHEMES if scheme is not None else None
        if not tls or not sni_enabled:
            targets.append(PassTarget(url, scheme, host, port, upstream, via, None, SniKind.NONE, host_header))
            continue
        for name_value, name_via in resolver.resolve(sni_name or "$proxy_host", scope, special,
                                                     anchor=sni_name_d or pass_directive):
            name = strip_port(name_value)
            kind = classify_name(name, group_names)
            sent = None if kind in (SniKind.NONE, SniKind.IP_LITERAL) else name
            targets.append(PassTarget(url, scheme, host, port, upstream, via + name_via, sent, kind, host_header))

    access_ds, _ = scope.effective_array("access_log")
    error_ds, _ = scope.effective_array("error_log")
    access_logs = tuple(_log_target(d, "access", scope) for d in access_ds) or (
        LogTarget("access", "logs/access.log", "combined", scope.server_names, scope.location_label, None),)
    error_logs = tuple(_log_target(d, "error", scope) for d in error_ds) or (
        LogTarget("error", "logs/error.log", "error", scope.server_names, scope.location_label, None),)
    location_scope = next((s for s in scope.chain() if s.kind == "location"), None)

    def ref(d: Directive | None) -> SourceRef | None:
        return d.ref if d is not None else None

    return ProxiedLocation(
        module=module, server_names=scope.server_names,
        server_ref=scope.server.node.ref if scope.server and scope.server.node and scope.server.node.line else None,
        location=scope.location_label, location_ref=ref(location_scope.node) if location_scope else None,
        pass_ref=pass_directive.ref, pass_url=raw_url, targets=tuple(targets),
        sni_enabled=sni_enabled, sni_enabled_ref=ref(sni_on_d), sni_name=sni_name, sni_name_ref=ref(sni_name_d),
        host_header=host_expr, host_header_ref=host_setting.ref if host_setting else None,
        headers=headers, headers_inherited=inherited, shadowed_headers=tuple(shadowed),
        verify=verify, verify_ref=ref(verify_d),
        trusted_certificate=trusted_d.args[0] if trusted_d and trusted_d.args else None,
        trusted_certificate_ref=ref(trusted_d),
        protocols=protocols_d.args if protocols_d else None, protocols_ref=ref(protocols_d),
        client_certificate=cert_d.args[0] if cert_d and cert_d.args else None, client_certificate_ref=ref(cert_d),
        access_logs=access_logs, error_logs=error_logs,
        block_ref=scope.node.ref if scope.node is not None and scope.node.line else None,
        own_directives=tuple(d.ref for d in scope.directives),
    )


def analyze_loaded(loaded: LoadedConfig, now: dt.datetime | None = None) -> NginxAnalysis:
    """The sans-IO core: a loaded configuration -> every fact and finding."""
    from tlsdoctor.evidence.nginx_checks import run_checks

    now = now or dt.datetime.now(dt.UTC)
    https = _http_scopes(loaded.root)
    all_scopes = [s for http in https for s in _child_scopes(http)]
    c = _collect(loaded, https, all_scopes)
    anomalies = list(loaded.anomalies)
    resolver = _Resolver(c.maps, anomalies)
    locations: list[ProxiedLocation] = []
    for scope in all_scopes:
        if scope.kind == "server":
            continue
        for d in scope.directives:
            if d.name in PASS_DIRECTIVES and d.args:
                locations.append(_site(scope, d, c, resolver))
    log_formats = (LogFormat("combined", COMBINED_FORMAT, "default", None), *c.log_formats)
    analysis = NginxAnalysis(
        path=loaded.path, files=loaded.files, servers=tuple(c.servers), locations=tuple(locations),
        upstreams=tuple(c.upstreams.values()), maps=tuple(c.maps.values()), log_formats=log_formats,
        access_logs=tuple(c.access_logs), error_logs=tuple(c.error_logs), certificates=tuple(c.certificates),
        protocols=tuple(c.protocols), findings=(), anomalies=(), texts=loaded.texts,
    )
    findings = run_checks(analysis, now)
    for cert in c.certificates:
        if cert.error is not None:
            kind = (AnomalyKind.CERTIFICATE_UNREADABLE if "read" in cert.error or "variable" in cert.error
                    else AnomalyKind.CERTIFICATE_UNPARSABLE)
            anomalies.append(NginxAnomaly(kind, f"{cert.directive} {cert.path} {cert.error}",
                                          cert.ref.file, cert.ref.line))
    return replace(analysis, findings=findings, anomalies=tuple(anomalies))


def analyze_config(path: str, now: dt.datetime | None = None) -> NginxAnalysis:
    """Read ``path`` (a file, or a directory with nginx.conf) and what it includes, and analyse it.

    Raises NginxConfigError only when ``path`` itself cannot be read; every other problem is an anomaly.
    """
    return analyze_loaded(load_config(path), now)
