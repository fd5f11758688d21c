"""``tlsdoctor probe`` through an on-path SNI filter in a network namespace (issue 6; seed 004's shape).

client ns (198.51.100.10) -> middle ns, routing, running tests/lab/rst_injector.py -> server ns
(203.0.113.10, ``openssl s_server`` on 443). The injector forges RSTs to both ends when a ClientHello
names blocked.test; it forwards everything else untouched. The probe runs in the client namespace with
``--connect 203.0.113.10`` and must conclude ``rst_injection`` (likely): resets after a ClientHello
naming the blocked name, none without SNI or with another name. Skipped, with the reason, without root
or working network namespaces.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.lab.netlab import Topology, background, in_ns, lab_available
from tests.probe_servers.servers import Certs, Issued

available, why = lab_available()
pytestmark = [pytest.mark.lab, pytest.mark.skipif(not available, reason=why)]

ROOT = Path(__file__).resolve().parent.parent.parent


def _slow_leaf(certs: Certs, name: str) -> Issued:
    """A leaf with a 4096-bit RSA key: signing the handshake takes the server milliseconds, so the forged
    RST reliably arrives before the real ServerHello, as it does on a long real path (on two veths it is
    otherwise a race between a Python sniffer and OpenSSL)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(certs.ca.subject).public_key(key.public_key()).serial_number(4096)
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(certs.ca_key, hashes.SHA256()))
    cert_file, key_file = certs.folder / f"{name}-4096.pem", certs.folder / f"{name}-4096.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Issued(cert_file, key_file)


def test_probe_names_an_sni_keyed_reset_injector(tmp_path: Path) -> None:
    certs = Certs(tmp_path)
    leaf = _slow_leaf(certs, "blocked.test")
    with Topology("inj", middle=True) as topo:
        server = in_ns(topo.server_ns, ["openssl", "s_server", "-accept", "203.0.113.10:443", "-cert", str(leaf.cert),
                                        "-key", str(leaf.key), "-quiet", "-naccept", "1000", "-www"])
        injector = in_ns(topo.middle_ns, [sys.executable, "-m", "tests.lab.rst_injector",
                                          topo.middle_client_side.iface, "blocked.test", "--seconds", "40"])
        with background(server, settle=1.0), background(injector, settle=1.0):
            probe = subprocess.run(
                in_ns(topo.client_ns, [sys.executable, "-m", "tlsdoctor.cli", "probe", "blocked.test:443",
                                       "--connect", "203.0.113.10", "--ca-bundle", str(certs.ca_file),
                                       "--timeout", "8", "--json"]),
                capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert probe.returncode == 1, probe.stderr
    report = json.loads(probe.stdout)
    causes = [f["cause"] for f in report["findings"]]
    assert "rst_injection" in causes, report["findings"]
    finding = next(f for f in report["findings"] if f["cause"] == "rst_injection")
    assert finding["confidence"] == "likely" and "blocked.test" in finding["title"]
