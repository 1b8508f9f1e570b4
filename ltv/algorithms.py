"""Digest and signature algorithms: names, OIDs, hashing, and signature-value checks.

The vocabulary is the one the phone and the formats share: a :class:`DigestAlgorithm` and a
:class:`SignatureMechanism` (RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA). Verification raises
:class:`~ltv.errors.SignatureValueError`; it never returns a bare bool.
"""

from __future__ import annotations

import enum
import hashlib
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from ltv.errors import SignatureValueError, UnsupportedAlgorithmError

__all__ = [
    "DigestAlgorithm",
    "PublicKey",
    "SignatureMechanism",
    "digest_info",
    "mechanism_for_key",
    "parse_digest_info",
    "verify_signature",
]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_CHUNK = 1 << 20


class DigestAlgorithm(enum.Enum):
    """A hash algorithm, valued by its name as asn1crypto and hashlib spell it."""

    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @property
    def oid(self) -> str:
        return _DIGEST_OIDS[self]

    @property
    def digest_size(self) -> int:
        return self.crypto_hash().digest_size

    def crypto_hash(self) -> hashes.HashAlgorithm:
        """The matching :mod:`cryptography` hash object."""
        factories: dict[DigestAlgorithm, type[hashes.HashAlgorithm]] = {
            DigestAlgorithm.SHA1: hashes.SHA1,
            DigestAlgorithm.SHA256: hashes.SHA256,
            DigestAlgorithm.SHA384: hashes.SHA384,
            DigestAlgorithm.SHA512: hashes.SHA512,
        }
        return factories[self]()

    def digest(self, data: bytes) -> bytes:
        return hashlib.new(self.value, data).digest()

    def digest_stream(self, stream: BinaryIO) -> bytes:
        """Hash a file-like object in 1 MiB chunks (large documents never sit in memory whole)."""
        h = hashlib.new(self.value)
        while chunk := stream.read(_CHUNK):
            h.update(chunk)
        return h.digest()

    @classmethod
    def from_name(cls, name: str) -> DigestAlgorithm:
        key = name.lower().replace("-", "")
        for alg in cls:
            if alg.value == key:
                return alg
        raise UnsupportedAlgorithmError(
            f"unsupported digest algorithm {name!r} (use sha256, sha384 or sha512)"
        )

    @classmethod
    def from_oid(cls, oid: str) -> DigestAlgorithm:
        for alg, known in _DIGEST_OIDS.items():
            if known == oid:
                return alg
        raise UnsupportedAlgorithmError(f"unsupported digest algorithm OID {oid}")


_DIGEST_OIDS = {
    DigestAlgorithm.SHA1: "1.3.14.3.2.26",
    DigestAlgorithm.SHA256: "2.16.840.1.101.3.4.2.1",
    DigestAlgorithm.SHA384: "2.16.840.1.101.3.4.2.2",
    DigestAlgorithm.SHA512: "2.16.840.1.101.3.4.2.3",
}

# DER prefixes of DigestInfo (RFC 8017 §9.2 note 1) for each digest algorithm.
_DIGEST_INFO_PREFIX = {
    DigestAlgorithm.SHA1: bytes.fromhex("3021300906052b0e03021a05000414"),
    DigestAlgorithm.SHA256: bytes.fromhex("3031300d060960864801650304020105000420"),
    DigestAlgorithm.SHA384: bytes.fromhex("3041300d060960864801650304020205000430"),
    DigestAlgorithm.SHA512: bytes.fromhex("3051300d060960864801650304020305000440"),
}


def digest_info(algorithm: DigestAlgorithm, digest: bytes) -> bytes:
    """DER ``DigestInfo`` (RFC 8017 §9.2): what a JPKI card signs with raw PKCS#1 v1.5."""
    if len(digest) != algorithm.digest_size:
        raise SignatureValueError(
            f"a {algorithm.value} digest has {algorithm.digest_size} bytes, got {len(digest)}"
        )
    return _DIGEST_INFO_PREFIX[algorithm] + digest


