"""Online :class:`~ltv.signing.SigningServices`: a TSA URL plus HTTP revocation fetchers behind
one :class:`~ltv.online.egress.Egress` (the fetch policy) and bounded caches.

The generic half of what ``--tsa URL`` builds for the CLI and ``ltv serve``; the sample PKI's
half (``--pki DIR``: its TSA URL, its certificates, its server on the allow list) lives in
:mod:`samples.services`.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptography import x509

from ltv.clock import Clock, SystemClock
from ltv.online.egress import Egress
from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
from ltv.online.timestamps import HttpTimestampClient
from ltv.revocation import (
    DEFAULT_CRL_CACHE_BYTES,
    CachingCRLFetcher,
    CachingOCSPFetcher,
)
from ltv.signing import SigningServices

__all__ = ["online_services"]


def online_services(
    *,
    tsa_url: str | None,
    egress: Egress,
    clock: Clock | None = None,
    known_certificates: Iterable[x509.Certificate] = (),
    cache_bytes: int = DEFAULT_CRL_CACHE_BYTES,
) -> SigningServices:
    """Services fetching through ``egress``: the TSA at ``tsa_url`` (operator-trusted), OCSP and
    CRLs through LRU caches (CRLs ``cache_bytes``, OCSP a quarter of it), caIssuers uncached.
    """
    clock = clock or SystemClock()
    policy = egress.policy
    return SigningServices(
        timestamp_client=HttpTimestampClient(tsa_url, egress=egress, timeout=policy.timeout)
        if tsa_url else None,
        ocsp_fetcher=CachingOCSPFetcher(HttpOCSPFetcher(policy.timeout, egress=egress),
                                        clock=clock, max_bytes=cache_bytes // 4),
        crl_fetcher=CachingCRLFetcher(HttpCRLFetcher(policy.timeout, egress=egress),
                                      clock=clock, max_bytes=cache_bytes),
        certificate_fetcher=HttpCertificateFetcher(policy.timeout, egress=egress),
        clock=clock,
        known_certificates=tuple(known_certificates),
    )
