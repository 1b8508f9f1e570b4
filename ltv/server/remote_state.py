"""Remote-signing state in the object store, so that every replica sees the same and each
one-time thing is consumed exactly once (compare-and-delete on the etag)::

    _mutable/remote/tokens/<sha256(token)>.json          access token -> tenant, user, expiry
    _mutable/remote/<tenant>/<user>/credentials/<id>.json credential: key label, certificates,
                                                          passkey, signature counter (CAS)
    _mutable/remote/enrolments/<sha256(id)>.json          WebAuthn registration state, tenant
    _mutable/remote/<tenant>/nonces/<nonce>.json          getChallenge nonce (single use)
    _mutable/remote/<tenant>/sad/<sha256(SAD)>.json       SAD: hashes still allowed, expiry

    _mutable/remote/approvals/<sha256(id)>.json           approval page request (+ its SAD)

Secrets (tokens, SADs) are stored by hash only. Every consume reads the object, checks it, and
deletes or replaces it under its etag: of two replicas racing, one wins, the other sees "used".
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from archive.errors import ObjectNotFoundError
from archive.store import ObjectStore
from ltv.algorithms import DigestAlgorithm
from ltv.clock import Clock, format_time, parse_time
from ltv.errors import InputError
from ltv.remote.passkeys import Passkey

__all__ = ["AccessToken", "Credential", "RemoteState", "Sad", "StateError", "valid_user"]

_ROOT = "_mutable/remote/"
_USER = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_ID = re.compile(r"^[A-Za-z0-9_-]{8,100}$")


class StateError(InputError):
    """Unknown, used, expired or foreign: ``code`` is the CSC error, ``status`` its HTTP code."""

    def __init__(self, message: str, *, code: str = "invalid_request", status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


def valid_user(user: str) -> str:
    if not _USER.match(user):
        raise StateError("a user name is 1-63 of a-z 0-9 . _ - (starting with a letter or digit)")
    return user


def _h(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessToken:
    tenant: str
    user: str
    expires: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """A user's remote signing credential (CSC ``credentialID``)."""

    tenant: str
    user: str
    credential_id: str
    key_label: str
    key_algorithm: str  # ltv.remote.pkcs11_keys.KeyAlgorithm value
    certificates: tuple[bytes, ...]  # DER, signer first
    passkey: Passkey

    def to_json(self) -> dict[str, Any]:
        return {"schema": "ltv.remote-credential/1", "tenant": self.tenant, "user": self.user,
                "credential_id": self.credential_id, "key_label": self.key_label,
                "key_algorithm": self.key_algorithm,
                "certificates": [_b64(c) for c in self.certificates],
                "passkey": {"credential_id": _b64(self.passkey.credential_id),
                            "attested": _b64(self.passkey.attested),
                            "counter": self.passkey.counter}}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Credential:
        pk = obj["passkey"]
        return cls(tenant=obj["tenant"], user=obj["user"], credential_id=obj["credential_id"],
                   key_label=obj["key_label"], key_algorithm=obj["key_algorithm"],
                   certificates=tuple(base64.b64decode(c) for c in obj["certificates"]),
                   passkey=Passkey(credential_id=base64.b64decode(pk["credential_id"]),
                                   attested=base64.b64decode(pk["attested"]),
                                   counter=int(pk["counter"])))


@dataclass(frozen=True, slots=True, kw_only=True)
class Sad:
    """Signature Activation Data: which hashes one credential may still sign, until when."""

    credential_id: str
    user: str
    hash_algorithm: DigestAlgorithm
    hashes: frozenset[bytes]
    expires: datetime


def _expiring(rest: str) -> bool:
    """Is ``rest`` (a key below ``_mutable/remote/``) a token, enrolment, approval, nonce or
    SAD? Told apart by depth, so no tenant or user name can make a credential look like one."""
    parts = rest.split("/")
    if len(parts) == 2:
        return parts[0] in ("tokens", "enrolments", "approvals")
    return len(parts) == 3 and parts[1] in ("nonces", "sad")


