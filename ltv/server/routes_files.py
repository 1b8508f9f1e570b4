"""``/v1/validations`` and ``/v1/extensions``: multipart uploads in, a report or a file out.

``POST /v1/validations`` (``file``, optional ``detached``, ``at``, ``offline``) answers the JSON
report (``ltv.validation-report/1``), or ETSI TS 119 102-2 XML with ``Accept: application/xml``,
or the HTML page with ``Accept: text/html``. Every variant carries the overall indication in the
``X-Ltv-Indication`` header. ``POST /v1/extensions`` (``file``, ``level``, optional
``detached``, ``format``) answers the extended file with its media type.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ltv.clock import Clock, parse_time
from ltv.errors import InputError, LtvError, MalformedError
from ltv.server.cpu_gate import OFFLINE, VALIDATIONS
from ltv.server.deps import (
    get_clock,
    get_fetchers,
    get_optional_tenant,
    get_policy,
    get_services,
    get_tenant,
)
from ltv.server.routes_signing import media_type_for
from ltv.server.tenants import Tenant
from ltv.signing import SignatureFormat, SignatureLevel, SigningServices, extend
from ltv.validation import (
    RevocationFetchers,
    ValidationPolicy,
    ValidationReport,
    detect_format,
    validate,
)

__all__ = ["AT_MAX", "RAW_TYPES", "router", "validation_answer"]

router = APIRouter(tags=["validation"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
#: Media types of a request body that is the signed file itself (:mod:`ltv.server.routes_raw`).
RAW_TYPES = frozenset({"application/pdf", "application/xml", "text/xml",
                       "application/pkcs7-mime", "application/pkcs7-signature",
                       "application/cms", "application/octet-stream"})
AT_MAX = 64  # characters of ``at``


def _raw_openapi() -> dict[str, Any]:
    """The raw body and its query parameters, for the form route's OpenAPI operation."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "requestBody": {"content": {media: binary for media in sorted(RAW_TYPES)}},
        "parameters": [
            {"name": "at", "in": "query", "required": False,
             "description": "With a raw body: validation time, ISO 8601 with zone "
                            "(default: now).",
             "schema": {"type": "string", "maxLength": AT_MAX}},
            {"name": "offline", "in": "query", "required": False,
             "description": "With a raw body: fetch nothing.",
             "schema": {"type": "boolean", "default": False}},
        ],
    }


def _read(upload: UploadFile | None, what: str) -> bytes | None:
    if upload is None:
        return None
    data = upload.file.read()
    if not data:
        raise InputError(f"the uploaded {what} is empty")
    return data


def _require(upload: UploadFile) -> bytes:
    data = _read(upload, "file")
    if data is None:
        raise InputError("no file uploaded")
    return data


# what a parser of hostile input may raise besides our own errors
_PARSER_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
                  RecursionError, OverflowError, LookupError)


