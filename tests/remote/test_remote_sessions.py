"""``POST /v1/signing-sessions`` naming a remote credential (issue #18 item 5): the server's HSM
key signs, the phone only approves with its passkey (``ltv phone approve``)."""

from __future__ import annotations

import base64
import json

import httpx
from conftest import ltv_cli
from csc_helpers import enroll

from ltv.server.tenants import add_tenant


def test_session_with_remote_credential_cades_b_lta(csc_server, pki, tmp_path) -> None:
    _, _, cid = enroll(csc_server.base, csc_server.api_key, "hanako", tmp_path / "passkey")
    auth = {"Authorization": f"Bearer {csc_server.api_key}"}
    created = httpx.post(f"{csc_server.base}/v1/signing-sessions", headers=auth, json={
        "document": base64.b64encode(b"remote session contract\n").decode(),
        "credential_id": cid, "format": "cades", "level": "B-LTA",
        "options": {"file_name": "contract.txt"}}, timeout=60)
    assert created.status_code == 201, created.text
    session = created.json()
    assert "data_to_be_signed" not in session
    assert session["approve_url"].startswith("/remote/approve/ap_")
    url = f"{csc_server.base}/v1/signing-sessions/{session['id']}/signature"
    early = httpx.post(url, headers=auth, json={}, timeout=60)
    assert early.status_code == 422
    assert early.json()["detail"] == "not approved (yet)"
    page = httpx.get(f"{csc_server.base}{session['approve_url']}")
    assert "contract.txt" in page.text
    assert base64.b64decode(session["digest"]).hex() in page.text
    approved = ltv_cli("phone", "approve", f"{csc_server.base}{session['approve_url']}",
                       "--passkey", tmp_path / "passkey")
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == "approved\n"
    finished = httpx.post(url, headers=auth, json={}, timeout=120)
    assert finished.status_code == 200, finished.text
    assert finished.headers["content-type"] == "application/pkcs7-mime"
    signed = tmp_path / "contract-signed.p7m"
    signed.write_bytes(finished.content)
    report = tmp_path / "report.json"
    checked = ltv_cli("validate", signed, "--trust", pki.directory / "root.pem",
                      "--json", report)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    body = json.loads(report.read_text())
    assert body["indication"] == "TOTAL-PASSED", body
    (sig,) = body["signatures"]
    assert sig["level"] == "B-LTA"
    assert sig["signer"]["key_kind"] == "remote"
    again = httpx.post(url, headers=auth, json={}, timeout=60)
    assert again.status_code == 409
    assert again.json()["type"].endswith("session-used")


def test_another_tenants_credential_is_not_found(csc_server, tmp_path) -> None:
    _, _, cid = enroll(csc_server.base, csc_server.api_key, "yuki", tmp_path / "passkey")
    _, other_key = add_tenant(csc_server.store, "globex")
    refused = httpx.post(f"{csc_server.base}/v1/signing-sessions",
                         headers={"Authorization": f"Bearer {other_key}"}, json={
                             "document": base64.b64encode(b"x").decode(),
                             "credential_id": cid, "format": "cades", "level": "B-B"})
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == f"no remote credential {cid!r}"
    both = httpx.post(f"{csc_server.base}/v1/signing-sessions",
                      headers={"Authorization": f"Bearer {csc_server.api_key}"}, json={
                          "document": base64.b64encode(b"x").decode(), "credential_id": cid,
                          "signer_chain": ["AAAA"], "format": "cades", "level": "B-B"})
    assert both.status_code == 422
    assert both.json()["detail"] == "give either signer_chain or credential_id"
