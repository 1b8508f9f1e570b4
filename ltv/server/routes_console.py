"""The archive console: pages at ``/console``, their data at ``/v1/console``.

Pages (HTML, :mod:`ltv.server.console_pages`; no key needed to load them, the data needs one):
``/console`` (dashboard), ``/console/packages`` (list, search, paging),
``/console/packages/{id}`` (contract metadata, evidence timeline, verify and download),
``/console/weakening`` (packages whose evidence weakens within N days) and their two files
under ``/console/static/``. Language: ``?lang=ja|en``, else ``Accept-Language``, else
``LTV_LANG``, else English; an unsupported ``?lang=`` answers 422.

Data (JSON, ``Authorization: Bearer KEY``, the tenant's packages only: another tenant's ids
answer 404 like unknown ones; ``?lang=`` and ``Accept-Language`` choose the language of labels
and dates):

* ``GET /v1/console/summary`` — counts, the next renewal due, the last renewal run, the first
  packages weakening within the renewal margin;
* ``GET /v1/console/packages?q=&field=&limit=&offset=`` — packages newest first with their
  metadata and next renewal, filtered by words in the metadata (``field``: one key only);
* ``GET /v1/console/packages/{id}`` — one package: metadata, signature, the time-stamps of the
  signed file and of the evidence record (TSA, its certificate's expiry, hash algorithm), the
  timeline and the date by which the next renewal is due;
* ``GET /v1/console/weakening?days=`` — packages weakening within ``days`` (default: the
  renewal margin, 180), soonest first;
* ``GET /v1/console/packages/{id}/package.zip`` — the package (``ltv archive export``'s two
  directories: ``package/`` and ``evidence/`` with the RFC 4998 record and its data objects).

Verification and the evidence record alone are the archive API's own
(``/v1/archive/{id}/verification``, ``/v1/archive/{id}/evidence-record``).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from archive.errors import ObjectNotFoundError
from archive.renew import DEFAULT_MARGIN
from archive.store import ObjectStore
from ltv.clock import Clock
from ltv.errors import InputError
from ltv.i18n import negotiate, use_language
from ltv.server.console import ConsoleView
from ltv.server.console_pages import CONSOLE_CSP, render
from ltv.server.deps import get_clock, get_policy, get_store, get_tenant
from ltv.server.errors import NotFoundError
from ltv.server.tenants import Tenant
from ltv.validation import ValidationPolicy

__all__ = ["api", "pages"]

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/v1/console", tags=["console"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_ID = re.compile(r"^[0-9a-f]{64}$")
_STATIC = {"console.js": "text/javascript; charset=utf-8",
           "console.css": "text/css; charset=utf-8"}
_NO_STORE = {"Cache-Control": "no-store"}
_MAX_DAYS = 36500

Lang = Annotated[str | None, Query(max_length=16, description="ja or en (default: "
                                   "Accept-Language).")]


def _language(request: Request, lang: str | None) -> str:
    env = {"LTV_LANG": os.environ.get("LTV_LANG", "")}
    try:
        return negotiate(lang, request.headers.get("accept-language"), env)
    except ValueError as exc:
        raise InputError(f"lang: {exc}") from exc


def _check_id(package_id: str) -> str:
    if not _ID.match(package_id):
        raise NotFoundError(f"no archive package {package_id[:80]!r}")
    return package_id


def _view(store: ObjectStore, tenant: Tenant, clock: Clock, policy: ValidationPolicy
          ) -> ConsoleView:
    return ConsoleView(store=store, tenant=tenant.prefix, at=clock.now(), margin=DEFAULT_MARGIN,
                       sunsets=dict(policy.digest_sunset), key_sunsets=dict(policy.key_sunset))


# --- pages -----------------------------------------------------------------------------------


def _page(request: Request, page: str, lang: str | None, package_id: str | None = None
          ) -> HTMLResponse:
    chosen = _language(request, lang)
    body = render(page, chosen, path=request.url.path, package_id=package_id,
                  extra={"margin_days": DEFAULT_MARGIN.days})
    return HTMLResponse(body, headers={"Content-Security-Policy": CONSOLE_CSP,
                                       "Content-Language": chosen, "Vary": "Accept-Language",
                                       **_NO_STORE})


@pages.get("/console", response_class=HTMLResponse)
def dashboard_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return _page(request, "dashboard", lang)


@pages.get("/console/packages", response_class=HTMLResponse)
def packages_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return _page(request, "packages", lang)


@pages.get("/console/weakening", response_class=HTMLResponse)
def weakening_page(request: Request, lang: Lang = None) -> HTMLResponse:
    return _page(request, "weakening", lang)


@pages.get("/console/packages/{package_id}", response_class=HTMLResponse)
def package_page(request: Request, package_id: str, lang: Lang = None) -> HTMLResponse:
    return _page(request, "package", lang, _check_id(package_id))


@pages.get("/console/static/{name}")
def static(name: str) -> Response:
    media = _STATIC.get(name)
    if media is None:
        raise NotFoundError(f"no console file {name[:80]!r}")
    data = resources.files("ltv.server").joinpath("static", name).read_bytes()
    return Response(data, media_type=media, headers={"Cache-Control": "no-cache"})


# --- data ------------------------------------------------------------------------------------


@api.get("/summary", responses={401: _PROBLEM, 422: _PROBLEM},
         summary="Counts, the next renewal due and the last renewal run")
def summary(
    request: Request,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
    clock: Annotated[Clock, Depends(get_clock)],
    policy: Annotated[ValidationPolicy, Depends(get_policy)],
    lang: Lang = None,
) -> JSONResponse:
    with use_language(_language(request, lang)):
        body = _view(store, tenant, clock, policy).summary()
    return JSONResponse(body, headers=_NO_STORE)


@api.get("/packages", responses={401: _PROBLEM, 422: _PROBLEM},
         summary="The tenant's packages, newest first, searched by metadata")
def list_packages(
    request: Request,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
    clock: Annotated[Clock, Depends(get_clock)],
    policy: Annotated[ValidationPolicy, Depends(get_policy)],
    q: Annotated[str, Query(max_length=200, description="Words to find in the metadata, the "
                            "file name or the id (all of them, any case).")] = "",
    field: Annotated[str | None, Query(max_length=64, description="Search this metadata key "
                                       "only.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    lang: Lang = None,
) -> JSONResponse:
    from ltv.server.console import matches

    with use_language(_language(request, lang)):
        view = _view(store, tenant, clock, policy)
        rows = view.rows()
        fields = sorted({k for r in rows for k in r.manifest.metadata})
        if q.strip() or field:
            rows = [r for r in rows if matches(
                q, metadata=r.manifest.metadata, field_name=field or None,
                names=[r.id, *(o.name for o in r.manifest.objects if o.role == "signed")])]
        page = rows[offset:offset + limit]
        items = [r.to_json(view.at) for r in page]
    return JSONResponse({"items": items, "total": len(rows), "offset": offset, "limit": limit,
                         "fields": fields}, headers=_NO_STORE)


@api.get("/weakening", responses={401: _PROBLEM, 422: _PROBLEM},
         summary="Packages whose evidence weakens within N days")
def weakening(
    request: Request,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
    clock: Annotated[Clock, Depends(get_clock)],
    policy: Annotated[ValidationPolicy, Depends(get_policy)],
    days: Annotated[int, Query(ge=0, le=_MAX_DAYS, description="Window in days (default: "
                               "the renewal margin).")] = DEFAULT_MARGIN.days,
    lang: Lang = None,
) -> JSONResponse:
    with use_language(_language(request, lang)):
        view = _view(store, tenant, clock, policy)
        items = [r.to_json(view.at) for r in view.weakening(days)]
    return JSONResponse({"days": days, "margin_days": view.margin.days, "items": items},
                        headers=_NO_STORE)


@api.get("/packages/{package_id}", responses={401: _PROBLEM, 404: _PROBLEM, 422: _PROBLEM},
         summary="One package: metadata, evidence chain, timeline, next renewal")
def package(
    request: Request,
    package_id: str,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
    clock: Annotated[Clock, Depends(get_clock)],
    policy: Annotated[ValidationPolicy, Depends(get_policy)],
    lang: Lang = None,
) -> JSONResponse:
    _check_id(package_id)
    with use_language(_language(request, lang)):
        try:
            body = _view(store, tenant, clock, policy).detail(package_id)
        except ObjectNotFoundError as exc:
            raise NotFoundError(f"no archive package {package_id}") from exc
    return JSONResponse(body, headers=_NO_STORE)


@api.get("/packages/{package_id}/package.zip", response_class=Response,
         responses={200: {"content": {"application/zip": {}}}, 401: _PROBLEM, 404: _PROBLEM},
         summary="The package and its evidence record as one ZIP")
def package_zip(
    package_id: str,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
) -> Response:
    from archive.export import export_evidence_record, export_package

    _check_id(package_id)
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="ltv-console-") as tmp:
        root = Path(tmp)
        try:
            export_package(store, package_id, root / "package", tenant=tenant.prefix)
            export_evidence_record(store, package_id, root / "evidence", tenant=tenant.prefix)
        except ObjectNotFoundError as exc:
            raise NotFoundError(f"no archive package {package_id}") from exc
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                archive.write(path, f"{package_id[:16]}/{path.relative_to(root).as_posix()}")
    return Response(buffer.getvalue(), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="package-{package_id[:16]}.zip"',
        **_NO_STORE})