@router.post(
    "/v1/validations",
    responses={200: {"description": "The validation report",
                     "content": {"application/json": {}, "application/xml": {},
                                 "text/html": {}}},
               401: _PROBLEM, 413: _PROBLEM, 422: _PROBLEM},
    response_class=Response,
    summary="Validate a signed file (EN 319 102-1)",
    openapi_extra=_raw_openapi(),
)
async def create_validation(
    file: Annotated[UploadFile, File(description="The signed file (PDF, XML or CMS).")],
    tenant: Annotated[Tenant | None, Depends(get_optional_tenant)],
    policy: Annotated[ValidationPolicy, Depends(get_policy)],
    fetchers: Annotated[RevocationFetchers | None, Depends(get_fetchers)],
    clock: Annotated[Clock, Depends(get_clock)],
    detached: Annotated[UploadFile | None, File(
        description="The signed data of a detached signature.")] = None,
    at: Annotated[str | None, Form(
        description="Validation time, ISO 8601 with zone (default: now).", max_length=AT_MAX)]
        = None,
    offline: Annotated[bool, Form(description="Fetch nothing.")] = False,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Validate every signature in `file` at `at`; the report says why, per signature.
    The HTML report is in the language of `Accept-Language` (Japanese or English).

    The signed file may also be the whole request body (`Content-Type: application/pdf`,
    `application/xml`, `application/pkcs7-mime`, ...), with `at` and `offline` in the query
    string: no multipart encoding on either side (an attached signature only)."""

    return await validation_answer(
        lambda: _require(file), lambda: _read(detached, "detached"), policy=policy,
        fetchers=fetchers, clock=clock, at=at, offline=offline, accept=accept,
        accept_language=accept_language, title=file.filename)


async def validation_answer(signed: Callable[[], bytes], detached: Callable[[], bytes | None],
                            *, policy: ValidationPolicy, fetchers: RevocationFetchers | None,
                            clock: Clock, at: str | None, offline: bool, accept: str | None,
                            accept_language: str | None, title: str | None) -> Response:
    """Validate (in a worker thread) ``signed()`` (with ``detached()``) and answer the report;
    offline validations one at a time per process, in its offline lane
    (:mod:`ltv.server.cpu_gate`)."""

    def work() -> Response:  # in a worker thread: reading the upload, validating, the report
        data = signed()
        when: datetime = parse_time(at) if at else clock.now()
        report = validate(data, policy=policy, at=when, detached_content=detached(),
                          offline=offline, fetchers=None if offline else fetchers)
        return _answer(report, accept, accept_language, title=title)

    with VALIDATIONS.entered() as others:
        if offline:  # pure CPU: one at a time per process
            answer, _queued = await OFFLINE.run(work)
        else:  # may wait on the network: the thread pool, never the lane
            answer = await run_in_threadpool(work)
        if others():  # this worker is busy: the client's next request may find an idler one
            answer.headers["Connection"] = "close"  # (ltv.server.cpu_gate)
        return answer


def _answer(report: ValidationReport, accept: str | None, accept_language: str | None, *,
            title: str | None) -> Response:
    """The report as JSON, or XML or HTML by ``Accept``, with ``X-Ltv-Indication``."""
    headers = {"X-Ltv-Indication": report.indication.token}
    wanted = (accept or "").lower()
    if "text/html" in wanted:
        from ltv.i18n import negotiate
        from ltv.validation.report_html import to_html
        from ltv.validation.report_options import ReportOptions

        lang = negotiate(None, accept_language, environ={})
        return HTMLResponse(to_html(report, title=(title or "validation report")[:200],
                                    options=ReportOptions(lang=lang)),
                            headers={**headers, "Content-Language": lang})
    if "application/xml" in wanted or "text/xml" in wanted:
        from ltv.validation.report_xml import to_xml

        return Response(to_xml(report), media_type="application/xml", headers=headers)
    from ltv.validation.report_json import to_json

    return JSONResponse(to_json(report), headers=headers)


@router.post(
    "/v1/extensions",
    responses={200: {"description": "The extended file",
                     "content": {"application/pdf": {}, "application/xml": {},
                                 "application/pkcs7-mime": {},
                                 "application/pkcs7-signature": {}}},
               401: _PROBLEM, 413: _PROBLEM, 422: _PROBLEM, 502: _PROBLEM},
    response_class=Response,
    summary="Raise a signature to a higher level (or add an archive time-stamp)",
)
def create_extension(
    file: Annotated[UploadFile, File(description="The signed file.")],
    level: Annotated[Literal["B-T", "B-LT", "B-LTA"], Form(
        description="Level to reach; B-LTA on a B-LTA adds a new archive time-stamp.")],
    tenant: Annotated[Tenant, Depends(get_tenant)],
    services: Annotated[SigningServices, Depends(get_services)],
    detached: Annotated[UploadFile | None, File(
        description="The signed data of a detached signature.")] = None,
    format: Annotated[Literal["cades", "pades", "xades"] | None, Form(
        description="Default: detected.")] = None,
) -> Response:
    """Extend `file` to `level` with this server's TSA and revocation sources."""
    data = _require(file)
    detached_data = _read(detached, "detached")
    fmt = SignatureFormat(format) if format else detect_format(data)
    try:
        extended = extend(data, fmt, SignatureLevel.parse(level),
                          detached_content=detached_data, services=services)
    except LtvError:
        raise
    except _PARSER_ERRORS as exc:
        raise MalformedError(f"not a valid {fmt.value} signature: {exc}") from exc
    media_type, suffix = media_type_for(fmt, detached=detached_data is not None)
    stem = (file.filename or "document").rsplit(".", 1)[0] or "document"
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem)[:80]
    return Response(extended, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{safe}-{level}{suffix}"'})
