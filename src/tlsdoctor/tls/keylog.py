"""The NSS key log format (SSLKEYLOGFILE): the secrets a TLS client or server wrote, by client random.

Format (https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/, also RFC 9850's
draft "The SSLKEYLOGFILE Format for TLS"): one secret per line, ``<label> <client_random hex>
<secret hex>``; ``#`` starts a comment. Labels: ``CLIENT_RANDOM`` (the TLS 1.2 master secret),
``CLIENT_HANDSHAKE_TRAFFIC_SECRET``, ``SERVER_HANDSHAKE_TRAFFIC_SECRET``, ``CLIENT_TRAFFIC_SECRET_0``,
``SERVER_TRAFFIC_SECRET_0``, ``EXPORTER_SECRET``, ``CLIENT_EARLY_TRAFFIC_SECRET``,
``EARLY_EXPORTER_SECRET`` (TLS 1.3).

Sans-IO: ``parse_keylog(lines)`` (an iterable of lines, ``str`` or ``bytes``) or
``parse_keylog_text(text)`` (a whole file's contents). A line that is not in the format is an anomaly
(with its number), never an exception; at most ``MAX_RANDOMS`` client randoms are kept (a named cap,
reported when hit) and ``MAX_ANOMALIES`` anomalies. The same text can come from pcapng Decryption
Secrets Blocks (pcapng draft section 4.7, secrets type ``TLSK``: ``CaptureSource.decryption_secrets``):
``keylog_from_secrets(blocks)`` reads them, their line numbers counted across the blocks in order.
``KeyLog.merged`` joins two key logs (a file given by hand and the capture's own blocks).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

MAX_RANDOMS: Final = 1_000_000
MAX_ANOMALIES: Final = 100
LABELS: Final = frozenset({
    "CLIENT_RANDOM", "CLIENT_EARLY_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0",
    "EARLY_EXPORTER_SECRET", "EXPORTER_SECRET",
})


@dataclass(frozen=True, slots=True)
class KeyLog:
    secrets: dict[bytes, dict[str, bytes]] = field(default_factory=dict)  # client random -> label -> secret
    anomalies: tuple[tuple[int, str], ...] = ()  # (line number, why)
    lines: int = 0

    def for_random(self, client_random: bytes) -> dict[str, bytes] | None:
        return self.secrets.get(client_random)

    def __len__(self) -> int:
        return len(self.secrets)

    def merged(self, other: KeyLog) -> KeyLog:
        """Both key logs' secrets (``other`` wins a label both have for one random), capped likewise."""
        secrets = {r: dict(labels) for r, labels in self.secrets.items()}
        anomalies = list(self.anomalies) + list(other.anomalies)
        for random, labels in other.secrets.items():
            if random in secrets:
                secrets[random].update(labels)
            elif len(secrets) < MAX_RANDOMS:
                secrets[random] = dict(labels)
            else:
                anomalies.append((0, f"more than {MAX_RANDOMS} client randoms (MAX_RANDOMS): the rest ignored"))
                break
        return KeyLog(secrets, tuple(anomalies[:MAX_ANOMALIES]), self.lines + other.lines)


def parse_keylog(lines: Iterable[str | bytes]) -> KeyLog:
    secrets: dict[bytes, dict[str, bytes]] = {}
    anomalies: list[tuple[int, str]] = []
    n = 0
    capped = False
    for n, raw in enumerate(lines, 1):
        line = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        why = None
        if len(parts) != 3:
            why = f"expected '<label> <client random> <secret>', got {len(parts)} field(s)"
        elif parts[0] not in LABELS:
            why = f"unknown label {parts[0][:40]!r}"
        else:
            try:
                random, secret = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
            except ValueError:
                why = "not hexadecimal"
            else:
                if len(random) != 32:
                    why = f"a client random of {len(random)} bytes (32 expected)"
                elif not 16 <= len(secret) <= 64:
                    why = f"a secret of {len(secret)} bytes"
                elif random in secrets or len(secrets) < MAX_RANDOMS:
                    secrets.setdefault(random, {})[parts[0]] = secret
                elif not capped:
                    capped = True
                    anomalies.append((n, f"more than {MAX_RANDOMS} client randoms (MAX_RANDOMS): the rest ignored"))
        if why is not None and len(anomalies) < MAX_ANOMALIES:
            anomalies.append((n, why))
    return KeyLog(secrets, tuple(anomalies), n)


def parse_keylog_text(text: str | bytes) -> KeyLog:
    """A whole key log's contents (``\n`` or ``\r\n`` line ends)."""
    return parse_keylog(text.splitlines())


def keylog_from_secrets(blocks: Iterable[bytes]) -> KeyLog:
    """The key-log text of pcapng Decryption Secrets Blocks (``CaptureSource.decryption_secrets``),
    read as one key log: the blocks one after the other, line numbers counted across them."""
    lines: list[bytes] = []
    for block in blocks:
        lines += block.splitlines()
    return parse_keylog(lines)
