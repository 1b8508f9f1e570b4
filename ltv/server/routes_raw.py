"""``POST /v1/validations`` with the signed file as the whole request body.

``Content-Type: application/pdf`` (or ``application/xml``, ``text/xml``,
``application/pkcs7-mime``, ``application/pkcs7-signature``, ``application/cms``,
``application/octet-stream``), the file's bytes as the body, ``at`` and ``offline`` in the
query string: the same report, headers and errors as the multipart form
(:func:`ltv.server.routes_files.create_validation`), without a multipart encoder at the client
and a multipart parser and spool file at the server. Detached signatures need the form (two
parts). Every other request to the path (multipart, a form, any other type) goes to the form
route as before.

The route sits in front of the FastAPI route (:func:`install_raw_validation`) and matches only
a POST to the path with one of :data:`RAW_TYPES`; the app's middleware (body cap, timeout,
admission, metrics) and problem handlers apply to it as to any route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from ltv.errors import InputError
from ltv.server.deps import AppState, get_optional_tenant
from ltv.server.routes_files import AT_MAX, RAW_TYPES, validation_answer

__all__ = ["PATH", "RawValidationRoute", "install_raw_validation"]

PATH = "/v1/validations"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower().decode("latin-1")
    return ""


class RawValidationRoute(BaseRoute):
    """Matches ``POST /v1/validations`` whose body is one of :data:`RAW_TYPES`."""

    path = PATH  # the metrics label (ltv.server.middleware.MetricsMiddleware)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (scope["type"] == "http" and scope.get("path") == PATH
                and scope.get("method") == "POST" and _media_type(scope) in RAW_TYPES):
            return Match.FULL, {"route": self, "path_params": {}}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        from starlette.routing import NoMatchFound

        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await raw_validation(request)
        await response(scope, receive, send)


def _offline(value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InputError(f"offline is true or false, not {value[:20]!r}")


async def raw_validation(request: Request) -> Any:
    state: AppState = request.app.state.ltv
    # as the form route: the body first (capped by the BodyLimit middleware: 413), so that a
    # refusal reaches a client still sending instead of a reset connection; then the key
    body = await request.body()
    await run_in_threadpool(get_optional_tenant, state.store, state.settings, state.clock,
                            request.headers.get("authorization"))
    at = request.query_params.get("at")
    if at is not None and len(at) > AT_MAX:
        raise InputError(f"at is at most {AT_MAX} characters")
    offline = _offline(request.query_params.get("offline"))

    def signed() -> bytes:
        if not body:
            raise InputError("the uploaded file is empty")
        return body

    return await validation_answer(
        signed, lambda: None, policy=state.policy, fetchers=state.fetchers, clock=state.clock,
        at=at or None, offline=offline, accept=request.headers.get("accept"),
        accept_language=request.headers.get("accept-language"), title=None)


def install_raw_validation(app: FastAPI) -> None:
    """Put the raw-body route in front of the form route."""
    app.router.routes.insert(0, RawValidationRoute())
