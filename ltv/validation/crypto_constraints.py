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

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ltv.validation.facts import AlgorithmUse
from ltv.validation.model import SubIndication
from ltv.validation.policy import ValidationPolicy

__all__ = ["CryptoVerdict", "cryptographic_constraints", "normalise_digest_name"]

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
