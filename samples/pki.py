"""A JPKI-like sample PKI on disk: root, card and smartphone signing CAs, a TSA, OCSP responders.

It mirrors the shape of the Japanese public individual authentication service (STANDARDS §3.2):
RSA-2048/SHA-256 (or ECDSA P-256) end-entity signing certificates with keyUsage
digitalSignature + nonRepudiation (critical), the card or smartphone certificate policy, holder
data as SAN otherName UTF8Strings (:data:`ltv.jpki.HOLDER_OIDS`), a subject CN that is an
identifier rather than the name, and CRL distribution points and AIA (OCSP + caIssuers) that
point at the sample servers (:mod:`samples.server`) on ``http://127.0.0.1:PORT/``.

Layout of ``DIR``::

    root.pem                      trust anchor (self-signed)
    card-ca.pem                   card signing CA (under root)
    smartphone-ca.pem             smartphone signing CA (under root)
    pq-root.pem                   post-quantum trust anchor (ML-DSA-87, self-signed): issues
                                  the ML-DSA TSA certificates
    tsa.pem                       current TSA certificate (issued by root, or by pq-root for an
                                  ML-DSA TSA; EKU timeStamping)
    tsa-chain.pem                 current TSA certificate followed by its root
    tsa-history/tsa-N.pem         every TSA certificate, N = 1, 2, ... (oldest first)
    ocsp-root.pem                 delegated OCSP responder of each CA (EKU OCSPSigning,
    ocsp-card-ca.pem              id-pkix-ocsp-nocheck), issued by that CA (ocsp-pq-root: an
    ocsp-smartphone-ca.pem        ML-DSA-65 key, so its responses outlive RSA too)
    ocsp-pq-root.pem
    private/*.pem                 private keys (PKCS#8, unencrypted, mode 0600; directory 0700)
    state.json                    port, init time, issued serials per CA, revocations (time,
                                  reason), TSA history; schema "ltv-sample-pki/1"
    tsa-state/                    the TSA's serial-number state (created by the server)
    .lock                         fcntl lock guarding read-modify-write of state.json

Every file is written atomically (temporary file + rename), and state changes hold the lock, so
``ltv pki revoke`` may run while ``ltv pki serve`` runs; the server notices the new state.json.

Why the post-quantum TSA has its own ML-DSA-87 root rather than an RSA-4096 one: NIST IR 8547
(initial public draft, 2024) disallows RSA and ECDSA signatures of *every* size after 2035, so
an RSA-4096 root would leave an ML-DSA TSA certificate that no policy accepts after 2035 — the
very point of an ML-DSA time-stamp is to be checkable after that date. ML-DSA-87 (NIST category
5) because a root lives 30 years and is the one key that cannot be renewed under itself.

Served URLs (``<ca>`` is ``root``, ``card-ca``, ``smartphone-ca`` or ``pq-root``):
``/ocsp/<ca>`` (POST, and GET per RFC 6960 appendix A), ``/crl/<ca>.crl``, ``/certs/<ca>.cer``
(DER), ``/tsa``, ``/healthz``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from ltv.clock import SystemClock, format_time, parse_time
from ltv.errors import ConfigurationError, InputError, UnsupportedAlgorithmError
from ltv.files import write_atomic
from ltv.jpki import (
    HOLDER_OIDS,
    JPKI_SIGN_POLICY_TEST,
    SAMPLE_REMOTE_POLICY,
    SAMPLE_SMARTPHONE_POLICY,
)
from ltv.pq import MlDsaPrivateKey, generate_mldsa, is_mldsa
from ltv.revocation import CertStatus, RevocationReason

if TYPE_CHECKING:
    from tsa.authority import TsaIdentity

__all__ = [
    "CA_NAMES",
    "TSA_KEY_TYPES",
    "AnyPrivateKey",
    "CaName",
    "Holder",
    "PkiValidity",
    "PrivateKey",
    "SamplePki",
    "SerialStatus",
    "generate_key",
    "write_atomic",
]

SCHEMA = "ltv-sample-pki/1"
CaName = Literal["root", "card-ca", "smartphone-ca", "pq-root"]
CA_NAMES: tuple[CaName, ...] = ("root", "card-ca", "smartphone-ca", "pq-root")
KeyType = Literal["rsa2048", "p256", "ml-dsa-65", "ml-dsa-87"]
#: Key types a TSA may have (``ltv pki init --tsa-key``, ``ltv pki rollover-tsa --tsa-key``).
TSA_KEY_TYPES: tuple[str, ...] = ("rsa2048", "p256", "ml-dsa-65", "ml-dsa-87")
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
#: Any key of this PKI: the classical ones, and ML-DSA for the post-quantum root, its
#: responder and ML-DSA TSAs.
AnyPrivateKey = PrivateKey | MlDsaPrivateKey

_YEAR = timedelta(days=365)
_ORG = "LTV Sample PKI"
_CA_COMMON_NAMES: dict[CaName, str] = {
    "root": "LTV Sample Root CA",
    "card-ca": "LTV Sample Card Signing CA",
    "smartphone-ca": "LTV Sample Smartphone Signing CA",
    "pq-root": "LTV Sample Post-Quantum Root CA",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Holder:
    """JPKI holder data ("basic four items"), carried as SAN otherName UTF8Strings.

    ``date_of_birth`` is ``EYYYYMMDD`` (E: era, 4 = 平成; the date itself Gregorian); ``gender``
    is JIS X 0303 (1 male, 2 female, 9 not applicable).
    """

    name: str = "署名 太郎"
    address: str = "東京都千代田区霞が関二丁目1番2号"
    date_of_birth: str = "419900101"
    gender: str = "1"


@dataclass(frozen=True, slots=True, kw_only=True)
class PkiValidity:
    """Certificate lifetimes; the TSA outlives end entities by years, as real TSAs do."""

    root: timedelta = 30 * _YEAR
    ca: timedelta = 20 * _YEAR
    tsa: timedelta = 6 * _YEAR
    smartphone: timedelta = 3 * _YEAR
    card: timedelta = 5 * _YEAR
    ocsp_responder: timedelta = 20 * _YEAR  # as long as the CAs


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialStatus:
    """What a CA's responder says about one serial number at one time."""

    status: CertStatus
    revocation_time: datetime | None = None
    reason: RevocationReason | None = None


