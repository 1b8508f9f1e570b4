"""Shared helpers of the TSA tests: a throwaway PKI, and `ltv tsa serve` subprocesses.

The PKI is made with `cryptography`: a root CA, an intermediate CA, and TSA certificates (critical
EKU timeStamping only) with RSA-2048, P-256 or P-384 keys. Servers run on 127.0.0.1 at free ports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ltv.clock import FixedClock
from tsa.authority import TimeStampAuthority, TsaIdentity
from tsa.keys import TsaPrivateKey
from tsa.serials import MemorySerialSource

NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)
#: A time inside every test certificate's validity.
T0 = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
KEY_PASSWORD = b"correct horse battery staple"


def make_key(kind: str) -> TsaPrivateKey:
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(kind)


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ltv tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _ca_cert(
    key: TsaPrivateKey, name: x509.Name, issuer_key: TsaPrivateKey, issuer: x509.Name, serial: int
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def issue_tsa_cert(
    key: TsaPrivateKey,
    issuer_key: TsaPrivateKey,
    issuer: x509.Certificate,
    *,
    cn: str = "ltv test TSA",
    serial: int = 0x7E57,
    eku: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.TIME_STAMPING,),
    eku_critical: bool = True,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=eku_critical)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Pki:
    """A root, an intermediate CA and TSA identities, written as PEM files under ``directory``."""

    directory: Path
    root_key: TsaPrivateKey
    root: x509.Certificate
    ca_key: TsaPrivateKey
    ca: x509.Certificate
    tsa_keys: dict[str, TsaPrivateKey] = field(default_factory=dict)
    tsa_certs: dict[str, x509.Certificate] = field(default_factory=dict)

    @property
    def root_pem(self) -> Path:
        return self.directory / "root.pem"

    @property
    def chain_pem(self) -> Path:
        return self.directory / "chain.pem"

    def key_pem(self, kind: str) -> Path:
        return self.directory / f"tsa-{kind}-key.pem"

    def cert_pem(self, kind: str) -> Path:
        return self.directory / f"tsa-{kind}.pem"

    def identity(self, kind: str) -> TsaIdentity:
        return TsaIdentity(
            private_key=self.tsa_keys[kind], certificate=self.tsa_certs[kind], chain=(self.ca,)
        )

    def authority(self, kind: str = "rsa2048", **kwargs: object) -> TimeStampAuthority:
        kwargs.setdefault("serials", MemorySerialSource())
        kwargs.setdefault("clock", FixedClock(T0))
        return TimeStampAuthority(self.identity(kind), **kwargs)  # type: ignore[arg-type]


def write_pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def make_pki(directory: Path, kinds: Sequence[str] = ("rsa2048", "p256", "p384")) -> Pki:
    """Root (P-256) → intermediate CA (P-256) → one TSA certificate per key kind.

    RSA keys are written as encrypted PKCS#8 (password :data:`KEY_PASSWORD`), EC keys as SEC1.
    """
    directory.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _ca_cert(root_key, _name("ltv test root"), root_key, _name("ltv test root"), 1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _ca_cert(ca_key, _name("ltv test TSA CA"), root_key, root.subject, 2)
    pki = Pki(directory=directory, root_key=root_key, root=root, ca_key=ca_key, ca=ca)
    write_pem(pki.root_pem, root)
    write_pem(pki.chain_pem, ca)
    for i, kind in enumerate(kinds):
        key = make_key(kind)
        cert = issue_tsa_cert(key, ca_key, ca, cn=f"ltv test TSA {kind}", serial=0x7E57 + i)
        pki.tsa_keys[kind] = key
        pki.tsa_certs[kind] = cert
        if isinstance(key, rsa.RSAPrivateKey):
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(KEY_PASSWORD),
            )
        else:
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        pki.key_pem(kind).write_bytes(pem)
        write_pem(pki.cert_pem(kind), cert)
    return pki


# --- servers --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ltv_command() -> list[str]:
    """The `ltv` console script next to this interpreter (or the same through `-c`)."""
    script = Path(sys.executable).parent / "ltv"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from ltv.cli import main; main()"]


@dataclass
class TsaServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_ready(server: TsaServer, *, timeout: float = 20.0) -> None:
    """Poll until the server answers (a GET is refused with 405 once it is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"the TSA exited with {server.process.returncode}:\n"
                + server.log.read_text(errors="replace")
            )
        try:
            if httpx.get(server.url, timeout=1.0).status_code == 405:
                return
        except httpx.HTTPError:
            time.sleep(0.05)  # readiness polling
    server.stop()
    raise RuntimeError("the TSA did not come up:\n" + server.log.read_text(errors="replace"))


def start_tsa(
    pki: Pki,
    kind: str,
    *,
    state_dir: Path,
    log: Path,
    port: int | None = None,
    extra: Sequence[str] = (),
    command: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
) -> TsaServer:
    """Start `ltv tsa serve` (or ``command``) for one of the PKI's TSA keys and wait for it."""
    full_env = dict(os.environ)
    full_env["LTV_TSA_KEY_PASSWORD"] = KEY_PASSWORD.decode()
    full_env.update(env or {})
    attempts = 1 if port is not None else 3
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        argv = [
            *(command or [*ltv_command(), "tsa", "serve"]),
            "--key", str(pki.key_pem(kind)),
            "--cert", str(pki.cert_pem(kind)),
            "--chain", str(pki.chain_pem),
            "--port", str(chosen),
            "--state-dir", str(state_dir),
            *extra,
        ]
        with log.open("ab") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=full_env)
        server = TsaServer(process=process, port=chosen, log=log)
        try:
            wait_ready(server)
            return server
        except RuntimeError:
            if "address already in use" not in log.read_text(errors="replace").lower():
                raise
    raise RuntimeError("no free port for the TSA")
