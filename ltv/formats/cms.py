"""CMS ``SignedData`` (RFC 5652) split into its original encodings, and put back together.

Augmenting a signature (B-T, B-LT, B-LTA) must never re-encode what was signed or what an
earlier archive time-stamp covered: DSS cannot extend some CAdES signatures for exactly that
reason (STANDARDS §2.2). So this module reads a ``ContentInfo`` as a tree of TLVs and keeps every
element's bytes as they arrived. :class:`SignedDataParts` and :class:`SignerInfoParts` hold those
raw elements; editing replaces only the pieces a level adds (``SignedData.certificates``,
``SignedData.crls``, a ``SignerInfo``'s ``unsignedAttrs``) and :meth:`SignedDataParts.dump`
rebuilds the enclosing containers around the untouched bytes (definite lengths; BER input is
accepted and its inner elements are copied verbatim).

Anything that does not parse raises :class:`~ltv.errors.MalformedError` with one clear line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from asn1crypto import cms as asn1_cms
from asn1crypto import core

from ltv.errors import MalformedError

__all__ = [
    "OID_DATA",
    "OID_SIGNED_DATA",
    "SignedDataParts",
    "SignerInfoParts",
    "Tlv",
    "attribute",
    "attribute_parts",
    "encode_length",
    "encode_oid",
    "other_revocation_info",
    "parse_signed_data",
    "read_tlv",
    "tlv",
]

OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"

_MAX_DEPTH = 64

TAG_INTEGER = 0x02
TAG_OCTET_STRING = 0x04
TAG_OID = 0x06
TAG_SEQUENCE = 0x30
TAG_SET = 0x31
TAG_CTX0 = 0xA0
TAG_CTX1 = 0xA1


# ---------------------------------------------------------------------------------------------
# TLV reading and writing


@dataclass(frozen=True, slots=True)
class Tlv:
    """One BER/DER element: its identifier octet, full original bytes and content octets.

    For an indefinite-length element ``content`` is the children's bytes without the end-of-
    contents octets; ``raw`` is exactly what was read (header, content, end-of-contents).
    """

    tag: int
    raw: bytes
    content: bytes

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def children(self) -> list[Tlv]:
        """The elements inside a constructed element, each with its original bytes."""
        if not self.constructed:
            raise MalformedError(f"element with tag {self.tag:#04x} is not constructed")
        return _split(self.content, 0)


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """DER element with a one-octet identifier ``tag`` around ``content``."""
    return bytes([tag]) + encode_length(len(content)) + content


def encode_oid(dotted: str) -> bytes:
    """DER ``OBJECT IDENTIFIER`` (full TLV) for a dotted OID string."""
    dumped: bytes = core.ObjectIdentifier(dotted).dump()
    return dumped


def read_tlv(data: bytes, offset: int = 0, *, _depth: int = 0) -> tuple[Tlv, int]:
    """Read one element at ``offset``; returns it and the offset just past it."""
    if _depth > _MAX_DEPTH:
        raise MalformedError("ASN.1 nesting is too deep")
    end = len(data)
    if offset + 2 > end:
        raise MalformedError("truncated DER: an element header runs past the end of the data")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise MalformedError(f"unsupported multi-octet ASN.1 tag at offset {offset}")
    first = data[offset + 1]
    pos = offset + 2
    if first == 0x80:  # indefinite length (BER): children until end-of-contents
        if not tag & 0x20:
            raise MalformedError(f"indefinite length on a primitive element at offset {offset}")
        start = pos
        while True:
            if pos + 2 > end:
                raise MalformedError("truncated BER: missing end-of-contents octets")
            if data[pos] == 0 and data[pos + 1] == 0:
                return Tlv(tag, data[offset : pos + 2], data[start:pos]), pos + 2
            _, pos = read_tlv(data, pos, _depth=_depth + 1)
    if first & 0x80:
        count = first & 0x7F
        if count > 8 or pos + count > end:
            raise MalformedError(f"truncated or oversized DER length at offset {offset}")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        length = first
    if pos + length > end:
        raise MalformedError(
            f"truncated DER: an element at offset {offset} needs {length} content octets, "
            f"{end - pos} remain"
        )
    return Tlv(tag, data[offset : pos + length], data[pos : pos + length]), pos + length


def _split(data: bytes, depth: int) -> list[Tlv]:
    out: list[Tlv] = []
    pos = 0
    while pos < len(data):
        element, pos = read_tlv(data, pos, _depth=depth + 1)
        out.append(element)
    return out


def read_single(data: bytes, what: str) -> Tlv:
    """Exactly one element filling ``data`` (trailing bytes are refused)."""
    element, end = read_tlv(data, 0)
    if end != len(data):
        raise MalformedError(f"{what}: {len(data) - end} unexpected bytes after the DER element")
    return element


# ---------------------------------------------------------------------------------------------
# Attributes


def attribute(oid: str, values: Iterable[bytes]) -> bytes:
    """DER ``Attribute ::= SEQUENCE { attrType, attrValues SET OF }`` from raw value TLVs.

    The values keep their given order (the set has one value in every use here).
    """
    return tlv(TAG_SEQUENCE, encode_oid(oid) + tlv(TAG_SET, b"".join(values)))


def attribute_parts(raw: bytes) -> tuple[str, bytes, list[bytes]]:
    """``(dotted attrType, attrType TLV, [raw value TLVs])`` of one ``Attribute``."""
    element = read_single(raw, "attribute")
    if element.tag != TAG_SEQUENCE:
        raise MalformedError("an attribute is not a SEQUENCE")
    kids = element.children()
    if len(kids) != 2 or kids[0].tag != TAG_OID or kids[1].tag != TAG_SET:
        raise MalformedError("an attribute is not SEQUENCE { OID, SET OF value }")
    try:
        dotted = core.ObjectIdentifier.load(kids[0].raw).dotted
    except ValueError as exc:
        raise MalformedError(f"an attribute type is not an OID: {exc}") from exc
    return dotted, kids[0].raw, [v.raw for v in kids[1].children()]


def other_revocation_info(format_oid: str, info: bytes) -> bytes:
    """``RevocationInfoChoice.other`` ([1] IMPLICIT OtherRevocationInfoFormat), RFC 5652 §10.2.1."""
    return tlv(TAG_CTX1, encode_oid(format_oid) + info)


# ---------------------------------------------------------------------------------------------
# SignerInfo and SignedData


@dataclass(frozen=True, slots=True, kw_only=True)
class SignerInfoParts:
    """A ``SignerInfo`` (RFC 5652 §5.3) as its original component encodings."""

    version: bytes
    sid: bytes
    digest_algorithm: bytes
    signed_attrs: bytes | None  # the [0] IMPLICIT element as it appears
    signature_algorithm: bytes
    signature: bytes  # the OCTET STRING element
    unsigned_attrs: tuple[bytes, ...] | None  # raw Attribute elements, in order

    @classmethod
    def parse(cls, raw: bytes) -> SignerInfoParts:
        element = read_single(raw, "SignerInfo")
        if element.tag != TAG_SEQUENCE:
            raise MalformedError("a SignerInfo is not a SEQUENCE")
        kids = element.children()
        if len(kids) < 5:
            raise MalformedError("a SignerInfo has too few fields")
        pos = 3
        signed = None
        if kids[pos].tag == TAG_CTX0:
            signed = kids[pos].raw
            pos += 1
        if len(kids) < pos + 2:
            raise MalformedError("a SignerInfo lacks its signature algorithm or value")
        sig_alg, signature = kids[pos], kids[pos + 1]
        if kids[0].tag != TAG_INTEGER or sig_alg.tag != TAG_SEQUENCE:
            raise MalformedError("a SignerInfo's version or signature algorithm is malformed")
        if signature.tag not in (TAG_OCTET_STRING, TAG_OCTET_STRING | 0x20):
            raise MalformedError("a SignerInfo's signature is not an OCTET STRING")
        unsigned: tuple[bytes, ...] | None = None
        rest = kids[pos + 2 :]
        if rest:
            if len(rest) > 1 or rest[0].tag != TAG_CTX1:
                raise MalformedError("a SignerInfo has unexpected trailing fields")
            unsigned = tuple(a.raw for a in rest[0].children())
        return cls(
            version=kids[0].raw,
            sid=kids[1].raw,
            digest_algorithm=kids[2].raw,
            signed_attrs=signed,
            signature_algorithm=sig_alg.raw,
            signature=signature.raw,
            unsigned_attrs=unsigned,
        )

    def dump(self) -> bytes:
        body = self.version + self.sid + self.digest_algorithm
        if self.signed_attrs is not None:
            body += self.signed_attrs
        body += self.signature_algorithm + self.signature
        if self.unsigned_attrs:
            body += tlv(TAG_CTX1, b"".join(self.unsigned_attrs))
        return tlv(TAG_SEQUENCE, body)

    def with_unsigned_attrs(self, attrs: Sequence[bytes]) -> SignerInfoParts:
        return replace(self, unsigned_attrs=tuple(attrs) if attrs else None)

    def add_unsigned_attr(self, attr: bytes) -> SignerInfoParts:
        return self.with_unsigned_attrs([*(self.unsigned_attrs or ()), attr])

    @property
    def signature_value(self) -> bytes:
        return _octets(read_single(self.signature, "signature"))

    @property
    def signed_attrs_der(self) -> bytes:
        """The signed attributes as the SET OF the signature covers (RFC 5652 §5.4)."""
        if self.signed_attrs is None:
            raise MalformedError("the SignerInfo has no signed attributes")
        return bytes([TAG_SET]) + self.signed_attrs[1:]

    def signed_attributes(self) -> list[tuple[str, list[bytes]]]:
        """``[(dotted OID, [raw values])]`` of the signed attributes, in order."""
        if self.signed_attrs is None:
            return []
        element = read_single(self.signed_attrs, "signed attributes")
        return [(oid, values) for oid, _, values in
                (attribute_parts(a.raw) for a in element.children())]

    def unsigned_attributes(self) -> list[tuple[str, list[bytes]]]:
        return [(oid, values) for oid, _, values in
                (attribute_parts(a) for a in self.unsigned_attrs or ())]

    def parsed(self) -> asn1_cms.SignerInfo:
        """The asn1crypto view (for reading values only, never for writing)."""
        try:
            info = asn1_cms.SignerInfo.load(self.dump())
            _ = info["sid"].native, info["digest_algorithm"].native
            _ = info["signature_algorithm"].native
        except (ValueError, TypeError, KeyError) as exc:
            raise MalformedError(f"malformed SignerInfo: {exc}") from exc
        return info


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedDataParts:
    """A ``ContentInfo`` holding ``SignedData`` (RFC 5652 §5.1) as original encodings."""

    version: int
    digest_algorithms: bytes
    encap_content_info: bytes
    certificates: tuple[bytes, ...] | None  # raw CertificateChoices, in order
    crls: tuple[bytes, ...] | None  # raw RevocationInfoChoice, in order
    signer_infos: tuple[SignerInfoParts, ...]
    _version_raw: bytes = b""

    def dump(self) -> bytes:
        """The ``ContentInfo`` DER; untouched elements keep their bytes."""
        version = self.version
        if self._needs_v5() and version < 5:
            version = 5
        version_raw = (self._version_raw if self._version_raw and version == self.version
                       else core.Integer(version).dump())
        body = version_raw + self.digest_algorithms + self.encap_content_info
        if self.certificates is not None:
            body += tlv(TAG_CTX0, b"".join(self.certificates))
        if self.crls is not None:
            body += tlv(TAG_CTX1, b"".join(self.crls))
        body += tlv(TAG_SET, b"".join(s.dump() for s in self.signer_infos))
        signed_data = tlv(TAG_SEQUENCE, body)
        return tlv(TAG_SEQUENCE, encode_oid(OID_SIGNED_DATA) + tlv(TAG_CTX0, signed_data))

    def _needs_v5(self) -> bool:
        # RFC 5652 §5.1: "other" certificate ([3]) or revocation ([1]) formats need version 5.
        return any(c[0] == 0xA3 for c in self.certificates or ()) or any(
            r[0] == TAG_CTX1 for r in self.crls or ()
        )

    # -- reading --------------------------------------------------------------------------

    @property
    def encap(self) -> tuple[str, bytes | None]:
        """``(eContentType dotted OID, eContent octets or None when detached)``."""
        element = read_single(self.encap_content_info, "encapContentInfo")
        kids = element.children()
        if not kids or kids[0].tag != TAG_OID:
            raise MalformedError("encapContentInfo has no eContentType")
        oid = core.ObjectIdentifier.load(kids[0].raw).dotted
        if len(kids) == 1:
            return oid, None
        if kids[1].tag != TAG_CTX0:
            raise MalformedError("encapContentInfo has an unexpected field")
        inner = kids[1].children()
        if len(inner) != 1:
            raise MalformedError("eContent must hold exactly one OCTET STRING")
        return oid, _octets(inner[0])

    @property
    def econtent_type_tlv(self) -> bytes:
        """The ``eContentType`` element exactly as encoded."""
        return read_single(self.encap_content_info, "encapContentInfo").children()[0].raw

    def with_signer_info(self, index: int, info: SignerInfoParts) -> SignedDataParts:
        infos = list(self.signer_infos)
        infos[index] = info
        return replace(self, signer_infos=tuple(infos))

    def add_certificates(self, ders: Iterable[bytes]) -> SignedDataParts:
        """Append certificates not yet present (compared by their encoding)."""
        current = list(self.certificates or ())
        seen = set(current)
        for der in ders:
            if der not in seen:
                seen.add(der)
                current.append(der)
        return replace(self, certificates=tuple(current) if current else self.certificates)

    def add_revocation_info(self, choices: Iterable[bytes]) -> SignedDataParts:
        """Append ``RevocationInfoChoice`` elements not yet present."""
        current = list(self.crls or ())
        seen = set(current)
        for raw in choices:
            if raw not in seen:
                seen.add(raw)
                current.append(raw)
        return replace(self, crls=tuple(current) if current else self.crls)


def parse_signed_data(der: bytes) -> SignedDataParts:
    """Split a DER/BER ``ContentInfo`` of type signedData into its original element encodings."""
    if not der:
        raise MalformedError("empty input: not a CMS signature")
    if der[0] != TAG_SEQUENCE:
        raise MalformedError("not a CMS signature (DER ContentInfo expected; is it PEM or PDF?)")
    outer = read_single(der, "ContentInfo")
    kids = outer.children()
    if len(kids) != 2 or kids[0].tag != TAG_OID or kids[1].tag != TAG_CTX0:
        raise MalformedError("not a CMS ContentInfo")
    content_type = core.ObjectIdentifier.load(kids[0].raw).dotted
    if content_type != OID_SIGNED_DATA:
        raise MalformedError(f"CMS content type {content_type} is not signedData")
    wrapped = kids[1].children()
    if len(wrapped) != 1 or wrapped[0].tag != TAG_SEQUENCE:
        raise MalformedError("malformed SignedData")
    fields = wrapped[0].children()
    if len(fields) < 4 or fields[0].tag != TAG_INTEGER or fields[1].tag != TAG_SET:
        raise MalformedError("malformed SignedData: version or digestAlgorithms missing")
    if fields[2].tag != TAG_SEQUENCE:
        raise MalformedError("malformed SignedData: encapContentInfo missing")
    pos = 3
    certificates: tuple[bytes, ...] | None = None
    crls: tuple[bytes, ...] | None = None
    if pos < len(fields) and fields[pos].tag == TAG_CTX0:
        certificates = tuple(c.raw for c in fields[pos].children())
        pos += 1
    if pos < len(fields) and fields[pos].tag == TAG_CTX1:
        crls = tuple(c.raw for c in fields[pos].children())
        pos += 1
    if pos != len(fields) - 1 or fields[pos].tag != TAG_SET:
        raise MalformedError("malformed SignedData: signerInfos missing or misplaced")
    infos = tuple(SignerInfoParts.parse(s.raw) for s in fields[pos].children())
    if not infos:
        raise MalformedError("the SignedData has no SignerInfo (no signature)")
    try:
        version = int(core.Integer.load(fields[0].raw).native)
    except ValueError as exc:
        raise MalformedError(f"malformed SignedData version: {exc}") from exc
    parts = SignedDataParts(
        version=version,
        digest_algorithms=fields[1].raw,
        encap_content_info=fields[2].raw,
        certificates=certificates,
        crls=crls,
        signer_infos=infos,
        _version_raw=fields[0].raw,
    )
    parts.encap  # noqa: B018 - validates the encapsulated content early
    return parts


def _octets(element: Tlv) -> bytes:
    """Value of an OCTET STRING, primitive or constructed (BER segments joined)."""
    if element.tag == TAG_OCTET_STRING:
        return element.content
    if element.tag == TAG_OCTET_STRING | 0x20:
        return b"".join(_octets(c) for c in element.children())
    raise MalformedError(f"expected an OCTET STRING, found tag {element.tag:#04x}")
