"""The enrolment page ``/remote/enroll/{id}`` (``navigator.credentials.create``) and the approval
web page, ``/remote/approve/{id}``: the user sees the document's name, its hash
and the signer, and approves with their passkey (``navigator.credentials.get``); the server
verifies the assertion over the challenge derived from exactly those hashes and parks the SAD
for the requester (``/csc/v2/ltv/approvals/check``).

The approval id is an unguessable capability (``ap_`` + 24 random bytes): the page needs no
login, but it can only approve the hashes the requester named, with the user's own passkey.

Both pages speak the language of ``Accept-Language`` (Japanese or English, catalog domain
"server"); their scripts read the status words from the page (``data-*`` of ``<body>``).
"""

from __future__ import annotations

import html
import json
from typing import Any

from cryptography import x509
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ltv.algorithms import DigestAlgorithm
from ltv.errors import InputError
from ltv.i18n import N_, translate
from ltv.remote.binding import AuthorisationRequest
from ltv.remote.passkeys import PasskeyError
from ltv.server.csc_errors import CSC_ERRORS, csc_error, csc_error_for
from ltv.server.remote_state import AccessToken, StateError

__all__ = ["router"]

router = APIRouter(prefix="/remote", tags=["remote signing approval page"])

_CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; "
        "style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

# The head both pages share (a str.format template: braces of the stylesheet doubled).
_HEAD = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>ltv — {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}}
code{{word-break:break-all}} button{{font-size:1.2em;padding:.5em 1.5em}}
#status.ok{{color:#fff;background:#1a7f37;padding:.3em}}
#status.refused{{color:#fff;background:#b42318;padding:.3em}}</style></head>
"""

_PAGE = _HEAD + """<body data-approval="{approval}" data-waiting="{waiting}"
 data-approved="{approved}" data-refused="{refused}">
<h1>{heading}</h1>
<p>{document_label} <strong id="document">{document}</strong></p>
<p>{signer_label} <span id="signer">{signer}</span></p>
<p>{hashes_label}</p><ul id="hashes">{hashes}</ul>
<p>{note}</p>
<button id="approve" type="button">{button}</button>
<p id="status" role="status"></p>
<script src="/remote/approve.js"></script>
</body></html>
"""

# The pages' words (English here, Japanese from the "server" catalog)
_APPROVE_TEXTS = {
    "title": N_("approve a signature"), "heading": N_("Approve a signature"),
    "document_label": N_("Document:"), "signer_label": N_("Signer:"),
    "note": N_("Approving makes your passkey sign exactly these hashes, once, within five "
               "minutes."),
    "button": N_("Approve with passkey"), "waiting": N_("waiting for the passkey…"),
    "approved": N_("approved"), "refused": N_("refused: "),
}
_HASH_ONE = N_("{algorithm} hash:")
_HASH_MANY = N_("{algorithm} hashes:")
_ENROL_TEXTS = {
    "title": N_("create your signing passkey"), "heading": N_("Create your signing passkey"),
    "user_label": N_("User:"),
    "button": N_("Create passkey"), "waiting": N_("waiting for the authenticator…"),
    "enrolled": N_("enrolled"), "refused": N_("refused: "),
}
_ENROL_NOTE = N_("Your signing key ({algorithm}) will be made inside the service's HSM; this "
                 "passkey will be the only way to approve signatures with it.")


def _words(request: Request, texts: dict[str, str]) -> tuple[str, dict[str, str]]:
    """(language, the texts in it, HTML-escaped) for this request's ``Accept-Language``."""
    from ltv.server.problems import request_language

    lang = request_language(request)
    return lang, {key: html.escape(translate(text, lang, "server"))
                  for key, text in texts.items()}


def _page_headers(lang: str) -> dict[str, str]:
    return {"Content-Security-Policy": _CSP, "Cache-Control": "no-store",
            "Content-Language": lang, "Vary": "Accept-Language"}

# base64url to and from bytes, for both pages' scripts
_B64U = """const fromB64u = (s) => Uint8Array.from(
  atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)),
  (c) => c.charCodeAt(0));
const toB64u = (b) => btoa(String.fromCharCode(...new Uint8Array(b)))
  .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
"""

