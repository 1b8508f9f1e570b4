"""``HttpTimestampClient``: RFC 3161 over HTTP POST (RFC 3161 §3.4), the only httpx user here.

Each request carries a fresh random 63-bit nonce and certReq TRUE; the reply is checked by
:func:`ltv.timestamps.parse_response`. Every failure is a :class:`~ltv.errors.TimestampError`
that says where it happened: "while asking the TSA at URL: ...".
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import httpx
from cryptography import x509

from ltv.algorithms import DigestAlgorithm
from ltv.errors import LtvError, TimestampError
from ltv.timestamps import TimestampToken, build_request, new_nonce, parse_response

__all__ = ["QUERY_CONTENT_TYPE", "REPLY_CONTENT_TYPE", "HttpTimestampClient"]

QUERY_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPE = "application/timestamp-reply"
_MAX_REPLY_BYTES = 1 << 20


class HttpTimestampClient:
    """A :class:`~ltv.timestamps.TimestampClient` asking the RFC 3161 TSA at ``url``.

    Pass ``client`` to share a connection pool (it is then not closed here); otherwise the
    client owns one, closed by :meth:`close` or on leaving a ``with`` block.
    ``extra_certificates`` help find the TSA certificate when a TSA ignores certReq.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        extra_certificates: Sequence[x509.Certificate] = (),
    ) -> None:
        self.url = url
        self._owned = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._timeout = timeout
        self._extra = tuple(extra_certificates)

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
        nonce = new_nonce()
        request = build_request(digest, algorithm, nonce=nonce, cert_req=True)
        where = f"while asking the TSA at {self.url}"
        try:
            response = self._client.post(
                self.url,
                content=request,
                headers={"Content-Type": QUERY_CONTENT_TYPE, "Accept": REPLY_CONTENT_TYPE},
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise TimestampError(f"{where}: timed out", url=self.url) from exc
        except httpx.HTTPError as exc:
            raise TimestampError(f"{where}: {exc or type(exc).__name__}", url=self.url) from exc
        if response.status_code != 200:
            text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
            raise TimestampError(
                f"{where}: HTTP {response.status_code}{': ' + text if text else ''}", url=self.url
            )
        if len(response.content) > _MAX_REPLY_BYTES:
            raise TimestampError(f"{where}: the reply is larger than 1 MiB", url=self.url)
        try:
            return parse_response(
                response.content,
                digest=digest,
                algorithm=algorithm,
                nonce=nonce,
                extra_certificates=self._extra,
            )
        except LtvError as exc:
            raise TimestampError(f"{where}: {exc}", url=self.url) from exc

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def __enter__(self) -> HttpTimestampClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
