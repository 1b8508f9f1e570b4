"""HTTP fetchers for the revocation ports of :mod:`ltv.revocation` (httpx).

* :class:`HttpOCSPFetcher`: POSTs ``application/ocsp-request`` to each AIA OCSP URL of the
  certificate in turn, until one answers with a response that passes
  :func:`~ltv.revocation.parse_ocsp_response`.
* :class:`HttpCRLFetcher`: GETs a CRL distribution point (size-capped) and checks it with
  :func:`~ltv.revocation.parse_crl`.
* :class:`HttpCertificateFetcher`: GETs an AIA caIssuers URL: DER or PEM certificates, or a
  PKCS#7 certs-only bundle.

Failures are :class:`~ltv.errors.RevocationError` naming the stage and URL ("while asking the
OCSP responder at http://...: timed out").
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
from ltv.revocation import Crl, OcspResponse, ocsp_urls, parse_crl, parse_ocsp_response

__all__ = ["HttpCRLFetcher", "HttpCertificateFetcher", "HttpOCSPFetcher"]

_USER_AGENT = "ltv (long-term signatures)"


class _HttpBase:
    """Pass ``client`` to share a connection pool (it is then not closed here); otherwise the
    fetcher owns one, closed by :meth:`close` or on leaving a ``with`` block."""

    def __init__(self, *, timeout: float, client: httpx.Client | None, max_bytes: int) -> None:
        self._owned = client is None
        self._client = client if client is not None else httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"user-agent": _USER_AGENT}
        )
        self._timeout = timeout
        self._max_bytes = max_bytes

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request(self, method: str, url: str, *, what: str, content: bytes | None = None,
                 headers: dict[str, str] | None = None) -> bytes:
        try:
            with self._client.stream(method, url, content=content, headers=headers,
                                     timeout=self._timeout) as response:
                if response.status_code != 200:
                    raise RevocationError(
                        f"while asking the {what} at {url}: HTTP {response.status_code}", url=url
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise RevocationError(
                            f"while asking the {what} at {url}: answer larger than "
                            f"{self._max_bytes} bytes", url=url,
                        )
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise RevocationError(f"while asking the {what} at {url}: {exc or type(exc).__name__}",
                                  url=url) from exc


class HttpOCSPFetcher(_HttpBase):
    """Asks the certificate's OCSP responders (AIA), in order, over HTTP POST.

    ``nonce=True`` adds a random nonce and requires it echoed (off by default: pre-produced
    responses, as large responders serve them, carry none; RFC 6960 §4.4.1, RFC 8954).
    """

    def __init__(self, timeout: float = 10.0, client: httpx.Client | None = None, *,
                 nonce: bool = False, max_bytes: int = 1 << 20) -> None:
        super().__init__(timeout=timeout, client=client, max_bytes=max_bytes)
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
                    raise RevocationError(f"while asking the OCSP responder at {url}: {exc}",
                                          url=url) from exc
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
            f"while asking the OCSP responder at {url}: the response does not echo our nonce",
            url=url,
        )


class HttpCRLFetcher(_HttpBase):
    """Downloads a CRL (DER or PEM) and checks its issuer and signature."""

    def __init__(self, timeout: float = 10.0, client: httpx.Client | None = None, *,
                 max_bytes: int = 64 << 20) -> None:
        super().__init__(timeout=timeout, client=client, max_bytes=max_bytes)

    def fetch_crl(self, url: str, *, issuer: x509.Certificate) -> Crl:
        der = self._request("GET", url, what="CRL distribution point")
        try:
            return parse_crl(der, issuer=issuer)
        except RevocationError as exc:
            raise RevocationError(f"while fetching the CRL at {url}: {exc}", url=url) from exc


class HttpCertificateFetcher(_HttpBase):
    """Downloads CA certificates from an AIA caIssuers URL (DER, PEM or PKCS#7 certs-only)."""

    def __init__(self, timeout: float = 10.0, client: httpx.Client | None = None, *,
                 max_bytes: int = 1 << 20) -> None:
        super().__init__(timeout=timeout, client=client, max_bytes=max_bytes)

    def fetch_certificates(self, url: str) -> list[x509.Certificate]:
        data = self._request("GET", url, what="CA certificate server")
        try:
            return _parse_certificates(data)
        except ValueError as exc:
            raise RevocationError(
                f"while fetching CA certificates at {url}: not a certificate or PKCS#7 bundle",
                url=url,
            ) from exc


def _parse_certificates(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN PKCS7-----" in data:
        return list(pkcs7.load_pem_pkcs7_certificates(data))
    if b"-----BEGIN" in data:
        return list(x509.load_pem_x509_certificates(data))
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        return list(pkcs7.load_der_pkcs7_certificates(data))
