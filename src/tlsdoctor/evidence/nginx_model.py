"""The values ``tlsdoctor.evidence.nginx`` produces: frozen, slotted, typed; no dicts of strings.

A person reads an nginx configuration as directives at file:line; so does every value here. A
``SourceRef`` is one directive where it was written (the file name as the user gave it, or joined to
the directory of the including file as nginx does, the 1-based line, and the directive re-rendered as
text). Everything the analysis resolved (an ``upstream`` group, a ``map`` entry, a ``set``) carries the
refs it came from, so that a finding can cite them and ``diagnose`` can tie a log line to a location.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from tlsdoctor.findings import Confidence, Evidence


@dataclass(frozen=True, slots=True)
class SourceRef:
    """One directive where it was written."""

    file: str
    line: int
    text: str  # the directive as nginx would read it: ``proxy_pass https://backend_group/;``

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Directive:
    """One parsed directive (crossplane's statement) with its file; ``block`` is None for a simple one.

    ``include`` directives are already replaced by the statements of the files they name.
    """

    name: str
    args: tuple[str, ...]
    file: str
    line: int
    block: tuple[Directive, ...] | None = None

    @property
    def ref(self) -> SourceRef:
        return SourceRef(self.file, self.line, render_directive(self.name, self.args, self.block is not None))


def _needs_quotes(arg: str) -> bool:
    return arg == "" or any(c.isspace() or c in "{};\"'" for c in arg)


def quote_arg(arg: str) -> str:
    """An argument as it would be written in nginx.conf (quoted when it has spaces or braces)."""
    if not _needs_quotes(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_directive(name: str, args: tuple[str, ...] | list[str], block: bool = False) -> str:
    text = " ".join([name, *(quote_arg(a) for a in args)])
    return text + (" {" if block else ";")


class AnomalyKind(enum.StrEnum):
    """Problems of the input, not findings about the configuration's behaviour."""

    UNREADABLE_INCLUDE = "include_unreadable"  # an explicit include that nginx could not open either
    INCLUDE_CYCLE = "include_cycle"
    PARSE_ERROR = "parse_error"  # crossplane could not read a file (the file's statements are lost)
    DIRECTIVE_ERROR = "directive_error"  # one directive nginx would reject (wrong arguments); the rest is read
    CERTIFICATE_UNREADABLE = "certificate_unreadable"
    CERTIFICATE_UNPARSABLE = "certificate_unparsable"
    UNRESOLVED_VARIABLE = "unresolved_variable"  # a target or name we could not resolve statically
    CAP_HIT = "cap_hit"


@dataclass(frozen=True, slots=True)
class NginxAnomaly:
    kind: AnomalyKind
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else (f"{self.file}: " if self.file else "")
        return f"{where}{self.message}"


@dataclass(frozen=True, slots=True)
class UpstreamServer:
    """One ``server`` line of an ``upstream`` block (ngx_http_upstream_module)."""

    address: str  # as written: ``api.example.com:443``, ``10.0.0.1``, ``unix:/run/app.sock``
    host: str  # host name or IP (brackets removed for IPv6); the socket path for unix:
    port: int | None  # None for unix sockets; 80 when omitted (nginx's default, even for https)
    port_explicit: bool
    is_ip: bool
    is_unix: bool
    parameters: tuple[str, ...]  # weight=, max_fails=, backup, resolve, ...
    ref: SourceRef


@dataclass(frozen=True, slots=True)
class UpstreamGroup:
    name: str
    servers: tuple[UpstreamServer, ...]
    ref: SourceRef

    @property
    def host_names(self) -> tuple[str, ...]:
        """The distinct DNS names of the group's servers, in order (IPs and unix sockets left out)."""
        seen: dict[str, None] = {}
        for s in self.servers:
            if not s.is_ip and not s.is_unix:
                seen.setdefault(s.host.lower(), None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class MapEntry:
    key: str  # ``default``, a string, or ``~regex``
    value: str
    ref: SourceRef


@dataclass(frozen=True, slots=True)
class MapBlock:
    """``map $source $variable { ... }`` (ngx_http_map_module)."""

    source: str
    variable: str  # without the ``$``
    entries: tuple[MapEntry, ...]
    ref: SourceRef

    @property
    def default(self) -> MapEntry | None:
        return next((e for e in self.entries if e.key == "default"), None)


@dataclass(frozen=True, slots=True)
class LogFormat:
    """``log_format name [escape=...] string...``: the strings concatenated, as nginx does."""

    name: str
    format: str
    escape: str  # ``default``, ``json`` or ``none``
    ref: SourceRef | None  # None for the built-in ``combined``


COMBINED_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                   '"$http_referer" "$http_user_agent"')


@dataclass(frozen=True, slots=True)
class LogTarget:
    """An ``access_log`` or ``error_log`` directive (or nginx's default when none is written)."""

    kind: str  # ``access`` or ``error``
    path: str  # as written; ``off`` for ``access_log off``; relative paths are relative to nginx's prefix
    format: str | None  # access_log: the log_format name (``combined`` by default); error_log: the level
    server_names: tuple[str, ...]  # the server block it is in, empty at http or main level
    location: str | None
    ref: SourceRef | None  # None for nginx's default


@dataclass(frozen=True, slots=True)
class CertificateFile:
    """A certificate file named by ``ssl_certificate`` / ``proxy_ssl_certificate`` / ..., as read."""

    directive: str
    path: str  # as written
    resolved_path: str  # relative paths joined to the config's directory (nginx's conf prefix)
    ref: SourceRef
    subject: str | None = None
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None
    dns_names: tuple[str, ...] = ()
    error: str | None = None  # why it could not be read or parsed; None when read


class SniKind(enum.StrEnum):
    """What the server_name extension nginx sends to an upstream is."""

    NONE = "none"  # *_ssl_server_name off (the default): no SNI at all
    GROUP_NAME = "group_name"  # the name of an ``upstream`` block: not a DNS name the origin knows
    HOSTNAME = "hostname"  # a DNS name written in the config
    CLIENT_HOST = "client_host"  # ``$host`` / ``$http_host``: whatever the client asked for
    IP_LITERAL = "ip_literal"  # nginx sends no SNI for an IP (RFC 6066 section 3 forbids it)
    BARE_WORD = "bare_word"  # one label, no dot, not a group: hardly a name with a certificate
    UNRESOLVED = "unresolved"  # a variable we could not resolve statically


@dataclass(frozen=True, slots=True)
class PassTarget:
    """One thing a ``*_pass`` can reach, after variables are resolved (one per map/set value)."""

    url: str  # resolved: ``https://backend_group/``
    scheme: str | None  # ``https``, ``http``, ``grpcs``, ``suwsgi``, ... None when still a variable
    host: str  # group name or host name, still ``$var`` when unresolved
    port: int | None
    upstream: UpstreamGroup | None
    via: tuple[SourceRef, ...]  # the map entries / set directives that produced this target
    sni: str | None  # the server_name nginx sends to this target, None for none
    sni_kind: SniKind
    host_header: str | None  # the Host header for this target (``$host`` kept as is); None: not HTTP

    @property
    def tls(self) -> bool | None:
        if self.scheme is None:
            return None
        return self.scheme in ("https", "grpcs", "suwsgi")


@dataclass(frozen=True, slots=True)
class HeaderSetting:
    """One ``proxy_set_header NAME VALUE`` (or grpc_set_header) in effect."""

    name: str
    value: str
    ref: SourceRef


@dataclass(frozen=True, slots=True)
class ProtocolsDirective:
    """An ``ssl_protocols`` / ``proxy_ssl_protocols`` / ... directive as written."""

    directive: str
    protocols: tuple[str, ...]
    ref: SourceRef
    server_names: tuple[str, ...]
    location: str | None


@dataclass(frozen=True, slots=True)
class ProxiedLocation:
    """A location (or ``if``/``limit_except`` in one) with ``proxy_pass``, ``grpc_pass`` or ``uwsgi_pass``.

    The settings are the effective ones after nginx's inheritance from http -> server -> location:
    a directive in an inner block replaces the outer one; array-like directives (``proxy_set_header``)
    are inherited only when the inner block has none of them (ngx_http_proxy_module, merge rules).
    """

    module: str  # ``proxy``, ``grpc`` or ``uwsgi``: the prefix of its *_ssl_* directives
    server_names: tuple[str, ...]
    server_ref: SourceRef | None
    location: str | None  # ``/proxy/cn/``, ``= /``, ``~ \\.php$``; None when not in a location block
    location_ref: SourceRef | None
    pass_ref: SourceRef
    pass_url: str  # as written
    targets: tuple[PassTarget, ...]
    sni_enabled: bool
    sni_enabled_ref: SourceRef | None  # the *_ssl_server_name directive in effect, None for the default (off)
    sni_name: str | None  # *_ssl_name as written, None for the default ($proxy_host: the pass URL's host)
    sni_name_ref: SourceRef | None
    host_header: str | None  # the Host header expression in effect (``$proxy_host`` by default for proxy)
    host_header_ref: SourceRef | None
    headers: tuple[HeaderSetting, ...]  # the *_set_header directives in effect (all of one level)
    headers_inherited: bool  # they come from an outer block (the location itself has none)
    shadowed_headers: tuple[HeaderSetting, ...]  # outer ones not in effect because this level has its own
    verify: bool
    verify_ref: SourceRef | None
    trusted_certificate: str | None
    trusted_certificate_ref: SourceRef | None
    protocols: tuple[str, ...] | None  # *_ssl_protocols in effect, None for nginx's default
    protocols_ref: SourceRef | None
    client_certificate: str | None
    client_certificate_ref: SourceRef | None
    access_logs: tuple[LogTarget, ...]
    error_logs: tuple[LogTarget, ...]
    block_ref: SourceRef | None  # the block the *_pass is in (location, if, limit_except)
    own_directives: tuple[SourceRef, ...]  # directives written directly in that block

    @property
    def tls(self) -> bool:
        return any(t.tls for t in self.targets)

    @property
    def upstreams(self) -> tuple[UpstreamGroup, ...]:
        seen: dict[str, UpstreamGroup] = {}
        for t in self.targets:
            if t.upstream is not None:
                seen.setdefault(t.upstream.name, t.upstream)
        return tuple(seen.values())

    def where(self) -> str:
        server = self.server_names[0] if self.server_names else "_"
        return f"server {server}, location {self.location}" if self.location else f"server {server}"


@dataclass(frozen=True, slots=True)
class ServerBlock:
    names: tuple[str, ...]
    listens: tuple[str, ...]
    ref: SourceRef | None


@dataclass(frozen=True, slots=True)
class DirectiveChange:
    """One directive the fix sets in one block: replaces the block's own, or is added after ``anchor``.

    ``key`` tells which existing directive it replaces: ``("proxy_ssl_name",)`` or, for headers,
    ``("proxy_set_header", "host")``.
    """

    anchor: SourceRef  # the *_pass directive (or the directive itself, for an in-place replacement)
    block_key: tuple[str, int]  # (file, line) of the block the directive goes in
    key: tuple[str, ...]
    name: str
    args: tuple[str, ...]
    replaces: SourceRef | None  # a directive of the same block to rewrite in place

    @property
    def text(self) -> str:
        return render_directive(self.name, self.args)


@dataclass(frozen=True, slots=True)
class BlockInsertion:
    """A whole block (a ``map``) inserted before a directive at http level."""

    before: SourceRef
    text: str  # the block, lines separated by newlines, without indentation


@dataclass(frozen=True, slots=True)
class NginxFinding:
    """One finding of ``tlsdoctor nginx``, in the form of REPORT.md (``cause`` is a check code)."""

    cause: str
    title: str
    confidence: Confidence
    explanation: str
    evidence: tuple[Evidence, ...]
    fix: str
    location: ProxiedLocation | None = None
    certificate: CertificateFile | None = None
    changes: tuple[DirectiveChange, ...] = ()
    insertions: tuple[BlockInsertion, ...] = ()
    fix_is_patchable: bool = True


@dataclass(frozen=True, slots=True)
class NginxAnalysis:
    """Everything ``tlsdoctor nginx`` (and ``diagnose``) learns from one configuration."""

    path: str
    files: tuple[str, ...]
    servers: tuple[ServerBlock, ...]
    locations: tuple[ProxiedLocation, ...]
    upstreams: tuple[UpstreamGroup, ...]
    maps: tuple[MapBlock, ...]
    log_formats: tuple[LogFormat, ...]
    access_logs: tuple[LogTarget, ...]
    error_logs: tuple[LogTarget, ...]
    certificates: tuple[CertificateFile, ...]
    protocols: tuple[ProtocolsDirective, ...]
    findings: tuple[NginxFinding, ...]
    anomalies: tuple[NginxAnomaly, ...]
    texts: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # file -> text, for --patch

    def upstream(self, name: str) -> UpstreamGroup | None:
        return next((u for u in self.upstreams if u.name == name), None)

    def log_format(self, name: str) -> LogFormat | None:
        return next((f for f in self.log_formats if f.name == name), None)

    def locations_for_upstream(self, name: str) -> tuple[ProxiedLocation, ...]:
        return tuple(loc for loc in self.locations if any(u.name == name for u in loc.upstreams))
