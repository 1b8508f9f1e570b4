"""The ``--pki DIR`` half of the online services: what a sample PKI directory contributes.

Its TSA URL (``<base_url>/tsa``; its servers must be running), every certificate it publishes
(known certificates for chain building), and its server's ``127.0.0.1:PORT`` as a fetch-allow
rule, so ``ltv serve --pki DIR`` may fetch from its own sample PKI on loopback while every other
loopback or private address stays refused.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509

from ltv.errors import ConfigurationError

__all__ = ["pki_certificates", "pki_fetch_allow", "pki_tsa_url"]

_PKI_FILES = ("root.pem", "card-ca.pem", "smartphone-ca.pem", "tsa.pem", "tsa-chain.pem",
              "ocsp-root.pem", "ocsp-card-ca.pem", "ocsp-smartphone-ca.pem",
              "pq-root.pem", "ocsp-pq-root.pem")


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


def pki_fetch_allow(directory: Path) -> str:
    """The ``HOST:PORT`` fetch-allow rule of a sample PKI's server (``127.0.0.1:PORT``)."""
    from samples.pki import SamplePki

    parts = urlsplit(SamplePki.load(directory).base_url)
    return f"{parts.hostname}:{parts.port}"
