"""Legacy CAdES long-term forms (ETSI TS 101 733 / RFC 5126; JIS X 5092): pure functions over bytes.

The ES-C, ES-X, ES-X Long and ES-A forms add unsigned attributes the baseline profiles
(EN 319 122-1) no longer use. This module reads them from a CMS ``SignedData`` **as found in the
file** (BER kept: TS 101 733 §6.4.1 NOTE 3-5, "as received/stored including Type and Length")
and builds the exact message-imprint input of each legacy time-stamp kind:

* ``escTimeStamp`` (id-aa 25, ES-X type 1, TS 101 733 §6.3.5): the signature value octets, then
  attrType ‖ attrValues of every signature-time-stamp, complete-certificate-references and
  complete-revocation-references attribute (the outer Attribute SEQUENCE is not hashed, NOTE 2);
* ``certCRLTimestamp`` (id-aa 26, ES-X type 2, §6.3.6): the same without the signature value and
  the signature time-stamps;
* ``archive-time-stamp-v2`` (id-aa 48, §6.4.1 / RFC 5126): encapContentInfo ‖ detached content ‖
  certificates ‖ crls ‖ every SignerInfo field ‖ the unsigned attributes except the archive
  time-stamps not older than this one (chosen by genTime, never by position), in two variants:
  v2.2.1 (with the ``[1]`` tag and a recomputed length) and v1.8.x Annex K (without).

Nothing here re-encodes an element that the file holds: only the ``[1]`` header of the v2.2.1
variant is computed, as the standard requires.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, core, tsp
from asn1crypto import cms as asn1_cms

from ltv.errors import MalformedError
from ltv.formats import cms

__all__ = [
    "ARCHIVE_OIDS",
    "OID_ARCHIVE_TIME_STAMP_V1",
    "OID_ATTRIBUTE_CERTIFICATE_REFS",
    "OID_ATTRIBUTE_REVOCATION_REFS",
    "OID_CERTIFICATE_VALUES",
    "OID_CERT_CRL_TIME_STAMP",
    "OID_COMPLETE_CERTIFICATE_REFS",
    "OID_COMPLETE_REVOCATION_REFS",
    "OID_ESC_TIME_STAMP",
    "OID_REVOCATION_VALUES",
    "AtsV2Variant",
    "LegacyForm",
    "RawSignedData",
    "atsv2_inputs",
    "basic_ocsp",
    "cert_crl_inputs",
    "certificate_refs",
    "certificate_values",
    "classify",
    "esc_inputs",
    "raw_signed_data",
    "revocation_refs",
    "revocation_values",
    "token_gen_time",
]

_AA = "1.2.840.113549.1.9.16.2."
OID_SIGNATURE_TIME_STAMP = _AA + "14"
OID_COMPLETE_CERTIFICATE_REFS = _AA + "21"
OID_COMPLETE_REVOCATION_REFS = _AA + "22"
OID_CERTIFICATE_VALUES = _AA + "23"
OID_REVOCATION_VALUES = _AA + "24"
OID_ESC_TIME_STAMP = _AA + "25"
OID_CERT_CRL_TIME_STAMP = _AA + "26"
OID_ARCHIVE_TIME_STAMP_V1 = _AA + "27"
OID_ATTRIBUTE_CERTIFICATE_REFS = _AA + "44"
OID_ATTRIBUTE_REVOCATION_REFS = _AA + "45"
OID_ARCHIVE_TIME_STAMP_V2 = _AA + "48"
OID_ARCHIVE_TIME_STAMP_V3 = "0.4.0.1733.2.4"
#: The archive time-stamps an ATSv2 excludes when they are not older than itself.
ARCHIVE_OIDS = frozenset({OID_ARCHIVE_TIME_STAMP_V1, OID_ARCHIVE_TIME_STAMP_V2,
                          OID_ARCHIVE_TIME_STAMP_V3})

_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1"


class AtsV2Variant(enum.Enum):
    """Which reading of TS 101 733 the ATSv2 imprint matched (v2.2.1 §6.4.1 vs v1.8.x Annex K)."""

    V2_2_1 = "v2.2.1 (unsignedAttrs with its [1] tag and length)"
    V1_8 = "v1.8.x Annex K (unsignedAttrs without [1] tag and length)"


class LegacyForm(enum.Enum):
    """TS 101 733 forms (the names JIS X 5092 uses), each with its EN 319 102-1 class."""

    ES_T = "ES-T"
    ES_C = "ES-C"
    ES_X_1 = "ES-X type 1"
    ES_X_2 = "ES-X type 2"
    ES_XL = "ES-XL"
    ES_XL_1 = "ES-XL type 1"
    ES_XL_2 = "ES-XL type 2"
    ES_A = "ES-A"

    @property
    def baseline_class(self) -> str:
        """EN 319 102-1 class (DSS cookbook: E-T/C/X ≈ B-T, E-X-L ≈ B-LT, E-A ≈ B-LTA)."""
        if self is LegacyForm.ES_A:
            return "B-LTA"
        if self in (LegacyForm.ES_XL, LegacyForm.ES_XL_1, LegacyForm.ES_XL_2):
            return "B-LT"
        return "B-T"


@dataclass(frozen=True, slots=True, kw_only=True)
class RawSignerInfo:
    """A SignerInfo's fields before unsignedAttrs, each its original TLV, and its raw attributes."""

    fields: tuple[bytes, ...]
    unsigned: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RawSignedData:
    """The parts of a SignedData an ATSv2 hashes, as their original encodings."""

    encap_content_info: bytes
    certificates: bytes | None  # the whole [0] element as found
    crls: bytes | None  # the whole [1] element as found
    certificates_items: tuple[bytes, ...]
    crls_items: tuple[bytes, ...]
    signer_infos: tuple[RawSignerInfo, ...]


