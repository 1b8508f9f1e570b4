"""CAdES counter-signatures (RFC 5652 §11.4; EN 319 122-1 §5.2.7), issue #19.

A countersignature unsigned attribute holds a SignerInfo whose message-digest covers the
contents octets of the parent's signature value; it has no content-type attribute (it must not
have one). Each is validated as a signature of its own (one report entry, nested under its
parent in the JSON report), with the same checks as a signer of the SignedData; nested
counter-signatures are followed to a fixed depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cryptography import x509

from ltv.evidence import EvidenceSet
from ltv.formats import cms
from ltv.validation.facts import SignatureFacts

__all__ = ["OID_COUNTERSIGNATURE", "counter_signatures"]

OID_COUNTERSIGNATURE = "1.2.840.113549.1.9.6"
_MAX_DEPTH = 8


def counter_signatures(parts: cms.SignedDataParts, info: cms.SignerInfoParts, *,
                       parent_id: str, certificates: Sequence[x509.Certificate],
                       evidence: EvidenceSet, depth: int = 0) -> list[SignatureFacts]:
    """Facts of every counter-signature of ``info`` (and theirs), in order."""
    from ltv.validation.cades import NO_CONTENT_TYPE, _signer_facts

    if depth >= _MAX_DEPTH:
        return []
    out: list[SignatureFacts] = []
    values = [raw for oid, vals in info.unsigned_attributes() if oid == OID_COUNTERSIGNATURE
              for raw in vals]
    for n, raw in enumerate(values, start=1):
        counter = cms.SignerInfoParts.parse(raw)
        label = f"{parent_id}/counter-signature {n}"
        facts = _signer_facts(parts, counter, label=label, content=info.signature_value,
                              econtent_type="", certificates=certificates,
                              evidence=evidence, warnings=(), detached=False)
        # it signs the parent's signature value, not a content: no eContentType to judge
        kept = tuple(c for c in facts.constraint_failures if c != NO_CONTENT_TYPE)
        facts = replace(facts, counter_signature_of=parent_id, content_type=None,
                        constraint_failures=kept)
        out.append(facts)
        out.extend(counter_signatures(parts, counter, parent_id=label,
                                      certificates=certificates, evidence=evidence,
                                      depth=depth + 1))
    return out
