"""CAdES baseline signatures (ETSI EN 319 122-1 V1.3.1), B-B to B-LTA, from a remote key.

* B-B (§5.1, §6.3): ``SignedData`` with the signer chain in ``certificates``; signed attributes
  content-type (id-data), message-digest, signing-time and signing-certificate-v2 (ESSCertIDv2
  with issuerSerial; hashAlgorithm omitted when it is the DER default SHA-256). The phone signs
  the digest of the DER ``SET OF`` signed attributes (RFC 5652 §5.4). Attached or detached.
* B-T (§5.3, :func:`to_t`): a signature-time-stamp over the ``SignerInfo`` signature value.
* B-LT (§6.4, :func:`to_lt`): every certificate, CRL and OCSP response for every chain in
  ``SignedData.certificates`` and ``SignedData.crls`` (OCSP as ``other`` / id-ri-ocsp-response);
  never certificate-values or revocation-values.
* B-LTA (§5.5.3, :func:`to_lta`): an archive-time-stamp-v3 whose token carries the
  ats-hash-index-v3 (§5.5.2) as an unsigned attribute of its own ``SignerInfo``.

Augmentation never re-encodes what is already there (:mod:`ltv.formats.cms`): the signed
attributes, the signature value, every certificate, CRL and unsigned attribute keep their bytes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import algos, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ltv.algorithms import DigestAlgorithm, SignatureMechanism, digest_info
from ltv.errors import InputError, MalformedError, TimestampError, UnsupportedAlgorithmError
from ltv.evidence import EvidenceSet, collect, collect_for_tokens
from ltv.formats import cms
from ltv.formats.cms import (
    TAG_OCTET_STRING,
    TAG_SEQUENCE,
    TAG_SET,
    SignedDataParts,
    SignerInfoParts,
    attribute,
    encode_oid,
    tlv,
)
from ltv.signing import (
    Document,
    PendingSignature,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
)
from ltv.tbs import DataToBeSigned, TbsForm

if TYPE_CHECKING:
    from ltv.timestamps import TimestampToken

__all__ = [
    "BACKEND",
    "OID_ARCHIVE_TIME_STAMP_V3",
    "OID_ATS_HASH_INDEX_V3",
    "OID_RI_OCSP_RESPONSE",
    "OID_SIGNATURE_TIME_STAMP",
    "CadesBackend",
    "archive_timestamp_imprint",
    "ats_hash_index_v3",
    "detect_level",
    "timestamp_tokens",
    "to_lt",
    "to_lta",
    "to_t",
]

OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
OID_CONTENT_TIME_STAMP = "1.2.840.113549.1.9.16.2.20"
OID_SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"
OID_ARCHIVE_TIME_STAMP_V2 = "1.2.840.113549.1.9.16.2.48"
OID_ARCHIVE_TIME_STAMP_V3 = "0.4.0.1733.2.4"
OID_ATS_HASH_INDEX_V3 = "0.4.0.19122.1.5"
OID_RI_OCSP_RESPONSE = "1.3.6.1.5.5.7.16.2"

_TOKEN_ATTRIBUTES = (OID_SIGNATURE_TIME_STAMP, OID_ARCHIVE_TIME_STAMP_V3,
                     OID_ARCHIVE_TIME_STAMP_V2)

_RSA_V15 = {
    DigestAlgorithm.SHA1: "1.2.840.113549.1.1.5",
    DigestAlgorithm.SHA256: "1.2.840.113549.1.1.11",
    DigestAlgorithm.SHA384: "1.2.840.113549.1.1.12",
    DigestAlgorithm.SHA512: "1.2.840.113549.1.1.13",
}
_ECDSA = {
    DigestAlgorithm.SHA1: "1.2.840.10045.4.1",
    DigestAlgorithm.SHA256: "1.2.840.10045.4.3.2",
    DigestAlgorithm.SHA384: "1.2.840.10045.4.3.3",
    DigestAlgorithm.SHA512: "1.2.840.10045.4.3.4",
}
OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
OID_RSASSA_PSS = "1.2.840.113549.1.1.10"
_KNOWN_SIGNATURE_OIDS = frozenset(
    {*_RSA_V15.values(), *_ECDSA.values(), OID_RSA_ENCRYPTION, OID_RSASSA_PSS}
)


# ---------------------------------------------------------------------------------------------
# Encoding helpers


def _algorithm_id(oid: str, params: bytes = b"") -> bytes:
    return tlv(TAG_SEQUENCE, encode_oid(oid) + params)


def _digest_algorithm_id(alg: DigestAlgorithm) -> bytes:
    return _algorithm_id(alg.oid)  # parameters absent (RFC 5754 §2)


def signature_algorithm_id(mechanism: SignatureMechanism, alg: DigestAlgorithm) -> bytes:
    """``signatureAlgorithm`` for a SignerInfo (RFC 4055, RFC 5754, RFC 5758)."""
    if mechanism is SignatureMechanism.RSA_PKCS1V15:
        return _algorithm_id(_RSA_V15[alg], core.Null().dump())
    if mechanism is SignatureMechanism.ECDSA:
        return _algorithm_id(_ECDSA[alg])
    params = algos.RSASSAPSSParams({
        "hash_algorithm": {"algorithm": alg.value},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": alg.value}},
        "salt_length": alg.digest_size,
    })
    return _algorithm_id(OID_RSASSA_PSS, params.dump())


def _time(at: datetime) -> bytes:
    at = at.astimezone(UTC).replace(microsecond=0)
    if 1950 <= at.year < 2050:  # RFC 5652 §11.3
        return bytes(core.UTCTime(at).dump())
    return bytes(core.GeneralizedTime(at).dump())


def _cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _issuer_and_serial(cert_der: bytes) -> tuple[bytes, bytes]:
    """The certificate's issuer Name exactly as encoded, and its serial as DER INTEGER."""
    tbs = asn1_x509.Certificate.load(cert_der)["tbs_certificate"]
    return tbs["issuer"].dump(), tbs["serial_number"].dump()