class RemoteState:
    """Tokens, credentials, nonces, SADs of all tenants in one object store."""

    def __init__(self, store: ObjectStore, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # --- small helpers ------------------------------------------------------------------------

    def _read(self, key: str) -> tuple[dict[str, Any], str] | None:
        try:
            obj = self._store.read_mutable(key)
        except ObjectNotFoundError:
            return None
        data: dict[str, Any] = json.loads(obj.data)
        return data, obj.etag

    def _create(self, key: str, body: dict[str, Any]) -> None:
        if self._store.create_exclusive(key, json.dumps(body, sort_keys=True).encode()) is None:
            raise StateError("identifier collision; try again")

    def _expired(self, body: dict[str, Any]) -> bool:
        return self._clock.now() >= parse_time(body["expires"])

    # --- housekeeping -------------------------------------------------------------------------

    def purge_expired(self) -> int:
        """Delete every expired token, enrolment, approval, nonce and SAD (credentials stay):
        the number deleted. Each object is deleted under the etag it was read with, so one
        that a request is consuming meanwhile is left to that request."""
        removed = 0
        for info in list(self._store.list(_ROOT)):
            if not _expiring(info.key[len(_ROOT):]):
                continue
            try:
                found = self._read(info.key)
            except ValueError:  # not JSON: not ours to judge here
                continue
            if found is None or "expires" not in found[0]:
                continue
            body, etag = found
            if self._expired(body) and self._store.delete_if(info.key, etag=etag):
                removed += 1
        return removed

    # --- access tokens (auth/login) -----------------------------------------------------------

    def issue_token(self, tenant: str, user: str, *, lifetime: timedelta) -> tuple[str, int]:
        token = "csc_" + secrets.token_urlsafe(32)
        expires = self._clock.now() + lifetime
        self._create(f"{_ROOT}tokens/{_h(token)}.json",
                     {"tenant": tenant, "user": user, "expires": format_time(expires)})
        return token, int(lifetime.total_seconds())

    def token(self, authorization: str | None) -> AccessToken:
        """The caller of a CSC request, from ``Authorization: Bearer TOKEN`` (401 otherwise)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.startswith("csc_") or len(token) > 200:
            raise StateError("missing or malformed access token", code="invalid_token",
                             status=401)
        found = self._read(f"{_ROOT}tokens/{_h(token.strip())}.json")
        if found is None or self._expired(found[0]):
            raise StateError("unknown or expired access token", code="invalid_token",
                             status=401)
        body = found[0]
        return AccessToken(tenant=body["tenant"], user=body["user"],
                           expires=parse_time(body["expires"]))

    # --- enrolments ---------------------------------------------------------------------------

    def begin_enrolment(self, tenant: str, body: dict[str, Any], *, lifetime: timedelta) -> str:
        """A pending enrolment; its id is also the capability of /remote/enroll/{id}."""
        enrolment_id = "en_" + secrets.token_urlsafe(24)
        expires = self._clock.now() + lifetime
        self._create(f"{_ROOT}enrolments/{_h(enrolment_id)}.json",
                     {**body, "tenant": tenant, "expires": format_time(expires)})
        return enrolment_id

    def enrolment(self, enrolment_id: object) -> dict[str, Any]:
        """A pending enrolment (not consumed)."""
        return self._enrolment(enrolment_id)[0]

    def _enrolment(self, enrolment_id: object) -> tuple[dict[str, Any], str]:
        if not isinstance(enrolment_id, str) or not enrolment_id.startswith("en_") \
                or len(enrolment_id) > 100:
            raise StateError("unknown or used enrolment")
        found = self._read(f"{_ROOT}enrolments/{_h(enrolment_id)}.json")
        if found is None:
            raise StateError("unknown or used enrolment")
        if self._expired(found[0]):
            raise StateError("the enrolment expired")
        return found

    def take_enrolment(self, enrolment_id: object, *, tenant: str | None = None,
                       user: str | None = None) -> dict[str, Any]:
        """The enrolment's state, deleted (single use); ``tenant``/``user`` must match if
        given (the API path), the page path carries the capability id only."""
        body, etag = self._enrolment(enrolment_id)
        if (tenant is not None and body["tenant"] != tenant) \
                or (user is not None and body["user"] != user):
            raise StateError("unknown or used enrolment")
        if not self._store.delete_if(f"{_ROOT}enrolments/{_h(str(enrolment_id))}.json",
                                     etag=etag):
            raise StateError("unknown or used enrolment")
        return body

    # --- credentials --------------------------------------------------------------------------

    def _credential_key(self, tenant: str, user: str, credential_id: str) -> str:
        if not _ID.match(credential_id):
            raise StateError("Invalid parameter credentialID")
        return f"{_ROOT}{tenant}/{user}/credentials/{credential_id}.json"

    def add_credential(self, credential: Credential) -> None:
        self._create(self._credential_key(credential.tenant, credential.user,
                                          credential.credential_id), credential.to_json())

    def credential(self, caller: AccessToken, credential_id: str) -> tuple[Credential, str]:
        """The caller's own credential and its etag; another user's id is simply unknown."""
        found = self._read(self._credential_key(caller.tenant, caller.user, credential_id))
        if found is None:
            raise StateError("Invalid parameter credentialID")
        return Credential.from_json(found[0]), found[1]

    def tenant_credential(self, tenant: str, credential_id: str) -> Credential:
        """A credential of any user of ``tenant`` (API signing sessions name it by id alone);
        another tenant's id, or a malformed one, is unknown."""
        if not _ID.match(credential_id):
            raise StateError("unknown remote credential")
        suffix = f"/credentials/{credential_id}.json"
        for info in self._store.list(f"{_ROOT}{tenant}/"):
            if info.key.endswith(suffix) and info.key.count("/") == _ROOT.count("/") + 3:
                found = self._read(info.key)
                if found is not None:
                    return Credential.from_json(found[0])
        raise StateError("unknown remote credential")

    def credentials(self, caller: AccessToken) -> list[str]:
        prefix = f"{_ROOT}{caller.tenant}/{caller.user}/credentials/"
        return sorted(info.key[len(prefix):-len(".json")]
                      for info in self._store.list(prefix) if info.key.endswith(".json"))

    def advance_counter(self, credential: Credential, etag: str, counter: int) -> None:
        """Store the new signature counter, only if nobody else moved it meanwhile."""
        from dataclasses import replace

        updated = replace(credential, passkey=replace(credential.passkey, counter=counter))
        key = self._credential_key(credential.tenant, credential.user, credential.credential_id)
        if self._store.replace_if(key, json.dumps(updated.to_json(), sort_keys=True).encode(),
                                  etag=etag) is None:
            raise StateError("the passkey was used concurrently; try again",
                             code="invalid_authentication_data")

    # --- nonces (getChallenge) ----------------------------------------------------------------

    def issue_nonce(self, caller: AccessToken, credential_id: str, *,
                    lifetime: timedelta) -> tuple[str, datetime]:
        nonce = secrets.token_urlsafe(24)
        # whole seconds: the expiry is part of the challenge, and travels as text
        expires = (self._clock.now() + lifetime).replace(microsecond=0)
        self._create(f"{_ROOT}{caller.tenant}/nonces/{nonce}.json",
                     {"user": caller.user, "credential_id": credential_id,
                      "expires": format_time(expires)})
        return nonce, expires

    def consume_nonce(self, caller: AccessToken, credential_id: str, nonce: object) -> datetime:
        """The nonce's expiry; the nonce is gone afterwards, whatever the outcome."""
        if not isinstance(nonce, str) or not _ID.match(nonce):
            raise StateError("malformed challenge nonce", code="invalid_authentication_data")
        key = f"{_ROOT}{caller.tenant}/nonces/{nonce}.json"
        found = self._read(key)
        if found is None or not self._store.delete_if(key, etag=found[1]):
            raise StateError("unknown or already used challenge nonce",
                             code="invalid_authentication_data")
        body = found[0]
        if body["user"] != caller.user or body["credential_id"] != credential_id:
            raise StateError("the challenge nonce was issued for another credential",
                             code="invalid_authentication_data")
        if self._expired(body):
            raise StateError("the challenge nonce expired", code="invalid_authentication_data")
        return parse_time(body["expires"])

    # --- approvals (the /remote/approve/{id} web page) -----------------------------------------

    def create_approval(self, caller: AccessToken, body: dict[str, Any], *,
                        lifetime: timedelta) -> tuple[str, str, datetime]:
        """A pending approval (its id is the capability the page URL carries) with its own
        challenge nonce: (approval id, nonce, nonce expiry)."""
        nonce, expires = self.issue_nonce(caller, body["credential_id"], lifetime=lifetime)
        approval_id = "ap_" + secrets.token_urlsafe(24)
        self._create(f"{_ROOT}approvals/{_h(approval_id)}.json", {
            **body, "tenant": caller.tenant, "user": caller.user, "nonce": nonce,
            "nonce_expires": format_time(expires), "expires": format_time(expires),
            "sad": None})
        return approval_id, nonce, expires

    def approval(self, approval_id: str) -> tuple[dict[str, Any], str]:
        if not isinstance(approval_id, str) or not approval_id.startswith("ap_") \
                or len(approval_id) > 100:
            raise StateError("unknown approval request")
        found = self._read(f"{_ROOT}approvals/{_h(approval_id)}.json")
        if found is None or self._expired(found[0]):
            raise StateError("unknown or expired approval request")
        return found

    def approve(self, approval_id: str, etag: str, sad: str, sad_expires: datetime) -> None:
        body, _ = self.approval(approval_id)
        done = self._store.replace_if(
            f"{_ROOT}approvals/{_h(approval_id)}.json",
            json.dumps({**body, "sad": sad, "sad_expires": format_time(sad_expires)},
                       sort_keys=True).encode(), etag=etag)
        if done is None:
            raise StateError("the approval request changed meanwhile")

    def take_approved_sad(self, caller: AccessToken, approval_id: str) -> tuple[str, datetime]:
        """The SAD of an approved request, once (the request is deleted)."""
        body, etag = self.approval(approval_id)
        if body["tenant"] != caller.tenant or body["user"] != caller.user:
            raise StateError("unknown approval request")
        if body.get("sad") is None:
            raise StateError("not approved (yet)", code="authorization_pending")
        if not self._store.delete_if(f"{_ROOT}approvals/{_h(approval_id)}.json", etag=etag):
            raise StateError("unknown approval request")
        return str(body["sad"]), parse_time(body["sad_expires"])

    # --- SAD ----------------------------------------------------------------------------------

    def issue_sad(self, caller: AccessToken, sad: Sad) -> str:
        value = "sad_" + secrets.token_urlsafe(32)
        self._create(f"{_ROOT}{caller.tenant}/sad/{_h(value)}.json", {
            "user": sad.user, "credential_id": sad.credential_id,
            "hash_algorithm": sad.hash_algorithm.value,
            "hashes": sorted(h.hex() for h in sad.hashes), "expires": format_time(sad.expires)})
        return value

    def consume_sad(self, caller: AccessToken, value: str, *, credential_id: str,
                    hash_algorithm: DigestAlgorithm, hashes: list[bytes]) -> None:
        """Spend ``hashes`` of the SAD ``value``: each must be covered; the SAD keeps the rest
        (deleted when none is left). Refuses an unknown, used, expired or foreign SAD."""
        if not isinstance(value, str) or not value.startswith("sad_") or len(value) > 200:
            raise StateError("Invalid parameter SAD")
        key = f"{_ROOT}{caller.tenant}/sad/{_h(value)}.json"
        found = self._read(key)
        if found is None:
            raise StateError("Invalid parameter SAD")
        body, etag = found
        if body["user"] != caller.user or body["credential_id"] != credential_id:
            raise StateError("Invalid parameter SAD")
        if self._expired(body):
            self._store.delete_if(key, etag=etag)
            raise StateError("SAD expired")
        if body["hash_algorithm"] != hash_algorithm.value:
            raise StateError("the SAD was issued for another hash algorithm")
        allowed = set(body["hashes"])
        wanted = [h.hex() for h in hashes]
        if len(set(wanted)) != len(wanted) or not set(wanted) <= allowed:
            raise StateError("Hash is not authorized by the SAD")
        left = sorted(allowed - set(wanted))
        if left:
            done = self._store.replace_if(
                key, json.dumps({**body, "hashes": left}, sort_keys=True).encode(), etag=etag)
            if done is None:
                raise StateError("Invalid parameter SAD")  # another replica spent it meanwhile
        elif not self._store.delete_if(key, etag=etag):
            raise StateError("Invalid parameter SAD")
