"""The approval page ``/remote/approve/{id}`` in headless Chromium with a DevTools virtual
authenticator (WebAuthn.addVirtualAuthenticator: ctap2, internal transport, resident key, user
verification) holding the user's passkey: the page shows document, hash and signer, the browser
asserts, the requester collects the SAD once and signHash signs exactly that hash."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import Page, browser
from conftest import free_port
from cryptography.hazmat.primitives import serialization
from csc_helpers import ORIGIN, assert_csc_error, b64, enroll, post
from server_helpers import served
from test_server_web import CHROMIUM

from archive.memory import MemoryStore
from ltv.algorithms import DigestAlgorithm, SignatureMechanism, verify_signature
from ltv.cli._services import build_services
from ltv.server.app import create_app
from ltv.server.routes_csc import install_remote_signing
from ltv.server.settings import ServerSettings
from ltv.server.tenants import add_tenant

SHA256 = DigestAlgorithm.SHA256


@contextlib.contextmanager
def _browser_with_authenticator(tmp_path: Path) -> Iterator[tuple[Page, str]]:
    """Headless Chromium with a DevTools virtual authenticator (ctap2, internal transport,
    resident keys, user verification): the page and the authenticator's id."""
    with browser(tmp_path, width=900, height=700) as page:
        page.send("WebAuthn.enable")
        authenticator = page.send("WebAuthn.addVirtualAuthenticator", options={
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
            "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True})["authenticatorId"]
        yield page, authenticator


def test_approval_page_with_chromium_virtual_authenticator(pki, pki_server, keystore,
                                                           tmp_path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    from conftest import SERVER_AT
    from server_helpers import MutableClock

    port = free_port()
    origin = f"http://localhost:{port}"
    store = MemoryStore()
    _, api_key = add_tenant(store, "acme")
    clock = MutableClock(SERVER_AT)
    settings = ServerSettings(pki=pki.directory, webauthn_rp_id="localhost",
                              webauthn_origins=(ORIGIN, origin))  # enrol here, approve there
    app = create_app(settings, store=store,
                     services=build_services(pki=pki.directory, clock=clock), clock=clock)
    install_remote_signing(app, settings, store=store, clock=clock, keystore=keystore)
    digest = hashlib.sha256(b"the contract the user reads").digest()
    with served(app, port) as base:
        client, passkey, cid = enroll(base, api_key, "sakura", tmp_path / "passkey")
        # the same passkey goes into the browser's virtual authenticator below
        assert json.loads((tmp_path / "passkey" / "passkey.json").read_text())["rp_id"] \
            == "localhost"
        approval = client.call("ltv/approvals", {
            "credentialID": cid, "hashes": [b64(digest)], "hashAlgorithmOID": SHA256.oid,
            "document_name": "売買契約書.pdf"})
        assert_csc_error(post(base, "ltv/approvals/check",
                              {"approval_id": approval["approval_id"]}, client.token),
                         400, "authorization_pending", "not approved (yet)")
        with _browser_with_authenticator(tmp_path) as (cdp, authenticator):
            cdp.send("WebAuthn.addCredential", authenticatorId=authenticator, credential={
                "credentialId": base64.b64encode(passkey.credential_id).decode(),
                "isResidentCredential": False, "rpId": "localhost",
                "privateKey": base64.b64encode(passkey.key.private_bytes(
                    serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption())).decode(),
                "signCount": passkey.counter})
            cdp.send("Page.navigate", url=f"{origin}{approval['approve_url']}")
            cdp.wait_for("document.readyState === 'complete' && "
                         "!!document.querySelector('#approve') && location.href")
            assert cdp.evaluate("document.getElementById('document').textContent") \
                == "売買契約書.pdf"
            assert digest.hex() in cdp.evaluate("document.getElementById('hashes')"
                                                ".textContent")
            assert "CN=RS" in cdp.evaluate("document.getElementById('signer').textContent")
            cdp.evaluate("document.getElementById('approve').click()")
            status = cdp.wait_for(
                "(() => { const t = document.getElementById('status').textContent;"
                " return /approved|refused/.test(t) ? t : ''; })()", timeout=60)
            assert status == "approved", (status, cdp.log.read_text()[-2000:])
            shot = cdp.send("Page.captureScreenshot", format="png")["data"]
        (tmp_path / "approve-page.png").write_bytes(base64.b64decode(shot))
        assert (tmp_path / "approve-page.png").read_bytes().startswith(b"\x89PNG")

        answer = client.call("ltv/approvals/check", {"approval_id": approval["approval_id"]})
        (value,) = client.sign_hashes(cid, answer["SAD"], SHA256, SignatureMechanism.ECDSA,
                                      [digest])
        verify_signature(client.certificates(cid)[0].public_key(), value,
                         mechanism=SignatureMechanism.ECDSA, digest_algorithm=SHA256,
                         digest=digest)
        # the approval is collected once, and the page cannot be approved again
        assert_csc_error(post(base, "ltv/approvals/check",
                              {"approval_id": approval["approval_id"]}, client.token),
                         400, "invalid_request", "unknown or expired approval request")


def test_registration_and_approval_both_in_the_browser(pki, pki_server, keystore,
                                                      tmp_path) -> None:
    """Nothing outside the browser holds the passkey: the virtual authenticator creates it on
    /remote/enroll/{id} and asserts with it on /remote/approve/{id}."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    from conftest import SERVER_AT
    from server_helpers import MutableClock

    from ltv.online.csc import CscClient

    port = free_port()
    origin = f"http://localhost:{port}"
    store = MemoryStore()
    _, api_key = add_tenant(store, "acme")
    clock = MutableClock(SERVER_AT)
    settings = ServerSettings(pki=pki.directory, webauthn_rp_id="localhost",
                              webauthn_origins=(origin,))
    app = create_app(settings, store=store,
                     services=build_services(pki=pki.directory, clock=clock), clock=clock)
    install_remote_signing(app, settings, store=store, clock=clock, keystore=keystore)
    digest = hashlib.sha256(b"read on the phone").digest()
    with served(app, port) as base:
        client = CscClient(base)
        client.login("ren", api_key)
        enrolment = client.call("ltv/enroll/begin", {"key_algorithm": "rsa2048"})
        with _browser_with_authenticator(tmp_path) as (cdp, authenticator):
            cdp.send("Page.navigate", url=f"{origin}{enrolment['enroll_url']}")
            cdp.wait_for("document.readyState === 'complete' && "
                         "!!document.querySelector('#enroll') && location.href")
            assert cdp.evaluate("document.getElementById('user').textContent") == "ren"
            cdp.evaluate("document.getElementById('enroll').click()")
            status = cdp.wait_for(
                "(() => { const t = document.getElementById('status').textContent;"
                " return /enrolled|refused/.test(t) ? t : ''; })()", timeout=60)
            assert status == "enrolled", (status, cdp.log.read_text()[-2000:])
            cid = cdp.evaluate("document.getElementById('credential').textContent")
            assert client.call("credentials/list")["credentialIDs"] == [cid]
            stored = cdp.send("WebAuthn.getCredentials",
                              authenticatorId=authenticator)["credentials"]
            assert len(stored) == 1  # the passkey lives in the authenticator only

            approval = client.call("ltv/approvals", {
                "credentialID": cid, "hashes": [b64(digest)],
                "document_name": "lease.pdf"})
            cdp.send("Page.navigate", url=f"{origin}{approval['approve_url']}")
            cdp.wait_for("document.readyState === 'complete' && "
                         "!!document.querySelector('#approve') && location.href")
            cdp.evaluate("document.getElementById('approve').click()")
            status = cdp.wait_for(
                "(() => { const t = document.getElementById('status').textContent;"
                " return /approved|refused/.test(t) ? t : ''; })()", timeout=60)
            assert status == "approved", (status, cdp.log.read_text()[-2000:])
        sad = client.call("ltv/approvals/check", {"approval_id": approval["approval_id"]})["SAD"]
        (value,) = client.sign_hashes(cid, sad, SHA256, SignatureMechanism.RSA_PKCS1V15,
                                      [digest])
        verify_signature(client.certificates(cid)[0].public_key(), value,
                         mechanism=SignatureMechanism.RSA_PKCS1V15, digest_algorithm=SHA256,
                         digest=digest)


def test_approval_refusals_without_browser(csc_server, tmp_path) -> None:
    import httpx

    client, passkey, cid = enroll(csc_server.base, csc_server.api_key, "kaede",
                                  tmp_path / "passkey")
    digest = hashlib.sha256(b"kaede").digest()
    approval = client.call("ltv/approvals", {"credentialID": cid, "hashes": [b64(digest)],
                                             "document_name": "<script>x</script>.pdf"})
    page = httpx.get(f"{csc_server.base}{approval['approve_url']}")
    assert page.status_code == 200
    assert "&lt;script&gt;x&lt;/script&gt;.pdf" in page.text  # the name is escaped
    assert "script-src 'self'" in page.headers["content-security-policy"]
    unknown = httpx.get(f"{csc_server.base}/remote/approve/ap_unknown")
    assert unknown.status_code == 404
    # an assertion made by the passkey for other hashes does not approve this request
    options = httpx.post(f"{csc_server.base}{approval['approve_url']}/options").json()
    wrong = dict(options["publicKey"], challenge=base64.urlsafe_b64encode(
        hashlib.sha256(b"other").digest()).decode().rstrip("="))
    refused = httpx.post(f"{csc_server.base}{approval['approve_url']}",
                         json={"credential": passkey.get({"publicKey": wrong})})
    assert_csc_error(refused, 400, "invalid_authentication_data", "Wrong challenge in response")
    # the nonce was spent by that attempt: a correct assertion now is refused too
    again = httpx.post(f"{csc_server.base}{approval['approve_url']}",
                       json={"credential": passkey.get(options)})
    assert_csc_error(again, 400, "invalid_authentication_data",
                     "unknown or already used challenge nonce")
    # another user's token cannot collect it
    other, _, _ = enroll(csc_server.base, csc_server.api_key, "momiji", tmp_path / "other")
    assert_csc_error(post(csc_server.base, "ltv/approvals/check",
                          {"approval_id": approval["approval_id"]}, other.token),
                     400, "invalid_request", "unknown approval request")
