"""``HttpTimestampClient``: RFC 3161 over HTTP POST (RFC 3161 §3.4), through the egress.

The TSA URL is operator-configured, so it is trusted by the fetch policy (no address check) but
keeps its limits: no redirects (RFC 3161 clients never follow them on POST), a total deadline,
a 1 MiB reply cap.

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
from ltv.online.egress import Egress, default_egress
from ltv.timestamps import TimestampToken, build_request, new_nonce, parse_response

__all__ = ["QUERY_CONTENT_TYPE", "REPLY_CONTENT_TYPE", "HttpTimestampClient"]

QUERY_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPE = "application/timestamp-reply"


class HttpTimestampClient:
    """A :class:`~ltv.timestamps.TimestampClient` asking the RFC 3161 TSA at ``url``.

    ``egress`` carries the fetch limits (default: the process-wide permissive one); ``client``
    uses an httpx client as is (tests), not closed here.
    ``extra_certificates`` help find the TSA certificate when a TSA ignores certReq.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
        extra_certificates: Sequence[x509.Certificate] = (),
        egress: Egress | None = None,
    ) -> None:
        self.url = url
        if client is not None:
            self._egress = Egress(egress.policy if egress else None, client=client)
        else:
            self._egress = egress or default_egress()
        self._timeout = timeout
        self._extra = tuple(extra_certificates)

    def timestamp(self, digest: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
        nonce = new_nonce()
        request = build_request(digest, algorithm, nonce=nonce, cert_req=True)
        where = f"while asking the TSA at {self.url}"
        # the TSA is operator-configured: no address check, and errors name the whole URL
        reply = self._egress.fetch(
            "POST", self.url, what="TSA", max_bytes=self._egress.policy.tsa_max_bytes,
            error=TimestampError, content=request, trusted=True, timeout=self._timeout,
            headers={"Content-Type": QUERY_CONTENT_TYPE, "Accept": REPLY_CONTENT_TYPE},
        )
        try:
            return parse_response(
                reply,
                digest=digest,
                algorithm=algorithm,
                nonce=nonce,
                extra_certificates=self._extra,
            )
        except LtvError as exc:
            raise TimestampError(f"{where}: {exc}", url=self.url) from exc

    def close(self) -> None:
        """Nothing to release: the egress (and its pools) outlive a client."""

    def __enter__(self) -> HttpTimestampClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