def generate_key(kind: str) -> PrivateKey:
    """A new private key: ``rsa2048`` (as JPKI) or ``p256`` (as a phone's secure enclave)."""
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    raise UnsupportedAlgorithmError(f"unsupported key type {kind!r} (use rsa2048 or p256)")


def _generate_any(kind: str) -> AnyPrivateKey:
    """:func:`generate_key`, or ``ml-dsa-65`` / ``ml-dsa-87`` (FIPS 204) for the post-quantum
    root, its responder and ML-DSA TSAs."""
    if kind.startswith("ml-dsa"):
        return generate_mldsa(kind)
    return generate_key(kind)


def _hash_for(key: AnyPrivateKey) -> hashes.SHA256 | None:
    """The signature hash for ``key``: none for ML-DSA (pure mode, RFC 9881 §3), else SHA-256."""
    return None if is_mldsa(key) else hashes.SHA256()


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: AnyPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _der_utf8string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) < 0x80:
        return bytes([0x0C, len(raw)]) + raw
    size = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(size)]) + size + raw


def _check_public_key(public_key: object) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            raise UnsupportedAlgorithmError(f"RSA-{public_key.key_size} is too short (>= 2048)")
        return public_key
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1 | ec.SECP384R1):
            raise UnsupportedAlgorithmError(f"unsupported curve {public_key.curve.name}")
        return public_key
    raise UnsupportedAlgorithmError(f"unsupported key type {type(public_key).__name__}")


