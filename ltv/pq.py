"""ML-DSA (FIPS 204) for certificates, CMS and time-stamps: names, OIDs, keys, verification.

What we follow:

* **RFC 9881** (ML-DSA in X.509): ``id-ml-dsa-44/65/87`` = ``2.16.840.1.101.3.4.3.17/18/19``,
  used both as the SubjectPublicKeyInfo algorithm and as the signature algorithm, **parameters
  absent** (§2); certificates and CRLs are signed in *pure* mode with an empty context string
  (§3).
* **RFC 9882** (ML-DSA in CMS): pure mode, empty context; ``signatureAlgorithm`` is the same
  identifier with parameters absent (§3.1); with signed attributes the ``digestAlgorithm`` must
  have at least the collision strength of the parameter set, and SHA-512 MUST be supported
  (§3.3), so we always use SHA-512 (``id-sha512``, parameters absent) for ML-DSA signers.
  Our tokens match the structure of RFC 9882's example "signed-data with signed attributes"
  (``tests/vectors/pq``, checked by ``tests/test_pq.py``).

pyhanko-certvalidator (0.33+) and pyHanko verify pure ML-DSA once asn1crypto knows the OIDs;
:func:`register_asn1crypto_oids` makes sure it does (its ``asn1_types`` module registers them on
import; we call it explicitly so the order of imports never matters).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from ltv.errors import SignatureValueError, UnsupportedAlgorithmError

__all__ = [
    "ML_DSA_OIDS",
    "MlDsaPrivateKey",
    "MlDsaPublicKey",
    "algorithm_identifier_der",
    "generate_mldsa",
    "is_mldsa",
    "mldsa_name",
    "mldsa_oid",
    "register_asn1crypto_oids",
    "verify_mldsa",
]

MlDsaPrivateKey = mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey
MlDsaPublicKey = mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey

#: RFC 9881 §2 (NIST CSOR sigAlgs arc).
ML_DSA_OIDS: Final[dict[str, str]] = {
    "ml-dsa-44": "2.16.840.1.101.3.4.3.17",
    "ml-dsa-65": "2.16.840.1.101.3.4.3.18",
    "ml-dsa-87": "2.16.840.1.101.3.4.3.19",
}

_PUBLIC = {
    mldsa.MLDSA44PublicKey: "ml-dsa-44",
    mldsa.MLDSA65PublicKey: "ml-dsa-65",
    mldsa.MLDSA87PublicKey: "ml-dsa-87",
}
_PRIVATE = {
    mldsa.MLDSA44PrivateKey: "ml-dsa-44",
    mldsa.MLDSA65PrivateKey: "ml-dsa-65",
    mldsa.MLDSA87PrivateKey: "ml-dsa-87",
}
_GENERATORS: dict[str, Callable[[], MlDsaPrivateKey]] = {
    "ml-dsa-44": mldsa.MLDSA44PrivateKey.generate,
    "ml-dsa-65": mldsa.MLDSA65PrivateKey.generate,
    "ml-dsa-87": mldsa.MLDSA87PrivateKey.generate,
}


def mldsa_name(key: object) -> str | None:
    """``"ml-dsa-65"`` for an ML-DSA-65 public or private key; None for any other key."""
    for table in (_PUBLIC, _PRIVATE):
        for cls, name in table.items():
            if isinstance(key, cls):
                return name
    return None


def is_mldsa(key: object) -> bool:
    return mldsa_name(key) is not None


def mldsa_oid(key: object) -> str:
    """The RFC 9881 OID of an ML-DSA key (public or private)."""
    name = mldsa_name(key)
    if name is None:
        raise UnsupportedAlgorithmError(f"{type(key).__name__} is not an ML-DSA key")
    return ML_DSA_OIDS[name]


def algorithm_identifier_der(key: object) -> bytes:
    """DER ``AlgorithmIdentifier`` of an ML-DSA key's signatures: ``SEQUENCE { id-ml-dsa-* }``
    with the parameters absent (RFC 9881 §2, RFC 9882 §3.1)."""
    from asn1crypto import core

    oid = bytes(core.ObjectIdentifier(mldsa_oid(key)).dump())
    return bytes((0x30, len(oid))) + oid


def generate_mldsa(name: str) -> MlDsaPrivateKey:
    """A new ML-DSA key: ``ml-dsa-44``, ``ml-dsa-65`` or ``ml-dsa-87``."""
    try:
        return _GENERATORS[name]()
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"unsupported ML-DSA parameter set {name!r} (use {', '.join(_GENERATORS)})"
        ) from None


def verify_mldsa(public_key: object, signature: bytes, data: bytes) -> None:
    """Pure ML-DSA verification with the empty context (RFC 9881 §3, RFC 9882 §3.1).

    Raises :class:`~ltv.errors.SignatureValueError` when the value does not verify.
    """
    if not is_mldsa(public_key):
        raise UnsupportedAlgorithmError(f"{type(public_key).__name__} is not an ML-DSA key")
    try:
        public_key.verify(signature, data)  # type: ignore[attr-defined]
    except InvalidSignature as exc:
        raise SignatureValueError("the ML-DSA signature does not verify") from exc


@functools.cache
def register_asn1crypto_oids() -> None:
    """Teach asn1crypto the RFC 9881 OIDs (names ``mldsa44/65/87``, as pyHanko spells them).

    pyhanko-certvalidator's ``asn1_types`` does this on import (and lets PublicKeyInfo parse an
    ML-DSA key as a plain bit string); we import it, then fill in anything still missing.
    """
    import pyhanko_certvalidator.asn1_types  # noqa: F401  (registers the OIDs on import)
    from asn1crypto import algos, keys

    for name, oid in ML_DSA_OIDS.items():
        short = name.replace("-", "")  # "mldsa65"
        for id_class in (algos.SignedDigestAlgorithmId, keys.PublicKeyAlgorithmId):
            id_class._map.setdefault(oid, short)
            if id_class._reverse_map is not None:
                id_class._reverse_map.setdefault(short, oid)
