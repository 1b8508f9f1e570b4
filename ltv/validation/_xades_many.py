"""Several XAdES signatures in one XML document (issue #19, item 5).

Parallel signatures (siblings) and counter-signatures (a ds:Signature inside its parent's
``xades:CounterSignature``) are each validated on their own, selected by their ``Id``
(XMLDSIG §4.1; XAdES requires it, EN 319 132-1 §4.3). Ids must be unique, else no signature
can be named and the document stays one (failing) signature as before: that refusal guards
against signature wrapping.
"""

from __future__ import annotations

import base64
import binascii

from ltv.formats._xmldsig import DS, XADES
from ltv.xmlsafe import parse_xml

__all__ = ["parent_ids", "signature_ids", "signature_value_of"]

_XADES_NAMESPACES = (XADES, "http://uri.etsi.org/01903/v1.3.2#",
                     "http://uri.etsi.org/01903/v1.1.1#", "http://uri.etsi.org/01903/v1.2.2#")


def _signatures(data: bytes) -> list[object]:
    root = parse_xml(data, what="the XAdES signature").getroot()
    return list(root.iter(f"{{{DS}}}Signature"))


def signature_ids(data: bytes) -> list[str]:
    """The Ids of the document's ds:Signature elements, in document order, when there are
    several and every one has a unique Id; else ``[]`` (validate the document as one)."""
    signatures = _signatures(data)
    ids = [sig.get("Id") for sig in signatures]  # type: ignore[attr-defined]
    if len(ids) < 2 or any(not i for i in ids) or len(set(ids)) != len(ids):
        return []
    return [str(i) for i in ids]


def parent_ids(data: bytes) -> dict[str, str]:
    """Counter-signature Id → the Id of the signature it counter-signs (the nearest enclosing
    ds:Signature; EN 319 132-1 §5.2.2 CounterSignature)."""
    out: dict[str, str] = {}
    for sig in _signatures(data):
        node = sig.getparent()  # type: ignore[attr-defined]
        while node is not None and node.tag != f"{{{DS}}}Signature":
            node = node.getparent()
        if node is not None and sig.get("Id") and node.get("Id"):  # type: ignore[attr-defined]
            out[str(sig.get("Id"))] = str(node.get("Id"))  # type: ignore[attr-defined]
    return out


def signature_value_of(data: bytes, signature_id: str) -> bytes | None:
    """The decoded ds:SignatureValue of the signature with ``signature_id`` (None if absent or
    not base64)."""
    for sig in _signatures(data):
        if sig.get("Id") != signature_id:  # type: ignore[attr-defined]
            continue
        node = sig.find(f"{{{DS}}}SignatureValue")  # type: ignore[attr-defined]
        if node is None:
            return None
        try:
            return base64.b64decode("".join((node.text or "").split()), validate=True)
        except (binascii.Error, ValueError):
            return None
    return None
