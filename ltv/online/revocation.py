"""HTTP fetchers for the revocation ports of :mod:`ltv.revocation` (httpx).

* :class:`HttpOCSPFetcher`: POSTs ``application/ocsp-request`` to each AIA OCSP URL of the
  certificate in turn, until one answers with a response that passes
  :func:`~ltv.revocation.parse_ocsp_response`.
* :class:`HttpCRLFetcher`: GETs a CRL distribution point (size-capped) and checks it with
  :func:`~ltv.revocation.parse_crl`.
* :class:`HttpCertificateFetcher`: GETs an AIA caIssuers URL: DER or PEM certificates, or a
  PKCS#7 certs-only bundle.

Every fetch goes through :class:`~ltv.online.egress.Egress` (the fetch policy, a total deadline,
no redirects, size caps: OCSP and certificates 64 KiB, CRLs 64 MiB by default). Failures are
:class:`~ltv.errors.RevocationError` naming the stage and the URL's host only ("while asking
the OCSP responder at ocsp.example: timed out"); the full URL is the error's ``url`` attribute
and goes to the ``ltv.online`` log, never into a report.
"""

from __future__ import annotations

import secrets
from typing import Self

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509 import ocsp

from ltv.errors import RevocationError
from ltv.online.egress import Egress, default_egress
from ltv.online.policy import (
    DEFAULT_CERTIFICATE_MAX_BYTES,
    DEFAULT_CRL_MAX_BYTES,
    DEFAULT_OCSP_MAX_BYTES,
    split_url,
)
from ltv.revocation import Crl, OcspResponse, ocsp_urls, parse_crl, parse_ocsp_response

__all__ = ["HttpCRLFetcher", "HttpCertificateFetcher", "HttpOCSPFetcher"]

_USER_AGENT = "ltv (long-term signatures)"


class _HttpBase:
    """The fetches go through ``egress`` (default: the process-wide permissive one, as the CLI
    wants); pass ``client`` to use an httpx client as is (tests, proxies; it is then not closed
    here). ``timeout`` is the total time of one fetch."""

    def __init__(self, *, timeout: float, client: httpx.Client | None, max_bytes: int,
                 egress: Egress | None) -> None:
        if client is not None:
            self._egress = Egress(egress.policy if egress else None, client=client)
        else:
            self._egress = egress or default_egress()
        self._timeout = timeout
        self._max_bytes = max_bytes

    def close(self) -> None:
        """Nothing to release: the egress (and its pools) outlive a fetcher."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, method: str, url: str, *, what: str, content: bytes | None = None,
                 headers: dict[str, str] | None = None) -> bytes:
        return self._egress.fetch(method, url, what=what, max_bytes=self._max_bytes,
                                  error=RevocationError, content=content, headers=headers,
                                  timeout=self._timeout)


class HttpOCSPFetcher(_HttpBase):
    """Asks the certificate's OCSP responders (AIA), in order, over HTTP POST.

    ``nonce=True`` adds a random nonce and requires it echoed (off by default: pre-produced
    responses, as large responders serve them, carry none; RFC 6960 §4.4.1, RFC 8954).
    """

    def __init__(self, timeout: float = 10.0, client: httpx.Client | None = None, *,
                 nonce: bool = False, max_bytes: int | None = None,
                 egress: Egress | None = None) -> None:
        cap = max_bytes or (egress.policy.ocsp_max_bytes if egress else DEFAULT_OCSP_MAX_BYTES)
        super().__init__(timeout=timeout, client=client, max_bytes=cap, egress=egress)
        self._nonce = nonce

    def fetch_ocsp(self, certificate: x509.Certificate, issuer: x509.Certificate) -> OcspResponse:
        urls = ocsp_urls(certificate)
        if not urls:
            raise RevocationError(
                f"certificate {certificate.subject.rfc4514_string()} names no OCSP responder"
            )
        # CertID hashes identify, they do not protect: SHA-1 is what every responder
        # understands (RFC 5019 §2.1.1), and the response is signed with a strong hash.
        builder = ocsp.OCSPRequestBuilder().add_certificate(
            certificate, issuer, hashes.SHA1()  # noqa: S303
        )
        nonce = secrets.token_bytes(16) if self._nonce else None
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        request = builder.build().public_bytes(Encoding.DER)
        last: RevocationError | None = None
        for url in urls:
            try:
                der = self._request("POST", url, what="OCSP responder", content=request,
                                    headers={"content-type": "application/ocsp-request"})
                try:
                    response = parse_ocsp_response(der, certificate=certificate, issuer=issuer)
                except RevocationError as exc:
                    raise RevocationError(
                        f"while asking the OCSP responder at {_host(url)}: {exc}", url=url
                    ) from exc
                if nonce is not None:
                    _check_nonce(der, nonce, url)
                return response
            except RevocationError as exc:
                last = exc
        assert last is not None
        raise last


def _check_nonce(der: bytes, nonce: bytes, url: str) -> None:
    parsed = ocsp.load_der_ocsp_response(der)
    try:
        echoed = parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        echoed = None
    if echoed != nonce:
        raise RevocationError(
            f"while asking the OCSP responder at {_host(url)}: the response does not echo "
            "our nonce",
            url=url,
        )


class HttpCRLFetcher(_HttpBase):
    """Downloads a CRL (DER or PEM) and checks its issuer and signature."""

    def __init__(self, timeout: float = 10.0, client: httpx.Client | None = None, *,
                 max_bytes: int | None = None, egress: Egress | None = None) -> None:
        cap = max_bytes or (egress.policy.crl_max_bytes if egress else DEFAULT_CRL_MAX_BYTES)
        super().__init__(timeout=timeout, client=client, max_bytes=cap, egress=egress)

    def fetch_crl(self, url: str, *, issuer: x509.Certificate) -> Crl:
        der = self._request("GET", url, what="CRL distribution point")
        try:
            return parse_crl(der, issuer=issuer)
        except RevocationError as exc:
            raise RevocationError(f"while fetching the CRL at {_host(url)}: {exc}",
                                  url=url) from exc


class HttpCertificateFetcher(_HttpBase):
    """Downloads CA certificates from an AIA caIssuers URL (DER, PEM or PKCS#7 certs-only)."""

    def __init__(self, timeout: float = 10.0, client: httpx.Client | None = None, *,
                 max_bytes: int | None = None, egress: Egress | None = None) -> None:
        cap = max_bytes or (egress.policy.certificate_max_bytes if egress
                            else DEFAULT_CERTIFICATE_MAX_BYTES)
        super().__init__(timeout=timeout, client=client, max_bytes=cap, egress=egress)

    def fetch_certificates(self, url: str) -> list[x509.Certificate]:
        data = self._request("GET", url, what="CA certificate server")
        try:
            return _parse_certificates(data)
        except ValueError as exc:
            raise RevocationError(
                f"while fetching CA certificates at {_host(url)}: not a certificate or PKCS#7 "
                "bundle",
                url=url,
            ) from exc


def _host(url: str) -> str:
    """What an error may say about a certificate-named URL: its host, nothing more."""
    try:
        return split_url(url).host
    except ValueError:
        return "an unusable URL"


def _parse_certificates(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN PKCS7-----" in data:
        return list(pkcs7.load_pem_pkcs7_certificates(data))
    if b"-----BEGIN" in data:
        return list(x509.load_pem_x509_certificates(data))
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        return list(pkcs7.load_der_pkcs7_certificates(data))
