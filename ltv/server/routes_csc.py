"""CSC API v2 (Cloud Signature Consortium, v2.0.0.2) at ``/csc/v2/``: remote signing with keys in
a PKCS#11 token, each signature authorised by the user's FIDO2 passkey.

Methods: ``info``, ``auth/login`` (HTTP Basic ``USER:API_KEY`` -> bearer access token),
``credentials/list``, ``credentials/info``, ``credentials/getChallenge`` (the WebAuthn request
options whose challenge is derived from the hashes, :mod:`ltv.remote.binding`),
``credentials/authorize`` (``authData`` = ``[{"id": "FIDO2", "value": b64url(JSON{nonce,
credential})}]`` -> SAD), ``signatures/signHash``. CSC v1 field names (``hash``, ``hashAlgo``)
are accepted too, as pyHanko's ``CSCSigner`` sends them. Enrolment (not part of CSC):
``ltv/enroll/begin`` and ``ltv/enroll/complete``. Errors are CSC's ``{error,
error_description}`` with 400 or 401.

The SAD is verified here, in software: SCAL2-functional, not a certified Signature Activation
Module (EN 419 241-2). Every enrolment, authorisation and signature, granted or refused, is an
audit line (:mod:`archive.audit`, ``remote.*`` events): user, number of hashes and their first
hex digits, SAD id, outcome; never a document, a hash in full or the SAD itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asn1crypto import algos
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from archive.audit import AuditEvent, Outcome, Who, record
from archive.store import ObjectStore
from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.clock import Clock, format_time
from ltv.errors import ConfigurationError, InputError
from ltv.remote.binding import MAX_HASHES, AuthorisationRequest
from ltv.remote.passkeys import PasskeyError, RelyingParty, decode_b64url
from ltv.remote.pkcs11_keys import KeyAlgorithm, Pkcs11KeyStore
from ltv.server.csc_errors import CscError, csc_error, csc_error_for
from ltv.server.errors import AuthenticationError
from ltv.server.remote_state import (
    AccessToken,
    Credential,
    RemoteState,
    Sad,
    StateError,
    valid_user,
)
from ltv.server.settings import ServerSettings
from ltv.server.tenants import authenticate

__all__ = ["CscError", "RemoteSigning", "finish_enrolment", "grant", "install_remote_signing",
           "router"]

log = logging.getLogger("ltv.remote")
router = APIRouter(prefix="/csc/v2", tags=["remote signing (CSC API v2)"])

_TOKEN_LIFETIME = timedelta(hours=1)
_ENROL_LIFETIME = timedelta(minutes=10)
_DIGEST_BY_OID = {a.oid: a for a in DigestAlgorithm if a is not DigestAlgorithm.SHA1}
_RSA, _EC = "1.2.840.113549.1.1.1", "1.2.840.10045.2.1"
_PSS = "1.2.840.113549.1.1.10"
#: signAlgo OID -> (mechanism, digest fixed by the OID or None: take hashAlgorithmOID)
_SIGN_ALGOS: dict[str, tuple[SignatureMechanism, DigestAlgorithm | None]] = {
    _RSA: (SignatureMechanism.RSA_PKCS1V15, None),
    "1.2.840.113549.1.1.11": (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA256),
    "1.2.840.113549.1.1.12": (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA384),
    "1.2.840.113549.1.1.13": (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA512),
    _PSS: (SignatureMechanism.RSA_PSS, None),
    _EC: (SignatureMechanism.ECDSA, None),
    "1.2.840.10045.4.3.2": (SignatureMechanism.ECDSA, DigestAlgorithm.SHA256),
    "1.2.840.10045.4.3.3": (SignatureMechanism.ECDSA, DigestAlgorithm.SHA384),
    "1.2.840.10045.4.3.4": (SignatureMechanism.ECDSA, DigestAlgorithm.SHA512),
}
_KEY_ALGOS = {
    KeyAlgorithm.RSA_2048.value: [_RSA, "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12",
                                  "1.2.840.113549.1.1.13", _PSS],
    KeyAlgorithm.EC_P256.value: [_EC, "1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3",
                                 "1.2.840.10045.4.3.4"],
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteSigning:
    """What the CSC routes need: the key store, the relying party, the state, the issuer."""

    keystore: Pkcs11KeyStore
    relying_party: RelyingParty
    store: ObjectStore
    clock: Clock
    sad_lifetime: timedelta
    pki: Path | None  # sample PKI that certifies enrolled keys (remote signing policy)

    def state(self) -> RemoteState:
        return RemoteState(self.store, clock=self.clock)


def install_remote_signing(app: FastAPI, settings: ServerSettings, *, store: ObjectStore,
                           clock: Clock, keystore: Pkcs11KeyStore | None = None) -> None:
    """Mount ``/csc/v2/``; the key store opens the token now (or is given, in tests)."""
    if keystore is None:
        if settings.pkcs11_module is None or settings.pin_file is None:
            raise ConfigurationError("remote signing needs --pkcs11-module and --pin-file")
        pin = settings.pin_file.read_text(encoding="utf-8").strip()
        keystore = Pkcs11KeyStore(module=settings.pkcs11_module,
                                  token_label=settings.token_label, pin=pin)
    app.state.ltv_remote = RemoteSigning(
        keystore=keystore,
        relying_party=RelyingParty(rp_id=settings.webauthn_rp_id,
                                   origins=settings.webauthn_origins),
        store=store, clock=clock, sad_lifetime=timedelta(seconds=settings.sad_lifetime),
        pki=settings.pki)
    app.include_router(router)
    from ltv.server.routes_approve import router as approve_router

    app.include_router(approve_router)


def sad_id(sad: str) -> str:
    """How audit lines name a SAD: the first 16 hex digits of its SHA-256 (never the SAD)."""
    return hashlib.sha256(sad.encode("utf-8")).hexdigest()[:16]


_PREFIXES_SHOWN = 4


def audit_detail(*, user: str, hashes: list[bytes] | None = None, sad: str | None = None,
                 reason: str | None = None) -> str:
    """The ``detail`` of a ``remote.*`` audit line: ``user=taro hashes=2 sha256=ab12..,cd34..
    sad=<sad_id> reason=<why refused>``. Hashes appear as their first 12 hex digits (at most
    four, then ``+N``): enough to match a signature to its document, never the content."""
    parts = [f"user={user}"]
    if hashes is not None:
        shown = ",".join(h.hex()[:12] for h in hashes[:_PREFIXES_SHOWN])
        more = f"+{len(hashes) - _PREFIXES_SHOWN}" if len(hashes) > _PREFIXES_SHOWN else ""
        parts.append(f"hashes={len(hashes)} prefixes={shown}{more}")
    if sad is not None:
        parts.append(f"sad={sad_id(sad)}")
    if reason is not None:
        parts.append(f"reason={reason}")
    return " ".join(parts)


def _audit(remote: RemoteSigning, event: AuditEvent, caller: AccessToken, credential_id: str,
           outcome: Outcome = Outcome.OK, **detail: Any) -> None:
    """One audit line (issue #18 item 8) in the store's trail, as the session routes write."""
    record(remote.store, event, who=Who.TENANT, tenant=caller.tenant, object_id=credential_id,
           outcome=outcome, detail=audit_detail(user=caller.user, **detail), clock=remote.clock)


def _reason(exc: Exception) -> str:
    """A refusal's reason for the trail: our own message up to its first colon (the part the
    code chose, not an echoed value), spaces as dashes."""
    return str(exc).split(":")[0].strip().replace(" ", "-")[:60] or type(exc).__name__


# --- plumbing -------------------------------------------------------------------------------

Handler = Callable[[RemoteSigning, dict[str, Any], str | None], dict[str, Any]]


async def _answer(request: Request, handler: Handler) -> JSONResponse:
    remote: RemoteSigning = request.app.state.ltv_remote
    try:
        raw = await request.body()
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise CscError("the request body must be a JSON object")
        answer = await run_in_threadpool(handler, remote, body,
                                         request.headers.get("authorization"))
    except (CscError, StateError, PasskeyError) as exc:
        return csc_error_for(exc)
    except AuthenticationError as exc:
        return csc_error(401, "invalid_client", str(exc))
    except (InputError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        return csc_error(400, "invalid_request", str(exc) or type(exc).__name__)
    return JSONResponse(answer)


def _str(body: dict[str, Any], *names: str, required: bool = True) -> str | None:
    for name in names:
        value = body.get(name)
        if value is not None:
            if not isinstance(value, str) or not value:
                raise CscError(f"Invalid parameter {name}")
            return value
    if required:
        raise CscError(f"Missing (or invalid type) string parameter {names[0]}")
    return None


def _hashes(body: dict[str, Any]) -> list[bytes]:
    """``hashes`` (v2) or ``hash`` (v1): base64 (standard or URL-safe) digests."""
    values = body.get("hashes", body.get("hash"))
    if not isinstance(values, list) or not values or len(values) > MAX_HASHES:
        raise CscError(f"Missing (or invalid type) array parameter hashes (1 to {MAX_HASHES})")
    out = []
    for value in values:
        if not isinstance(value, str) or len(value) > 200:
            raise CscError("Invalid parameter hashes")
        try:
            out.append(base64.b64decode(value.replace("-", "+").replace("_", "/")
                                        + "=" * (-len(value) % 4), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise CscError("Invalid Base64 hashes string parameter") from exc
    return out


def _hash_algorithm(body: dict[str, Any], default: DigestAlgorithm | None) -> DigestAlgorithm:
    oid = _str(body, "hashAlgorithmOID", "hashAlgo", required=default is None)
    if oid is None:
        assert default is not None
        return default
    algorithm = _DIGEST_BY_OID.get(oid)
    if algorithm is None:
        raise CscError(f"Invalid parameter hashAlgorithmOID {oid[:40]!r}")
    return algorithm


def _caller(remote: RemoteSigning, authorization: str | None) -> AccessToken:
    return remote.state().token(authorization)


def _credential_info(credential: Credential, *, certificates: str) -> dict[str, Any]:
    public = serialization.load_der_public_key(_public_key_der(credential))
    size = getattr(public, "key_size", 0)
    certs = {"none": [], "single": list(credential.certificates[:1]),
             "chain": list(credential.certificates)}.get(certificates)
    if certs is None:
        raise CscError("Invalid parameter certificates")
    return {
        "description": f"remote signing key of {credential.user} (PKCS#11 token)",
        "key": {"status": "enabled", "algo": _KEY_ALGOS[credential.key_algorithm], "len": size,
                **({"curve": "1.2.840.10045.3.1.7"}
                   if credential.key_algorithm == KeyAlgorithm.EC_P256.value else {})},
        "cert": {"status": "valid",
                 "certificates": [base64.b64encode(c).decode("ascii") for c in certs]},
        "auth": {"mode": "explicit", "objects": [
            {"type": "ChallengeResponse", "id": "FIDO2", "format": "A",
             "label": "WebAuthn assertion over the hashes (credentials/getChallenge)"}]},
        "authMode": "explicit", "SCAL": "2", "multisign": MAX_HASHES,
    }


def _public_key_der(credential: Credential) -> bytes:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(credential.certificates[0])
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


# --- handlers (run in the thread pool) --------------------------------------------------------


def _login(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
           ) -> dict[str, Any]:
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        raise CscError("use 'Authorization: Basic base64(USER:API_KEY)'", code="invalid_client",
                       status=401)
    try:
        user, sep, api_key = base64.b64decode(encoded, validate=True).decode("utf-8") \
            .partition(":")
    except (binascii.Error, ValueError) as exc:
        raise CscError("malformed Basic credentials", code="invalid_client", status=401) from exc
    if not sep:
        raise CscError("malformed Basic credentials", code="invalid_client", status=401)
    tenant = authenticate(remote.store, f"Bearer {api_key}")
    token, seconds = remote.state().issue_token(tenant.name, valid_user(user),
                                                lifetime=_TOKEN_LIFETIME)
    return {"access_token": token, "expires_in": seconds, "token_type": "Bearer"}


def _list(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
          ) -> dict[str, Any]:
    caller = _caller(remote, authorization)
    return {"credentialIDs": remote.state().credentials(caller)}


def _info(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
          ) -> dict[str, Any]:
    caller = _caller(remote, authorization)
    credential, _ = remote.state().credential(caller, _str(body, "credentialID") or "")
    return _credential_info(credential,
                            certificates=_str(body, "certificates", required=False) or "single")


def _caller_credential(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
                       ) -> tuple[AccessToken, Credential, str]:
    """The access token's caller and the credential ``credentialID`` names (its etag too):
    another user's credential is not found."""
    caller = _caller(remote, authorization)
    credential, etag = remote.state().credential(caller, _str(body, "credentialID") or "")
    return caller, credential, etag


def _get_challenge(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
                   ) -> dict[str, Any]:
    caller, credential, _ = _caller_credential(remote, body, authorization)
    credential_id = credential.credential_id
    algorithm = _hash_algorithm(body, DigestAlgorithm.SHA256)
    hashes = _hashes(body)
    nonce, expires = remote.state().issue_nonce(caller, credential_id, lifetime=remote.sad_lifetime)
    request = AuthorisationRequest.of(credential_id=credential_id, hash_algorithm=algorithm,
                                      hashes=hashes, nonce=nonce, expires=expires)
    challenge = request.challenge()
    return {"challenge": base64.urlsafe_b64encode(challenge).decode().rstrip("="),
            "nonce": nonce, "expires": format_time(expires),
            "canonical": request.canonical().decode("utf-8"),
            **remote.relying_party.request_options(credential.passkey, challenge)}


def _authorize(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
               ) -> dict[str, Any]:
    caller, credential, etag = _caller_credential(remote, body, authorization)
    algorithm = _hash_algorithm(body, DigestAlgorithm.SHA256)
    hashes = _hashes(body)
    count = body.get("numSignatures", len(hashes))
    if isinstance(count, str) and count.isdigit():
        count = int(count)
    if count != len(hashes):
        raise CscError("numSignatures must equal the number of hashes")
    fido = _fido_auth_data(body)
    sad, sad_expires = grant(remote, caller, credential, etag, algorithm, hashes,
                             fido.get("nonce"), fido["credential"])
    return {"SAD": sad, "expiresIn": int((sad_expires - remote.clock.now()).total_seconds())}


def grant(remote: RemoteSigning, caller: AccessToken, credential: Credential, etag: str,
          algorithm: DigestAlgorithm, hashes: list[bytes], nonce: object,
          assertion: dict[str, Any]) -> tuple[str, datetime]:
    """Spend the nonce, verify the passkey's assertion over the challenge derived from these
    hashes, advance the counter, and issue the SAD: (SAD, its expiry)."""
    state = remote.state()
    credential_id = credential.credential_id
    try:
        expires = state.consume_nonce(caller, credential_id, nonce)  # refuses a non-string too
    except StateError as exc:
        _audit(remote, AuditEvent.REMOTE_AUTHORIZE, caller, credential_id, Outcome.REFUSED,
               hashes=hashes, reason=_reason(exc))
        raise
    assert isinstance(nonce, str)
    request = AuthorisationRequest.of(credential_id=credential_id, hash_algorithm=algorithm,
                                      hashes=hashes, nonce=nonce, expires=expires)
    try:
        counter = remote.relying_party.verify_assertion(credential.passkey, request.challenge(),
                                                        assertion)
    except PasskeyError as exc:
        _audit(remote, AuditEvent.REMOTE_AUTHORIZE, caller, credential_id, Outcome.REFUSED,
               hashes=list(request.hashes), reason=_reason(exc))
        raise
    state.advance_counter(credential, etag, counter)
    sad_expires = min(remote.clock.now() + remote.sad_lifetime, expires + remote.sad_lifetime)
    sad = state.issue_sad(caller, Sad(credential_id=credential_id, user=caller.user,
                                      hash_algorithm=algorithm, hashes=frozenset(hashes),
                                      expires=sad_expires))
    _audit(remote, AuditEvent.REMOTE_AUTHORIZE, caller, credential_id,
           hashes=list(request.hashes), sad=sad)
    return sad, sad_expires


def _fido_auth_data(body: dict[str, Any]) -> dict[str, Any]:
    items = body.get("authData")
    if not isinstance(items, list):
        raise CscError("Missing authData (a FIDO2 assertion)", code="invalid_request")
    for item in items:
        if isinstance(item, dict) and item.get("id") == "FIDO2":
            value = item.get("value")
            try:
                parsed = json.loads(decode_b64url(value if isinstance(value, str) else ""))
            except (InputError, ValueError) as exc:
                raise CscError("authData FIDO2 is not base64url JSON",
                               code="invalid_authentication_data") from exc
            if not isinstance(parsed, dict) or not isinstance(parsed.get("credential"), dict):
                raise CscError("authData FIDO2 needs {nonce, credential}",
                               code="invalid_authentication_data")
            return parsed
    raise CscError("Missing authData FIDO2", code="invalid_request")


def _sign_hash(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
               ) -> dict[str, Any]:
    caller, credential, _ = _caller_credential(remote, body, authorization)
    credential_id = credential.credential_id
    state = remote.state()
    sign_algo = _str(body, "signAlgo") or ""
    if sign_algo not in _KEY_ALGOS[credential.key_algorithm]:
        raise CscError(f"Invalid parameter signAlgo {sign_algo[:40]!r} for this key")
    mechanism, fixed = _SIGN_ALGOS[sign_algo]
    salt: int | None = None
    algorithm = fixed or _hash_algorithm(body, None)
    if sign_algo == _PSS:
        algorithm, salt = _pss_params(body, algorithm)
    if fixed is not None and body.get("hashAlgorithmOID", body.get("hashAlgo")) not in (
            None, fixed.oid):
        raise CscError("hashAlgorithmOID does not match signAlgo")
    hashes = _hashes(body)
    sad = _str(body, "SAD") or ""
    try:
        state.consume_sad(caller, sad, credential_id=credential_id, hash_algorithm=algorithm,
                          hashes=hashes)
    except StateError as exc:
        _audit(remote, AuditEvent.REMOTE_SIGN, caller, credential_id, Outcome.REFUSED,
               hashes=hashes, sad=sad, reason=_reason(exc))
        raise
    values = remote.keystore.sign(credential.key_label, mechanism=mechanism,
                                  digest_algorithm=algorithm, digests=hashes, salt_length=salt)
    _audit(remote, AuditEvent.REMOTE_SIGN, caller, credential_id, hashes=hashes, sad=sad)
    return {"signatures": [base64.b64encode(v).decode("ascii") for v in values]}


def _pss_params(body: dict[str, Any], default: DigestAlgorithm
                ) -> tuple[DigestAlgorithm, int | None]:
    raw = body.get("signAlgoParams")
    if raw is None:
        return default, None
    try:
        params = algos.RSASSAPSSParams.load(base64.b64decode(str(raw), validate=True))
        digest = DigestAlgorithm.from_name(params["hash_algorithm"]["algorithm"].native)
        salt = int(params["salt_length"].native)
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise CscError("Invalid parameter signAlgoParams") from exc
    if mgf_hash != digest.value or digest is DigestAlgorithm.SHA1:
        raise CscError("signAlgoParams: MGF1 must use the same SHA-2 hash")
    return digest, salt


def _enrol_begin(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
                 ) -> dict[str, Any]:
    caller = _caller(remote, authorization)
    algorithm = _str(body, "key_algorithm", required=False) or KeyAlgorithm.EC_P256.value
    if algorithm not in _KEY_ALGOS:
        raise CscError(f"key_algorithm must be one of {', '.join(_KEY_ALGOS)}")
    if remote.pki is None:
        raise CscError("this server has no CA to certify remote keys (--pki)",
                       code="server_error", status=400)
    user_handle = secrets.token_bytes(16)
    options, fido_state = remote.relying_party.register_begin(user_handle=user_handle,
                                                              user_name=caller.user)
    enrolment_id = remote.state().begin_enrolment(
        caller.tenant, {"user": caller.user, "key_algorithm": algorithm, "fido": fido_state,
                        "options": options}, lifetime=_ENROL_LIFETIME)
    return {"enrolment_id": enrolment_id, "enroll_url": f"/remote/enroll/{enrolment_id}",
            **options}


def _enrol_complete(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
                    ) -> dict[str, Any]:
    caller = _caller(remote, authorization)
    enrolment = remote.state().take_enrolment(_str(body, "enrolment_id") or "",
                                              tenant=caller.tenant, user=caller.user)
    return finish_enrolment(remote, caller, enrolment, body.get("credential"))


def finish_enrolment(remote: RemoteSigning, caller: AccessToken, enrolment: dict[str, Any],
                     response: object) -> dict[str, Any]:
    """Register the passkey, make the key in the token, certify it, store the credential."""
    from samples.pki import Holder, SamplePki

    state = remote.state()
    if not isinstance(response, dict):
        raise CscError("Missing credential (the WebAuthn registration response)")
    passkey = remote.relying_party.register_complete(enrolment["fido"], response)
    credential_id = "rc-" + secrets.token_urlsafe(12)
    label = f"{caller.tenant}/{caller.user}/{credential_id}"
    spki = remote.keystore.generate(label, KeyAlgorithm(enrolment["key_algorithm"]))
    assert remote.pki is not None
    pki = SamplePki.load(remote.pki)
    cert = pki.issue_end_entity(serialization.load_der_public_key(spki), kind="remote",
                                holder=Holder(name=caller.user), at=remote.clock.now())
    chain = pki.chain_for(cert)
    der = tuple(c.public_bytes(serialization.Encoding.DER) for c in [cert, *chain])
    state.add_credential(Credential(tenant=caller.tenant, user=caller.user,
                                    credential_id=credential_id, key_label=label,
                                    key_algorithm=enrolment["key_algorithm"],
                                    certificates=der, passkey=passkey))
    _audit(remote, AuditEvent.REMOTE_ENROL, caller, credential_id)
    return {"credentialID": credential_id,
            "certificates": [base64.b64encode(c).decode("ascii") for c in der]}


def _approval_create(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
                     ) -> dict[str, Any]:
    caller = _caller(remote, authorization)
    credential_id = _str(body, "credentialID") or ""
    remote.state().credential(caller, credential_id)
    algorithm = _hash_algorithm(body, DigestAlgorithm.SHA256)
    hashes = _hashes(body)
    AuthorisationRequest.of(credential_id=credential_id, hash_algorithm=algorithm,
                            hashes=hashes, nonce="checked", expires=remote.clock.now())
    name = _str(body, "document_name", required=False) or "(unnamed document)"
    approval_id, _, expires = remote.state().create_approval(caller, {
        "credential_id": credential_id, "hash_algorithm": algorithm.value,
        "hashes": [h.hex() for h in hashes], "document_name": name[:200]},
        lifetime=remote.sad_lifetime)
    return {"approval_id": approval_id, "approve_url": f"/remote/approve/{approval_id}",
            "expires": format_time(expires)}


def _approval_check(remote: RemoteSigning, body: dict[str, Any], authorization: str | None
                    ) -> dict[str, Any]:
    caller = _caller(remote, authorization)
    sad, expires = remote.state().take_approved_sad(caller, _str(body, "approval_id") or "")
    return {"SAD": sad, "expiresIn": int((expires - remote.clock.now()).total_seconds())}


# --- routes ---------------------------------------------------------------------------------


@router.post("/info", summary="Service information (CSC v2 §11.1)")
async def info(request: Request) -> JSONResponse:
    algos_ = sorted({oid for oids in _KEY_ALGOS.values() for oid in oids})
    return JSONResponse({
        "specs": "2.0.0.2", "name": "ltv remote signing", "logo": "", "region": "JP",
        "lang": "en-US", "description": "Keys in a PKCS#11 token; every signature authorised by "
        "the user's FIDO2 passkey over the exact hashes (SCAL2-functional, SAD verified in "
        "software)", "authType": ["basic"],
        "methods": ["auth/login", "credentials/list", "credentials/info",
                    "credentials/getChallenge", "credentials/authorize", "signatures/signHash"],
        "signAlgorithms": {"algos": algos_}})


def _route(path: str, handler: Handler, summary: str) -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return await _answer(request, handler)

    endpoint.__name__ = "csc_" + path.replace("/", "_")
    router.add_api_route(f"/{path}", endpoint, methods=["POST"], summary=summary)


_route("auth/login", _login, "API key (Basic USER:KEY) -> access token")
_route("credentials/list", _list, "The caller's credentials")
_route("credentials/info", _info, "Key, certificates and authorisation mode of a credential")
_route("credentials/getChallenge", _get_challenge,
       "WebAuthn request options, the challenge derived from the hashes")
_route("credentials/authorize", _authorize, "FIDO2 assertion -> SAD bound to the hashes")
_route("signatures/signHash", _sign_hash, "Sign hashes covered by a SAD")
_route("ltv/enroll/begin", _enrol_begin, "Start enrolment: WebAuthn creation options")
_route("ltv/approvals", _approval_create,
       "A pending approval: the user approves the hashes on /remote/approve/{id}")
_route("ltv/approvals/check", _approval_check, "The SAD of an approved request (once)")
_route("ltv/enroll/complete", _enrol_complete,
       "Finish enrolment: passkey registered, key made in the token, certificate issued")
