"""The simulated phone driving a whole signing session over the HTTP API.

    client = PhoneClient("http://127.0.0.1:8400", api_key=KEY, phone=Phone(PHONE_DIR))
    signed = client.sign_document(pdf_bytes, format="pades", level="B-LTA")

1. ``POST /v1/signing-sessions`` with the document and the phone's certificate chain;
2. the phone signs ``data_to_be_signed`` locally (:meth:`samples.phone.Phone.sign`: the key never
   leaves the secure element);
3. ``POST /v1/signing-sessions/{id}/signature`` with the value; the answer is the signed file.

An error answer (RFC 9457 problem JSON) becomes :class:`ApiError` carrying its status and type.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization

from ltv.errors import ServiceError
from ltv.tbs import DataToBeSigned
from samples.phone import Phone

__all__ = ["ApiError", "PhoneClient", "SignedResult"]


class ApiError(ServiceError):
    """The API answered an error (its problem JSON is in ``problem``)."""

    def __init__(self, message: str, *, url: str, status: int, problem: Mapping[str, Any]
                 ) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.problem = dict(problem)


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedResult:
    session_id: str
    document: bytes
    media_type: str


class PhoneClient:
    """A phone talking to an ltv API server (``httpx``; one connection pool per client)."""

    def __init__(self, base_url: str, *, api_key: str, phone: Phone, timeout: float = 300.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.phone = phone
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {api_key}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PhoneClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _chain(self) -> list[str]:
        pem = serialization.Encoding.PEM
        return [c.public_bytes(pem).decode("ascii")
                for c in [self.phone.certificate, *self.phone.chain]]

    def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        url = self.base_url + path
        try:
            response = self._http.post(path, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceError(f"while calling {url}: {exc}", url=url) from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:500]}
            if not isinstance(problem, dict):
                problem = {"detail": str(problem)[:500]}
            raise ApiError(f"{url} answered {response.status_code}: "
                           f"{problem.get('detail') or problem.get('title') or ''}",
                           url=url, status=response.status_code, problem=problem)
        return response

    def create_session(self, document: bytes, *, format: str, level: str,
                       packaging: str | None = None, options: Mapping[str, Any] | None = None
                       ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "document": base64.b64encode(document).decode("ascii"),
            "signer_chain": self._chain(),
            "format": format,
            "level": level,
            "options": dict(options or {}),
        }
        if packaging is not None:
            body["packaging"] = packaging
        created: dict[str, Any] = self._post("/v1/signing-sessions", json=body).json()
        return created

    def submit(self, session: Mapping[str, Any], signature_value: bytes) -> SignedResult:
        response = self._post(
            str(session.get("signature_url") or
                f"/v1/signing-sessions/{session['id']}/signature"),
            json={"signature_value": base64.b64encode(signature_value).decode("ascii")},
        )
        return SignedResult(session_id=str(session["id"]), document=response.content,
                            media_type=response.headers.get("content-type", ""))

    def sign_document(self, document: bytes, *, format: str, level: str,
                      packaging: str | None = None, options: Mapping[str, Any] | None = None
                      ) -> SignedResult:
        """The whole session: create, sign on the phone, submit, return the signed file."""
        session = self.create_session(document, format=format, level=level,
                                      packaging=packaging, options=options)
        tbs = DataToBeSigned.from_json(session["data_to_be_signed"])
        return self.submit(session, self.phone.sign(tbs))
