"""A CSC API v2 client for ltv's own flows: enrolment and :class:`RemoteSigner` (a
:class:`~ltv.tbs.Signer` whose key is in a remote HSM, each signature approved by a passkey).

The passkey is any callable that answers WebAuthn options like ``navigator.credentials`` does
(the simulated phone's :class:`samples.passkey.SoftPasskey` in tests and the demo).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
from cryptography import x509

from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.errors import ServiceError, UnsupportedAlgorithmError
from ltv.tbs import DataToBeSigned

__all__ = ["Approver", "CscClient", "CscError", "RemoteSigner"]

#: ``navigator.credentials.get``: request options -> PublicKeyCredential JSON
Approver = Callable[[dict[str, Any]], dict[str, Any]]

_SIGN_ALGO = {
    (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA256): "1.2.840.113549.1.1.11",
    (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA384): "1.2.840.113549.1.1.12",
    (SignatureMechanism.RSA_PKCS1V15, DigestAlgorithm.SHA512): "1.2.840.113549.1.1.13",
    (SignatureMechanism.ECDSA, DigestAlgorithm.SHA256): "1.2.840.10045.4.3.2",
    (SignatureMechanism.ECDSA, DigestAlgorithm.SHA384): "1.2.840.10045.4.3.3",
    (SignatureMechanism.ECDSA, DigestAlgorithm.SHA512): "1.2.840.10045.4.3.4",
}


class CscError(ServiceError):
    """The CSC server refused: its ``error`` and ``error_description``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"remote signing server: {error}: {description} (HTTP {status})")
        self.status = status
        self.error = error


class CscClient:
    """Calls ``{base}/csc/v2/METHOD`` with JSON, with the access token once logged in."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)
        self.token: str | None = None

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, body: dict[str, Any] | None = None, *,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self._http.post(f"{self.base_url}/csc/v2/{method}", json=body or {},
                                       headers={**auth, **(headers or {})})
        except httpx.HTTPError as exc:
            raise ServiceError(f"remote signing server {self.base_url}: {exc}") from exc
        try:
            answer = response.json()
        except json.JSONDecodeError:
            answer = {}
        if response.status_code != 200 or not isinstance(answer, dict):
            answer = answer if isinstance(answer, dict) else {}
            raise CscError(response.status_code, str(answer.get("error", "error")),
                           str(answer.get("error_description", response.text[:200])))
        return answer

    def login(self, user: str, api_key: str) -> None:
        basic = base64.b64encode(f"{user}:{api_key}".encode()).decode("ascii")
        self.token = None
        self.token = str(self.call("auth/login", headers={"Authorization": f"Basic {basic}"})
                         ["access_token"])

    def authorize(self, credential_id: str, hash_algorithm: DigestAlgorithm,
                  hashes: list[bytes], approve: Approver) -> str:
        """getChallenge -> the passkey's assertion -> authorize: the SAD."""
        encoded = [base64.b64encode(h).decode("ascii") for h in hashes]
        options = self.call("credentials/getChallenge", {
            "credentialID": credential_id, "hashAlgorithmOID": hash_algorithm.oid,
            "hashes": encoded})
        assertion = approve({"publicKey": options["publicKey"]})
        value = base64.urlsafe_b64encode(json.dumps(
            {"nonce": options["nonce"], "credential": assertion}).encode()).decode().rstrip("=")
        answer = self.call("credentials/authorize", {
            "credentialID": credential_id, "numSignatures": len(hashes), "hashes": encoded,
            "hashAlgorithmOID": hash_algorithm.oid, "authData": [{"id": "FIDO2", "value": value}]})
        return str(answer["SAD"])

    def sign_hashes(self, credential_id: str, sad: str, hash_algorithm: DigestAlgorithm,
                    mechanism: SignatureMechanism, hashes: list[bytes]) -> list[bytes]:
        sign_algo = _SIGN_ALGO.get((mechanism, hash_algorithm))
        if sign_algo is None:
            raise UnsupportedAlgorithmError(
                f"remote signing does not offer {mechanism.value} with {hash_algorithm.value}")
        answer = self.call("signatures/signHash", {
            "credentialID": credential_id, "SAD": sad, "signAlgo": sign_algo,
            "hashAlgorithmOID": hash_algorithm.oid,
            "hashes": [base64.b64encode(h).decode("ascii") for h in hashes]})
        return [base64.b64decode(v) for v in answer["signatures"]]

    def certificates(self, credential_id: str) -> list[x509.Certificate]:
        info = self.call("credentials/info", {"credentialID": credential_id,
                                              "certificates": "chain"})
        return [x509.load_der_x509_certificate(base64.b64decode(c))
                for c in info["cert"]["certificates"]]


class RemoteSigner:
    """A :class:`~ltv.tbs.Signer` over a CSC credential: one authorisation per signature."""

    def __init__(self, client: CscClient, credential_id: str, approve: Approver) -> None:
        self.client = client
        self.credential_id = credential_id
        self.approve = approve

    def sign(self, tbs: DataToBeSigned) -> bytes:
        digest = tbs.digest()
        sad = self.client.authorize(self.credential_id, tbs.digest_algorithm, [digest],
                                    self.approve)
        (value,) = self.client.sign_hashes(self.credential_id, sad, tbs.digest_algorithm,
                                           tbs.mechanism, [digest])
        return value