def signing_certificate_v2(cert: x509.Certificate, alg: DigestAlgorithm) -> bytes:
    """``SigningCertificateV2`` (RFC 5035 §3) with one ESSCertIDv2 carrying issuerSerial."""
    der = _cert_der(cert)
    issuer, serial = _issuer_and_serial(der)
    issuer_serial = tlv(TAG_SEQUENCE, tlv(TAG_SEQUENCE, tlv(0xA4, issuer)) + serial)
    hash_alg = b"" if alg is DigestAlgorithm.SHA256 else _digest_algorithm_id(alg)
    cert_id = tlv(TAG_SEQUENCE, hash_alg + tlv(TAG_OCTET_STRING, alg.digest(der)) + issuer_serial)
    return tlv(TAG_SEQUENCE, tlv(TAG_SEQUENCE, cert_id))


def _der_set(elements: Sequence[bytes]) -> bytes:
    """DER ``SET OF`` (X.690 §11.6: elements in ascending order of their encodings)."""
    return tlv(TAG_SET, b"".join(sorted(elements)))


def _document_digest(document: Document, alg: DigestAlgorithm) -> bytes:
    if isinstance(document, Path):
        with document.open("rb") as stream:
            return alg.digest_stream(stream)
    return alg.digest(document)


def _document_bytes(document: Document) -> bytes:
    return document.read_bytes() if isinstance(document, Path) else document


# ---------------------------------------------------------------------------------------------
# Reading a signature


def signer_digest_algorithm(info: SignerInfoParts) -> DigestAlgorithm:
    """The SignerInfo's digestAlgorithm (refusing unknown ones with a clear message)."""
    element = cms.read_single(info.digest_algorithm, "digestAlgorithm")
    oid = str(core.ObjectIdentifier.load(element.children()[0].raw).dotted)
    return DigestAlgorithm.from_oid(oid)


def check_signature_algorithm(info: SignerInfoParts) -> str:
    element = cms.read_single(info.signature_algorithm, "signatureAlgorithm")
    oid = str(core.ObjectIdentifier.load(element.children()[0].raw).dotted)
    if oid not in _KNOWN_SIGNATURE_OIDS:
        raise UnsupportedAlgorithmError(f"unsupported signature algorithm OID {oid} in the CMS")
    return oid


