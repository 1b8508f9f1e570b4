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
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509 import ocsp

from ltv.validation.facts import AlgorithmUse
from ltv.validation.model import SubIndication
from ltv.validation.policy import ValidationPolicy

__all__ = [
    "CryptoVerdict",
    "RevocationUse",
    "cryptographic_constraints",
    "normalise_digest_name",
    "revocation_algorithm_uses",
]

# asn1crypto / URI spellings of the same hash → the sunset table's key
_ALIASES = {"sha-1": "sha1", "sha_1": "sha1", "md-5": "md5"}


def normalise_digest_name(name: str) -> str:
    """``"SHA-1"``, ``"sha1"`` → ``"sha1"`` (the policy table's spelling)."""
    key = name.strip().lower()
    return _ALIASES.get(key, key.replace("-", ""))


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
        sunset = policy.digest_sunset_for(normalise_digest_name(use.algorithm))
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
        message=(f"{normalise_digest_name(weakest.algorithm)} in the {weakest.what} is not "
                 f"accepted after {sunset.date().isoformat()}, and nothing proves "
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