def raw_signed_data(der: bytes) -> RawSignedData:
    """Split a ContentInfo(SignedData) keeping every element's bytes (BER included)."""
    outer = cms.read_single(der, "ContentInfo")
    kids = outer.children()
    if len(kids) != 2 or kids[1].tag != cms.TAG_CTX0:
        raise MalformedError("not a CMS ContentInfo")
    fields = kids[1].children()[0].children()
    pos = 3
    certs = crls = None
    if pos < len(fields) and fields[pos].tag == cms.TAG_CTX0:
        certs = fields[pos]
        pos += 1
    if pos < len(fields) and fields[pos].tag == cms.TAG_CTX1:
        crls = fields[pos]
        pos += 1
    infos = []
    for si in fields[pos].children():
        parts = si.children()
        unsigned: tuple[bytes, ...] = ()
        if parts and parts[-1].tag == cms.TAG_CTX1:
            unsigned = tuple(a.raw for a in parts[-1].children())
            parts = parts[:-1]
        infos.append(RawSignerInfo(fields=tuple(p.raw for p in parts), unsigned=unsigned))
    return RawSignedData(
        encap_content_info=fields[2].raw,
        certificates=certs.raw if certs else None,
        crls=crls.raw if crls else None,
        certificates_items=tuple(c.raw for c in certs.children()) if certs else (),
        crls_items=tuple(c.raw for c in crls.children()) if crls else (),
        signer_infos=tuple(infos),
    )


def _attr_fields(raw: bytes) -> tuple[str, bytes, bytes]:
    """(dotted OID, attrType TLV, attrValues TLV) of one Attribute, as found."""
    element = cms.read_single(raw, "attribute")
    kids = element.children()
    if len(kids) != 2 or kids[0].tag != cms.TAG_OID or kids[1].tag != cms.TAG_SET:
        raise MalformedError("an attribute is not SEQUENCE { OID, SET OF value }")
    return core.ObjectIdentifier.load(kids[0].raw).dotted, kids[0].raw, kids[1].raw


def _grouped(unsigned: Sequence[bytes], oids: Sequence[str]) -> list[tuple[str, bytes]]:
    """Two readings: the attributes in the order the standard lists them, and in file order
    (real ES-X files, e.g. Signature-C-X-1, hash their unsorted attributes as found)."""
    fields = [_attr_fields(raw) for raw in unsigned]
    listed = b"".join(t + v for oid in oids for dotted, t, v in fields if dotted == oid)
    found = b"".join(t + v for dotted, t, v in fields if dotted in oids)
    return [("attributes in the order of TS 101 733", listed), ("attributes in file order", found)]


