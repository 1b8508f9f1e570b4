"""Gather first, then decide: the evidence set of a signature.

:func:`collect` does every fetch through ports and returns an immutable :class:`EvidenceSet`
(certificates, CRLs, OCSP responses) covering every chain involved: the signer's, each TSA's,
each OCSP responder's and each CRL issuer's. The same set is what B-LT/B-LTA embeds and what the
archive keeps, so what we validated is exactly what we kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from ltv._certder import certificate_der
from ltv.errors import LtvError, RevocationError
from ltv.revocation import ca_issuer_urls, crl_urls, ocsp_urls

if TYPE_CHECKING:
    from ltv.signing import SigningServices

__all__ = ["MAX_CA_ISSUER_FETCHES", "MAX_CHAIN_DEPTH", "EvidenceSet", "collect",
           "collect_for_tokens", "has_ocsp_nocheck", "is_self_signed"]


def _der(cert: x509.Certificate) -> bytes:
    return certificate_der(cert)


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




# ---------------------------------------------------------------------------------------------
# Collection (gather first, then decide)


def is_self_signed(cert: x509.Certificate) -> bool:
    """A certificate whose subject is its issuer and whose signature verifies with its own key."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def has_ocsp_nocheck(cert: x509.Certificate) -> bool:
    """Whether ``cert`` carries id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1)."""
    try:
        cert.extensions.get_extension_for_class(x509.OCSPNoCheck)
    except x509.ExtensionNotFound:
        return False
    return True


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:#x})"