def _signer_certificate(parts: SignedDataParts, info: SignerInfoParts,
                        extra: Sequence[x509.Certificate] = ()) -> x509.Certificate:
    """The certificate named by the SignerInfo's sid (issuerAndSerialNumber or SKI)."""
    sid = cms.read_single(info.sid, "sid")
    candidates = [*_certificates(parts), *extra]
    if sid.tag == TAG_SEQUENCE:
        kids = sid.children()
        if len(kids) != 2:
            raise MalformedError("malformed issuerAndSerialNumber")
        issuer_raw, serial_raw = kids[0].raw, kids[1].raw
        for cert in candidates:
            if _issuer_and_serial(_cert_der(cert)) == (issuer_raw, serial_raw):
                return cert
        serial = int(core.Integer.load(serial_raw).native)
        wanted = asn1_x509.Name.load(issuer_raw)
        for cert in candidates:  # issuer names that differ only in encoding
            if cert.serial_number == serial and _asn1_issuer(cert) == wanted:
                return cert
    elif sid.tag == 0x80:
        for cert in candidates:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == sid.content:
                return cert
    raise InputError("the signer's certificate is not in the signature (SignedData.certificates)")


def _asn1_issuer(cert: x509.Certificate) -> asn1_x509.Name:
    return asn1_x509.Certificate.load(_cert_der(cert))["tbs_certificate"]["issuer"]


def _certificates(parts: SignedDataParts) -> list[x509.Certificate]:
    """The X.509 certificates in SignedData.certificates (other CertificateChoices skipped)."""
    out: list[x509.Certificate] = []
    for raw in parts.certificates or ():
        if raw[0] != TAG_SEQUENCE:
            continue
        try:
            out.append(x509.load_der_x509_certificate(raw))
        except ValueError as exc:
            raise MalformedError(f"a certificate in the CMS does not parse: {exc}") from exc
    return out


def timestamp_tokens(signed: bytes) -> list[tuple[str, bytes]]:
    """``(attribute OID, token DER)`` for every time-stamp token of every SignerInfo.

    Covers content-time-stamp (signed), signature-time-stamp, archive-time-stamp(-v2/-v3).
    """
    parts = cms.parse_signed_data(signed)
    out: list[tuple[str, bytes]] = []
    for info in parts.signer_infos:
        for oid, values in info.signed_attributes():
            if oid == OID_CONTENT_TIME_STAMP:
                out.extend((oid, v) for v in values)
        for oid, values in info.unsigned_attributes():
            if oid in _TOKEN_ATTRIBUTES:
                out.extend((oid, v) for v in values)
    return out


def detect_level(signed: bytes) -> SignatureLevel:
    """The baseline level the first SignerInfo reaches, judged by its attributes (§5, §6)."""
    parts = cms.parse_signed_data(signed)
    oids = {oid for oid, _ in parts.signer_infos[0].unsigned_attributes()}
    if oids & {OID_ARCHIVE_TIME_STAMP_V3, OID_ARCHIVE_TIME_STAMP_V2}:
        return SignatureLevel.B_LTA
    if OID_SIGNATURE_TIME_STAMP in oids:
        return SignatureLevel.B_LT if parts.crls else SignatureLevel.B_T
    return SignatureLevel.B_B


# ---------------------------------------------------------------------------------------------
# B-T


def _request_token(services: SigningServices, digest: bytes, alg: DigestAlgorithm,
                   parsed: dict[bytes, TimestampToken] | None = None) -> bytes:
    token: TimestampToken = services.require_timestamps().timestamp(digest, alg)
    if token.message_digest != digest:
        raise TimestampError("the TSA's token covers another message imprint")
    if parsed is not None:  # checked already: the next steps need not parse it again
        parsed[bytes(token.der)] = token
    return bytes(token.der)


def to_t(signed: bytes, *, services: SigningServices,
         digest_algorithm: DigestAlgorithm = DigestAlgorithm.SHA256,
         parsed: dict[bytes, TimestampToken] | None = None) -> bytes:
    """B-T (EN 319 122-1 §5.3, §6.3 item m): a signature-time-stamp on every SignerInfo.

    The message imprint is the hash of the ``signature`` field's value octets (RFC 3161
    appendix A, EN 319 122-1 §5.3). Nothing already present changes. ``parsed`` receives each
    new token as checked by the TSA client, keyed by its DER (for :func:`to_lt`).
    """
    parts = cms.parse_signed_data(signed)
    for index, info in enumerate(parts.signer_infos):
        check_signature_algorithm(info)
        imprint = digest_algorithm.digest(info.signature_value)
        token = _request_token(services, imprint, digest_algorithm, parsed)
        parts = parts.with_signer_info(
            index, info.add_unsigned_attr(attribute(OID_SIGNATURE_TIME_STAMP, [token]))
        )
    return parts.dump()


