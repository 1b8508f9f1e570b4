"""Plain XML-DSig signatures, without XAdES qualifying properties (issue #19, item 5).

XMLDSIG core validation (§3.2): every ``ds:Reference`` digest (§3.2.1), then the
``ds:SignatureValue`` over the canonical ``ds:SignedInfo`` (§3.2.2), with the same hardened
reference processing, transforms and canonicalisation as XAdES (:mod:`ltv.formats._xmldsig`).
With no signed SigningCertificate property the signer is the ``ds:KeyInfo`` certificate whose
key verifies the signature value; nothing binds it further, so such a signature carries no
baseline level (at most "B-B-like"): the default policy never lets it pass, the report names
the form ``XMLDSig``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.errors import HashFailureError, MalformedError, SignatureValueError
from ltv.formats._xmldsig import (
    DS,
    ProcessedReference,
    canonicalize,
    process_reference,
    resolve_ids,
    signed_info_of,
    verify_signature_value,
)
from ltv.xmlsafe import parse_xml

__all__ = ["NoSignerError", "PlainSignature", "plain_signature_ids", "verify_plain_xmldsig"]


class NoSignerError(MalformedError):
    """ds:KeyInfo names no key ltv can use: the signer cannot be identified (ISC)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlainSignature:
    signature_id: str | None
    signer_certificate: x509.Certificate | None  # None: verified with a bare ds:KeyValue
    key_info_certificates: tuple[x509.Certificate, ...]
    mechanism: SignatureMechanism
    digest_algorithm: DigestAlgorithm
    references: tuple[ProcessedReference, ...]


def plain_signature_ids(data: bytes) -> list[str | None]:
    """The Ids (None when absent) of the document's ds:Signature elements."""
    root = parse_xml(data, what="the XML signature").getroot()
    return [sig.get("Id") for sig in root.iter(f"{{{DS}}}Signature")]


def verify_plain_xmldsig(data: bytes, *, signature_id: str | None = None,
                         external: Callable[[str], bytes] | None = None) -> PlainSignature:
    """Core validation of one XML-DSig signature (the only one, or the one with
    ``signature_id``); raises :class:`HashFailureError`, :class:`SignatureValueError` or
    :class:`MalformedError`."""
    from ltv.formats.xades import _der_signature_value, _key_info_certificates, _unb64

    tree = parse_xml(data, what="the XML signature")
    signatures = [s for s in tree.getroot().iter(f"{{{DS}}}Signature")
                  if signature_id is None or s.get("Id") == signature_id]
    if not signatures:
        raise MalformedError("no ds:Signature found")
    if len(signatures) > 1:
        raise MalformedError(f"the document holds {len(signatures)} XML signatures without "
                             "unique Ids; none can be named")
    signature: Any = signatures[0]
    ids = resolve_ids(tree)
    signed_info, c14n, prefixes, sm, mechanism, digest_alg = signed_info_of(signature)
    references: list[ProcessedReference] = []
    for reference in signed_info.findall(f"{{{DS}}}Reference"):
        ref = process_reference(reference, tree=tree, ids=ids, signature=signature,
                                external=external)
        if ref.digest_algorithm.digest(ref.octets) != ref.digest_value:
            raise HashFailureError(f"the digest of reference {ref.uri!r} does not match: "
                                   "the signed data was changed")
        references.append(ref)
    if not references:
        raise MalformedError("ds:SignedInfo holds no ds:Reference (XMLDSIG §4.4.3)")
    sv = signature.find(f"{{{DS}}}SignatureValue")
    if sv is None:
        raise MalformedError("the signature has no SignatureValue")
    raw = _unb64(sv.text, "SignatureValue")
    certs = _key_info_certificates(signature)
    signed_octets = canonicalize(signed_info, c14n, prefixes=prefixes)
    if not certs:
        key = _rsa_key_value(signature)
        if key is None:
            raise NoSignerError("no ds:X509Certificate or ds:RSAKeyValue in ds:KeyInfo")
        verify_signature_value(sm, key, raw, data=signed_octets)  # SignatureValueError if not
        return PlainSignature(signature_id=signature.get("Id"), signer_certificate=None,
                              key_info_certificates=(), mechanism=mechanism,
                              digest_algorithm=digest_alg, references=tuple(references))
    for cert in certs:
        try:
            verify_signature_value(sm, cert.public_key(), _der_signature_value(raw, cert),
                                   data=signed_octets)
        except SignatureValueError:
            continue
        return PlainSignature(signature_id=signature.get("Id"), signer_certificate=cert,
                              key_info_certificates=tuple(certs), mechanism=mechanism,
                              digest_algorithm=digest_alg, references=tuple(references))
    raise SignatureValueError("the signature value does not verify with the key of any "
                              "ds:KeyInfo certificate")


def _rsa_key_value(signature: Any) -> rsa.RSAPublicKey | None:
    """The key of ``ds:KeyInfo/ds:KeyValue/ds:RSAKeyValue`` (XMLDSIG §4.4.2.2), if any."""
    from ltv.formats.xades import _unb64

    node = signature.find(f"{{{DS}}}KeyInfo/{{{DS}}}KeyValue/{{{DS}}}RSAKeyValue")
    if node is None:
        return None
    modulus = int.from_bytes(_unb64(node.findtext(f"{{{DS}}}Modulus"), "Modulus"), "big")
    exponent = int.from_bytes(_unb64(node.findtext(f"{{{DS}}}Exponent"), "Exponent"), "big")
    try:
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError as exc:
        raise MalformedError(f"ds:RSAKeyValue is no RSA key: {exc}") from exc
