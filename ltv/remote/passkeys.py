"""WebAuthn on the server (W3C WebAuthn Level 2 §7), through Yubico's ``fido2`` package.

Registration requires user verification and accepts attestation "none" (an open enrolment: the
passkey proves possession, the enrolling tenant vouches for the user). An assertion is accepted
only with: type ``webauthn.get``, an allowed origin, the RP ID's hash, UP and UV set, the
challenge given by the caller (:mod:`.binding`), a signature by the registered credential key,
and a signature counter above the stored one (§6.1.1: a counter that does not increase betrays a
cloned authenticator; a counter that stays 0 is allowed, as many passkeys never count).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import (
    AttestationConveyancePreference,
    AttestedCredentialData,
    AuthenticationResponse,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
    UserVerificationRequirement,
)

from ltv.errors import InputError

__all__ = ["Passkey", "PasskeyError", "RelyingParty", "decode_b64url"]


class PasskeyError(InputError):
    """A registration or assertion that does not verify."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Passkey:
    """A registered credential: id, COSE public key (as AttestedCredentialData bytes), counter."""

    credential_id: bytes
    attested: bytes
    counter: int

    def credential_data(self) -> AttestedCredentialData:
        return AttestedCredentialData(self.attested)


def _json(options: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(dict(options)))
    return out


class RelyingParty:
    """One WebAuthn relying party: its RP ID and the exact origins it accepts."""

    def __init__(self, *, rp_id: str, origins: Sequence[str], name: str = "ltv remote signing"):
        self.rp_id = rp_id
        self.origins = frozenset(origins)
        self._server = Fido2Server(PublicKeyCredentialRpEntity(id=rp_id, name=name),
                                   attestation=AttestationConveyancePreference.NONE,
                                   verify_origin=self.origins.__contains__)

    def register_begin(self, *, user_handle: bytes, user_name: str
                       ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Browser-ready creation options, and the state the server keeps."""
        options, state = self._server.register_begin(
            PublicKeyCredentialUserEntity(id=user_handle, name=user_name, display_name=user_name),
            user_verification=UserVerificationRequirement.REQUIRED)
        return _json(options), dict(state)

    def register_complete(self, state: Mapping[str, Any], response: Mapping[str, Any]) -> Passkey:
        try:
            auth_data = self._server.register_complete(dict(state), dict(response))
        except Exception as exc:  # any parse or check failure of client data is a refusal
            raise PasskeyError(f"passkey registration refused: {exc}") from exc
        if not auth_data.is_user_verified() or auth_data.credential_data is None:
            raise PasskeyError("passkey registration refused: user not verified")
        cred = auth_data.credential_data
        return Passkey(credential_id=bytes(cred.credential_id), attested=bytes(cred),
                       counter=auth_data.counter)

    def request_options(self, passkey: Passkey, challenge: bytes) -> dict[str, Any]:
        """``navigator.credentials.get`` options for this passkey and challenge."""
        return {"publicKey": {
            "challenge": websafe_encode(challenge), "rpId": self.rp_id, "timeout": 300_000,
            "userVerification": "required",
            "allowCredentials": [_json(PublicKeyCredentialDescriptor(
                type=PublicKeyCredentialType.PUBLIC_KEY, id=passkey.credential_id))],
        }}

    def verify_assertion(self, passkey: Passkey, challenge: bytes,
                         response: Mapping[str, Any]) -> int:
        """Check an assertion over ``challenge``; the new signature counter."""
        state = {"challenge": websafe_encode(challenge),
                 "user_verification": UserVerificationRequirement.REQUIRED}
        try:
            parsed = AuthenticationResponse.from_dict(dict(response))
            if bytes(parsed.raw_id) != passkey.credential_id:
                raise PasskeyError("the assertion is from another credential")
            self._server.authenticate_complete(state, [passkey.credential_data()], parsed)
        except PasskeyError:
            raise
        except Exception as exc:  # any parse or check failure of client data is a refusal
            raise PasskeyError(f"the assertion does not verify: {exc}") from exc
        counter = int(parsed.response.authenticator_data.counter)
        if (counter != 0 or passkey.counter != 0) and counter <= passkey.counter:
            raise PasskeyError(f"the signature counter went from {passkey.counter} to {counter}: "
                               "a cloned authenticator?")
        return counter


def decode_b64url(value: str) -> bytes:
    try:
        return websafe_decode(value)
    except (ValueError, TypeError) as exc:
        raise InputError("not base64url") from exc
