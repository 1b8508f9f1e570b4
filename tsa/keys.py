"""Loading the TSA's key and certificates from PEM files.

Keys are loaded once, when the authority starts, and the loaded objects are held: loading an
RSA key validates it, which costs about 67 ms, far more than the signature itself.

Accepted keys (RFC 3161 §2.3 leaves the choice to the TSA; these are the strengths current
policies such as ETSI TS 119 312 accept): RSA with a 2048, 3072 or 4096-bit modulus, ECDSA
on P-256 or P-384, and post-quantum ML-DSA-65 or ML-DSA-87 (FIPS 204; RFC 9881 key format: the
PKCS#8 seed form that ``cryptography`` writes, or the expanded / both forms). PEM in PKCS#1
(``RSA PRIVATE KEY``), SEC1 (``EC PRIVATE KEY``), PKCS#8 (``PRIVATE KEY``) and encrypted PKCS#8
(``ENCRYPTED PRIVATE KEY``). ML-DSA-44 (NIST category 2) is refused: evidence meant to outlive
RSA should not rest on the smallest parameter set.
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, rsa

from ltv.pq import mldsa_name
from tsa.errors import TsaConfigurationError

__all__ = ["MLDSA_TSA_KEYS", "RSA_KEY_SIZES", "TsaPrivateKey", "load_certificates",
           "load_private_key"]

TsaPrivateKey = (rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | mldsa.MLDSA65PrivateKey
                 | mldsa.MLDSA87PrivateKey)

#: ML-DSA parameter sets a TSA key may use.
MLDSA_TSA_KEYS = frozenset({"ml-dsa-65", "ml-dsa-87"})

#: RSA modulus sizes a TSA key may have.
RSA_KEY_SIZES = frozenset({2048, 3072, 4096})
_CURVES = (ec.SECP256R1, ec.SECP384R1)


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise TsaConfigurationError(
            f"cannot read the TSA {what} {path}: {exc.strerror or exc}"
        ) from exc


def load_private_key(path: Path, *, password: bytes | None = None) -> TsaPrivateKey:
    """Load the TSA's private key from a PEM file (PKCS#1, SEC1, PKCS#8 or encrypted PKCS#8).

    Raises :class:`~tsa.errors.TsaConfigurationError` naming the file when it cannot be read or
    decrypted, is not a key, or is not RSA-2048/3072/4096, ECDSA P-256/P-384 or
    ML-DSA-65/87.
    """
    data = _read(path, "key")
    if b"-----BEGIN" not in data:
        raise TsaConfigurationError(f"the TSA key {path} is not a PEM file")
    try:
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except TypeError:
            if password is None:
                raise
            # A password for a key that is not encrypted (say, LTV_TSA_KEY_PASSWORD left set
            # from another key): there is nothing to decrypt, so load it as it is.
            key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise TsaConfigurationError(
            f"the TSA key {path} is encrypted; give its password (LTV_TSA_KEY_PASSWORD)"
        ) from exc
    except ValueError as exc:
        hint = " (or the password is wrong)" if password is not None else ""
        raise TsaConfigurationError(
            f"the TSA key {path} cannot be loaded{hint}: not a PEM private key"
        ) from exc
    except Exception as exc:  # unsupported algorithms and the like from the backend
        raise TsaConfigurationError(f"the TSA key {path} cannot be loaded: {exc}") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size not in RSA_KEY_SIZES:
            raise TsaConfigurationError(
                f"the TSA key {path} is RSA-{key.key_size}; use RSA-2048, 3072 or 4096"
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, _CURVES):
            raise TsaConfigurationError(
                f"the TSA key {path} is on curve {key.curve.name}; use P-256 or P-384"
            )
        return key
    if isinstance(key, mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey):
        return key
    name = mldsa_name(key)
    if name is not None:
        raise TsaConfigurationError(
            f"the TSA key {path} is {name.upper()}; use ML-DSA-65 or ML-DSA-87"
        )
    raise TsaConfigurationError(
        f"the TSA key {path} is a {type(key).__name__}; use RSA, ECDSA P-256/P-384 or "
        "ML-DSA-65/87"
    )


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Load every certificate of a PEM bundle, in file order.

    Raises :class:`~tsa.errors.TsaConfigurationError` naming the file when it cannot be read or
    holds no certificate.
    """
    data = _read(path, "certificate file")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TsaConfigurationError(
            f"{path} holds no PEM certificate (or a broken one): {exc}"
        ) from exc
    if not certificates:
        raise TsaConfigurationError(f"{path} holds no PEM certificate")
    return certificates
