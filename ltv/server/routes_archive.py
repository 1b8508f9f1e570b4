"""``/v1/archive``: evidence packages with RFC 4998 evidence records, per tenant.

``POST /v1/archive`` (multipart ``file``, optional ``detached``, repeated ``meta`` KEY=VALUE,
``retain-until=ISO8601`` among them) ingests the signed file as one package in its own batch
(one RFC 3161 timestamp from the server's TSA) and answers 201 ``{"id", "retain_until", ...}``.
Retention only grows (:mod:`archive.retention`): the package is kept until ``retain-until`` or
the operator's floor (``ltv serve --min-retention``, default 10 years), whichever is later; a
``retain-until`` before the floor answers 422 ``retention-refused`` before anything is fetched
or written.
``GET /v1/archive?limit=&after=`` pages the tenant's ids (ascending) with their ingest date;
``GET /v1/archive/{id}`` answers the signed document (``?part=package``: the manifest as JSON);
``GET /v1/archive/{id}/verification?at=`` proves the package offline like ``ltv archive
verify``; ``GET /v1/archive/{id}/evidence-record`` answers the RFC 4998 DER record.

A tenant's packages live under the key prefix of its name (the same layout as ``ltv archive
--tenant NAME``, so the CLI's ``renew`` job serves the API's packages too). Another tenant's
ids, unknown ids and malformed ids all answer 404: existence is not leaked.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from cryptography import x509
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from archive.audit import AuditEvent, Who, record
from archive.errors import ArchiveInputError, ObjectNotFoundError, RetentionError
from archive.package import Package
from archive.retention import RetentionPeriod, effective_retention
from archive.store import ObjectStore
from ltv.clock import Clock, format_time, parse_time
from ltv.errors import InputError, LtvError, MalformedError
from ltv.i18n import N_
from ltv.server.deps import (
    get_clock,
    get_policy,
    get_services,
    get_settings,
    get_store,
    get_tenant,
)
from ltv.server.errors import NotFoundError
from ltv.server.problems import localized_problem_response
from ltv.server.routes_signing import media_type_for
from ltv.server.settings import ServerSettings
from ltv.server.tenants import Tenant
from ltv.signing import SigningServices
from ltv.validation import ValidationPolicy

__all__ = ["router"]

router = APIRouter(prefix="/v1/archive", tags=["archive"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_ID = re.compile(r"^[0-9a-f]{64}$")
_META_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_MAX_META = 50

# what a parser of hostile input may raise besides our own errors
_PARSER_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
                  RecursionError, OverflowError, LookupError)


def _read(upload: UploadFile | None, what: str) -> bytes | None:
    if upload is None:
        return None
    data = upload.file.read()
    if not data:
        raise InputError(f"the uploaded {what} is empty")
    return data


def _safe_name(name: str | None, fallback: str) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in base)[:100]
    return safe.lstrip(".") or fallback


def _parse_meta(items: list[str]) -> tuple[dict[str, str], datetime | None]:
    if len(items) > _MAX_META:
        raise InputError(f"at most {_MAX_META} meta fields")
    out: dict[str, str] = {}
    retain: datetime | None = None
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _META_KEY.match(key):
            raise InputError(f"meta wants KEY=VALUE (KEY of letters, digits, '_.:-'), got "
                             f"{item[:80]!r}")
        if len(value) > 1000:
            raise InputError(f"meta {key}: value longer than 1000 characters")
        out[key] = value
        if key in ("retain-until", "retain_until"):
            try:
                retain = parse_time(value)
            except ValueError as exc:
                raise InputError(f"meta {key}: {exc}") from exc
    return out, retain


def _tenant(tenant: Tenant) -> str:
    return tenant.prefix


def _check_id(package_id: str) -> str:
    if not _ID.match(package_id):
        raise NotFoundError(f"no archive package {package_id[:80]!r}")
    return package_id


def _package(store: ObjectStore, tenant: Tenant, package_id: str) -> Package:
    from archive.package import read_package

    try:
        return read_package(store, _check_id(package_id), tenant=_tenant(tenant))
    except ObjectNotFoundError as exc:
        raise NotFoundError(f"no archive package {package_id}") from exc


@router.post(
    "", status_code=201,
    responses={201: {"description": "The package id",
                     "content": {"application/json": {}}},
               401: _PROBLEM, 413: _PROBLEM, 422: _PROBLEM, 502: _PROBLEM, 503: _PROBLEM},
    summary="Archive a signed file as an evidence package (RFC 4998 evidence record)",
)
def create_package(
    request: Request,
    file: Annotated[UploadFile, File(description="The signed file (PDF, XML or CMS).")],
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
    services: Annotated[SigningServices, Depends(get_services)],
    policy: Annotated[ValidationPolicy, Depends(get_policy)],
    clock: Annotated[Clock, Depends(get_clock)],
    settings: Annotated[ServerSettings, Depends(get_settings)],
    detached: Annotated[UploadFile | None, File(
        description="The signed data of a detached signature.")] = None,
    meta: Annotated[list[str] | None, Form(
        description="KEY=VALUE metadata (contract-id, parties, retain-until=ISO8601); "
                    "repeatable.")] = None,
) -> Response:
    """Gather the signature's validation material, write the package and seal it under one
    archive timestamp; answers its id (the SHA-256 of its manifest)."""
    from archive.ingest import ingest, prepare_item
    from archive.package import Manifest, manifest_key
    from ltv.evidence import EvidenceSet, collect_for_tokens
    from ltv.validation import detect_format

    data = _read(file, "file")
    if data is None:
        raise InputError("no file uploaded")
    detached_data = _read(detached, "detached")
    metadata, retain = _parse_meta(meta or [])
    now = clock.now()
    floor = RetentionPeriod.parse(settings.min_retention)
    try:
        effective_retention(retain, now=now, floor=floor)  # refused before any fetch or write
    except RetentionError as exc:
        return localized_problem_response(request, 422, "retention-refused",
                                          N_("Retention refused"), str(exc),
                                          instance="/v1/archive")
    signed_name = _safe_name(file.filename, "signed")
    warnings: list[str] = []
    try:
        fmt = detect_format(data)
        item = prepare_item(
            data, services=services, at=now, detached=detached_data, signed_name=signed_name,
            detached_name=_safe_name(detached.filename if detached else None, "detached"),
            trust_anchors=policy.trust_anchors, metadata=metadata, retain_until=retain,
            warn=warnings.append)
    except LtvError:
        raise
    except _PARSER_ERRORS as exc:
        raise MalformedError(f"not a signed file: {exc}") from exc
    timestamps = services.timestamp_client
    if timestamps is None:  # checked after the input, so garbage still answers 4xx
        return localized_problem_response(
            request, 503, "archive-unavailable", N_("Archive unavailable"),
            N_("this server has no time-stamp authority (ltv serve --pki or --tsa): it cannot "
               "archive"), instance="/v1/archive")
    media_type, _ = media_type_for(fmt, detached=detached_data is not None)
    item = replace(item, signed_media_type=media_type)

    def material(token: bytes) -> EvidenceSet:
        return collect_for_tokens([token], services=services, at=clock.now())

    ids = ingest(store, [item], timestamps=timestamps, tenant=_tenant(tenant),
                 clock=clock, material=material, min_retention=floor)
    package_id = ids[0]
    record(store, AuditEvent.ARCHIVE_INGEST, who=Who.TENANT, tenant=tenant.name,
           object_id=package_id, detail=item.ingest_indication, clock=clock)
    kept = Manifest.from_bytes(store.get(manifest_key(_tenant(tenant), package_id))).retain_until
    url = f"/v1/archive/{package_id}"
    return JSONResponse({"id": package_id, "created": format_time(now),
                         "retain_until": format_time(kept) if kept else None,
                         "ingest_indication": item.ingest_indication, "warnings": warnings,
                         "url": url}, status_code=201, headers={"Location": url})


@router.get("", responses={401: _PROBLEM, 422: _PROBLEM},
            summary="List the tenant's packages (ascending ids, paged)")
def list_packages(
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=64,
                                       description="The last id of the previous page.")] = None,
) -> JSONResponse:
    """Ids with their ingest date and signed file name; ``next`` is the ``after`` of the next
    page (null on the last)."""
    from archive.package import Manifest, manifest_key, package_ids

    prefix = _tenant(tenant)
    ids = sorted(package_ids(store, tenant=prefix))
    if after:
        ids = [i for i in ids if i > after]
    page = ids[:limit]
    items: list[dict[str, Any]] = []
    for pid in page:
        try:
            manifest = Manifest.from_bytes(store.get(manifest_key(prefix, pid)))
        except (ObjectNotFoundError, ArchiveInputError):
            continue
        signed = manifest.first("signed")
        items.append({"id": pid, "created": format_time(manifest.created),
                      "signed_name": signed.name if signed else None,
                      "metadata": manifest.metadata})
    more = len(ids) > limit
    return JSONResponse({"items": items, "next": page[-1] if more and page else None})


@router.get(
    "/{package_id}",
    responses={200: {"description": "The signed document (or the manifest with "
                                    "?part=package)",
                     "content": {"application/pdf": {}, "application/xml": {},
                                 "application/pkcs7-mime": {},
                                 "application/pkcs7-signature": {}, "application/json": {}}},
               401: _PROBLEM, 404: _PROBLEM},
    response_class=Response,
    summary="The signed document of a package",
)
def get_package(
    package_id: str,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
    part: Annotated[Literal["signed", "package"], Query(
        description="signed: the document; package: the manifest listing (JSON).")] = "signed",
) -> Response:
    package = _package(store, tenant, package_id)
    manifest = package.manifest
    if part == "package":
        return JSONResponse({
            "id": package.id, "created": format_time(manifest.created),
            "batch": manifest.batch, "metadata": manifest.metadata,
            "retain_until": format_time(manifest.retain_until) if manifest.retain_until
            else None,
            "objects": [o.to_json() for o in manifest.objects],
        })
    obj = manifest.first("signed")
    if obj is None:
        raise NotFoundError(f"package {package_id} has no signed document")
    return Response(package.content(obj), media_type=obj.media_type, headers={
        "Content-Disposition": f'attachment; filename="{_safe_name(obj.name, "signed")}"'})


@router.get(
    "/{package_id}/verification",
    responses={401: _PROBLEM, 404: _PROBLEM, 422: _PROBLEM},
    summary="Prove a package offline (evidence record, then signature validation)",
)
def verify(
    request: Request,
    package_id: str,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
    policy: Annotated[ValidationPolicy, Depends(get_policy)],
    clock: Annotated[Clock, Depends(get_clock)],
    at: Annotated[str | None, Query(max_length=64,
                                    description="Validation time, ISO 8601 (default: now).")]
        = None,
) -> JSONResponse:
    """Like ``ltv archive verify``: nothing is fetched; the package's archived material and the
    record's archive timestamps are the only evidence."""
    from archive.verify import verify_package
    from ltv.validation.report_json import to_json

    try:
        when = parse_time(at) if at else clock.now()
    except ValueError as exc:
        raise InputError(f"at: {exc}") from exc
    _check_id(package_id)
    anchors: list[x509.Certificate] = list(policy.trust_anchors)
    try:
        result = verify_package(store, package_id, at=when, tenant=_tenant(tenant),
                                trust_anchors=anchors)
    except ObjectNotFoundError as exc:
        raise NotFoundError(f"no archive package {package_id}") from exc
    except (ArchiveInputError, InputError) as exc:
        # the stored record does not prove the package's bytes: a verdict, not a bad request
        return localized_problem_response(
            request, 422, "evidence-record-invalid",
            N_("The evidence record does not prove the package"), str(exc)[:2000],
            instance=f"/v1/archive/{package_id}/verification")
    report = result.report
    worst = max(report.signatures, key=lambda s: s.indication.severity, default=None)
    return JSONResponse({
        "id": package_id,
        "at": format_time(when),
        "indication": report.indication.token,
        "subindication": worst.subindication.token if worst and worst.subindication else None,
        "evidence_record": {"timestamps": [format_time(t) for t in result.times]},
        "report": to_json(report),
    }, headers={"X-Ltv-Indication": report.indication.token})


@router.get(
    "/{package_id}/evidence-record",
    responses={200: {"description": "RFC 4998 EvidenceRecord (DER)",
                     "content": {"application/octet-stream": {}}},
               401: _PROBLEM, 404: _PROBLEM},
    response_class=Response,
    summary="The package's RFC 4998 evidence record (DER)",
)
def evidence_record(
    package_id: str,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    store: Annotated[ObjectStore, Depends(get_store)],
) -> Response:
    """The record over the package's data group: the manifest, then each distinct blob in
    manifest order (see ``?part=package``)."""
    from archive.ingest import assemble_record, read_entries

    package = _package(store, tenant, package_id)
    entries = read_entries(store, package.manifest.batch, tenant=_tenant(tenant))
    if not entries:
        raise NotFoundError(f"package {package_id} has no evidence record yet")
    record = assemble_record(entries, package)
    return Response(record.to_der(), media_type="application/octet-stream", headers={
        "Content-Disposition": 'attachment; filename="evidence-record.ers"'})
