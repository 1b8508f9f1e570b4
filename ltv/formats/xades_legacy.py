"""Legacy XAdES long-term properties (ETSI TS 101 903 v1.3.2/v1.4.1; JIS X 5093).

Imprint inputs of the time-stamps the baseline profiles (EN 319 132-1) no longer create:

* ``SigAndRefsTimeStamp`` (TS 101 903 §7.5.1, EN 319 132-1 A.1.5.1.2): the canonicalised
  ``ds:SignatureValue``, then every ``SignatureTimeStamp``, ``CompleteCertificateRefs``,
  ``CompleteRevocationRefs``, ``AttributeCertificateRefs`` and ``AttributeRevocationRefs``
  appearing before it, in order of appearance; its 1.4.1 form ``SigAndRefsTimeStampV2`` takes
  the ``…RefsV2`` certificate lists instead (a V2 stamp never falls back to the V1 lists);
* ``RefsOnlyTimeStamp(V2)`` (§7.5.2): the same without the signature value and the signature
  time-stamps;
* the 1.3.2 ``xades:ArchiveTimeStamp`` differs from the 1.4.1 one only in which ``ds:Object``
  elements it hashes: those *not referenced* by a ``ds:Reference`` of ``ds:SignedInfo`` (v1.3.2
  §7.7.1 step 5). An Object without Id is never "referenced" by ``URI=""`` (DSS-3732).

Each element is canonicalised with the method the time-stamp names (inclusive C14N 1.0 when none).
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass
from typing import Any

from ltv.algorithms import DigestAlgorithm
from ltv.errors import UnsupportedAlgorithmError
from ltv.formats._xmldsig import DS, XADES, XADES141, C14nMethod, canonicalize, digest_from_uri

__all__ = [
    "REFS_ONLY_TAGS",
    "SIG_AND_REFS_TAGS",
    "LegacyRef",
    "RefKind",
    "is_x_timestamp",
    "legacy_references",
    "referenced_object",
    "x_timestamp_input",
]


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


SIG_AND_REFS_TAGS = frozenset({_q(XADES, "SigAndRefsTimeStamp"),
                               _q(XADES141, "SigAndRefsTimeStampV2")})
REFS_ONLY_TAGS = frozenset({_q(XADES, "RefsOnlyTimeStamp"), _q(XADES141, "RefsOnlyTimeStampV2")})
_V2 = frozenset({_q(XADES141, "SigAndRefsTimeStampV2"), _q(XADES141, "RefsOnlyTimeStampV2")})
_REFS_V1 = frozenset({_q(XADES, "CompleteCertificateRefs"), _q(XADES, "CompleteRevocationRefs"),
                      _q(XADES, "AttributeCertificateRefs"),
                      _q(XADES, "AttributeRevocationRefs")})
_REFS_V2 = frozenset({_q(XADES141, "CompleteCertificateRefsV2"),
                      _q(XADES, "CompleteRevocationRefs"),
                      _q(XADES141, "AttributeCertificateRefsV2"),
                      _q(XADES, "AttributeRevocationRefs")})
_SIGNATURE_TIME_STAMP = _q(XADES, "SignatureTimeStamp")


def is_x_timestamp(prop: Any) -> bool:
    """A SigAndRefsTimeStamp(V2) or RefsOnlyTimeStamp(V2) property."""
    return prop.tag in SIG_AND_REFS_TAGS or prop.tag in REFS_ONLY_TAGS


def x_timestamp_input(signature: Any, props: list[Any], stamp: Any, c14n: C14nMethod) -> bytes:
    """Message-imprint input of the ES-X time-stamp ``stamp`` among the unsigned signature
    properties ``props`` (in document order) of ``signature``."""
    refs = _REFS_V2 if stamp.tag in _V2 else _REFS_V1
    with_signature = stamp.tag in SIG_AND_REFS_TAGS
    parts: list[bytes] = []
    if with_signature:
        value = signature.find(_q(DS, "SignatureValue"))
        if value is not None:
            parts.append(canonicalize(value, c14n))
    for prop in props:
        if prop is stamp:
            break
        if prop.tag in refs or (with_signature and prop.tag == _SIGNATURE_TIME_STAMP):
            parts.append(canonicalize(prop, c14n))
    return b"".join(parts)


def referenced_object(signature: Any, obj: Any) -> bool:
    """Whether a ``ds:Reference`` of ``ds:SignedInfo`` points at ``obj`` by its Id (``#Id`` or
    ``#xpointer(id('Id'))``); an Object without Id is not referenced (DSS-3732)."""
    object_id = obj.get("Id")
    if not object_id:
        return False
    wanted = {f"#{object_id}", f"#xpointer(id('{object_id}'))",
              f'#xpointer(id("{object_id}"))'}
    signed_info = signature.find(_q(DS, "SignedInfo"))
    if signed_info is None:
        return False
    return any(ref.get("URI") in wanted for ref in signed_info.findall(_q(DS, "Reference")))


class RefKind(enum.Enum):
    """What a ``CompleteCertificateRefs(V2)`` / ``CompleteRevocationRefs`` entry points at."""

    CERTIFICATE = "certificate"
    CRL = "crl"
    OCSP = "ocsp"


@dataclass(frozen=True, slots=True, kw_only=True)
class LegacyRef:
    """One reference by digest (TS 101 903 §7.4.1 ``CertDigest``, §7.4.2 ``DigestAlgAndValue``);
    ``algorithm`` None when the digest method is not one ltv computes."""

    kind: RefKind
    algorithm: DigestAlgorithm | None
    algorithm_uri: str
    digest: bytes


_CERT_REFS = frozenset({_q(XADES, "CompleteCertificateRefs"),
                        _q(XADES141, "CompleteCertificateRefsV2")})


def _ref(kind: RefKind, holder: Any) -> LegacyRef | None:
    method = holder.find(_q(DS, "DigestMethod"))
    uri = (method.get("Algorithm") or "") if method is not None else ""
    try:
        digest = base64.b64decode("".join((holder.findtext(_q(DS, "DigestValue")) or "").split()),
                                  validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        algorithm: DigestAlgorithm | None = digest_from_uri(uri)
    except UnsupportedAlgorithmError:
        algorithm = None
    return LegacyRef(kind=kind, algorithm=algorithm, algorithm_uri=uri, digest=digest)


def legacy_references(props: list[Any]) -> tuple[LegacyRef, ...]:
    """Every certificate and revocation reference of the unsigned signature properties
    ``props``: ``Cert/CertDigest`` of CompleteCertificateRefs(V2), ``CRLRef`` and ``OCSPRef``
    ``DigestAlgAndValue`` of CompleteRevocationRefs (an OCSPRef without one is skipped; an
    unreadable DigestValue too)."""
    out: list[LegacyRef | None] = []
    for prop in props:
        if prop.tag in _CERT_REFS:
            out.extend(_ref(RefKind.CERTIFICATE, digest)
                       for digest in prop.iter(_q(XADES, "CertDigest")))
        elif prop.tag == _q(XADES, "CompleteRevocationRefs"):
            for name, kind in (("CRLRef", RefKind.CRL), ("OCSPRef", RefKind.OCSP)):
                for ref in prop.iter(_q(XADES, name)):
                    holder = ref.find(_q(XADES, "DigestAlgAndValue"))
                    if holder is not None:
                        out.append(_ref(kind, holder))
    return tuple(r for r in out if r is not None)
