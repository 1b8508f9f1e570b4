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

from typing import Any

from ltv.formats._xmldsig import DS, XADES, XADES141, C14nMethod, canonicalize

__all__ = [
    "REFS_ONLY_TAGS",
    "SIG_AND_REFS_TAGS",
    "is_x_timestamp",
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
