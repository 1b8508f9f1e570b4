"""RFC 9457 problem details: every error the API answers is ``application/problem+json``.

One handler per root error (:class:`~ltv.errors.LtvError`, :class:`~archive.errors.ArchiveError`,
FastAPI's :class:`~fastapi.exceptions.RequestValidationError`, Starlette's HTTP errors, and a
last-resort handler for anything else). A handler picks the status from the most specific class
in a table, so a new subclass needs no new handler. Bodies carry ``type``, ``title``,
``status``, ``detail`` (the exception's message, which names the bad input) and ``instance``
(the request path); never a traceback. Every 5xx answers a fixed ``detail`` per class and a
``reference`` (random, also in the server log line with the real message): upstream and store
messages name internal URLs, paths and OS errors ("[Errno 111] Connection refused"), which are
the operator's business, not the client's.

``type`` URIs are ``urn:ltv:problem:<slug>`` (stable; clients may switch on them).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from archive.errors import (
    ArchiveError,
    ArchiveInputError,
    ObjectExistsError,
    ObjectNotFoundError,
    StoreError,
)
from ltv.errors import (
    ConfigurationError,
    HashFailureError,
    InputError,
    LtvError,
    MalformedError,
    ServiceError,
    SessionError,
    SignatureValueError,
    TimestampError,
    UnsupportedAlgorithmError,
)
from ltv.server.errors import (
    AuthenticationError,
    NotFoundError,
    PayloadTooLargeError,
    SessionExpiredError,
    SessionNotFoundError,
    SessionUsedError,
)

__all__ = ["PROBLEM_JSON", "TYPE_PREFIX", "install_problem_handlers", "problem_response"]

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:ltv:problem:"

_log = logging.getLogger("ltv.server")

# class -> (status, slug, title); the most specific class in an exception's MRO wins.
_LTV: Mapping[type[BaseException], tuple[int, str, str]] = {
    AuthenticationError: (401, "unauthorized", "Missing or unknown API key"),
    NotFoundError: (404, "not-found", "Not found"),
    PayloadTooLargeError: (413, "payload-too-large", "Request body too large"),
    SessionNotFoundError: (404, "session-not-found", "Signing session not found"),
    SessionUsedError: (409, "session-used", "Signing session already finished"),
    SessionExpiredError: (410, "session-expired", "Signing session expired"),
    SessionError: (422, "session-damaged", "Signing session unusable"),
    SignatureValueError: (422, "signature-value", "Signature value does not verify"),
    HashFailureError: (422, "hash-failure", "Digest mismatch"),
    MalformedError: (422, "malformed-input", "Malformed input"),
    UnsupportedAlgorithmError: (422, "unsupported", "Unsupported algorithm or format"),
    InputError: (422, "invalid-input", "Invalid input"),
    TimestampError: (502, "timestamp-authority", "Time-stamp authority failed"),
    ServiceError: (502, "upstream-service", "A remote service failed"),
    ConfigurationError: (500, "server-configuration", "Server misconfigured"),
    LtvError: (500, "internal", "Internal error"),
}
_ARCHIVE: Mapping[type[BaseException], tuple[int, str, str]] = {
    ObjectNotFoundError: (404, "not-found", "Not found"),
    ObjectExistsError: (409, "conflict", "Already exists"),
    ArchiveInputError: (400, "bad-request", "Bad request"),
    StoreError: (503, "store-unavailable", "Object store unavailable"),
    ArchiveError: (500, "internal", "Internal error"),
}
_HTTP_SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
               405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
               413: "payload-too-large", 415: "unsupported-media-type", 422: "invalid-input",
               429: "too-many-requests", 503: "unavailable", 504: "timeout"}


def _lookup(exc: BaseException, table: Mapping[type[BaseException], tuple[int, str, str]]
            ) -> tuple[int, str, str]:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return 500, "internal", "Internal error"


def problem_response(status: int, slug: str, title: str, detail: str, *,
                     instance: str | None = None, headers: Mapping[str, str] | None = None,
                     **extra: Any) -> JSONResponse:
    """A ``application/problem+json`` response (RFC 9457 §3)."""
    body: dict[str, Any] = {"type": TYPE_PREFIX + slug, "title": title, "status": status,
                            "detail": detail}
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                        headers=dict(headers or {}))


def _detail(exc: BaseException, fallback: str) -> str:
    text = str(exc).strip()
    return text[:2000] if text else fallback


#: The ``detail`` of 5xx answers by status: fixed texts, the real message goes to the log.
_FIXED_DETAIL = {
    502: "a remote service (time-stamp authority, OCSP responder, CRL or certificate "
         "download) failed; the server log has the details under this problem's reference",
    503: "the object store failed; the server log has the details under this problem's "
         "reference",
}
_SERVER_FAILED = ("the server could not complete the request; the server log has the details "
                  "under this problem's reference")


def _hidden(request: Request, exc: BaseException, status: int) -> tuple[str, dict[str, Any]]:
    """Log ``exc`` with a fresh reference; the fixed detail and the reference for the body."""
    reference = secrets.token_hex(8)
    _log.error("problem %s: %s on %s %s: %s", reference, type(exc).__name__, request.method,
               request.url.path, exc)
    return _FIXED_DETAIL.get(status, _SERVER_FAILED), {"reference": reference}


async def _ltv_error(request: Request, exc: Exception) -> JSONResponse:
    status, slug, title = _lookup(exc, _LTV)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="ltv"'
    extra: dict[str, Any] = {}
    if status >= 500:
        # upstream failures, configuration problems and bugs: the operator reads the log, the
        # client gets no internals (URLs, paths, OS errors, key names) in the body
        detail, extra = _hidden(request, exc, status)
    else:
        detail = _detail(exc, title)
    field = getattr(exc, "field", None)
    if isinstance(field, str):
        extra["field"] = field
    return problem_response(status, slug, title, detail,
                            instance=request.url.path, headers=headers, **extra)


async def _archive_error(request: Request, exc: Exception) -> JSONResponse:
    status, slug, title = _lookup(exc, _ARCHIVE)
    extra: dict[str, Any] = {}
    if status >= 500:
        detail, extra = _hidden(request, exc, status)
    else:
        detail = _detail(exc, title)
    return problem_response(status, slug, title, detail, instance=request.url.path, **extra)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    errors: list[dict[str, Any]] = []
    if isinstance(exc, RequestValidationError):
        for err in list(exc.errors())[:20]:
            # no "input": it may be megabytes of base64, or a secret
            errors.append({"loc": [str(p) for p in err.get("loc", ())],
                           "msg": str(err.get("msg", ""))[:300]})
    where = ", ".join(".".join(e["loc"]) + ": " + e["msg"] for e in errors[:3])
    return problem_response(422, "invalid-request", "Invalid request",
                            f"the request does not match the API: {where}" if where
                            else "the request does not match the API",
                            instance=request.url.path, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else None
    headers = getattr(exc, "headers", None) or {}
    title = _title(status)
    return problem_response(status, _HTTP_SLUGS.get(status, f"http-{status}"), title,
                            str(detail) if detail else title, instance=request.url.path,
                            headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    reference = secrets.token_hex(8)
    _log.error("problem %s: unexpected error on %s %s", reference, request.method,
               request.url.path, exc_info=exc)
    return problem_response(500, "internal", "Internal error", _SERVER_FAILED,
                            instance=request.url.path, reference=reference)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers: one per root error."""
    app.add_exception_handler(LtvError, _ltv_error)
    app.add_exception_handler(ArchiveError, _archive_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
