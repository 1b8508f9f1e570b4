"""Build :class:`~ltv.signing.SigningServices` from ``--pki DIR`` / ``--tsa URL`` (CLI edge).

``--pki DIR`` uses that sample PKI's TSA (``<base_url>/tsa``; its servers must be running) and
its certificates (root, CAs, every TSA certificate) as known certificates for chain building
(:mod:`samples.services`). ``--tsa URL`` names any RFC 3161 TSA. OCSP, CRL and caIssuers
fetches go over HTTP through the fetch policy (:mod:`ltv.online.egress`; the CLI allows every
address unless ``--fetch-deny`` says otherwise) and bounded caches
(:func:`ltv.online.services.online_services`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509

from ltv.clock import Clock, SystemClock
from ltv.signing import SigningServices
from samples.services import pki_certificates, pki_tsa_url

if TYPE_CHECKING:
    from ltv.online.egress import Egress

__all__ = ["ENV_PKI", "ENV_TSA", "build_services", "pki_certificates", "pki_tsa_url"]

ENV_PKI = "LTV_PKI"
ENV_TSA = "LTV_TSA_URL"


def build_services(
    *,
    pki: Path | None = None,
    tsa_url: str | None = None,
    clock: Clock | None = None,
    extra_certificates: tuple[x509.Certificate, ...] = (),
    egress: Egress | None = None,
) -> SigningServices:
    """Services for signing and extension. ``pki``/``tsa_url`` fall back to LTV_PKI/LTV_TSA_URL;
    ``egress`` defaults to the process-wide permissive one (the CLI's)."""
    from ltv.online.egress import default_egress
    from ltv.online.services import online_services

    if pki is None and tsa_url is None:
        env_pki = os.environ.get(ENV_PKI)
        env_tsa = os.environ.get(ENV_TSA)
        pki = Path(env_pki) if env_pki else None
        tsa_url = env_tsa or None
    known = list(extra_certificates)
    if pki is not None:
        known.extend(pki_certificates(pki))
        if tsa_url is None:
            tsa_url = pki_tsa_url(pki)
    return online_services(tsa_url=tsa_url, egress=egress or default_egress(),
                           clock=clock or SystemClock(), known_certificates=known)
