"""Helpers for the CSC tests: enrol a user with a software passkey, build authorize bodies."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx

from ltv.online.csc import CscClient
from samples.passkey import SoftPasskey

ORIGIN = "http://localhost"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def enroll(base: str, api_key: str, user: str, directory: Path, *,
           key_algorithm: str = "p256") -> tuple[CscClient, SoftPasskey, str]:
    client = CscClient(base)
    client.login(user, api_key)
    options = client.call("ltv/enroll/begin", {"key_algorithm": key_algorithm})
    enrolment_id = options.pop("enrolment_id")
    passkey, response = SoftPasskey.create(directory, options, origin=ORIGIN)
    answer = client.call("ltv/enroll/complete", {"enrolment_id": enrolment_id,
                                                 "credential": response})
    return client, passkey, str(answer["credentialID"])


def authorize_body(client: CscClient, credential_id: str, challenge_hashes: list[bytes],
                   passkey: Any, *, hashes: list[bytes] | None = None,
                   **assertion: Any) -> dict[str, Any]:
    """getChallenge for ``challenge_hashes``, the passkey's assertion (``assertion`` makes it
    misbehave), and the authorize body naming ``hashes`` (default: the same)."""
    options = client.call("credentials/getChallenge", {
        "credentialID": credential_id, "hashes": [b64(h) for h in challenge_hashes],
        "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1"})
    credential = passkey.get({"publicKey": options["publicKey"]}, **assertion)
    value = base64.urlsafe_b64encode(json.dumps(
        {"nonce": options["nonce"], "credential": credential}).encode()).decode().rstrip("=")
    listed = hashes if hashes is not None else challenge_hashes
    return {"credentialID": credential_id, "numSignatures": len(listed),
            "hashes": [b64(h) for h in listed], "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
            "authData": [{"id": "FIDO2", "value": value}]}


def post(base: str, method: str, body: dict[str, Any], token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{base}/csc/v2/{method}", json=body, headers=headers, timeout=30)


def assert_csc_error(response: httpx.Response, status: int, error: str,
                     description: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    assert description in body["error_description"], body
    assert "Traceback" not in response.text