def parse_digest_info(der: bytes) -> tuple[DigestAlgorithm, bytes]:
    """Split a DER ``DigestInfo`` into algorithm and digest (accepts only the canonical forms)."""
    for alg, prefix in _DIGEST_INFO_PREFIX.items():
        if der.startswith(prefix) and len(der) == len(prefix) + alg.digest_size:
            return alg, der[len(prefix) :]
    raise UnsupportedAlgorithmError("not a DER DigestInfo for SHA-1/256/384/512")


class SignatureMechanism(enum.Enum):
    """How a key turns a digest into a signature value."""

    RSA_PKCS1V15 = "rsassa-pkcs1v15"
    RSA_PSS = "rsassa-pss"
    ECDSA = "ecdsa"

    @classmethod
    def from_name(cls, name: str) -> SignatureMechanism:
        for mech in cls:
            if mech.value == name.lower():
                return mech
        raise UnsupportedAlgorithmError(
            f"unsupported signature mechanism {name!r} "
            f"(use {', '.join(m.value for m in cls)})"
        )


def mechanism_for_key(public_key: object) -> SignatureMechanism:
    """The default mechanism for a key: PKCS#1 v1.5 for RSA (as JPKI does), ECDSA for EC."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return SignatureMechanism.RSA_PKCS1V15
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return SignatureMechanism.ECDSA
    raise UnsupportedAlgorithmError(
        f"unsupported key type {type(public_key).__name__} (use RSA or ECDSA P-256/P-384)"
    )


def pss_padding(algorithm: DigestAlgorithm) -> padding.PSS:
    """RSASSA-PSS with MGF1 over the same hash and a salt as long as the digest (RFC 4055)."""
    return padding.PSS(
        mgf=padding.MGF1(algorithm.crypto_hash()), salt_length=algorithm.digest_size
    )


def verify_signature(
    public_key: object,
    signature: bytes,
    *,
    mechanism: SignatureMechanism,
    digest_algorithm: DigestAlgorithm,
    data: bytes | None = None,
    digest: bytes | None = None,
) -> None:
    """Check ``signature`` over ``data`` (or over its precomputed ``digest``).

    ECDSA signatures are DER ``Ecdsa-Sig-Value`` here; formats that carry raw ``r||s`` (XAdES)
    convert before calling. Raises :class:`SignatureValueError` when the value does not verify.
    """
    if (data is None) == (digest is None):
        raise TypeError("give exactly one of data= or digest=")
    if digest is None:
        assert data is not None
        digest = digest_algorithm.digest(data)
    if len(digest) != digest_algorithm.digest_size:
        raise SignatureValueError(
            f"a {digest_algorithm.value} digest has {digest_algorithm.digest_size} bytes"
        )
    prehashed = utils.Prehashed(digest_algorithm.crypto_hash())
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if mechanism is SignatureMechanism.RSA_PKCS1V15:
                public_key.verify(signature, digest, padding.PKCS1v15(), prehashed)
            elif mechanism is SignatureMechanism.RSA_PSS:
                public_key.verify(signature, digest, pss_padding(digest_algorithm), prehashed)
            else:
                raise UnsupportedAlgorithmError(f"{mechanism.value} does not fit an RSA key")
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            if mechanism is not SignatureMechanism.ECDSA:
                raise UnsupportedAlgorithmError(f"{mechanism.value} does not fit an EC key")
            public_key.verify(signature, digest, ec.ECDSA(prehashed))
        else:
            raise UnsupportedAlgorithmError(
                f"unsupported key type {type(public_key).__name__}"
            )
    except InvalidSignature as exc:
        raise SignatureValueError(
            "the signature value does not verify with the signer certificate's public key"
        ) from exc
    except ValueError as exc:  # malformed DER ECDSA value and the like
        if isinstance(exc, UnsupportedAlgorithmError):
            raise
        raise SignatureValueError(f"the signature value is malformed: {exc}") from exc
