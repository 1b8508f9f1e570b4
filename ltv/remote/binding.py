"""The WebAuthn challenge of a signature authorisation, derived from exactly what will be signed.

CEN EN 419 241-1 SCAL2 asks that the Signature Activation Data link signer, key and DTBS/R. Our
link: the challenge the passkey signs is ::

    SHA-256("ltv-remote-sign/v1" 0x00 || JSON{credentialID, hashAlgorithmOID,
            hashes: sorted hex of the raw digests, numSignatures, nonce, expires})

(JSON with sorted keys, no spaces). The server recomputes it from the hashes of the
``credentials/authorize`` request and its own stored nonce and expiry, so an assertion made for
other hashes, another credential, another count or another nonce cannot verify. Sorting and hex
of the raw bytes make it independent of the order and of base64 vs base64url in transit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ltv.algorithms import DigestAlgorithm
from ltv.clock import format_time
from ltv.errors import InputError

__all__ = ["DOMAIN", "MAX_HASHES", "AuthorisationRequest"]

DOMAIN = b"ltv-remote-sign/v1\x00"
MAX_HASHES = 100  # our credentials/info "multisign"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorisationRequest:
    """What one authorisation covers: a credential, a hash algorithm, a set of hashes."""

    credential_id: str
    hash_algorithm: DigestAlgorithm
    hashes: tuple[bytes, ...]  # sorted, distinct
    nonce: str  # one-time, from credentials/getChallenge
    expires: datetime

    @classmethod
    def of(cls, *, credential_id: str, hash_algorithm: DigestAlgorithm,
           hashes: Iterable[bytes], nonce: str, expires: datetime) -> AuthorisationRequest:
        """Sort and check the hashes (each of the algorithm's size, at least one, no repeats)."""
        listed = list(hashes)
        if not listed:
            raise InputError("no hashes to authorise")
        if len(listed) > MAX_HASHES:
            raise InputError(f"at most {MAX_HASHES} hashes per authorisation")
        for h in listed:
            if len(h) != hash_algorithm.digest_size:
                raise InputError(f"a {hash_algorithm.value} hash has "
                                 f"{hash_algorithm.digest_size} bytes, got {len(h)}")
        if len(set(listed)) != len(listed):
            raise InputError("the same hash is listed twice")
        return cls(credential_id=credential_id, hash_algorithm=hash_algorithm,
                   hashes=tuple(sorted(listed)), nonce=nonce, expires=expires)

    def canonical(self) -> bytes:
        """The canonical JSON the challenge commits to."""
        doc = {"credentialID": self.credential_id, "hashAlgorithmOID": self.hash_algorithm.oid,
               "hashes": [h.hex() for h in self.hashes], "numSignatures": len(self.hashes),
               "nonce": self.nonce, "expires": format_time(self.expires)}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def challenge(self) -> bytes:
        """The 32-byte WebAuthn challenge."""
        return hashlib.sha256(DOMAIN + self.canonical()).digest()
