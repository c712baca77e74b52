"""Certificates for a local broker's TLS listener, made with `openssl` when needed.

A throwaway certificate authority signs one broker certificate for 127.0.0.1 and
localhost (librdkafka checks the name by default, so both are in subjectAltName).
Kafka reads them as PEM (ssl.keystore.type=PEM): no keytool, no JKS passwords.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL_TIMEOUT_SECONDS = 60.0
VALID_DAYS = 30  # long enough for a `numguard dev up` left running; never reused elsewhere
KEY = "rsa:2048"

_BROKER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
"""


class CertificateError(RuntimeError):
    """openssl is missing or failed."""


@dataclass(frozen=True)
class BrokerCertificates:
    ca_file: Path  # what clients trust (librdkafka's ssl.ca.location)
    keystore: Path  # the broker's private key and certificate chain, PEM

    @classmethod
    def in_dir(cls, directory: Path) -> BrokerCertificates:
        return cls(ca_file=directory / "ca.pem", keystore=directory / "broker-keystore.pem")


def broker_certificates(directory: Path) -> BrokerCertificates:
    """The certificates in `directory`, made on first use (a restarted broker keeps its own,
    so clients that trust its CA go on trusting it)."""
    made = BrokerCertificates.in_dir(directory)
    if made.ca_file.exists() and made.keystore.exists():
        return made
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("openssl is not installed; the TLS listener needs it")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, broker_key = directory / "ca.key", directory / "broker.key"
    csr, broker_cert = directory / "broker.csr", directory / "broker.pem"
    extensions = directory / "broker.ext"
    extensions.write_text(_BROKER_EXTENSIONS)
    _run(openssl, "req", "-x509", "-newkey", KEY, "-nodes", "-keyout", ca_key,
         "-out", made.ca_file, "-days", VALID_DAYS, "-subj", "/CN=numguard local CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    _run(openssl, "req", "-newkey", KEY, "-nodes", "-keyout", broker_key, "-out", csr,
         "-subj", "/CN=localhost")  # fmt: skip
    _run(openssl, "x509", "-req", "-in", csr, "-CA", made.ca_file, "-CAkey", ca_key,
         "-CAcreateserial", "-out", broker_cert, "-days", VALID_DAYS,
         "-extfile", extensions)  # fmt: skip
    # Written last: its presence says the set is complete.
    made.keystore.write_text(
        broker_key.read_text() + broker_cert.read_text() + made.ca_file.read_text()
    )
    made.keystore.chmod(0o600)
    return made


def _run(*command: str | Path | int) -> None:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True,
        timeout=OPENSSL_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise CertificateError(f"openssl {command[1]} failed: {result.stderr.strip()}")
