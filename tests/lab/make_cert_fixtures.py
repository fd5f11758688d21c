"""Write the certificate chains of tests/fixtures/certs/ (used by tests/unit/test_tls_chain.py).

Run from the repository's root: ``python -m tests.lab.make_cert_fixtures``. Every file is a real
certificate made with ``cryptography`` by netlab's ``CertFactory`` (root -> intermediate -> leaves,
expired and self-signed ones) or, for what the factory does not make (a not-yet-valid leaf, an expired
intermediate, wildcard, IP and CN-only leaves), by the same builder calls signed with the factory's
own keys. Only public certificates are written: the keys stay in a temporary folder.

The validity periods are relative to the moment this script runs; the tests derive their times from
the certificates' own notBefore/notAfter, never from today.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.lab.netlab import CertFactory

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "certs"


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def load(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def issue(subject: str, issuer: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey, *,
          not_before: dt.datetime, not_after: dt.datetime, san: list[x509.GeneralName] | None,
          serial: int, ca: bool = False) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate as CertFactory makes them (CN only, serverAuth leaves), with the given window and SANs."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer.subject).public_key(key.public_key()).serial_number(serial)
               .not_valid_before(not_before).not_valid_after(not_after))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = dt.timedelta(days=1)
    files: dict[str, tuple[bytes, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lab = CertFactory(Path(tmp) / "lab")
        foreign = CertFactory(Path(tmp) / "foreign")  # another CA with the same names, not in the bundle
        files["root.pem"] = (pem(lab.ca), "the lab root (self-signed)")
        files["intermediate.pem"] = (pem(lab.intermediate), "the lab intermediate, issued by the root")
        files["bundle.pem"] = (pem(lab.ca), "the trust store of the tests: the lab root only")
        files["good.chain.pem"] = (lab.leaf("origin.test").chain.read_bytes(),
                                   "origin.test, leaf + intermediate, as a server sends it")
        files["from-root.chain.pem"] = (lab.leaf("short.test", from_root=True).chain.read_bytes(),
                                        "short.test, issued by the root directly (leaf only)")
        files["expired.chain.pem"] = (lab.leaf("origin.test", expired=True).chain.read_bytes(),
                                      "origin.test, expired 35 days before generation")
        files["other-name.chain.pem"] = (lab.leaf("other.test").chain.read_bytes(), "other.test (a name mismatch "
                                         "for origin.test)")
        files["self-signed.pem"] = (lab.leaf("self.test", self_signed=True).chain.read_bytes(),
                                    "self.test, self-signed leaf")
        good = load(lab.leaf("missing.test").chain)
        files["no-intermediate.pem"] = (pem(good[0]), "missing.test, leaf only: its intermediate is not sent")
        files["wrong-order.chain.pem"] = (pem(good[0], lab.ca, lab.intermediate),
                                          "missing.test, leaf + root + intermediate (out of order)")
        files["foreign.chain.pem"] = (foreign.leaf("origin.test").chain.read_bytes(),
                                      "origin.test from another CA of the same names: its root is not in the bundle")
        foreign_chain = load(foreign.leaf("foreign.test").chain)
        files["foreign-with-root.chain.pem"] = (pem(*foreign_chain, foreign.ca),
                                                "foreign.test, leaf + intermediate + its (untrusted) root")
        files["foreign-root.pem"] = (pem(foreign.ca), "the other CA's root")

        serial = 1000
        nyv, _ = issue("future.test", lab.intermediate, lab.int_key, not_before=now + 30 * day,
                       not_after=now + 120 * day, san=[x509.DNSName("future.test")], serial=serial)
        files["not-yet-valid.chain.pem"] = (pem(nyv, lab.intermediate), "future.test, valid from 30 days after "
                                            "generation")
        # The same intermediate (name and key), re-issued with a window inside the root's that ended 5 days
        # ago, and a leaf it issued while it was valid, still valid itself.
        old_inter = (x509.CertificateBuilder().subject_name(lab.intermediate.subject).issuer_name(lab.ca.subject)
                     .public_key(lab.int_key.public_key()).serial_number(serial + 1)
                     .not_valid_before(now - 29 * day).not_valid_after(now - 5 * day)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .sign(lab.ca_key, hashes.SHA256()))
        old_leaf, _ = issue("stale.test", old_inter, lab.int_key, not_before=now - 20 * day,
                            not_after=now + 90 * day, san=[x509.DNSName("stale.test")], serial=serial + 2)
        files["expired-intermediate.chain.pem"] = (pem(old_leaf, old_inter), "stale.test, leaf valid, intermediate "
                                                   "expired 5 days before generation")
        wild, _ = issue("*.wild.test", lab.intermediate, lab.int_key, not_before=now - day, not_after=now + 90 * day,
                        san=[x509.DNSName("*.wild.test"), x509.DNSName("wild.test")], serial=serial + 3)
        files["wildcard.chain.pem"] = (pem(wild, lab.intermediate), "*.wild.test and wild.test")
        ip_leaf, _ = issue("192.0.2.10", lab.intermediate, lab.int_key, not_before=now - day,
                           not_after=now + 90 * day, san=[x509.IPAddress(ipaddress.ip_address("192.0.2.10")),
                                                          x509.IPAddress(ipaddress.ip_address("2001:db8::10"))],
                           serial=serial + 4)
        files["ip.chain.pem"] = (pem(ip_leaf, lab.intermediate), "IP addresses 192.0.2.10 and 2001:db8::10 only")
        cn_only, _ = issue("legacy.test", lab.intermediate, lab.int_key, not_before=now - day,
                           not_after=now + 90 * day, san=None, serial=serial + 5)
        files["cn-only.chain.pem"] = (pem(cn_only, lab.intermediate), "legacy.test in the CN, no subjectAltName")

        # A CA of its own names, in no store: its chain without the root (what a client sees from a
        # server of a private CA) and with it.
        stranger_key = ec.generate_private_key(ec.SECP256R1())
        stranger_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger root")])
        stranger = (x509.CertificateBuilder().subject_name(stranger_name).issuer_name(stranger_name)
                    .public_key(stranger_key.public_key()).serial_number(serial + 6)
                    .not_valid_before(now - 30 * day).not_valid_after(now + 3650 * day)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                    .sign(stranger_key, hashes.SHA256()))
        stranger_inter, stranger_inter_key = issue("stranger intermediate", stranger, stranger_key,
                                                   not_before=now - 30 * day, not_after=now + 3650 * day, san=None,
                                                   serial=serial + 7, ca=True)
        stranger_leaf, _ = issue("stranger.test", stranger_inter, stranger_inter_key, not_before=now - day,
                                 not_after=now + 90 * day, san=[x509.DNSName("stranger.test")], serial=serial + 8)
        files["stranger.chain.pem"] = (pem(stranger_leaf, stranger_inter), "stranger.test, leaf + intermediate of "
                                       "\"stranger root\", which no store holds and which is not sent")
        files["stranger-with-root.chain.pem"] = (pem(stranger_leaf, stranger_inter, stranger),
                                                 "stranger.test, leaf + intermediate + the untrusted root")

    for name, (data, _) in files.items():
        (OUT / name).write_bytes(data)
    lines = ["# Certificate fixtures", "", f"Made by `tests/lab/make_cert_fixtures.py` on {now:%Y-%m-%d %H:%M:%S} UTC. "
             "Chains are as a server sends them, leaf first.", "", "| file | what |", "|---|---|"]
    lines += [f"| `{name}` | {what} |" for name, (_, what) in sorted(files.items())]
    (OUT / "README.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(files)} files to {OUT}")


if __name__ == "__main__":
    main()