class SamplePki:
    """A sample PKI in a directory (see the module docstring for the layout)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._keys: dict[str, AnyPrivateKey] = {}
        self._state_stamp: tuple[int, int] | None = None
        self._state: dict[str, Any] = {}
        self.refresh()
        self.port: int = int(self._state["port"])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.initialised_at = parse_time(self._state["initialised_at"])
        self._cas: dict[CaName, x509.Certificate] = {
            ca: self._load_cert(f"{ca}.pem") for ca in CA_NAMES
        }
        self._responders: dict[CaName, x509.Certificate] = {
            ca: self._load_cert(f"ocsp-{ca}.pem") for ca in CA_NAMES
        }

    # -- creation and loading --------------------------------------------------------------

    @classmethod
    def init(cls, directory: Path, *, port: int, at: datetime,
             validity: PkiValidity = PkiValidity(), tsa_key: str = "rsa2048") -> SamplePki:
        """Create root, CAs, OCSP responders and the first TSA certificate in ``directory``."""
        directory = Path(directory)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise ConfigurationError(f"{directory} exists and is not an empty directory")
        if not 0 < port < 65536:
            raise ConfigurationError(f"port {port} is out of range")
        if tsa_key not in TSA_KEY_TYPES:  # refuse an unknown key type before writing anything
            raise UnsupportedAlgorithmError(
                f"unsupported TSA key type {tsa_key!r} (use {', '.join(TSA_KEY_TYPES)})")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "private").mkdir(mode=0o700)
        (directory / "tsa-history").mkdir()
        base = f"http://127.0.0.1:{port}"
        issued: dict[str, list[str]] = {ca: [] for ca in CA_NAMES}

        root_key = generate_key("rsa2048")
        root_name = _ca_name("root")
        root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
        root = (
            x509.CertificateBuilder()
            .subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(at).not_valid_after(at + validity.root)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(root_ski, critical=False)
            .sign(root_key, hashes.SHA256())
        )
        issued["root"].append(str(root.serial_number))
        pq_key = generate_mldsa("ml-dsa-87")
        pq_name = _ca_name("pq-root")
        pq_root = (
            x509.CertificateBuilder()
            .subject_name(pq_name).issuer_name(pq_name)
            .public_key(pq_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(at).not_valid_after(at + validity.root)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pq_key.public_key()),
                           critical=False)
            .sign(pq_key, None)  # pure ML-DSA-87, no hash (RFC 9881 §3)
        )
        issued["pq-root"].append(str(pq_root.serial_number))
        files: dict[str, bytes] = {"root.pem": _pem(root), "pq-root.pem": _pem(pq_root)}
        keys: dict[str, AnyPrivateKey] = {"root": root_key, "pq-root": pq_key}
        cas: dict[CaName, tuple[x509.Certificate, AnyPrivateKey]] = {
            "root": (root, root_key), "pq-root": (pq_root, pq_key)}

        sub_cas: tuple[CaName, ...] = ("card-ca", "smartphone-ca")
        for ca in sub_cas:
            key = generate_key("rsa2048")
            ca_builder = _builder(
                subject=_ca_name(ca), public_key=key.public_key(), issuer=root, at=at,
                lifetime=validity.ca,
            ).add_extension(
                x509.BasicConstraints(ca=True, path_length=0), critical=True
            ).add_extension(_ca_key_usage(), critical=True)
            cert = _with_services(ca_builder, base, "root").sign(root_key, hashes.SHA256())
            issued["root"].append(str(cert.serial_number))
            files[f"{ca}.pem"] = _pem(cert)
            keys[ca] = key
            cas[ca] = (cert, key)

        for ca in CA_NAMES:
            ca_cert, ca_key = cas[ca]
            responder_key = _generate_any("ml-dsa-65" if ca == "pq-root" else "rsa2048")
            subject = x509.Name([
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
                x509.NameAttribute(NameOID.COMMON_NAME,
                                   f"OCSP Responder for {_CA_COMMON_NAMES[ca]}"),
            ])
            cert = (
                _builder(subject=subject, public_key=responder_key.public_key(),
                         issuer=ca_cert, at=at, lifetime=validity.ocsp_responder)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]),
                               critical=False)
                .add_extension(x509.OCSPNoCheck(), critical=False)
                .add_extension(x509.AuthorityInformationAccess([_ca_issuers(base, ca)]),
                               critical=False)
                .sign(ca_key, _hash_for(ca_key))
            )
            issued[ca].append(str(cert.serial_number))
            files[f"ocsp-{ca}.pem"] = _pem(cert)
            keys[f"ocsp-{ca}"] = responder_key

        tsa_key_obj = _generate_any(tsa_key)
        tsa_issuer = _tsa_issuer(tsa_key)
        tsa_root, tsa_root_key = cas[tsa_issuer]
        tsa_cert = _tsa_certificate(tsa_key_obj, root=tsa_root, root_key=tsa_root_key,
                                    issuer_name=tsa_issuer, base=base, at=at,
                                    lifetime=validity.tsa, generation=1)
        issued[tsa_issuer].append(str(tsa_cert.serial_number))
        keys["tsa-1"] = tsa_key_obj
        files["tsa.pem"] = _pem(tsa_cert)
        files["tsa-chain.pem"] = _pem(tsa_cert) + _pem(tsa_root)
        files["tsa-history/tsa-1.pem"] = _pem(tsa_cert)

        for name, private in keys.items():
            write_atomic(directory / "private" / f"{name}.pem", _key_pem(private), mode=0o600)
        for name, data in files.items():
            write_atomic(directory / name, data)
        state = {
            "schema": SCHEMA,
            "port": port,
            "initialised_at": format_time(at),
            "validity_days": {
                "root": validity.root.days, "ca": validity.ca.days, "tsa": validity.tsa.days,
                "smartphone": validity.smartphone.days, "card": validity.card.days,
                "ocsp_responder": validity.ocsp_responder.days,
            },
            "tsa_key": tsa_key,
            "issued": issued,
            "revocations": {ca: {} for ca in CA_NAMES},
            "tsa": [{"generation": 1, "certificate": "tsa-history/tsa-1.pem",
                     "key": "private/tsa-1.pem", "valid_from": format_time(at),
                     "key_type": tsa_key, "issuer": tsa_issuer}],
        }
        write_atomic(directory / "state.json", _dump(state))
        return cls(directory)

    @classmethod
    def load(cls, directory: Path) -> SamplePki:
        """Open an existing sample PKI (``ltv pki init`` made it)."""
        return cls(directory)

    def refresh(self) -> bool:
        """Re-read state.json if it changed on disk (cheap: one stat); True when it did."""
        path = self.directory / "state.json"
        try:
            st = path.stat()
        except FileNotFoundError as exc:
            raise ConfigurationError(
                f"{self.directory} is not a sample PKI (no state.json; run ltv pki init)"
            ) from exc
        stamp = (st.st_mtime_ns, st.st_ino)
        if stamp == self._state_stamp:
            return False
        state = _load_state(path)
        self._state = state
        self._state_stamp = stamp
        self._tsa_certs = [self._load_cert(e["certificate"]) for e in state["tsa"]]
        self._revoked: dict[str, dict[int, tuple[datetime, RevocationReason]]] = {
            ca: {
                int(serial): (parse_time(entry["time"]), RevocationReason(entry["reason"]))
                for serial, entry in state["revocations"].get(ca, {}).items()
            }
            for ca in CA_NAMES
        }
        self._issued = {ca: {int(s) for s in state["issued"].get(ca, [])} for ca in CA_NAMES}
        return True

    # -- certificates ------------------------------------------------------------------------

    @property
    def root(self) -> x509.Certificate:
        return self._cas["root"]

    @property
    def pq_root(self) -> x509.Certificate:
        """The post-quantum trust anchor (ML-DSA-87) that issues the ML-DSA TSA certificates."""
        return self._cas["pq-root"]

    @property
    def card_ca(self) -> x509.Certificate:
        return self._cas["card-ca"]

    @property
    def smartphone_ca(self) -> x509.Certificate:
        return self._cas["smartphone-ca"]

    @property
    def tsa_certificate(self) -> x509.Certificate:
        """The newest TSA certificate (the one ``tsa.pem`` holds)."""
        return self._tsa_certs[-1]

    @property
    def tsa_certificates(self) -> list[x509.Certificate]:
        """Every TSA certificate, oldest first."""
        return list(self._tsa_certs)

    def ca_certificate(self, ca: CaName) -> x509.Certificate:
        return self._cas[ca]

    def ca_key(self, ca: CaName) -> AnyPrivateKey:
        return self._private_key(f"private/{ca}.pem")

    def responder(self, ca: CaName) -> tuple[x509.Certificate, AnyPrivateKey]:
        """The delegated OCSP responder certificate and key of ``ca``."""
        return self._responders[ca], self._private_key(f"private/ocsp-{ca}.pem")

    def ca_for(self, certificate: x509.Certificate) -> CaName:
        """Which of our CAs issued ``certificate`` (by name and signature)."""
        for ca in CA_NAMES:
            issuer = self._cas[ca]
            if certificate.issuer != issuer.subject:
                continue
            try:
                certificate.verify_directly_issued_by(issuer)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return ca
        raise ConfigurationError(
            f"certificate {certificate.subject.rfc4514_string()} was not issued by this PKI"
        )

    def chain_for(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """The issuers of ``cert`` up to and including the root (empty for the root itself)."""
        chain: list[x509.Certificate] = []
        current = cert
        while current not in (self.root, self.pq_root):
            issuer = self._cas[self.ca_for(current)]
            chain.append(issuer)
            current = issuer
            if len(chain) > len(CA_NAMES):
                raise ConfigurationError("certificate chain loops")
        return chain

    # -- issuing -------------------------------------------------------------------------------

    def issue_end_entity(self, public_key: object,
                         *, kind: Literal["card", "smartphone", "remote"],
                         holder: Holder = Holder(), at: datetime | None = None,
                         identifier: str | None = None) -> x509.Certificate:
        """A JPKI-like signing certificate from the card or smartphone CA (``remote``: from the
        smartphone CA with the remote signing policy, for a key held in the service's HSM)."""
        key = _check_public_key(public_key)
        at = at if at is not None else SystemClock().now()
        ca: CaName = "card-ca" if kind == "card" else "smartphone-ca"
        policy = {"card": JPKI_SIGN_POLICY_TEST, "smartphone": SAMPLE_SMARTPHONE_POLICY,
                  "remote": SAMPLE_REMOTE_POLICY}[kind]
        lifetime = self._validity("card" if kind == "card" else "smartphone")
        prefix = {"card": "C", "smartphone": "SP", "remote": "RS"}[kind]
        cn = identifier or f"{prefix}{secrets.token_hex(8).upper()}"
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ])
        san = x509.SubjectAlternativeName([
            x509.OtherName(x509.ObjectIdentifier(HOLDER_OIDS[field]),
                           _der_utf8string(getattr(holder, field)))
            for field in ("name", "gender", "date_of_birth", "address")
        ])
        builder = (
            _builder(subject=subject, public_key=key, issuer=self._cas[ca], at=at,
                     lifetime=lifetime)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.CertificatePolicies([
                x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]), critical=False)
            .add_extension(san, critical=False)
        )
        return self._sign_and_record(_with_services(builder, self.base_url, ca), ca)

    def issue_from_csr(self, csr: x509.CertificateSigningRequest, *,
                       kind: Literal["card", "smartphone"], holder: Holder = Holder(),
                       at: datetime | None = None) -> x509.Certificate:
        """Check a PKCS#10 request's self-signature, then issue for its public key.

        The CA decides the subject and extensions; the CSR proves possession of the key only.
        """
        if not csr.is_signature_valid:
            raise InputError("the certificate request's signature does not verify")
        return self.issue_end_entity(csr.public_key(), kind=kind, holder=holder, at=at)

    def issue_software_signer(self, name: str, out_dir: Path, *, at: datetime | None = None,
                              key: str = "rsa2048") -> None:
        """A plain software-key signer from the card CA: OUT/key.pem, cert.pem, chain.pem."""
        out_dir = Path(out_dir)
        private = generate_key(key)
        cert = self.issue_end_entity(private.public_key(), kind="card",
                                     holder=Holder(name=name), at=at)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(out_dir / "key.pem", _key_pem(private), mode=0o600)
        write_atomic(out_dir / "cert.pem", _pem(cert))
        write_atomic(out_dir / "chain.pem", b"".join(_pem(c) for c in self.chain_for(cert)))

    def rollover_tsa(self, *, at: datetime, key_type: str | None = None) -> x509.Certificate:
        """A new TSA key and certificate valid from ``at``; the old ones keep their validity.

        ``key_type`` (default: the current TSA's) may change the algorithm, e.g. ``ml-dsa-65``
        to move the time-stamps onto a post-quantum key (issued by ``pq-root``)."""
        if key_type is not None and key_type not in TSA_KEY_TYPES:
            raise UnsupportedAlgorithmError(
                f"unsupported TSA key type {key_type!r} (use {', '.join(TSA_KEY_TYPES)})")
        with self._locked_state() as state:
            generation = max(e["generation"] for e in state["tsa"]) + 1
            kind = key_type or state.get("tsa_key", "rsa2048")
            key = _generate_any(kind)
            issuer = _tsa_issuer(kind)
            cert = _tsa_certificate(key, root=self._cas[issuer], root_key=self.ca_key(issuer),
                                    issuer_name=issuer, base=self.base_url, at=at,
                                    lifetime=self._validity("tsa"), generation=generation)
            write_atomic(self.directory / "private" / f"tsa-{generation}.pem", _key_pem(key),
                         mode=0o600)
            history = f"tsa-history/tsa-{generation}.pem"
            write_atomic(self.directory / history, _pem(cert))
            write_atomic(self.directory / "tsa.pem", _pem(cert))
            write_atomic(self.directory / "tsa-chain.pem",
                         _pem(cert) + _pem(self._cas[issuer]))
            state["issued"].setdefault(issuer, []).append(str(cert.serial_number))
            state["tsa_key"] = kind
            state["tsa"].append({"generation": generation, "certificate": history,
                                 "key": f"private/tsa-{generation}.pem",
                                 "valid_from": format_time(at), "key_type": kind,
                                 "issuer": issuer})
        self.refresh()
        return cert

    def tsa_identity(self, *, at: datetime | None = None) -> TsaIdentity:
        """The TSA's key, certificate and chain: the newest, or the newest valid at ``at``."""
        from tsa.authority import TsaIdentity

        entries = list(zip(self._state["tsa"], self._tsa_certs, strict=True))
        chosen = entries[-1]
        if at is not None:
            valid = [e for e in entries
                     if e[1].not_valid_before_utc <= at <= e[1].not_valid_after_utc]
            if valid:
                chosen = valid[-1]
        entry, cert = chosen
        issuer: CaName = entry.get("issuer", "root")
        key = self._private_key(entry["key"])
        if isinstance(key, mldsa.MLDSA44PrivateKey):
            raise ConfigurationError("an ML-DSA-44 TSA key is not accepted (use 65 or 87)")
        return TsaIdentity(private_key=key, certificate=cert, chain=(self._cas[issuer],))

    # -- revocation ------------------------------------------------------------------------------

    def revoke(self, certificate: x509.Certificate, *, reason: RevocationReason,
               at: datetime) -> None:
        """Record that ``certificate`` is revoked from ``at`` on (OCSP and CRLs show it then).

        The time is kept to the whole second, as OCSP and CRLs encode it: a responder answering
        within the same second as the revocation must already say "revoked".
        """
        at = at.astimezone(UTC).replace(microsecond=0)
        if reason is RevocationReason.REMOVE_FROM_CRL:
            raise InputError("removeFromCRL is for delta CRLs, not a revocation reason")
        ca = self.ca_for(certificate)
        serial = certificate.serial_number
        with self._locked_state() as state:
            if str(serial) not in state["issued"][ca]:
                raise ConfigurationError(
                    f"certificate serial {serial:#x} is not recorded as issued by {ca}"
                )
            revocations = state["revocations"].setdefault(ca, {})
            if str(serial) in revocations:
                raise InputError(f"certificate serial {serial:#x} is already revoked")
            revocations[str(serial)] = {"time": format_time(at), "reason": reason.value}
        self.refresh()

    def status_of(self, ca: CaName, serial_number: int, *, at: datetime) -> SerialStatus:
        """good / revoked (if revoked at or before ``at``) / unknown (never issued by ``ca``)."""
        if serial_number not in self._issued[ca]:
            return SerialStatus(status=CertStatus.UNKNOWN)
        revoked = self._revoked[ca].get(serial_number)
        if revoked is None or revoked[0] > at:
            return SerialStatus(status=CertStatus.GOOD)
        return SerialStatus(status=CertStatus.REVOKED, revocation_time=revoked[0],
                            reason=revoked[1])

    def revocation_status(self, certificate: x509.Certificate, *,
                          at: datetime | None = None) -> SerialStatus:
        """:meth:`status_of` for a certificate (``at`` defaults to now)."""
        when = at if at is not None else SystemClock().now()
        return self.status_of(self.ca_for(certificate), certificate.serial_number, at=when)

    def revoked_entries(self, ca: CaName, *, at: datetime
                        ) -> list[tuple[int, datetime, RevocationReason]]:
        """``(serial, time, reason)`` of ``ca``'s revocations effective at ``at``."""
        return sorted(
            (serial, when, reason)
            for serial, (when, reason) in self._revoked[ca].items()
            if when <= at
        )

    # -- internals -------------------------------------------------------------------------------

    def _validity(self, name: str) -> timedelta:
        days = self._state.get("validity_days", {}).get(name)
        if days is None:
            return getattr(PkiValidity(), name)  # type: ignore[no-any-return]
        return timedelta(days=int(days))

    def _load_cert(self, relative: str) -> x509.Certificate:
        path = self.directory / relative
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except FileNotFoundError as exc:
            raise ConfigurationError(f"missing {path} (not a complete sample PKI)") from exc

    def _private_key(self, relative: str) -> AnyPrivateKey:
        key = self._keys.get(relative)
        if key is None:
            loaded = serialization.load_pem_private_key(
                (self.directory / relative).read_bytes(), password=None
            )
            if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                              | mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey
                              | mldsa.MLDSA87PrivateKey):
                raise ConfigurationError(f"{relative}: unsupported key type")
            key = self._keys[relative] = loaded
        return key

    def _sign_and_record(self, builder: x509.CertificateBuilder, ca: CaName) -> x509.Certificate:
        ca_key = self.ca_key(ca)
        cert = builder.sign(ca_key, _hash_for(ca_key))
        with self._locked_state() as state:
            state["issued"][ca].append(str(cert.serial_number))
        self.refresh()
        return cert

    @contextlib.contextmanager
    def _locked_state(self) -> Iterator[dict[str, Any]]:
        with open(self.directory / ".lock", "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                state = _load_state(self.directory / "state.json")
                yield state
                write_atomic(self.directory / "state.json", _dump(state))
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _dump(state: dict[str, Any]) -> bytes:
    return (json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _load_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("schema") != SCHEMA:
        raise ConfigurationError(f"{path} is not a sample PKI state file ({SCHEMA})")
    return state


def _ca_name(ca: CaName) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
        x509.NameAttribute(NameOID.COMMON_NAME, _CA_COMMON_NAMES[ca]),
    ])


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )


