"""A software passkey kept in a directory (``--passkey DIR``): the simulated phone's FIDO2
authenticator for tests and the demo. Never for production: its key is a file.

It answers ``navigator.credentials.create``/``get`` options with exactly the JSON a browser posts
(``PublicKeyCredential.toJSON()``), built from ``fido2``'s own classes and an ES256 key from
``cryptography``; "none" attestation; UP and UV set (as after a PIN or biometric). Files::

    DIR/key.pem        the credential's private key (0600)
    DIR/passkey.json   {credential_id, rp_id, user_handle, user_name, origin, counter}

The counter is written back after every assertion. Tests can misbehave on purpose with
:meth:`SoftPasskey.get`'s ``user_verified``, ``origin``, ``rp_id`` and ``counter`` arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

from ltv.errors import ConfigurationError, InputError
from ltv.files import write_atomic

__all__ = ["SoftPasskey"]

_FLAG = AuthenticatorData.FLAG
_AAGUID = bytes(16)


class SoftPasskey:
    """One ES256 credential in a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        try:
            state = json.loads((self.directory / "passkey.json").read_text(encoding="utf-8"))
            key = serialization.load_pem_private_key(
                (self.directory / "key.pem").read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"{directory}: not a passkey directory ({exc})") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"{directory}: the passkey key is not EC")
        self.key = key
        self.credential_id: bytes = websafe_decode(state["credential_id"])
        self.rp_id: str = state["rp_id"]
        self.user_handle: bytes = websafe_decode(state["user_handle"])
        self.origin: str = state["origin"]
        self.counter: int = int(state["counter"])
        self.user_name: str = str(state.get("user_name", ""))

    @classmethod
    def create(cls, directory: Path, options: dict[str, Any], *, origin: str) -> tuple[
            SoftPasskey, dict[str, Any]]:
        """Register: a new key for ``options`` (creation options); the passkey and the
        registration response to post."""
        pk = options["publicKey"]
        if not any(p.get("alg") == -7 for p in pk.get("pubKeyCredParams", [])):
            raise InputError("the relying party does not accept ES256")
        directory = Path(directory)
        if (directory / "passkey.json").exists():
            raise InputError(f"{directory} already holds a passkey")
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        credential_id = os.urandom(32)
        rp_id = pk["rp"]["id"]
        client_data = CollectedClientData.create(
            type=CollectedClientData.TYPE.CREATE, challenge=websafe_decode(pk["challenge"]),
            origin=origin)
        attested = AttestedCredentialData.create(
            _AAGUID, credential_id, ES256.from_cryptography_key(key.public_key()))  # type: ignore[no-untyped-call]
        auth_data = AuthenticatorData.create(
            hashlib.sha256(rp_id.encode()).digest(), _FLAG.UP | _FLAG.UV | _FLAG.AT, 1, attested)
        response = {
            "id": websafe_encode(credential_id), "rawId": websafe_encode(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "attestationObject": websafe_encode(
                    AttestationObject.create("none", auth_data, {})),
            },
        }
        write_atomic(directory / "key.pem", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()), mode=0o600)
        state = {"credential_id": websafe_encode(credential_id), "rp_id": rp_id,
                 "user_handle": pk["user"]["id"], "user_name": pk["user"]["name"],
                 "origin": origin, "counter": 1}
        write_atomic(directory / "passkey.json", json.dumps(state, indent=2).encode())
        return cls(directory), response

    def get(self, options: dict[str, Any], *, user_verified: bool = True,
            origin: str | None = None, rp_id: str | None = None,
            counter: int | None = None) -> dict[str, Any]:
        """Assert: the response to ``navigator.credentials.get(options)``."""
        pk = options["publicKey"]
        allowed = [websafe_decode(c["id"]) for c in pk.get("allowCredentials", [])]
        if allowed and self.credential_id not in allowed:
            raise InputError("this passkey is not among the allowed credentials")
        client_data = CollectedClientData.create(
            type=CollectedClientData.TYPE.GET, challenge=websafe_decode(pk["challenge"]),
            origin=origin or self.origin)
        if counter is None:
            self.counter += 1
            self._save()
            counter = self.counter
        flags = _FLAG.UP | (_FLAG.UV if user_verified else 0)
        auth_data = AuthenticatorData.create(
            hashlib.sha256((rp_id or pk.get("rpId") or self.rp_id).encode()).digest(),
            flags, counter)
        signature = self.key.sign(auth_data + client_data.hash, ec.ECDSA(hashes.SHA256()))
        return {
            "id": websafe_encode(self.credential_id), "rawId": websafe_encode(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": websafe_encode(client_data),
                         "authenticatorData": websafe_encode(auth_data),
                         "signature": websafe_encode(signature),
                         "userHandle": websafe_encode(self.user_handle)},
        }

    def _save(self) -> None:
        state = {"credential_id": websafe_encode(self.credential_id), "rp_id": self.rp_id,
                 "user_handle": websafe_encode(self.user_handle), "user_name": self.user_name,
                 "origin": self.origin, "counter": self.counter}
        write_atomic(self.directory / "passkey.json", json.dumps(state, indent=2).encode())
