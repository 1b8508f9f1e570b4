"""A simulated smartphone holding a JPKI-like signing key in its "secure element".

Layout of ``PHONE_DIR``::

    secure-element/key.pem   the private key (PKCS#8, mode 0600, directory 0700); made on the
                             phone at enrolment and never exported by any command
    csr.pem                  the PKCS#10 request sent to the CA at enrolment
    cert.pem                 the phone's signing certificate
    chain.pem                its issuing CA chain up to and including the root
    phone.json               key type, kind (smartphone or card), issuing PKI directory

Enrolment makes the key, signs a CSR with it (proof of possession), and has the sample PKI's
smartphone CA (or card CA with ``card=True``) issue from the CSR after checking its signature.
:class:`Phone` implements :class:`ltv.tbs.Signer`: it signs whatever form of data-to-be-signed
the server asks for (digest, DigestInfo, whole message) with RSA PKCS#1 v1.5 or PSS, or ECDSA.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

from ltv.algorithms import SignatureMechanism, pss_padding
from ltv.errors import ConfigurationError, UnsupportedAlgorithmError
from ltv.files import write_atomic
from ltv.tbs import DataToBeSigned, TbsForm
from samples.pki import Holder, PrivateKey, SamplePki, generate_key

__all__ = ["Phone"]

SCHEMA = "ltv-sample-phone/1"
_DEFAULT_HOLDER = Holder()


class Phone:
    """A phone enrolled with the sample PKI (see the module docstring for its directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        try:
            self.certificate = x509.load_pem_x509_certificate(
                (self.directory / "cert.pem").read_bytes()
            )
            self.chain = x509.load_pem_x509_certificates(
                (self.directory / "chain.pem").read_bytes()
            )
        except FileNotFoundError as exc:
            raise ConfigurationError(
                f"{self.directory} is not an enrolled phone (run ltv phone enroll)"
            ) from exc
        except ValueError as exc:
            raise ConfigurationError(f"{self.directory}: unreadable certificate: {exc}") from exc
        self._key: PrivateKey | None = None
        self._lock = threading.Lock()

    @classmethod
    def enroll(cls, directory: Path, pki: SamplePki, *,
               key: Literal["rsa2048", "p256"] = "rsa2048", card: bool = False,
               holder: Holder = _DEFAULT_HOLDER, at: datetime | None = None) -> Phone:
        """Make a key on the phone, send a CSR to the CA, and store the certificate it issues."""
        directory = Path(directory)
        if (directory / "secure-element" / "key.pem").exists():
            raise ConfigurationError(f"{directory} already holds an enrolled phone")
        private = generate_key(key)
        (directory / "secure-element").mkdir(parents=True, mode=0o700, exist_ok=True)
        write_atomic(directory / "secure-element" / "key.pem", private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()), mode=0o600)
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phone")]))
            .sign(private, hashes.SHA256())
        )
        write_atomic(directory / "csr.pem", csr.public_bytes(serialization.Encoding.PEM))
        kind: Literal["card", "smartphone"] = "card" if card else "smartphone"
        cert = pki.issue_from_csr(csr, kind=kind, holder=holder, at=at)
        chain = pki.chain_for(cert)
        pem = serialization.Encoding.PEM
        write_atomic(directory / "cert.pem", cert.public_bytes(pem))
        write_atomic(directory / "chain.pem", b"".join(c.public_bytes(pem) for c in chain))
        write_atomic(directory / "phone.json", (json.dumps({
            "schema": SCHEMA, "key": key, "kind": kind, "pki": str(pki.directory.resolve()),
        }, indent=2) + "\n").encode())
        return cls(directory)

    def _private_key(self) -> PrivateKey:
        with self._lock:
            if self._key is None:
                loaded = serialization.load_pem_private_key(
                    (self.directory / "secure-element" / "key.pem").read_bytes(), password=None
                )
                if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                    raise ConfigurationError("the secure element holds an unsupported key")
                self._key = loaded
            return self._key

    def sign(self, tbs: DataToBeSigned) -> bytes:
        """The signature value over ``tbs`` (RSA: raw integer octets; ECDSA: DER)."""
        key = self._private_key()
        alg = tbs.digest_algorithm
        mech = tbs.mechanism
        if isinstance(key, rsa.RSAPrivateKey):
            if mech is SignatureMechanism.RSA_PKCS1V15:
                if tbs.form is TbsForm.DIGEST_INFO:
                    # What the card's raw RSA SIGN does: PKCS#1 v1.5 padding over the DigestInfo.
                    # cryptography adds the DigestInfo itself for a pre-hashed digest, so this
                    # is the same value; the DigestInfo was checked when ``tbs`` was built.
                    return key.sign(tbs.digest(), padding.PKCS1v15(),
                                    utils.Prehashed(alg.crypto_hash()))
                return self._rsa(key, tbs, padding.PKCS1v15())
            if mech is SignatureMechanism.RSA_PSS:
                return self._rsa(key, tbs, pss_padding(alg))
        elif mech is SignatureMechanism.ECDSA:
            if tbs.form is TbsForm.MESSAGE:
                return key.sign(tbs.data, ec.ECDSA(alg.crypto_hash()))
            return key.sign(tbs.digest(), ec.ECDSA(utils.Prehashed(alg.crypto_hash())))
        kind = "an RSA" if isinstance(key, rsa.RSAPrivateKey) else "an EC"
        raise UnsupportedAlgorithmError(f"{mech.value} does not fit the phone's key ({kind} key)")

    @staticmethod
    def _rsa(key: rsa.RSAPrivateKey, tbs: DataToBeSigned,
             pad: padding.PKCS1v15 | padding.PSS) -> bytes:
        alg = tbs.digest_algorithm
        if tbs.form is TbsForm.MESSAGE:
            return key.sign(tbs.data, pad, alg.crypto_hash())
        return key.sign(tbs.digest(), pad, utils.Prehashed(alg.crypto_hash()))