# ---------------------------------------------------------------------------------------------
# B-LT


def validation_data(signed: bytes, *, services: SigningServices,
                    parsed: Mapping[bytes, TimestampToken] | None = None) -> EvidenceSet:
    """The evidence :func:`to_lt` embeds: every chain of the signers and of every TSA.

    ``parsed``: tokens already checked in this augmentation (by DER); when it holds every
    token of the signature, their TSA certificates are taken from it instead of parsing each
    token again (the same targets and certificates :func:`collect_for_tokens` would find)."""
    parts = cms.parse_signed_data(signed)
    present = _certificates(parts)
    signers = [_signer_certificate(parts, info, services.known_certificates)
               for info in parts.signer_infos]
    evidence = collect(signers, services=services, available=present)
    tokens = [der for _, der in timestamp_tokens(signed)]
    if tokens and parsed and all(der in parsed for der in tokens):
        extra = list(present)
        targets = []
        for der in tokens:
            extra.extend(parsed[der].certificates)
            targets.append(parsed[der].signer_certificate)
        evidence = evidence.merge(collect(targets, services=services, available=extra))
    elif tokens:
        evidence = evidence.merge(
            collect_for_tokens(tokens, services=services, available=present)
        )
    return evidence


def to_lt(signed: bytes, *, services: SigningServices,
          parsed: Mapping[bytes, TimestampToken] | None = None) -> bytes:
    """B-LT (EN 319 122-1 §6.4 and §5.5.1 notes): all validation data inside the SignedData.

    Adds to ``SignedData.certificates`` every certificate of the signer's chain, of each TSA's
    chain (every time-stamp token present: signature-time-stamp and each archive-time-stamp-v3,
    so a renewal first covers the previous archive time-stamp), of each OCSP responder, and to
    ``SignedData.crls`` each CRL and each OCSP response (``RevocationInfoChoice.other`` with
    id-ri-ocsp-response, RFC 5940 §4.1). The data are fetched now, i.e. after any signature
    time-stamp already present. Certificate-values / revocation-values are never added (§6.4).
    """
    parts = cms.parse_signed_data(signed)
    evidence = validation_data(signed, services=services, parsed=parsed)
    revocation = [*evidence.crls,
                  *(cms.other_revocation_info(OID_RI_OCSP_RESPONSE, o)
                    for o in evidence.ocsp_responses)]
    parts = parts.add_certificates(evidence.certificate_ders).add_revocation_info(revocation)
    return parts.dump()


# ---------------------------------------------------------------------------------------------
# B-LTA


def ats_hash_index_v3(parts: SignedDataParts, info: SignerInfoParts,
                      alg: DigestAlgorithm) -> bytes:
    """DER ``ATSHashIndexV3`` (EN 319 122-1 §5.5.2) for ``info`` as the data stand now.

    ``hashIndAlgorithm`` is written explicitly (readers with and without a DEFAULT accept it);
    ``certificatesHashIndex`` hashes each ``CertificateChoices`` and ``crlsHashIndex`` each
    ``RevocationInfoChoice`` as encoded; ``unsignedAttrValuesHashIndex`` hashes, for every
    unsigned attribute and each of its values, ``attrType`` || that ``AttributeValue``.
    """
    certs = b"".join(tlv(TAG_OCTET_STRING, alg.digest(c)) for c in parts.certificates or ())
    crls = b"".join(tlv(TAG_OCTET_STRING, alg.digest(c)) for c in parts.crls or ())
    attrs = b""
    for raw in info.unsigned_attrs or ():
        _, type_raw, values = cms.attribute_parts(raw)
        attrs += b"".join(tlv(TAG_OCTET_STRING, alg.digest(type_raw + v)) for v in values)
    return tlv(TAG_SEQUENCE, _digest_algorithm_id(alg) + tlv(TAG_SEQUENCE, certs)
               + tlv(TAG_SEQUENCE, crls) + tlv(TAG_SEQUENCE, attrs))