def esc_inputs(signature_value: bytes, unsigned: Sequence[bytes]) -> list[tuple[str, bytes]]:
    """escTimeStamp (ES-X type 1) imprint inputs, TS 101 733 §6.3.5: the signature value
    octets, then attrType ‖ attrValues of the signature time-stamps and the references."""
    return [(name, signature_value + data) for name, data in
            _grouped(unsigned, (OID_SIGNATURE_TIME_STAMP, OID_COMPLETE_CERTIFICATE_REFS,
                                OID_COMPLETE_REVOCATION_REFS))]


def cert_crl_inputs(unsigned: Sequence[bytes]) -> list[tuple[str, bytes]]:
    """certCRLTimestamp (ES-X type 2) imprint inputs, TS 101 733 §6.3.6."""
    return _grouped(unsigned, (OID_COMPLETE_CERTIFICATE_REFS, OID_COMPLETE_REVOCATION_REFS))


def token_gen_time(token: bytes) -> datetime | None:
    """genTime of a TimeStampToken, read without checking anything."""
    try:
        econtent = asn1_cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"]
        parsed = econtent.parsed
        if not isinstance(parsed, tsp.TSTInfo):
            return None
        value = parsed["gen_time"].native
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return value.astimezone(UTC) if isinstance(value, datetime) else None


def _kept_unsigned(unsigned: Sequence[bytes], gen_time: datetime,
                   gen_time_of: Callable[[bytes], datetime | None]) -> list[bytes]:
    """The unsigned attributes in file order without every archive time-stamp whose genTime is
    not before ``gen_time`` (this one included): later stamps are excluded by time."""
    kept = []
    for raw in unsigned:
        dotted, _, values_raw = _attr_fields(raw)
        if dotted in ARCHIVE_OIDS:
            times = [gen_time_of(v.raw) for v in cms.read_single(values_raw, "values").children()]
            if any(t is None or t >= gen_time for t in times):
                continue
        kept.append(raw)
    return kept


def atsv2_inputs(raw: RawSignedData, signer: int, *, gen_time: datetime,
                 detached: bytes | None) -> list[tuple[AtsV2Variant, bytes]]:
    """The imprint inputs of an archive-time-stamp-v2 made at ``gen_time`` (both variants)."""
    info = raw.signer_infos[signer]
    head = raw.encap_content_info + (detached or b"")
    head += (raw.certificates or b"") + (raw.crls or b"")
    head += b"".join(info.fields)
    kept = b"".join(_kept_unsigned(info.unsigned, gen_time, token_gen_time))
    return [
        (AtsV2Variant.V2_2_1, head + (cms.tlv(cms.TAG_CTX1, kept) if kept else b"")),
        (AtsV2Variant.V1_8, head + kept),
    ]


def classify(oids: set[str]) -> LegacyForm | None:
    """The TS 101 733 form of a SignerInfo with these unsigned attribute OIDs (None: none of
    the legacy attributes; a baseline signature)."""
    legacy = oids & {OID_COMPLETE_CERTIFICATE_REFS, OID_COMPLETE_REVOCATION_REFS,
                     OID_CERTIFICATE_VALUES, OID_REVOCATION_VALUES, OID_ESC_TIME_STAMP,
                     OID_ATTRIBUTE_CERTIFICATE_REFS, OID_ATTRIBUTE_REVOCATION_REFS,
                     OID_CERT_CRL_TIME_STAMP, OID_ARCHIVE_TIME_STAMP_V1,
                     OID_ARCHIVE_TIME_STAMP_V2}
    if not legacy:
        return None
    if oids & ARCHIVE_OIDS:
        return LegacyForm.ES_A
    values = {OID_CERTIFICATE_VALUES, OID_REVOCATION_VALUES} <= oids
    if OID_ESC_TIME_STAMP in oids:
        return LegacyForm.ES_XL_1 if values else LegacyForm.ES_X_1
    if OID_CERT_CRL_TIME_STAMP in oids:
        return LegacyForm.ES_XL_2 if values else LegacyForm.ES_X_2
    if values:
        return LegacyForm.ES_XL
    if {OID_COMPLETE_CERTIFICATE_REFS, OID_COMPLETE_REVOCATION_REFS} & oids:
        return LegacyForm.ES_C
    return LegacyForm.ES_T


