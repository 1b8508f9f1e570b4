"""Digest algorithms other tools sign with that ltv does not sign with (issue #19, item 6).

ltv's own signatures use SHA-256/384/512 (:class:`ltv.algorithms.DigestAlgorithm`); validation
also reads what others make: SHA-224 and SHA-3 (FIPS 202: sha3_224/256/384/512, CMS OIDs
2.16.840.1.101.3.4.2.7-10, RFC 8702) for digests, RSA PKCS#1 v1.5, RSA-PSS (MGF1 with the
stated hash and salt) and ECDSA signatures. Whether an algorithm is still acceptable at the
signature's POE time stays the policy's decision (EN 319 102-1 §5.2.8, SAV).
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes

__all__ = ["EXTRA_HASHES", "extra_digest"]

EXTRA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha224": hashes.SHA224,
    "sha3_224": hashes.SHA3_224,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}


def extra_digest(name: str, data: bytes) -> bytes | None:
    """``name``'s digest of ``data`` when it is one of :data:`EXTRA_HASHES`, else None."""
    key = name.lower().replace("-", "_")
    if key not in EXTRA_HASHES:
        return None
    return hashlib.new(key, data).digest()


# id-rsassa-pkcs1-v1_5-with-sha3-* (NIST CSOR, RFC 8702 §3.2 lists them for CMS), which
# asn1crypto does not name.
_RSA_SHA3 = {
    "2.16.840.1.101.3.4.3.13": "sha3_224",
    "2.16.840.1.101.3.4.3.14": "sha3_256",
    "2.16.840.1.101.3.4.3.15": "sha3_384",
    "2.16.840.1.101.3.4.3.16": "sha3_512",
}


def rsa_sha3(algorithm_oid: str) -> str | None:
    """The hash of an RSA PKCS#1 v1.5 with SHA-3 signature algorithm OID, else None."""
    return _RSA_SHA3.get(algorithm_oid)
