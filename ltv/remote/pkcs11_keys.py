"""Key custody in a PKCS#11 token: the only module that imports ``pkcs11`` (python-pkcs11).

Keys are generated inside the token (PKCS#11 v2.40 §4.9: ``CKA_SENSITIVE`` true,
``CKA_EXTRACTABLE`` false, so ``CKA_LOCAL``/``CKA_NEVER_EXTRACTABLE`` follow) and found by
label. Any module works (``--pkcs11-module``); tests and the demo use SoftHSM2.

Threading: python-pkcs11 calls ``C_Initialize(NULL)``, for which SoftHSM2 turns its mutexes off,
and it releases the GIL around every C call, so two threads in one process corrupt the heap
(../shared/research/remote-signing.md §1.4). Every PKCS#11 call of a :class:`Pkcs11KeyStore`
therefore runs on ONE dedicated thread; scale with processes (uvicorn workers), each its own
store. The token is resolved and logged in once, at construction, and the login session is
kept for the life of the store (closing any logged-in session logs out every session).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import (
    encode_ec_public_key,
    encode_ecdsa_signature,
    encode_named_curve_parameters,
)
from pkcs11.util.rsa import encode_rsa_public_key

from ltv.algorithms import DigestAlgorithm, SignatureMechanism, digest_info
from ltv.errors import ConfigurationError, InputError, UnsupportedAlgorithmError

__all__ = ["KeyAlgorithm", "KeyAttributes", "KeyNotFoundError", "Pkcs11KeyStore"]

T = TypeVar("T")

_PRIVATE = {Attribute.TOKEN: True, Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False, Attribute.SIGN: True}
_PUBLIC = {Attribute.TOKEN: True, Attribute.VERIFY: True}
_PSS = {
    DigestAlgorithm.SHA256: (Mechanism.SHA256, pkcs11.MGF.SHA256),
    DigestAlgorithm.SHA384: (Mechanism.SHA384, pkcs11.MGF.SHA384),
    DigestAlgorithm.SHA512: (Mechanism.SHA512, pkcs11.MGF.SHA512),
}


class KeyAlgorithm(enum.Enum):
    """The key pairs a token makes for remote signing."""

    RSA_2048 = "rsa2048"
    EC_P256 = "p256"


class KeyNotFoundError(InputError):
    """No key with that label in the token."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyAttributes:
    """The custody attributes of a private key, read back from the token."""

    sensitive: bool
    extractable: bool
    always_sensitive: bool
    never_extractable: bool
    local: bool
    private_exponent_readable: bool  # True would mean the key leaks (it must stay False)


