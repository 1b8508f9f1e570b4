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

Languages: a request whose ``Accept-Language`` prefers Japanese gets ``title`` and ``detail``
in Japanese (catalog domain "server"), ``Content-Language`` says which, and ``Vary`` names the
header; ``type``, ``status`` and the extra members never change. A detail the catalogs know
(the fixed 5xx texts, the API-key refusals, ...) is translated whole; a library message naming
technical facts stays as it is, inside a Japanese sentence (:func:`localized_detail`).
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
from ltv.i18n import N_, parse_accept_language, translate
from ltv.server.errors import (
    AuthenticationError,
    NotFoundError,
    PayloadTooLargeError,
    SessionExpiredError,
    SessionNotFoundError,
    SessionUsedError,
)

__all__ = ["PROBLEM_JSON", "TYPE_PREFIX", "install_problem_handlers", "localized_detail",
           "localized_problem", "problem_response", "request_language"]

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:ltv:problem:"

_log = logging.getLogger("ltv.server")

# class -> (status, slug, title); the most specific class in an exception's MRO wins.
_LTV: Mapping[type[BaseException], tuple[int, str, str]] = {
    AuthenticationError: (401, "unauthorized", N_("Missing or unknown API key")),
    NotFoundError: (404, "not-found", N_("Not found")),
    PayloadTooLargeError: (413, "payload-too-large", N_("Request body too large")),
    SessionNotFoundError: (404, "session-not-found", N_("Signing session not found")),
    SessionUsedError: (409, "session-used", N_("Signing session already finished")),
    SessionExpiredError: (410, "session-expired", N_("Signing session expired")),
    SessionError: (422, "session-damaged", N_("Signing session unusable")),
    SignatureValueError: (422, "signature-value", N_("Signature value does not verify")),
    HashFailureError: (422, "hash-failure", N_("Digest mismatch")),
    MalformedError: (422, "malformed-input", N_("Malformed input")),
    UnsupportedAlgorithmError: (422, "unsupported", N_("Unsupported algorithm or format")),
    InputError: (422, "invalid-input", N_("Invalid input")),
    TimestampError: (502, "timestamp-authority", N_("Time-stamp authority failed")),
    ServiceError: (502, "upstream-service", N_("A remote service failed")),
    ConfigurationError: (500, "server-configuration", N_("Server misconfigured")),
    LtvError: (500, "internal", N_("Internal error")),
}
_ARCHIVE: Mapping[type[BaseException], tuple[int, str, str]] = {
    ObjectNotFoundError: (404, "not-found", N_("Not found")),
    ObjectExistsError: (409, "conflict", N_("Already exists")),
    ArchiveInputError: (400, "bad-request", N_("Bad request")),
    StoreError: (503, "store-unavailable", N_("Object store unavailable")),
    ArchiveError: (500, "internal", N_("Internal error")),
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
    return 500, "internal", N_("Internal error")


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
    502: N_("a remote service (time-stamp authority, OCSP responder, CRL or certificate "
            "download) failed; the server log has the details under this problem's reference"),
    503: N_("the object store failed; the server log has the details under this problem's "
            "reference"),
}
_SERVER_FAILED = N_("the server could not complete the request; the server log has the "
                    "details under this problem's reference")

#: Titles of the plain HTTP errors (Starlette's, the middleware's) the catalogs translate.
_HTTP_TITLES = (N_("Bad Request"), N_("Unauthorized"), N_("Forbidden"), N_("Not Found"),
                N_("Method Not Allowed"), N_("Not Acceptable"), N_("Conflict"),
                N_("Content Too Large"), N_("Request Entity Too Large"),
                N_("Unsupported Media Type"), N_("Unprocessable Content"),
                N_("Unprocessable Entity"), N_("Too Many Requests"),
                N_("Service Unavailable"), N_("Gateway Timeout"), N_("Internal Server Error"),
                N_("Invalid request"), N_("Request timed out"))

#: Whole details the catalogs translate: fixed messages of the API's own refusals.
_KNOWN_DETAILS = (
    N_("this endpoint needs 'Authorization: Bearer KEY' (an API key from 'ltv tenant add "
       "NAME')"),
    N_("use 'Authorization: Bearer KEY'"), N_("unknown API key"),
    N_("this API key was revoked"), N_("this API key has expired (it was rotated)"),
    N_("no file uploaded"), N_("document is empty"),
    N_("give either signer_chain or credential_id"),
    N_("signature_value is required (this session is the phone's)"),
    N_("the request does not match the API"), N_("Not Found"), N_("Method Not Allowed"),
)


