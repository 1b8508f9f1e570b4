"""Build :class:`~ltv.signing.SigningServices` from ``--pki DIR`` / ``--tsa URL`` (CLI edge).

``--pki DIR`` uses that sample PKI's TSA (``<base_url>/tsa``; its servers must be running) and
its certificates (root, CAs, every TSA certificate) as known certificates for chain building.
``--tsa URL`` names any RFC 3161 TSA. OCSP, CRL and caIssuers fetches go over HTTP through
caching wrappers, so one process never asks twice for the same fresh answer.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography import x509

from ltv.clock import Clock, SystemClock
from ltv.errors import ConfigurationError
from ltv.signing import SigningServices

__all__ = ["ENV_PKI", "ENV_TSA", "build_services", "pki_certificates", "pki_tsa_url"]

ENV_PKI = "LTV_PKI"
ENV_TSA = "LTV_TSA_URL"

_PKI_FILES = ("root.pem", "card-ca.pem", "smartphone-ca.pem", "tsa.pem", "tsa-chain.pem",
              "ocsp-root.pem", "ocsp-card-ca.pem", "ocsp-smartphone-ca.pem")


def pki_certificates(directory: Path) -> list[x509.Certificate]:
    """Every certificate a sample PKI directory publishes (CAs, TSA history, responders)."""
    if not (directory / "root.pem").is_file():
        raise ConfigurationError(f"{directory} is not a sample PKI directory (no root.pem)")
    paths = [directory / name for name in _PKI_FILES]
    history = directory / "tsa-history"
    if history.is_dir():
        paths.extend(sorted(history.glob("*.pem")))
    certs: list[x509.Certificate] = []
    for path in paths:
        if not path.is_file():
            continue
        try:
            certs.extend(x509.load_pem_x509_certificates(path.read_bytes()))
        except ValueError as exc:
            raise ConfigurationError(f"{path}: not a PEM certificate file: {exc}") from exc
    return certs


def pki_tsa_url(directory: Path) -> str:
    """The TSA URL of a sample PKI (``http://127.0.0.1:PORT/tsa``, port remembered at init)."""
    from samples.pki import SamplePki

    return f"{SamplePki.load(directory).base_url}/tsa"


def build_services(
    *,
    pki: Path | None = None,
    tsa_url: str | None = None,
    clock: Clock | None = None,
    extra_certificates: tuple[x509.Certificate, ...] = (),
) -> SigningServices:
    """Services for signing and extension. ``pki``/``tsa_url`` fall back to LTV_PKI/LTV_TSA_URL."""
    from ltv.online.revocation import HttpCertificateFetcher, HttpCRLFetcher, HttpOCSPFetcher
    from ltv.online.timestamps import HttpTimestampClient
    from ltv.revocation import CachingCRLFetcher, CachingOCSPFetcher

    if pki is None and tsa_url is None:
        env_pki = os.environ.get(ENV_PKI)
        env_tsa = os.environ.get(ENV_TSA)
        pki = Path(env_pki) if env_pki else None
        tsa_url = env_tsa or None
    clock = clock or SystemClock()
    known = list(extra_certificates)
    if pki is not None:
        known.extend(pki_certificates(pki))
        if tsa_url is None:
            tsa_url = pki_tsa_url(pki)
    return SigningServices(
        timestamp_client=HttpTimestampClient(tsa_url) if tsa_url else None,
        ocsp_fetcher=CachingOCSPFetcher(HttpOCSPFetcher(), clock=clock),
        crl_fetcher=CachingCRLFetcher(HttpCRLFetcher(), clock=clock),
        certificate_fetcher=HttpCertificateFetcher(),
        clock=clock,
        known_certificates=tuple(known),
    )