def _content_hash(parts: SignedDataParts, info: SignerInfoParts, alg: DigestAlgorithm,
                  detached_content: Document | None) -> bytes:
    """Hash of the signed data (encapsulated eContent octets, or the detached document)."""
    _, content = parts.encap
    if content is not None:
        return alg.digest(content)
    if detached_content is None:
        raise InputError(
            "this CAdES signature is detached: give the signed data (--detached DATA) "
            "to add an archive time-stamp"
        )
    _check_detached(info, detached_content)
    return _document_digest(detached_content, alg)


def _check_detached(info: SignerInfoParts, content: Document) -> None:
    signed_digest = None
    for oid, values in info.signed_attributes():
        if oid == OID_MESSAGE_DIGEST and values:
            signed_digest = cms.read_single(values[0], "message-digest").content
    if signed_digest is None:
        return
    if _document_digest(content, signer_digest_algorithm(info)) != signed_digest:
        raise InputError("the detached data is not the data this signature signed")


def archive_timestamp_imprint(parts: SignedDataParts, info: SignerInfoParts, hash_index: bytes,
                              alg: DigestAlgorithm, content_hash: bytes) -> bytes:
    """Message imprint of an archive-time-stamp-v3 (EN 319 122-1 §5.5.3).

    Hash of the concatenation of: the ``eContentType`` element; the hash of the signed data;
    the SignerInfo's ``version``, ``sid``, ``digestAlgorithm``, ``signedAttrs`` (with its
    [0] tag), ``signatureAlgorithm`` and ``signature`` elements as encoded; and the DER
    ``ATSHashIndexV3`` value that goes into the token.
    """
    h = hashlib.new(alg.value)
    h.update(parts.econtent_type_tlv)
    h.update(content_hash)
    for field in (info.version, info.sid, info.digest_algorithm, info.signed_attrs or b"",
                  info.signature_algorithm, info.signature):
        h.update(field)
    h.update(hash_index)
    return h.digest()


def _with_unsigned_attribute(token_der: bytes, attr: bytes) -> bytes:
    """The token with ``attr`` appended to its SignerInfo's unsigned attributes."""
    token = cms.parse_signed_data(token_der)
    if len(token.signer_infos) != 1:
        raise TimestampError("a time-stamp token must have exactly one SignerInfo")
    return token.with_signer_info(0, token.signer_infos[0].add_unsigned_attr(attr)).dump()


def to_lta(signed: bytes, *, services: SigningServices, detached_content: Document | None = None,
           digest_algorithm: DigestAlgorithm = DigestAlgorithm.SHA256) -> bytes:
    """B-LTA (EN 319 122-1 §5.5.3): an archive-time-stamp-v3 on every SignerInfo.

    For each SignerInfo: compute the ats-hash-index-v3 over the current certificates, CRLs and
    unsigned attributes (§5.5.2), time-stamp the §5.5.3 imprint, put the hash index into the
    token's own SignerInfo as an unsigned attribute (outside what the TSA signed), and append
    the token as archive-time-stamp-v3. Call :func:`to_lt` first so the validation data is
    covered; a second call renews (LTA on LTA).
    """
    parts = cms.parse_signed_data(signed)
    for index, info in enumerate(parts.signer_infos):
        check_signature_algorithm(info)
        content_hash = _content_hash(parts, info, digest_algorithm, detached_content)
        hash_index = ats_hash_index_v3(parts, info, digest_algorithm)
        imprint = archive_timestamp_imprint(parts, info, hash_index, digest_algorithm,
                                            content_hash)
        token = _request_token(services, imprint, digest_algorithm)
        token = _with_unsigned_attribute(token, attribute(OID_ATS_HASH_INDEX_V3, [hash_index]))
        parts = parts.with_signer_info(
            index, info.add_unsigned_attr(attribute(OID_ARCHIVE_TIME_STAMP_V3, [token]))
        )
    return parts.dump()


# ---------------------------------------------------------------------------------------------
# The backend