_SCRIPT = """'use strict';
const approvalId = document.body.dataset.approval;
""" + _B64U + """async function approve() {
  const status = document.getElementById('status');
  const words = document.body.dataset;
  status.textContent = words.waiting;
  status.className = '';
  try {
    const got = await fetch(`/remote/approve/${approvalId}/options`, {method: 'POST'});
    const options = await got.json();
    if (!got.ok) throw new Error(options.error_description);
    const pk = options.publicKey;
    pk.challenge = fromB64u(pk.challenge);
    pk.allowCredentials = pk.allowCredentials.map((c) => ({type: c.type, id: fromB64u(c.id)}));
    const cred = await navigator.credentials.get({publicKey: pk});
    const response = {
      clientDataJSON: toB64u(cred.response.clientDataJSON),
      authenticatorData: toB64u(cred.response.authenticatorData),
      signature: toB64u(cred.response.signature)};
    if (cred.response.userHandle) response.userHandle = toB64u(cred.response.userHandle);
    const sent = await fetch(`/remote/approve/${approvalId}`, {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({credential: {id: cred.id, rawId: toB64u(cred.rawId),
                                         type: cred.type, response}})});
    const answer = await sent.json();
    if (!sent.ok) throw new Error(answer.error_description);
    status.textContent = words.approved;
    status.className = 'ok';
  } catch (e) {
    status.textContent = words.refused + (e && e.message ? e.message : e);
    status.className = 'refused';
  }
}
document.getElementById('approve').addEventListener('click', approve);
"""


_ENROL_PAGE = _HEAD + """<body data-enrolment="{enrolment}" data-waiting="{waiting}"
 data-enrolled="{enrolled}" data-refused="{refused}">
<h1>{heading}</h1>
<p>{user_label} <strong id="user">{user}</strong></p>
<p>{note}</p>
<button id="enroll" type="button">{button}</button>
<p id="status" role="status"></p>
<p id="credential"></p>
<script src="/remote/enroll.js"></script>
</body></html>
"""

_ENROL_SCRIPT = """'use strict';
const enrolmentId = document.body.dataset.enrolment;
""" + _B64U + """async function enroll() {
  const status = document.getElementById('status');
  const words = document.body.dataset;
  status.textContent = words.waiting;
  status.className = '';
  try {
    const got = await fetch(`/remote/enroll/${enrolmentId}/options`, {method: 'POST'});
    const options = await got.json();
    if (!got.ok) throw new Error(options.error_description);
    const pk = options.publicKey;
    pk.challenge = fromB64u(pk.challenge);
    pk.user.id = fromB64u(pk.user.id);
    pk.excludeCredentials = (pk.excludeCredentials || []).map(
      (c) => ({type: c.type, id: fromB64u(c.id)}));
    const cred = await navigator.credentials.create({publicKey: pk});
    const sent = await fetch(`/remote/enroll/${enrolmentId}`, {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({credential: {id: cred.id, rawId: toB64u(cred.rawId), type: cred.type,
        response: {clientDataJSON: toB64u(cred.response.clientDataJSON),
                   attestationObject: toB64u(cred.response.attestationObject)}}})});
    const answer = await sent.json();
    if (!sent.ok) throw new Error(answer.error_description);
    status.textContent = words.enrolled;
    status.className = 'ok';
    document.getElementById('credential').textContent = answer.credentialID;
  } catch (e) {
    status.textContent = words.refused + (e && e.message ? e.message : e);
    status.className = 'refused';
  }
}
document.getElementById('enroll').addEventListener('click', enroll);
"""


def _load(request: Request, approval_id: str) -> tuple[Any, dict[str, Any], str]:
    remote = request.app.state.ltv_remote
    body, etag = remote.state().approval(approval_id)
    return remote, body, etag


def _caller(body: dict[str, Any]) -> AccessToken:
    from ltv.clock import parse_time

    return AccessToken(tenant=body["tenant"], user=body["user"],
                       expires=parse_time(body["expires"]))