def _valid_at(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


#: Bounds of the AIA chain walk (a certificate's caIssuers URL is the uploader's choice: an
#: endless chain of made-up CAs must end quickly, EN 319 102-1 §5.2.6 needs only a path).
MAX_CHAIN_DEPTH = 10
MAX_CA_ISSUER_FETCHES = 8


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "an unusable URL"
    except ValueError:
        return "an unusable URL"


class _Collector:
    def __init__(self, services: SigningServices, at: datetime,
                 available: Iterable[x509.Certificate], *, max_depth: int = MAX_CHAIN_DEPTH,
                 max_aia_fetches: int = MAX_CA_ISSUER_FETCHES,
                 embedded_crls: Sequence[bytes] = ()) -> None:
        self.services = services
        self.embedded_crls = tuple(embedded_crls)
        self.at = at
        self.max_depth = max_depth
        self.max_aia_fetches = max_aia_fetches
        self.pool: dict[bytes, x509.Certificate] = {}
        for cert in (*services.known_certificates, *available):
            self.pool.setdefault(_der(cert), cert)
        self.done: set[bytes] = set()
        self.certificates: list[x509.Certificate] = []
        self.crls: list[bytes] = []
        self.ocsp: list[bytes] = []
        self.fetched_aia: set[str] = set()

    def run(self, targets: Sequence[x509.Certificate]) -> EvidenceSet:
        queue: list[tuple[x509.Certificate, int, tuple[x509.Name, ...]]] = [
            (t, 0, ()) for t in targets]
        while queue:
            cert, depth, below = queue.pop(0)
            der = _der(cert)
            if der in self.done:
                continue
            if depth > self.max_depth or cert.subject in below:
                raise RevocationError(
                    f"cannot build the certificate chain of {_describe(cert)}: "
                    + (f"longer than {self.max_depth} certificates" if depth > self.max_depth
                       else "its issuers loop back to it")
                )
            self.done.add(der)
            self.pool.setdefault(der, cert)
            self.certificates.append(cert)
            if is_self_signed(cert):
                continue  # a trust anchor: no issuer, no revocation data
            issuer = self.issuer_of(cert)
            path = (*below, cert.subject)
            queue.append((issuer, depth + 1, path))
            if has_ocsp_nocheck(cert):
                continue
            queue.extend((extra, depth + 1, path) for extra in self.revocation_for(cert, issuer))
        return EvidenceSet.of(certificates=self.certificates, crls=self.crls,
                              ocsp_responses=self.ocsp)

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate:
        found = self._issuer_from_pool(cert)
        if found is None:
            fetcher = self.services.certificate_fetcher
            for url in ca_issuer_urls(cert)[:2]:
                if fetcher is None or url in self.fetched_aia:
                    continue
                if len(self.fetched_aia) >= self.max_aia_fetches:
                    raise RevocationError(
                        f"cannot build the certificate chain of {_describe(cert)}: more than "
                        f"{self.max_aia_fetches} issuer certificates to fetch"
                    )
                self.fetched_aia.add(url)
                for fetched in fetcher.fetch_certificates(url):
                    self.pool.setdefault(_der(fetched), fetched)
            found = self._issuer_from_pool(cert)
        if found is None:
            raise RevocationError(
                f"cannot build the certificate chain of {_describe(cert)}: its issuer "
                f"{cert.issuer.rfc4514_string()} is neither known nor reachable by AIA caIssuers"
            )
        return found

    def _issuer_from_pool(self, cert: x509.Certificate) -> x509.Certificate | None:
        matches: list[x509.Certificate] = []
        for cand in self.pool.values():
            if cand.subject != cert.issuer or cand == cert:
                continue
            try:
                cert.verify_directly_issued_by(cand)
            except (ValueError, TypeError, InvalidSignature):
                continue
            matches.append(cand)
        if not matches:
            return None
        # Prefer an issuer certificate valid at the collection time (CA re-keys, rollovers).
        matches.sort(key=lambda c: (not _valid_at(c, self.at), -c.not_valid_after_utc.timestamp()))
        return matches[0]

    def _embedded_crl(self, issuer: x509.Certificate) -> bytes | None:
        """A CRL the signature already carries, signed by ``issuer``: the only revocation data
        there is for a certificate naming no OCSP responder and no CRL (legacy files)."""
        for der in self.embedded_crls:
            try:
                crl = x509.load_der_x509_crl(der)
                if crl.issuer == issuer.subject and crl.is_signature_valid(
                        issuer.public_key()):  # type: ignore[arg-type]
                    return der
            except (ValueError, TypeError):
                continue
        return None

    def revocation_for(self, cert: x509.Certificate,
                       issuer: x509.Certificate) -> list[x509.Certificate]:
        """Fetch OCSP (preferred) or else the CRL for ``cert``; returns further certs to chain."""
        problems: list[str] = []
        url: str | None = None
        ocsp_fetcher = self.services.ocsp_fetcher
        if ocsp_urls(cert) and ocsp_fetcher is not None:
            try:
                response = ocsp_fetcher.fetch_ocsp(cert, issuer)
            except LtvError as exc:
                problems.append(f"OCSP: {exc}")
                url = getattr(exc, "url", None) or url
            else:
                self.ocsp.append(response.der)
                for extra in response.certificates:
                    self.pool.setdefault(_der(extra), extra)
                responder = response.responder_certificate
                return [] if responder == issuer else [responder]
        crl_fetcher = self.services.crl_fetcher
        for crl_url in crl_urls(cert):
            if crl_fetcher is None:
                break
            try:
                crl = crl_fetcher.fetch_crl(crl_url, issuer=issuer)
            except LtvError as exc:
                problems.append(f"CRL at {_host(crl_url)}: {exc}")
                url = url or crl_url
                continue
            self.crls.append(crl.der)
            return []
        if not problems:
            if not ocsp_urls(cert) and not crl_urls(cert):
                embedded = self._embedded_crl(issuer)
                if embedded is not None:
                    self.crls.append(embedded)
                    return []
                problems.append("the certificate names no OCSP responder and no CRL")
            else:
                problems.append("no OCSP or CRL fetcher is configured")
        raise RevocationError(
            f"no revocation data for {_describe(cert)}: {'; '.join(problems)}", url=url
        )


def collect(
    targets: Sequence[x509.Certificate],
    *,
    services: SigningServices,
    at: datetime | None = None,
    available: Iterable[x509.Certificate] = (),
) -> EvidenceSet:
    """Everything needed to validate ``targets``: chains, CRLs, OCSP responses, responder chains.

    Each target's chain is built up to a self-signed root from ``services.known_certificates``,
    the ``available`` certificates (e.g. those already in a signature) and AIA caIssuers
    fetches. For every certificate in it that is not self-signed an OCSP response is fetched
    (preferred, via AIA) or else a CRL (CRL distribution points). OCSP responder certificates
    and their chains are added, with their own revocation data unless they carry
    id-pkix-ocsp-nocheck; a CRL issuer is the certificate's issuer, already in the chain.
    Fetches go through the ports in ``services`` (fresh answers at augmentation time, so the
    revocation data post-dates any signature time-stamp already present, except what a caching
    fetcher still holds). ``at`` (default: the services' clock) picks among several issuer
    certificates. The walk is bounded: at most :data:`MAX_CHAIN_DEPTH` certificates above a
    target, at most :data:`MAX_CA_ISSUER_FETCHES` caIssuers fetches (two URLs per
    certificate), and a subject that reappears above itself ends it. Raises
    :class:`~ltv.errors.RevocationError` naming the certificate whose chain or revocation data
    cannot be obtained; nothing is skipped silently.
    """
    when = at or services.clock.now()
    return _Collector(services, when, available).run(targets)


def collect_for_tokens(
    tokens: Sequence[bytes],
    *,
    services: SigningServices,
    at: datetime | None = None,
    available: Iterable[x509.Certificate] = (),
    embedded_crls: Sequence[bytes] = (),
) -> EvidenceSet:
    """:func:`collect` for the TSA certificates of RFC 3161 time-stamp tokens (DER).

    ``embedded_crls``: CRLs the signature already carries; one signed by a TSA certificate's
    issuer serves as its revocation data when that certificate names no OCSP responder and no
    CRL distribution point (a legacy file's TSA), instead of the refusal."""
    from ltv.timestamps import parse_token

    extra = list(available)
    targets: list[x509.Certificate] = []
    for der in tokens:
        token = parse_token(der, extra_certificates=tuple(extra))
        extra.extend(token.certificates)
        targets.append(token.signer_certificate)
    when = at or services.clock.now()
    return _Collector(services, when, extra, embedded_crls=embedded_crls).run(targets)
