"""Cryptographic constraints over every algorithm a binding rests on (EN 319 102-1 §5.2.8).

The format adapters record each algorithm use (:class:`~ltv.validation.facts.AlgorithmUse`): a
signature's signature-algorithm hash, message-digest algorithm, every XAdES ``ds:Reference``
DigestMethod (SignedProperties included) and SignatureMethod, the ESS / XAdES
signing-certificate digest; a time-stamp's imprint, its SignerInfo digest and signature hash;
the signatures of the OCSP responses and CRLs used. :func:`cryptographic_constraints` judges
them against the policy's sunset table (:attr:`ValidationPolicy.digest_sunset`) at the time of
their proof of existence: a use after its algorithm's sunset without an earlier POE is
INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE_NO_POE (a POE before the sunset — a time-stamp made
while the algorithm was still strong — is the cure). The verdict names the weakest use (the
one whose algorithm set first), failing or not, so the report says what the signature's
strength really rests on.

Public keys have their own sunset table (:attr:`ValidationPolicy.key_sunset`, NIST IR 8547's
RSA-2048 / P-256 dates by default): a use may name a key class (``"rsa-2048"``,
:func:`~ltv.validation.policy.key_class`; :func:`key_use` builds one from a key), and
:func:`key_constraint` judges a key for path validation (certificate, CRL, OCSP and time-stamp
signatures, through :class:`~ltv.validation.certpath.SunsetAlgorithmPolicy`). ML-DSA keys
(FIPS 204, :mod:`ltv.pq`) have no sunset: that is what renewing evidence onto ML-DSA
time-stamps buys.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import keys
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from pyhanko_certvalidator.policy_decl import AlgorithmUsageConstraint

from ltv.pq import mldsa_name, register_asn1crypto_oids
from ltv.validation.facts import AlgorithmUse
from ltv.validation.model import SubIndication
from ltv.validation.policy import ValidationPolicy, key_class

register_asn1crypto_oids()  # asn1crypto must know id-ml-dsa-* before any path is validated

__all__ = [
    "CryptoVerdict",
    "RevocationUse",
    "cryptographic_constraints",
    "key_constraint",
    "key_facts",
    "key_use",
    "normalise_digest_name",
    "public_key_info_facts",
    "revocation_algorithm_uses",
]

# asn1crypto / URI spellings of the same hash → the sunset table's key
_ALIASES = {"sha-1": "sha1", "sha_1": "sha1", "md-5": "md5"}


def normalise_digest_name(name: str) -> str:
    """``"SHA-1"``, ``"sha1"`` → ``"sha1"`` (the policy table's spelling); a key class
    (``"rsa-2048"``) is kept as it is."""
    key = name.strip().lower()
    if _is_key_class(key):
        return key
    return _ALIASES.get(key, key.replace("-", ""))


_KEY_PREFIXES = ("rsa-", "p-", "ml-dsa-")


def _is_key_class(name: str) -> bool:
    return name.startswith(_KEY_PREFIXES)


def _sunset_of(name: str, policy: ValidationPolicy) -> datetime | None:
    if _is_key_class(name):
        return policy.key_sunset_for(name)
    return policy.digest_sunset_for(name)


def _shown(name: str) -> str:
    return name.upper() if _is_key_class(name) else name


# -- public keys -------------------------------------------------------------------------------

def key_facts(public_key: object) -> tuple[str, int]:
    """``(algorithm, bits)`` of a :mod:`cryptography` public key, spelled as asn1crypto and
    pyhanko-certvalidator do: ``("rsa", 2048)``, ``("ec", 256)``, ``("mldsa65", 0)``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa", public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "ec", public_key.curve.key_size
    name = mldsa_name(public_key)
    if name is not None:
        return name.replace("-", ""), 0
    return type(public_key).__name__, 0


def public_key_info_facts(info: keys.PublicKeyInfo) -> tuple[str, int]:
    """:func:`key_facts` of an asn1crypto ``PublicKeyInfo`` (asn1crypto cannot size an ML-DSA
    key: its ``bit_size`` fails, so it is never asked)."""
    algorithm = str(info.algorithm)
    if algorithm.startswith("mldsa"):
        return algorithm, 0
    return algorithm, int(info.bit_size)


def key_use(public_key: object, what: str) -> AlgorithmUse:
    """An :class:`AlgorithmUse` naming the key's class (``rsa-2048``) for the sunset table."""
    algorithm, bits = key_facts(public_key)
    return AlgorithmUse(what=what, algorithm=key_class(algorithm, bits))


def weakest_key_sunset(certificates: Iterable[x509.Certificate],
                       key_sunsets: dict[str, datetime]) -> tuple[str, datetime] | None:
    """``(key class, sunset)`` of the earliest-setting public key among ``certificates``
    (a TSA certificate and its issuers: the keys a time-stamp's signature and chain rest on),
    None when none has a sunset in ``key_sunsets`` (ML-DSA never has one by default)."""
    found: list[tuple[datetime, str]] = []
    for cert in certificates:
        try:
            name = key_class(*key_facts(cert.public_key()))
        except (ValueError, UnsupportedAlgorithm):
            continue
        sunset = key_sunsets.get(name)
        if sunset is not None:
            found.append((sunset, name))
    if not found:
        return None
    sunset, name = min(found)
    return _shown(name), sunset


def key_constraint(policy: ValidationPolicy, algorithm: str, bits: int,
                   moment: datetime | None) -> AlgorithmUsageConstraint:
    """EN 319 102-1 §5.2.8 for one public key used at ``moment`` (None: no POE, judged as of
    now): RSA shorter than ``min_rsa_bits`` after ``rsa_sunset``; EC shorter than
    ``min_ec_bits``; a key class past its ``key_sunset`` date (RSA-2048 and P-256 after
    2035-12-31 by default, NIST IR 8547)."""
    name = algorithm.lower()
    if name in ("rsa", "rsassa_pss") and bits < policy.min_rsa_bits:
        if moment is not None and moment < policy.rsa_sunset:
            return AlgorithmUsageConstraint(allowed=True)
        return AlgorithmUsageConstraint(
            allowed=False, not_allowed_after=policy.rsa_sunset,
            failure_reason=f"RSA-{bits} is shorter than {policy.min_rsa_bits} bits",
        )
    if name == "ec" and bits < policy.min_ec_bits:
        return AlgorithmUsageConstraint(
            allowed=False, failure_reason=f"an EC key of {bits} bits is too short",
        )
    kind = key_class(name, bits)
    sunset = policy.key_sunset_for(kind)
    if sunset is None or (moment is not None and moment < sunset):
        return AlgorithmUsageConstraint(allowed=True)
    return AlgorithmUsageConstraint(
        allowed=False, not_allowed_after=sunset,
        failure_reason=(f"{_shown(kind)} is not accepted after "
                        f"{(sunset - timedelta(days=1)).date().isoformat()} "
                        "(key sunset of the policy; NIST IR 8547 by default)"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CryptoVerdict:
    """Outcome of the cryptographic constraints: ``subindication`` None when every use is
    acceptable at ``moment``; ``weakest`` the use whose algorithm sets first (None when no use
    has a sunset), ``sunset`` its date."""

    subindication: SubIndication | None
    message: str | None
    weakest: AlgorithmUse | None = None
    sunset: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.subindication is None


def cryptographic_constraints(uses: Iterable[AlgorithmUse], *, policy: ValidationPolicy,
                              moment: datetime, subject: str = "the signature"
                              ) -> CryptoVerdict:
    """Judge ``uses`` at ``moment`` (the earliest POE of what they protect).

    ``subject`` names what the POE is of, for the message ("the signature", "the time-stamp").
    """
    dated: list[tuple[datetime, AlgorithmUse]] = []
    for use in uses:
        sunset = _sunset_of(normalise_digest_name(use.algorithm), policy)
        if sunset is not None:
            dated.append((sunset, use))
    if not dated:
        return CryptoVerdict(subindication=None, message=None)
    dated.sort(key=lambda pair: pair[0])
    sunset, weakest = dated[0]
    if moment < sunset:
        return CryptoVerdict(subindication=None, message=None, weakest=weakest, sunset=sunset)
    return CryptoVerdict(
        subindication=SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
        message=(f"{_shown(normalise_digest_name(weakest.algorithm))} in the {weakest.what} is "
                 f"not accepted after {sunset.date().isoformat()}, and nothing proves "
                 f"{subject} existed before (proof of existence: {moment.isoformat()})"),
        weakest=weakest, sunset=sunset,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RevocationUse:
    """The signature algorithm of one OCSP response or CRL about ``certificate``; ``der`` is
    the object's DER (its POE key)."""

    certificate: x509.Certificate
    use: AlgorithmUse
    der: bytes


def revocation_algorithm_uses(path: Sequence[x509.Certificate], *,
                              ocsp_responses: Iterable[bytes], crls: Iterable[bytes]
                              ) -> list[list[RevocationUse]]:
    """For each certificate of ``path`` (trust anchor first, as path validation returns it)
    below the anchor: the signature algorithms of the OCSP responses about it and of the CRLs
    of its issuer in the evidence. Which one path validation relied on is not told, so the
    caller refuses a certificate only when *all* its revocation data is weak."""
    parsed_ocsp: list[tuple[ocsp.OCSPResponse, bytes]] = []
    for der in ocsp_responses:
        try:
            response = ocsp.load_der_ocsp_response(der)
            if response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
                parsed_ocsp.append((response, der))
        except ValueError:
            continue
    parsed_crls: list[tuple[x509.CertificateRevocationList, bytes]] = []
    for der in crls:
        try:
            parsed_crls.append((x509.load_der_x509_crl(der), der))
        except ValueError:
            continue
    out: list[list[RevocationUse]] = []
    for issuer, cert in itertools.pairwise(path):
        uses: list[RevocationUse] = []
        name = cert.subject.rfc4514_string()
        for response, der in parsed_ocsp:
            if _ocsp_about(response, cert, issuer):
                algorithm = _hash_name(response)
                if algorithm is not None:
                    uses.append(RevocationUse(certificate=cert, der=der, use=AlgorithmUse(
                        what=f"OCSP response about {name}: its signature", algorithm=algorithm)))
        for crl, der in parsed_crls:
            if crl.issuer == cert.issuer:
                algorithm = _hash_name(crl)
                if algorithm is not None:
                    uses.append(RevocationUse(certificate=cert, der=der, use=AlgorithmUse(
                        what=f"CRL of {crl.issuer.rfc4514_string()}: its signature",
                        algorithm=algorithm)))
        out.append(uses)
    return out


def _hash_name(obj: ocsp.OCSPResponse | x509.CertificateRevocationList) -> str | None:
    try:
        algorithm = obj.signature_hash_algorithm
    except UnsupportedAlgorithm:  # unknown to cryptography: path validation judges it
        return None
    return algorithm.name if algorithm is not None else None


def _ocsp_about(response: ocsp.OCSPResponse, cert: x509.Certificate,
                issuer: x509.Certificate) -> bool:
    for single in response.responses:
        if single.serial_number != cert.serial_number:
            continue
        try:
            name_hash = hashlib.new(single.hash_algorithm.name,
                                    issuer.subject.public_bytes()).digest()
        except (ValueError, TypeError):
            continue
        if name_hash == single.issuer_name_hash:
            return True
    return False