@router.get("/approve.js", include_in_schema=False)
def script() -> Response:
    return Response(_SCRIPT, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


@router.get("/enroll.js", include_in_schema=False)
def enrol_script() -> Response:
    return Response(_ENROL_SCRIPT, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


@router.get("/enroll/{enrolment_id}", response_class=HTMLResponse,
            summary="The enrolment page: create the signing passkey in the browser")
async def enrol_page(request: Request, enrolment_id: str) -> Response:
    remote = request.app.state.ltv_remote
    try:
        body = await run_in_threadpool(remote.state().enrolment, enrolment_id)
    except StateError as exc:
        return HTMLResponse(f"<!doctype html><title>ltv</title><p>{html.escape(str(exc))}</p>",
                            status_code=404, headers={"Content-Security-Policy": _CSP})
    lang, words = _words(request, _ENROL_TEXTS)
    note = html.escape(translate(_ENROL_NOTE, lang, "server").format(
        algorithm=body["key_algorithm"]))
    text = _ENROL_PAGE.format(lang=lang, enrolment=html.escape(enrolment_id),
                              user=html.escape(body["user"]), note=note, **words)
    return HTMLResponse(text, headers=_page_headers(lang))


@router.post("/enroll/{enrolment_id}/options", summary="WebAuthn creation options")
async def enrol_options(request: Request, enrolment_id: str) -> JSONResponse:
    remote = request.app.state.ltv_remote
    try:
        body = await run_in_threadpool(remote.state().enrolment, enrolment_id)
    except StateError as exc:
        return csc_error(exc.status, exc.code, str(exc))
    return JSONResponse(body["options"])


@router.post("/enroll/{enrolment_id}", summary="The new passkey: finish enrolment")
async def enrol(request: Request, enrolment_id: str) -> JSONResponse:
    from ltv.server.routes_csc import finish_enrolment

    remote = request.app.state.ltv_remote
    try:
        raw = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return csc_error(400, "invalid_request", "the body must be JSON")

    def work() -> dict[str, Any]:
        body = remote.state().take_enrolment(enrolment_id)
        caller = _caller(body)
        return finish_enrolment(remote, caller, body,
                                raw.get("credential") if isinstance(raw, dict) else None)

    try:
        return JSONResponse(await run_in_threadpool(work))
    except CSC_ERRORS as exc:
        return csc_error_for(exc)


@router.get("/approve/{approval_id}", response_class=HTMLResponse,
            summary="The approval page (document name, hash, signer; passkey button)")
async def page(request: Request, approval_id: str) -> Response:
    try:
        remote, body, _ = await run_in_threadpool(_load, request, approval_id)
        credential, _ = await run_in_threadpool(remote.state().credential, _caller(body),
                                                body["credential_id"])
    except StateError as exc:
        return HTMLResponse(f"<!doctype html><title>ltv</title><p>{html.escape(str(exc))}</p>",
                            status_code=404, headers={"Content-Security-Policy": _CSP})
    signer = x509.load_der_x509_certificate(credential.certificates[0]).subject.rfc4514_string()
    hashes = "".join(f"<li><code>{h}</code></li>" for h in body["hashes"])
    lang, words = _words(request, _APPROVE_TEXTS)
    label = translate(_HASH_MANY if len(body["hashes"]) > 1 else _HASH_ONE, lang, "server")
    text = _PAGE.format(lang=lang, approval=html.escape(approval_id), document=html.escape(
        body["document_name"]), signer=html.escape(signer),
        hashes_label=html.escape(label.format(algorithm=body["hash_algorithm"].upper())),
        hashes=hashes, **words)
    return HTMLResponse(text, headers=_page_headers(lang))


@router.post("/approve/{approval_id}/options", summary="WebAuthn options for this approval")
async def options(request: Request, approval_id: str) -> JSONResponse:
    def work() -> dict[str, Any]:
        remote, body, _ = _load(request, approval_id)
        credential, _ = remote.state().credential(_caller(body), body["credential_id"])
        from ltv.clock import parse_time

        auth = AuthorisationRequest.of(
            credential_id=body["credential_id"],
            hash_algorithm=DigestAlgorithm(body["hash_algorithm"]),
            hashes=[bytes.fromhex(h) for h in body["hashes"]], nonce=body["nonce"],
            expires=parse_time(body["nonce_expires"]))
        out: dict[str, Any] = remote.relying_party.request_options(credential.passkey,
                                                                  auth.challenge())
        return out

    try:
        return JSONResponse(await run_in_threadpool(work))
    except StateError as exc:
        return csc_error(exc.status, exc.code, str(exc))


@router.post("/approve/{approval_id}", summary="The passkey's assertion: approve")
async def approve(request: Request, approval_id: str) -> JSONResponse:
    from ltv.server.routes_csc import grant

    try:
        raw = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return csc_error(400, "invalid_request", "the body must be JSON")

    def work() -> dict[str, Any]:
        remote, body, etag = _load(request, approval_id)
        if body.get("sad") is not None:
            raise StateError("already approved")
        caller = _caller(body)
        credential, cred_etag = remote.state().credential(caller, body["credential_id"])
        assertion = raw.get("credential") if isinstance(raw, dict) else None
        if not isinstance(assertion, dict):
            raise StateError("Missing credential (the WebAuthn assertion)")
        sad, sad_expires = grant(remote, caller, credential, cred_etag,
                                 DigestAlgorithm(body["hash_algorithm"]),
                                 [bytes.fromhex(h) for h in body["hashes"]], body["nonce"],
                                 assertion)
        remote.state().approve(approval_id, etag, sad, sad_expires)
        return {"status": "approved"}

    try:
        return JSONResponse(await run_in_threadpool(work))
    except (StateError, PasskeyError, InputError) as exc:
        return csc_error_for(exc)