@dataclass(frozen=True, slots=True)
class CadesBackend:
    """:class:`ltv.signing.FormatBackend` for CAdES (EN 319 122-1)."""

    format: SignatureFormat = SignatureFormat.CADES

    def prepare(
        self,
        document: Document,
        signer_chain: Sequence[x509.Certificate],
        *,
        level: SignatureLevel,
        options: SigningOptions,
        signing_time: datetime,
    ) -> tuple[DataToBeSigned, dict[str, Any]]:
        alg = options.digest_algorithm
        mechanism = options.mechanism
        if mechanism is None:
            raise InputError("the signature mechanism is not set")
        if alg is DigestAlgorithm.SHA1:
            raise UnsupportedAlgorithmError("SHA-1 is not accepted for new signatures")
        signer = signer_chain[0]
        attrs = [
            attribute(OID_CONTENT_TYPE, [encode_oid(cms.OID_DATA)]),
            attribute(OID_SIGNING_TIME, [_time(signing_time)]),
            attribute(OID_MESSAGE_DIGEST,
                      [tlv(TAG_OCTET_STRING, _document_digest(document, alg))]),
            attribute(OID_SIGNING_CERTIFICATE_V2, [signing_certificate_v2(signer, alg)]),
        ]
        signed_attrs = _der_set(attrs)
        if options.tbs_form is TbsForm.MESSAGE:
            data = signed_attrs
        elif options.tbs_form is TbsForm.DIGEST_INFO:
            data = digest_info(alg, alg.digest(signed_attrs))
        else:
            data = alg.digest(signed_attrs)
        tbs = DataToBeSigned(form=options.tbs_form, data=data, digest_algorithm=alg,
                             mechanism=mechanism)
        return tbs, {"signed_attrs": base64.b64encode(signed_attrs).decode("ascii")}

    def assemble(self, document: Document, pending: PendingSignature,
                 signature_value: bytes) -> bytes:
        try:
            signed_attrs = base64.b64decode(pending.format_state["signed_attrs"], validate=True)
        except (KeyError, ValueError) as exc:
            raise InputError("the pending CAdES signature lacks its signed attributes") from exc
        tbs = pending.data_to_be_signed
        if tbs.digest() != tbs.digest_algorithm.digest(signed_attrs):
            raise InputError("the pending signature's data to be signed does not match")
        chain = pending.signer_chain
        issuer, serial = _issuer_and_serial(chain[0])
        info = SignerInfoParts(
            version=core.Integer(1).dump(),
            sid=tlv(TAG_SEQUENCE, issuer + serial),
            digest_algorithm=_digest_algorithm_id(tbs.digest_algorithm),
            signed_attrs=bytes([cms.TAG_CTX0]) + signed_attrs[1:],
            signature_algorithm=signature_algorithm_id(tbs.mechanism, tbs.digest_algorithm),
            signature=tlv(TAG_OCTET_STRING, signature_value),
            unsigned_attrs=None,
        )
        encap = encode_oid(cms.OID_DATA)
        if not pending.options.detached:
            content = _document_bytes(document)
            encap += tlv(cms.TAG_CTX0, tlv(TAG_OCTET_STRING, content))
        parts = SignedDataParts(
            version=1,
            digest_algorithms=tlv(TAG_SET, _digest_algorithm_id(tbs.digest_algorithm)),
            encap_content_info=tlv(TAG_SEQUENCE, encap),
            certificates=tuple(dict.fromkeys(chain)),
            crls=None,
            signer_infos=(info,),
        )
        return parts.dump()

    def augment(
        self,
        signed: bytes,
        level: SignatureLevel,
        *,
        detached_content: Document | None,
        services: SigningServices,
    ) -> bytes:
        """Raise to ``level``; B-LTA on a B-LTA renews (new validation data, new ATSv3)."""
        current = detect_level(signed)
        parts = cms.parse_signed_data(signed)
        for info in parts.signer_infos:
            check_signature_algorithm(info)
            signer_digest_algorithm(info)
        if level <= current and level is not SignatureLevel.B_LTA:
            return signed
        if level is SignatureLevel.B_B:
            return signed
        parsed: dict[bytes, TimestampToken] = {}
        if current < SignatureLevel.B_T:
            signed = to_t(signed, services=services, parsed=parsed)
        if level is SignatureLevel.B_T:
            return signed
        from ltv.formats import cades_legacy_extend

        if cades_legacy_extend.has_legacy_archive(signed):  # ES-A: EN 319 122-1 §5.5.3
            signed = cades_legacy_extend.to_lt_legacy(signed, services=services)
        else:
            signed = to_lt(signed, services=services, parsed=parsed)
        if level is SignatureLevel.B_LT:
            return signed
        return to_lta(signed, services=services, detached_content=detached_content,
                      digest_algorithm=services.timestamp_digest_or_default())


BACKEND = CadesBackend()
