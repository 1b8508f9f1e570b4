"""An in-process key as a :class:`~ltv.tbs.Signer` (``--key``; the simulated phone uses it too)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from ltv.algorithms import SignatureMechanism, pss_padding
from ltv.errors import ConfigurationError, UnsupportedAlgorithmError
from ltv.tbs import DataToBeSigned

__all__ = ["KeySigner", "PrivateKey", "load_private_key"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def load_private_key(path: Path, *, password: bytes | None = None) -> PrivateKey:
    """Load a PEM or DER private key (RSA or EC), optionally encrypted PKCS#8."""
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=password)
        else:
            key = serialization.load_der_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot load the private key in {path}: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise UnsupportedAlgorithmError(f"{path}: only RSA and ECDSA keys are supported")
    return key


class KeySigner:
    """Signs :class:`DataToBeSigned` with a loaded key (held, never reloaded per signature)."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key

    @property
    def key(self) -> PrivateKey:
        return self._key

    def sign(self, tbs: DataToBeSigned) -> bytes:
        digest = tbs.digest()
        prehashed = utils.Prehashed(tbs.digest_algorithm.crypto_hash())
        key = self._key
        if isinstance(key, rsa.RSAPrivateKey):
            if tbs.mechanism is SignatureMechanism.RSA_PKCS1V15:
                return key.sign(digest, padding.PKCS1v15(), prehashed)
            if tbs.mechanism is SignatureMechanism.RSA_PSS:
                return key.sign(digest, pss_padding(tbs.digest_algorithm), prehashed)
            raise UnsupportedAlgorithmError(f"an RSA key cannot sign with {tbs.mechanism.value}")
        if tbs.mechanism is not SignatureMechanism.ECDSA:
            raise UnsupportedAlgorithmError(f"an EC key cannot sign with {tbs.mechanism.value}")
        return key.sign(digest, ec.ECDSA(prehashed))