class Pkcs11KeyStore:
    """Signing keys in one token of one PKCS#11 module, every call on one thread."""

    def __init__(self, *, module: Path, token_label: str, pin: str) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="pkcs11")
        self._session: Any = None
        self._keys: dict[str, Any] = {}
        try:
            self._call(self._open, str(module), token_label, pin)
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    # --- on the PKCS#11 thread only ---------------------------------------------------------

    def _open(self, module: str, token_label: str, pin: str) -> None:
        try:
            token = pkcs11.lib(module).get_token(token_label=token_label)
        except (pkcs11.NoSuchToken, RuntimeError, OSError) as exc:
            raise ConfigurationError(
                f"no PKCS#11 token {token_label!r} in {module}: {type(exc).__name__} {exc}"
            ) from exc
        try:
            self._session = token.open(user_pin=pin, rw=True)
        except pkcs11.PKCS11Error as exc:
            raise ConfigurationError(
                f"cannot log in to PKCS#11 token {token_label!r}: {type(exc).__name__}") from exc

    def _private(self, label: str) -> Any:
        key = self._keys.get(label)
        if key is None:
            try:
                key = self._session.get_key(ObjectClass.PRIVATE_KEY, label=label)
            except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned) as exc:
                raise KeyNotFoundError(f"no single key {label!r} in the token") from exc
            self._keys[label] = key
        return key

    def _generate(self, label: str, algorithm: KeyAlgorithm) -> bytes:
        try:
            self._session.get_key(ObjectClass.PRIVATE_KEY, label=label)
        except pkcs11.NoSuchKey:
            pass
        else:
            raise InputError(f"the token already holds a key {label!r}")
        key_id = os.urandom(16)
        if algorithm is KeyAlgorithm.RSA_2048:
            public, _ = self._session.generate_keypair(
                KeyType.RSA, 2048, store=True, label=label, id=key_id,
                private_template=_PRIVATE, public_template=_PUBLIC)
            der: bytes = encode_rsa_public_key(public)
            return der
        params = self._session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True)
        public, _ = params.generate_keypair(store=True, label=label, id=key_id,
                                            private_template=_PRIVATE, public_template=_PUBLIC)
        ec_der: bytes = encode_ec_public_key(public)
        return ec_der

    def _public_key(self, label: str) -> bytes:
        try:
            public = self._session.get_key(ObjectClass.PUBLIC_KEY, label=label)
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned) as exc:
            raise KeyNotFoundError(f"no single public key {label!r} in the token") from exc
        der: bytes = (encode_rsa_public_key(public) if public.key_type == KeyType.RSA
                      else encode_ec_public_key(public))
        return der

    def _attributes(self, label: str) -> KeyAttributes:
        key = self._private(label)
        try:
            key[Attribute.PRIVATE_EXPONENT if key.key_type == KeyType.RSA else Attribute.VALUE]
            readable = True
        except pkcs11.AttributeSensitive:
            readable = False
        return KeyAttributes(
            sensitive=bool(key[Attribute.SENSITIVE]), extractable=bool(key[Attribute.EXTRACTABLE]),
            always_sensitive=bool(key[Attribute.ALWAYS_SENSITIVE]),
            never_extractable=bool(key[Attribute.NEVER_EXTRACTABLE]),
            local=bool(key[Attribute.LOCAL]), private_exponent_readable=readable)

    def _sign(self, label: str, mechanism: SignatureMechanism, digest_algorithm: DigestAlgorithm,
              digests: Sequence[bytes], salt_length: int | None) -> list[bytes]:
        key = self._private(label)
        is_rsa = key.key_type == KeyType.RSA
        out: list[bytes] = []
        for digest in digests:
            if len(digest) != digest_algorithm.digest_size:
                raise InputError(f"a {digest_algorithm.value} hash has "
                                 f"{digest_algorithm.digest_size} bytes, got {len(digest)}")
            if is_rsa and mechanism is SignatureMechanism.RSA_PKCS1V15:
                out.append(key.sign(digest_info(digest_algorithm, digest),
                                    mechanism=Mechanism.RSA_PKCS))
            elif is_rsa and mechanism is SignatureMechanism.RSA_PSS and digest_algorithm in _PSS:
                hash_mech, mgf = _PSS[digest_algorithm]
                salt = digest_algorithm.digest_size if salt_length is None else salt_length
                out.append(key.sign(digest, mechanism=Mechanism.RSA_PKCS_PSS,
                                    mechanism_param=(hash_mech, mgf, salt)))
            elif not is_rsa and mechanism is SignatureMechanism.ECDSA:
                # CKM_ECDSA gives r||s; CMS, XAdES-in-ltv and X.509 want DER Ecdsa-Sig-Value
                out.append(encode_ecdsa_signature(key.sign(digest, mechanism=Mechanism.ECDSA)))
            else:
                raise UnsupportedAlgorithmError(
                    f"key {label!r} cannot sign with {mechanism.value}/{digest_algorithm.value}")
        return out

    # --- public API: any thread ---------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return self._executor.submit(fn, *args).result()

    def generate(self, label: str, algorithm: KeyAlgorithm) -> bytes:
        """Make a key pair inside the token; its public key as DER SubjectPublicKeyInfo."""
        return self._call(self._generate, label, algorithm)

    def public_key(self, label: str) -> bytes:
        """The DER SubjectPublicKeyInfo of the key ``label``."""
        return self._call(self._public_key, label)

    def attributes(self, label: str) -> KeyAttributes:
        """The private key's custody attributes as the token reports them."""
        return self._call(self._attributes, label)

    def sign(self, label: str, *, mechanism: SignatureMechanism,
             digest_algorithm: DigestAlgorithm, digests: Sequence[bytes],
             salt_length: int | None = None) -> list[bytes]:
        """One signature value per hash (RSA: raw integer bytes; ECDSA: DER), in order."""
        return self._call(self._sign, label, mechanism, digest_algorithm, list(digests),
                          salt_length)

    async def sign_async(self, label: str, *, mechanism: SignatureMechanism,
                         digest_algorithm: DigestAlgorithm, digests: Sequence[bytes],
                         salt_length: int | None = None) -> list[bytes]:
        """:meth:`sign` without blocking the event loop (still on the PKCS#11 thread)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._sign, label, mechanism,
                                          digest_algorithm, list(digests), salt_length)

    def close(self) -> None:
        """Log out and stop the PKCS#11 thread."""
        if self._session is not None:
            self._call(self._session.close)
            self._session = None
        self._executor.shutdown(wait=True)
