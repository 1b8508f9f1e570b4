"""Gather first, then decide: the evidence set of a signature.

:func:`collect` does every fetch through ports and returns an immutable :class:`EvidenceSet`
(certificates, CRLs, OCSP responses) covering every chain involved: the signer's, each TSA's,
each OCSP responder's and each CRL issuer's. The same set is what B-LT/B-LTA embeds and what the
archive keeps, so what we validated is exactly what we kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

__all__ = ["EvidenceSet", "collect"]


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceSet:
    """Validation material, deduplicated, in first-seen order. DER for revocation data."""

    certificates: tuple[x509.Certificate, ...] = ()
    crls: tuple[bytes, ...] = ()
    ocsp_responses: tuple[bytes, ...] = ()

    def merge(self, other: EvidenceSet) -> EvidenceSet:
        return EvidenceSet.of(
            certificates=(*self.certificates, *other.certificates),
            crls=(*self.crls, *other.crls),
            ocsp_responses=(*self.ocsp_responses, *other.ocsp_responses),
        )

    @classmethod
    def of(
        cls,
        *,
        certificates: Iterable[x509.Certificate] = (),
        crls: Iterable[bytes] = (),
        ocsp_responses: Iterable[bytes] = (),
    ) -> EvidenceSet:
        seen: set[bytes] = set()
        certs: list[x509.Certificate] = []
        for cert in certificates:
            der = _der(cert)
            if der not in seen:
                seen.add(der)
                certs.append(cert)
        return cls(
            certificates=tuple(certs),
            crls=tuple(dict.fromkeys(crls)),
            ocsp_responses=tuple(dict.fromkeys(ocsp_responses)),
        )

    @property
    def certificate_ders(self) -> tuple[bytes, ...]:
        return tuple(_der(c) for c in self.certificates)

    def is_empty(self) -> bool:
        return not (self.certificates or self.crls or self.ocsp_responses)


def collect(*args: object, **kwargs: object) -> EvidenceSet:  # pragma: no cover - replaced
    """Placeholder: implemented by the CAdES work (see ltv.formats.cades)."""
    raise NotImplementedError