# ---------------------------------------------------------------------------------------------
# Values and references


def certificate_values(value: bytes) -> list[bytes]:
    """certificate-values (id-aa 23): ``SEQUENCE OF Certificate``, each as found."""
    return [c.raw for c in cms.read_single(value, "certificate-values").children()
            if c.tag == cms.TAG_SEQUENCE]


def revocation_values(value: bytes) -> tuple[list[bytes], list[bytes]]:
    """revocation-values (id-aa 24): (CRLs as found, OCSP responses as ``OCSPResponse`` DER).

    The attribute holds ``BasicOCSPResponse`` values; they are wrapped into a successful
    ``OCSPResponse`` (RFC 6960 §4.2.1) so the revocation checker reads them like any other."""
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    for field in cms.read_single(value, "revocation-values").children():
        inner = field.children()
        if not inner:
            continue
        items = inner[0].children()
        if field.tag == cms.TAG_CTX0:
            crls.extend(i.raw for i in items)
        elif field.tag == cms.TAG_CTX1:
            ocsps.extend(wrap_basic_ocsp(i.raw) for i in items)
    return crls, ocsps


def basic_ocsp(response: bytes) -> bytes | None:
    """The ``BasicOCSPResponse`` inside a successful ``OCSPResponse`` (None otherwise)."""
    try:
        kids = cms.read_single(response, "OCSPResponse").children()
        body = kids[1].children()[0].children()
        return body[1].content if body[1].tag == cms.TAG_OCTET_STRING else None
    except (MalformedError, IndexError):
        return None


def wrap_basic_ocsp(basic: bytes) -> bytes:
    """A successful ``OCSPResponse`` around a ``BasicOCSPResponse``."""
    body = cms.tlv(cms.TAG_SEQUENCE, cms.encode_oid(_OCSP_BASIC)
                   + cms.tlv(cms.TAG_OCTET_STRING, basic))
    return cms.tlv(cms.TAG_SEQUENCE, b"\x0a\x01\x00" + cms.tlv(cms.TAG_CTX0, body))


def _other_hash(element: cms.Tlv) -> tuple[str, bytes]:
    """``OtherHash``: a bare SHA-1 OCTET STRING or ``OtherHashAlgAndValue``."""
    if element.tag == cms.TAG_OCTET_STRING:
        return "sha1", element.content
    alg, digest = element.children()[:2]
    dotted = core.ObjectIdentifier.load(alg.children()[0].raw).dotted
    return str(algos.DigestAlgorithmId.map(dotted)), digest.content


def revocation_refs(value: bytes) -> list[tuple[str, str, bytes]]:
    """complete-revocation-references (id-aa 22): ``[("crl"|"ocsp", hash algorithm, hash)]``
    for every CrlValidatedID and every OcspResponsesID that carries a hash (TS 101 733 §6.2.2).
    """
    out: list[tuple[str, str, bytes]] = []
    for ref in cms.read_single(value, "complete-revocation-references").children():
        for choice in ref.children():
            if choice.tag == cms.TAG_CTX0:  # [0] CRLListID { crls SEQUENCE OF CrlValidatedID }
                for crl_id in choice.children()[0].children()[0].children():
                    out.append(("crl", *_other_hash(crl_id.children()[0])))
            elif choice.tag == cms.TAG_CTX1:  # [1] OcspListID { SEQUENCE OF OcspResponsesID }
                for ocsp_id in choice.children()[0].children()[0].children():
                    kids = ocsp_id.children()
                    if len(kids) > 1:
                        out.append(("ocsp", *_other_hash(kids[1])))
    return out


def certificate_refs(value: bytes) -> list[tuple[str, bytes]]:
    """complete-certificate-references (id-aa 21): ``[(hash algorithm, hash)]`` per OtherCertID
    (``OtherHash`` is a bare SHA-1 OCTET STRING or ``OtherHashAlgAndValue``)."""
    return [_other_hash(cert_id.children()[0]) for cert_id in
            cms.read_single(value, "complete-certificate-references").children()]