def _builder(*, subject: x509.Name, public_key: Any, issuer: x509.Certificate, at: datetime,
             lifetime: timedelta) -> x509.CertificateBuilder:
    """Subject, issuer, serial, validity (capped by the issuer's), SKI and AKI."""
    not_after = min(at + lifetime, issuer.not_valid_after_utc)
    if not_after <= at:
        raise ConfigurationError(
            f"{issuer.subject.rfc4514_string()} is expired at {format_time(at)}"
        )
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(at).not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
    )


def _ca_issuers(base: str, ca: CaName) -> x509.AccessDescription:
    return x509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS,
        x509.UniformResourceIdentifier(f"{base}/certs/{ca}.cer"),
    )


def _with_services(builder: x509.CertificateBuilder, base: str, ca: CaName
                   ) -> x509.CertificateBuilder:
    """CRL DP and AIA (OCSP + caIssuers) of the issuing CA ``ca`` on the sample server."""
    return builder.add_extension(
        x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(f"{base}/crl/{ca}.crl")],
            relative_name=None, reasons=None, crl_issuer=None)]),
        critical=False,
    ).add_extension(
        x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                   x509.UniformResourceIdentifier(f"{base}/ocsp/{ca}")),
            _ca_issuers(base, ca),
        ]),
        critical=False,
    )


def _tsa_issuer(key_type: str) -> CaName:
    """ML-DSA TSAs are issued by the post-quantum root, the others by the RSA root."""
    return "pq-root" if key_type.startswith("ml-dsa") else "root"


def _tsa_certificate(key: AnyPrivateKey, *, root: x509.Certificate, root_key: AnyPrivateKey,
                     base: str, at: datetime, lifetime: timedelta, generation: int,
                     issuer_name: CaName = "root") -> x509.Certificate:
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
        x509.NameAttribute(NameOID.COMMON_NAME, f"LTV Sample TSA {generation}"),
    ])
    builder = (
        _builder(subject=subject, public_key=key.public_key(), issuer=root, at=at,
                 lifetime=lifetime)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    )
    return _with_services(builder, base, issuer_name).sign(root_key, _hash_for(root_key))
