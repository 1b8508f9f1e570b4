"""``/v1/signing-sessions``: the two-step signing flow over HTTP (the key stays on the phone).

``POST /v1/signing-sessions`` runs :func:`ltv.signing.prepare` and answers 201 with what the
phone must sign; ``POST /v1/signing-sessions/{id}/signature`` takes the phone's value and runs
:func:`ltv.signing.finish` on whichever replica receives it (see :mod:`ltv.server.sessions`).

The signed document comes back as the binary file with its media type (PAdES
``application/pdf``, XAdES ``application/xml``, CAdES ``application/pkcs7-mime`` or, detached,
``application/pkcs7-signature``) unless the request says ``Accept: application/json``: then
``{"id", "format", "level", "media_type", "file_name", "sha256", "document": base64}``.

Remote key (issue #18 item 5): a session that names ``credential_id`` (a remote-signing
credential of this tenant, ``/csc/v2``) instead of ``signer_chain`` is prepared with that
credential's chain and answers ``approve_url`` (the ``/remote/approve/{id}`` page) instead of
``data_to_be_signed``: the phone only performs the WebAuthn step. Finishing with no
``signature_value`` collects the SAD the passkey granted and signs the session's hash with the
HSM key (the SAD spent as ``signatures/signHash`` spends it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import timedelta
from typing import Annotated, Any, Literal

from cryptography import x509
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from archive.audit import AuditEvent, Outcome, Who, record
from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.clock import Clock, format_time
from ltv.errors import InputError, SignatureValueError
from ltv.server.deps import get_clock, get_services, get_sessions, get_settings, get_tenant
from ltv.server.errors import NotFoundError, SessionNotFoundError
from ltv.server.remote_state import AccessToken, Credential, StateError
from ltv.server.routes_csc import RemoteSigning, audit_detail
from ltv.server.sessions import SessionStore, valid_session_id
from ltv.server.settings import ServerSettings
from ltv.server.tenants import Tenant
from ltv.signing import (
    Packaging,
    PendingSignature,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
    prepare,
)
from ltv.tbs import TbsForm

__all__ = ["media_type_for", "router"]

router = APIRouter(prefix="/v1/signing-sessions", tags=["signing"])

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class SessionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digest_algorithm: Literal["sha256", "sha384", "sha512"] = "sha256"
    mechanism: Literal["rsassa-pkcs1v15", "rsassa-pss", "ecdsa"] | None = Field(
        default=None, description="Default: rsassa-pkcs1v15 for RSA keys, ecdsa for EC keys.")
    tbs_form: Literal["digest", "digest-info", "message"] = Field(
        default="digest", description="What the phone is handed in data_to_be_signed.")
    detached: bool = Field(default=False, description="CAdES: do not encapsulate the content.")
    mime_type: str | None = Field(default=None, max_length=200)
    file_name: str | None = Field(default=None, max_length=255)
    reason: str | None = Field(default=None, max_length=500, description="PAdES /Reason")
    location: str | None = Field(default=None, max_length=500, description="PAdES /Location")
    session_lifetime_seconds: int = Field(default=900, ge=30, le=86400)


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: str = Field(description="The document to sign, base64.")
    signer_chain: list[str] | None = Field(
        default=None, min_length=1, max_length=10,
        description="Signer certificate first, then its CAs: each PEM (one or more "
                    "certificates) or base64 DER.")
    credential_id: str | None = Field(
        default=None, max_length=100,
        description="Instead of signer_chain: a remote-signing credential of this tenant; "
                    "the server's HSM key signs once the user's passkey approved.")
    format: Literal["cades", "pades", "xades"]
    level: Literal["B-B", "B-T", "B-LT", "B-LTA"] = "B-LTA"
    packaging: Literal["enveloped", "enveloping", "detached"] | None = Field(
        default=None, description="XAdES packaging (default enveloped for XML, else detached).")
    options: SessionOptions = Field(default_factory=SessionOptions)


class DataToBeSignedOut(BaseModel):
    form: str
    data: str
    digest_algorithm: str
    mechanism: str


class SessionCreated(BaseModel):
    id: str
    format: str
    level: str
    data_to_be_signed: DataToBeSignedOut | None = Field(
        default=None, description="Absent for a credential_id session.")
    approve_url: str | None = Field(
        default=None, description="credential_id sessions: the passkey approval page.")
    digest: str = Field(description="base64 of the hash the signature value commits to")
    digest_algorithm: str
    mechanism: str
    expires: str
    signature_url: str


class SignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signature_value: str | None = Field(
        default=None,
        description="base64; RSA: the raw integer octets, ECDSA: DER Ecdsa-Sig-Value. "
                    "Omitted for a credential_id session: the HSM signs once approved.")


class SignedDocument(BaseModel):
    id: str
    format: str
    level: str
    media_type: str
    file_name: str
    sha256: str
    document: str


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(f"{what} is not valid base64") from exc


def _certificates(entries: list[str]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for index, entry in enumerate(entries):
        try:
            if "-----BEGIN" in entry:
                certs.extend(x509.load_pem_x509_certificates(entry.encode("ascii")))
            else:
                certs.append(x509.load_der_x509_certificate(
                    _b64(entry, f"signer_chain[{index}]")))
        except (ValueError, UnicodeEncodeError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"signer_chain[{index}] is not a certificate: {exc}") from exc
    return certs


def media_type_for(fmt: SignatureFormat, *, detached: bool) -> tuple[str, str]:
    """Media type and file suffix of a signed result."""
    if fmt is SignatureFormat.PADES:
        return "application/pdf", ".pdf"
    if fmt is SignatureFormat.XADES:
        return "application/xml", ".xml"
    if detached:
        return "application/pkcs7-signature", ".p7s"
    return "application/pkcs7-mime", ".p7m"


def _detached(pending: PendingSignature) -> bool:
    return pending.options.detached or pending.options.packaging is Packaging.DETACHED


@router.post("", status_code=201, response_model=SessionCreated,
             responses={401: _PROBLEM, 413: _PROBLEM, 422: _PROBLEM},
             summary="Start a signing session (prepare)")
def create_session(
    body: CreateSession,
    request: Request,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    sessions: Annotated[SessionStore, Depends(get_sessions)],
    clock: Annotated[Clock, Depends(get_clock)],
    settings: Annotated[ServerSettings, Depends(get_settings)],
) -> JSONResponse:
    """Compute the data to be signed for `document` and the signer's certificate; the phone
    signs `data_to_be_signed` and posts the value to `signature_url` before `expires`."""
    document = _b64(body.document, "document")
    if not document:
        raise InputError("document is empty")
    if (body.signer_chain is None) == (body.credential_id is None):
        raise InputError("give either signer_chain or credential_id")
    credential = None
    if body.credential_id is not None:
        credential = _remote_credential(request, tenant, body.credential_id)
        chain = [x509.load_der_x509_certificate(c) for c in credential.certificates]
    else:
        assert body.signer_chain is not None
        chain = _certificates(body.signer_chain)
    opts = body.options
    lifetime = min(opts.session_lifetime_seconds, settings.max_session_seconds)
    options = SigningOptions(
        digest_algorithm=DigestAlgorithm.from_name(opts.digest_algorithm),
        mechanism=SignatureMechanism.from_name(opts.mechanism) if opts.mechanism else None,
        tbs_form=TbsForm.DIGEST if credential else TbsForm(opts.tbs_form),
        detached=opts.detached or body.packaging == "detached",
        packaging=Packaging(body.packaging) if body.packaging else None,
        mime_type=opts.mime_type,
        file_name=opts.file_name,
        reason=opts.reason,
        location=opts.location,
        session_lifetime=timedelta(seconds=lifetime),
    )
    pending = prepare(document, chain, SignatureFormat(body.format),
                      SignatureLevel.parse(body.level), options, clock=clock)
    tbs = pending.data_to_be_signed
    remote = None
    if credential is not None:
        remote = _request_approval(request, tenant, credential, pending,
                                   opts.file_name or "(unnamed document)")
    sessions.create(tenant, pending, document, remote=remote)
    url = f"/v1/signing-sessions/{pending.id}/signature"
    out: dict[str, Any] = {
        "id": pending.id,
        "format": pending.format.value,
        "level": pending.level.value,
        **({"approve_url": f"/remote/approve/{remote['approval_id']}"} if remote
           else {"data_to_be_signed": tbs.to_json()}),
        "digest": base64.b64encode(tbs.digest()).decode("ascii"),
        "digest_algorithm": tbs.digest_algorithm.value,
        "mechanism": tbs.mechanism.value,
        "expires": format_time(pending.expires),
        "signature_url": url,
    }
    return JSONResponse(out, status_code=201, headers={"Location": url})


@router.post(
    "/{session_id}/signature",
    responses={
        200: {"description": "The signed document (binary, or JSON with Accept: "
                             "application/json)",
              "content": {"application/pdf": {}, "application/xml": {},
                          "application/pkcs7-mime": {}, "application/pkcs7-signature": {},
                          "application/json": {"schema": SignedDocument.model_json_schema()}}},
        401: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 410: _PROBLEM, 422: _PROBLEM,
        502: _PROBLEM},
    response_class=Response,
    summary="Finish a signing session with the phone's signature value",
)
def finish_session(
    session_id: str,
    body: SignatureIn,
    request: Request,
    tenant: Annotated[Tenant, Depends(get_tenant)],
    sessions: Annotated[SessionStore, Depends(get_sessions)],
    services: Annotated[SigningServices, Depends(get_services)],
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Check the value against the signer's key (a wrong value: 422, the session stays usable
    until it expires), assemble the signature and raise it to the session's level. Single
    use: a finished session answers 409, an expired one 410, an unknown one 404."""
    if not valid_session_id(session_id):
        raise SessionNotFoundError(f"no signing session {session_id[:80]!r}")
    pending = sessions.load(tenant, session_id)
    if body.signature_value is not None:
        value = _b64(body.signature_value, "signature_value")
    else:
        value = _remote_value(request, tenant, sessions, pending)
    try:
        signed = sessions.finish(tenant, session_id, value, services=services)
    except SignatureValueError as exc:
        sessions.audit(AuditEvent.SESSION_FINISH, tenant.name, session_id, Outcome.REFUSED,
                       "signature-value")
        err = SignatureValueError(f"signature_value: {exc}")
        err.field = "signature_value"  # type: ignore[attr-defined]
        raise err from exc
    media_type, suffix = media_type_for(pending.format, detached=_detached(pending))
    stem = (pending.options.file_name or "document").rsplit(".", 1)[0] or "document"
    file_name = f"{stem}-signed{suffix}"
    if accept and "application/json" in accept and media_type not in accept:
        return JSONResponse({
            "id": pending.id, "format": pending.format.value, "level": pending.level.value,
            "media_type": media_type, "file_name": file_name,
            "sha256": hashlib.sha256(signed).hexdigest(),
            "document": base64.b64encode(signed).decode("ascii"),
        })
    return Response(signed, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{_safe(file_name)}"'})


def _remote(request: Request) -> RemoteSigning:
    remote: RemoteSigning | None = getattr(request.app.state, "ltv_remote", None)
    if remote is None:
        raise NotFoundError("this server does not sign with remote keys (--pkcs11-module)")
    return remote


def _remote_credential(request: Request, tenant: Tenant, credential_id: str) -> Credential:
    """The tenant's credential (404 for an unknown one or another tenant's, never told apart)."""
    try:
        return _remote(request).state().tenant_credential(tenant.name, credential_id)
    except StateError as exc:
        raise NotFoundError(f"no remote credential {credential_id[:100]!r}") from exc


def _request_approval(request: Request, tenant: Tenant, credential: Credential,
                      pending: PendingSignature, document_name: str) -> dict[str, str]:
    """An approval request (the ``/remote/approve/{id}`` page, ``ltv phone approve``) for the
    session's one hash; the record the session keeps to collect its SAD."""
    remote = _remote(request)
    tbs = pending.data_to_be_signed
    owner = AccessToken(tenant=tenant.name, user=credential.user, expires=pending.expires)
    approval_id, _, _ = remote.state().create_approval(owner, {
        "credential_id": credential.credential_id, "hash_algorithm": tbs.digest_algorithm.value,
        "hashes": [tbs.digest().hex()], "document_name": document_name[:200]},
        lifetime=remote.sad_lifetime)
    return {"credential_id": credential.credential_id, "user": credential.user,
            "approval_id": approval_id}


def _remote_value(request: Request, tenant: Tenant, sessions: SessionStore,
                  pending: PendingSignature) -> bytes:
    """The HSM's signature value over the session's hash, once the passkey approved: the SAD
    is collected and spent here (kept in the session, so a finish that failed afterwards, e.g.
    TSA down, can be retried without a second approval)."""
    record_ = sessions.remote(tenant, pending.id)
    if record_ is None:
        raise InputError("signature_value is required (this session is the phone's)")
    sessions.check_open(tenant, pending.id)  # 409/410 before the SAD is spent
    if "value" in record_:
        return base64.b64decode(record_["value"])
    remote = _remote(request)
    state = remote.state()
    owner = AccessToken(tenant=tenant.name, user=record_["user"], expires=pending.expires)
    credential, _ = state.credential(owner, record_["credential_id"])
    tbs = pending.data_to_be_signed
    digest = tbs.digest()
    sad, _ = state.take_approved_sad(owner, record_["approval_id"])
    state.consume_sad(owner, sad, credential_id=credential.credential_id,
                      hash_algorithm=tbs.digest_algorithm, hashes=[digest])
    (value,) = remote.keystore.sign(credential.key_label, mechanism=tbs.mechanism,
                                    digest_algorithm=tbs.digest_algorithm, digests=[digest])
    record(remote.store, AuditEvent.REMOTE_SIGN, who=Who.TENANT, tenant=tenant.name,
           object_id=credential.credential_id, outcome=Outcome.OK, clock=remote.clock,
           detail=audit_detail(user=credential.user, hashes=[digest], sad=sad))
    sessions.set_remote(tenant, pending.id,
                        {**record_, "value": base64.b64encode(value).decode("ascii")})
    return value


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:100]