_DETAILS_SENTENCE = N_("{title} (details: {detail})")
_MISMATCH_WHERE = N_("the request does not match the API: {where}")


def request_language(request: Request) -> str:
    """``ja`` when the request's ``Accept-Language`` prefers Japanese, else ``en`` (the API
    does not follow the server's own locale)."""
    return parse_accept_language(request.headers.get("accept-language")) or "en"


def localized_problem(headers: list[tuple[bytes, bytes]], title: str, detail: str
                      ) -> tuple[str, str, str]:
    """(title, detail, language) for an ASGI request's raw ``headers`` (the middleware's
    refusals, answered before any route runs)."""
    accept = next((v.decode("latin-1") for k, v in headers if k.lower() == b"accept-language"),
                  None)
    lang = parse_accept_language(accept) or "en"
    if lang == "en":
        return title, detail, lang
    return translate(title, lang, "server"), localized_detail(detail, title, lang), lang


def localized_detail(detail: str, title: str, lang: str) -> str:
    """``detail`` in ``lang``: translated whole when the catalogs know it; else (a message
    naming technical facts) kept, inside a sentence in ``lang``."""
    if lang == "en":
        return detail
    whole = translate(detail, lang, "server")
    if whole != detail:
        return whole
    return translate(_DETAILS_SENTENCE, lang, "server").format(
        title=translate(title, lang, "server"), detail=detail)


def _localize(request: Request, status: int, title: str, detail: str
              ) -> tuple[str, str, dict[str, str]]:
    """(title, detail, headers) in the request's language."""
    lang = request_language(request)
    headers = {"Content-Language": lang, "Vary": "Accept-Language"}
    if lang == "en":
        return title, detail, headers
    return translate(title, lang, "server"), localized_detail(detail, title, lang), headers


def localized_problem_response(request: Request, status: int, slug: str, title: str,
                               detail: str, *, instance: str | None = None,
                               **extra: Any) -> JSONResponse:
    """:func:`problem_response` with ``title`` and ``detail`` in the request's language (a
    route's own refusal, where no exception handler runs)."""
    title, detail, headers = _localize(request, status, title, detail)
    return problem_response(status, slug, title, detail, instance=instance, headers=headers,
                            **extra)


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
    title, detail, more = _localize(request, status, title, detail)
    return problem_response(status, slug, title, detail,
                            instance=request.url.path, headers={**headers, **more}, **extra)


async def _archive_error(request: Request, exc: Exception) -> JSONResponse:
    status, slug, title = _lookup(exc, _ARCHIVE)
    extra: dict[str, Any] = {}
    if status >= 500:
        detail, extra = _hidden(request, exc, status)
    else:
        detail = _detail(exc, title)
    title, detail, headers = _localize(request, status, title, detail)
    return problem_response(status, slug, title, detail, instance=request.url.path,
                            headers=headers, **extra)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    errors: list[dict[str, Any]] = []
    if isinstance(exc, RequestValidationError):
        for err in list(exc.errors())[:20]:
            # no "input": it may be megabytes of base64, or a secret
            errors.append({"loc": [str(p) for p in err.get("loc", ())],
                           "msg": str(err.get("msg", ""))[:300]})
    where = ", ".join(".".join(e["loc"]) + ": " + e["msg"] for e in errors[:3])
    lang = request_language(request)
    detail = (translate(_MISMATCH_WHERE, lang, "server")
              .format(where=where) if where
              else translate("the request does not match the API", lang, "server"))
    title, _detail_text, headers = _localize(request, 422, "Invalid request", "")
    return problem_response(422, "invalid-request", title, detail,
                            instance=request.url.path, headers=headers, errors=errors)



async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else None
    headers = getattr(exc, "headers", None) or {}
    title = _title(status)
    shown_title, shown_detail, more = _localize(request, status, title,
                                                str(detail) if detail else title)
    return problem_response(status, _HTTP_SLUGS.get(status, f"http-{status}"), shown_title,
                            shown_detail, instance=request.url.path,
                            headers={**headers, **more})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    reference = secrets.token_hex(8)
    _log.error("problem %s: unexpected error on %s %s", reference, request.method,
               request.url.path, exc_info=exc)
    title, detail, headers = _localize(request, 500, "Internal error", _SERVER_FAILED)
    return problem_response(500, "internal", title, detail, instance=request.url.path,
                            headers=headers, reference=reference)


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
