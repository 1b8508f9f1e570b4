"""The DER form of signed attributes stored in another order or encoding (issue #19).

RFC 5652 §5.4: the signature covers "the DER encoding of the SignedAttrs value", a SET OF whose
DER sorts its elements by their encodings (X.690 §11.6) and uses definite lengths. Some signers
store the attributes in insertion order (or BER) while signing their DER; the signature then
verifies over the re-encoding, which carries exactly the same attributes. ltv first verifies
over the stored bytes, then over this form (DSS does the same).
"""

from __future__ import annotations

from asn1crypto import cms

__all__ = ["der_signed_attributes"]


def der_signed_attributes(stored: bytes) -> bytes | None:
    """DER of the SET OF attributes in ``stored`` (tag 0x31 form); None when it parses not or
    already is DER."""
    try:
        encoded = cms.CMSAttributes.load(stored).dump(force=True)
    except (ValueError, TypeError, KeyError):
        return None
    return None if encoded == stored else encoded
