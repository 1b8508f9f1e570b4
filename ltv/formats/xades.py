"""XAdES baseline signatures, B-B to B-LTA (ETSI EN 319 132-1 V1.2.1), built on lxml.

Two-step signing (:mod:`ltv.signing`): :meth:`XadesBackend.prepare` builds the ``ds:Signature``
with its signed qualifying properties (EN 319 132-1 §5.2: ``SigningTime`` §5.2.1,
``SigningCertificateV2`` §5.2.2, ``DataObjectFormat`` §5.2.4 for every signed data object) and
returns the canonicalised ``ds:SignedInfo`` as the data to be signed; the JSON state pins ids,
times and the canonical SignedInfo bytes so :meth:`XadesBackend.assemble` in another process
rebuilds the identical signature and checks it did.

Levels (EN 319 132-1 §6.3, baseline requirements, STANDARDS.md §2.3):

* :func:`to_t` adds a ``SignatureTimeStamp`` (§5.3) over the canonicalised ``ds:SignatureValue``;
* :func:`to_lt` adds ``CertificateValues`` (§5.4.1) and ``RevocationValues`` (§5.4.2) for the
  signer's chain and ``xadesv141:TimeStampValidationData`` (§5.4.4 / TS 101 903 v1.4.1 §8.1) for
  every time-stamp's chain (TSA and OCSP responders), gathered by :func:`ltv.evidence.collect`;
* :func:`to_lta` adds an ``xadesv141:ArchiveTimeStamp`` (§5.5.2) whose message imprint covers,
  in this order, the processed references, ``ds:SignedInfo``, ``ds:SignatureValue``,
  ``ds:KeyInfo``, every unsigned signature property before it and every ``ds:Object`` except the
  one holding ``QualifyingProperties`` (§5.5.2.2). Repeatable: before each new archive time-stamp
  the validation data of the previous one's TSA is added (renewal).

Packagings: enveloped (enveloped-signature transform, signature as the document element's last
child), enveloping (``ds:Object``: XML as XML, other bytes base64 with ``Encoding``), detached
(``URI`` = file name). :func:`verify_xades_core` checks references (:class:`HashFailureError`)
and the signature value (:class:`~ltv.errors.SignatureValueError`) and reports only the nodes the
references actually resolve to.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from asn1crypto import tsp as asn1_tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from lxml import etree

from ltv.algorithms import DigestAlgorithm, SignatureMechanism
from ltv.clock import format_time, parse_time
from ltv.errors import InputError, MalformedError, SessionError, UnsupportedAlgorithmError
from ltv.evidence import EvidenceSet, collect, collect_for_tokens
from ltv.formats import xades_legacy
from ltv.formats._xmldsig import (
    DS,
    ENCODING_BASE64,
    SIGNED_PROPERTIES_TYPE,
    TRANSFORM_BASE64,
    TRANSFORM_ENVELOPED,
    XADES,
    XADES141,
    C14nMethod,
    HashFailureError,
    ProcessedReference,
    build_signature_method,
    c14n_method_of,
    canonicalize,
    digest_from_uri,
    digest_uri,
    process_reference,
    resolve_ids,
    signed_info_of,
    verify_signature_value,
)
from ltv.signing import (
    Document,
    Packaging,
    PendingSignature,
    SignatureFormat,
    SignatureLevel,
    SigningOptions,
    SigningServices,
)
from ltv.tbs import DataToBeSigned, TbsForm
from ltv.timestamps import verify_imprint
from ltv.xmlsafe import parse_xml, serialize

if TYPE_CHECKING:
    from ltv.timestamps import TimestampToken

__all__ = [
    "BACKEND",
    "C14nMethod",
    "EmbeddedTimestamp",
    "HashFailureError",
    "ReferenceInfo",
    "SignedObject",
    "UnsignedNode",
    "XadesBackend",
    "XadesInfo",
    "archive_timestamp_input",
    "detect_level",
    "signed_data_objects",
    "to_lt",
    "to_lta",
    "to_t",
    "verify_xades_core",
]

STATE_SCHEMA = "ltv.xades-state/1"

_XML_MIME = re.compile(r"^(text|application)/([\w.+-]+\+)?xml$", re.IGNORECASE)


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"{what} is not base64") from exc


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# -- reports ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceInfo:
    """A checked ``ds:Reference``: what it resolved to, as reported (never guessed)."""

    uri: str | None
    type: str | None
    resolved_to: str  # "document", "element {tag} Id=...", "external {name}"
    digest_algorithm: DigestAlgorithm
    mime_type: str | None  # from the signed DataObjectFormat (EN 319 132-1 §5.2.4)
    is_signed_properties: bool
    #: "document" (URI=""), "element" (#id), "detached" (an external file), "octets"
    kind: str = ""
    element: str | None = None  # the resolved element's name as written ("ds:Object")
    element_id: str | None = None  # its Id/ID/id
    path: str | None = None  # where it sits ("/ds:Signature/ds:Object[2]")
    transforms: tuple[str, ...] = ()  # the ds:Transform Algorithm URIs, in order
    digest_method: str = ""  # the ds:DigestMethod Algorithm URI
    digest_value: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsignedNode:
    """Content of the signature's file that no ``ds:Reference`` covers (EN 319 102-1 §5.2.8).

    ``what``: "element" (the element and everything in it is unsigned), "text" (character
    data directly in ``element``, outside the signed nodes), "attributes" (the attributes of a
    wrapper ``element`` whose content is signed only in part), or "more" (a count of further
    unsigned elements not listed one by one).
    """

    what: str
    element: str | None
    element_id: str | None
    path: str | None
    count: int = 1

    @property
    def description(self) -> str:
        if self.what == "more":
            return f"{self.count} more unsigned element(s) not listed"
        ident = f" Id={self.element_id}" if self.element_id else ""
        label = {"element": "element", "text": "text in element",
                 "attributes": "attributes of element"}.get(self.what, self.what)
        return f"{label} {self.element}{ident} at {self.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedObject:
    """One signed data object and the octets its ``ds:Reference`` digests (XMLDSIG §4.4.3.2):
    the document without the enveloped signature (canonicalised), the canonical ``ds:Object``,
    the decoded bytes of a base64 ``ds:Object``, or the detached file."""

    uri: str | None
    resolved_to: str
    mime_type: str | None
    octets: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbeddedTimestamp:
    """A time-stamp found in the unsigned properties, with its message-imprint input.

    ``kind`` is the property's local name (``SignatureTimeStamp``, ``ArchiveTimeStamp``);
    ``imprint_input`` the octets whose digest the token's message imprint must equal
    (EN 319 132-1 §5.3 / §5.5.2.2), computed with ``canonicalization``.
    """

    kind: str
    token: bytes
    imprint_input: bytes
    canonicalization: C14nMethod
    element_id: str | None
    position: int  # index among UnsignedSignatureProperties children


@dataclass(frozen=True, slots=True, kw_only=True)
class XadesInfo:
    """What :func:`verify_xades_core` established about one XAdES signature."""

    signature_id: str | None
    level: SignatureLevel
    signer_certificate: x509.Certificate
    key_info_certificates: tuple[x509.Certificate, ...]
    signing_time: datetime | None
    mechanism: SignatureMechanism
    digest_algorithm: DigestAlgorithm
    canonicalization: C14nMethod
    references: tuple[ReferenceInfo, ...]
    timestamps: tuple[EmbeddedTimestamp, ...]
    #: Validation material embedded at B-LT/B-LTA (CertificateValues, RevocationValues and every
    #: TimeStampValidationData), plus the KeyInfo certificates.
    evidence: EvidenceSet
    #: Content of the file outside every reference (an extra ds:Object, elements beside the
    #: signed one); empty when everything but the signature's own structure is signed.
    unsigned_content: tuple[UnsignedNode, ...] = ()
    #: CompleteCertificateRefs(V2) / CompleteRevocationRefs entries (TS 101 903 §7.4, legacy).
    legacy_refs: tuple[xades_legacy.LegacyRef, ...] = ()


# -- the backend ------------------------------------------------------------------------------


class XadesBackend:
    """The XAdES :class:`~ltv.signing.FormatBackend` (``BACKEND`` is the default instance).

    ``canonicalization`` applies to ``ds:SignedInfo``, the references' final transform and
    the time-stamps (exclusive C14N by default; C14N 1.0 and 1.1 supported).
    ``timestamp_digest`` is the hash of the time-stamps' message imprints.
    """

    format = SignatureFormat.XADES

    def __init__(
        self,
        *,
        canonicalization: C14nMethod = C14nMethod.EXC_C14N,
        timestamp_digest: DigestAlgorithm = DigestAlgorithm.SHA256,
    ) -> None:
        if canonicalization.with_comments:
            raise UnsupportedAlgorithmError("sign with a canonicalisation without comments")
        self.canonicalization = canonicalization
        self.timestamp_digest = timestamp_digest

    # EN 319 132-1 §4 / §5.2: the B-B signature and its data to be signed.
    def prepare(
        self,
        document: Document,
        signer_chain: Sequence[x509.Certificate],
        *,
        level: SignatureLevel,
        options: SigningOptions,
        signing_time: datetime,
    ) -> tuple[DataToBeSigned, dict[str, Any]]:
        mechanism = options.mechanism
        if mechanism is None:  # ltv.signing.prepare always fills it in
            raise InputError("no signature mechanism chosen")
        packaging, is_xml, mime = _packaging_for(document, options)
        file_name = _file_name(document, options)
        sid = "id-" + secrets.token_hex(16)
        signing_time = signing_time.astimezone(UTC).replace(microsecond=0)
        c14n = (C14nMethod.parse(options.canonicalization) if options.canonicalization
                else self.canonicalization)
        skeleton = _Skeleton(
            sid=sid,
            packaging=packaging,
            is_xml=is_xml,
            mime_type=mime,
            file_name=file_name,
            c14n=c14n,
            digest_algorithm=options.digest_algorithm,
            mechanism=mechanism,
        )
        tree, signature = skeleton.build(document, signer_chain, signing_time)
        signed_info = signature.find(_q(DS, "SignedInfo"))
        si_c14n = canonicalize(signed_info, c14n)
        tbs = DataToBeSigned(
            form=TbsForm.MESSAGE, data=si_c14n, digest_algorithm=options.digest_algorithm,
            mechanism=mechanism,
        ).as_form(options.tbs_form)
        content_object = signature.find(f"{{{DS}}}Object[@Id='{sid}-object']")
        if content_object is not None:
            signature.remove(content_object)  # rebuilt from the document in assemble
        state = {
            "schema": STATE_SCHEMA,
            "signature_id": sid,
            "packaging": packaging.value,
            "is_xml": is_xml,
            "mime_type": mime,
            "file_name": file_name,
            "canonicalization": c14n.value,
            "signing_time": format_time(signing_time),
            "signature_skeleton": _b64(etree.tostring(signature)),
            "signed_info_c14n": _b64(si_c14n),
            "signed_info_sha256": hashlib.sha256(si_c14n).hexdigest(),
        }
        del tree
        return tbs, state

    def assemble(
        self, document: Document, pending: PendingSignature, signature_value: bytes
    ) -> bytes:
        return serialize(self._assembled(document, pending, signature_value)[0])

    def _assembled(
        self, document: Document, pending: PendingSignature, signature_value: bytes
    ) -> tuple[Any, Any, _Core]:
        """The B-B signature in its tree, with the verified core."""
        state = pending.format_state
        if state.get("schema") != STATE_SCHEMA:
            raise SessionError(f"not a XAdES signing state of schema {STATE_SCHEMA}")
        try:
            sid = str(state["signature_id"])
            packaging = Packaging(state["packaging"])
            c14n = C14nMethod.parse(state["canonicalization"])
            skeleton_xml = base64.b64decode(state["signature_skeleton"], validate=True)
            expected = base64.b64decode(state["signed_info_c14n"], validate=True)
            is_xml = bool(state["is_xml"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionError(f"the XAdES signing state is damaged: {exc}") from exc
        if hashlib.sha256(expected).hexdigest() != state.get("signed_info_sha256"):
            raise SessionError("the XAdES signing state is damaged (SignedInfo check digest)")
        signature = parse_xml(skeleton_xml, what="the pending signature").getroot()
        tree = _place(signature, document, packaging=packaging, is_xml=is_xml, sid=sid,
                      mime_type=state.get("mime_type"))
        signature = _find_signature_by_id(tree, sid)
        signed_info = signature.find(_q(DS, "SignedInfo"))
        if canonicalize(signed_info, c14n) != expected:
            raise SessionError(
                "the rebuilt ds:SignedInfo differs from the one the phone signed "
                "(document or state changed)"
            )
        if pending.data_to_be_signed.digest() != pending.data_to_be_signed.digest_algorithm.digest(
            expected
        ):
            raise SessionError("the data to be signed does not match the XAdES SignedInfo")
        value = _xml_signature_value(signature_value, pending.signer_certificate)
        sv = signature.find(_q(DS, "SignatureValue"))
        sv.text = _b64(value)
        # The assembled signature must verify as a whole (references included): a damaged or
        # forged state never yields a signature.
        try:
            core = _verify_core(tree, signature, detached_content=document
                                if packaging is Packaging.DETACHED else None)
        except HashFailureError as exc:
            raise SessionError(f"the assembled signature does not verify: {exc}") from exc
        return tree, signature, core

    def assemble_and_augment(
        self,
        document: Document,
        pending: PendingSignature,
        signature_value: bytes,
        *,
        services: SigningServices,
    ) -> bytes:
        """``assemble`` then ``augment`` to the pending level on the one tree (what
        :func:`ltv.signing.finish` calls): the core verified at assembly is the one the level
        steps use, instead of serialising, parsing and verifying the signature again."""
        tree, signature, core = self._assembled(document, pending, signature_value)
        if pending.level is not SignatureLevel.B_B:
            self._raise(tree, signature, core, SignatureLevel.B_B, pending.level,
                        services=services)
        return serialize(tree)

    # EN 319 132-1 §6.3: augmentation to B-T, B-LT, B-LTA.
    def augment(
        self,
        signed: bytes,
        level: SignatureLevel,
        *,
        detached_content: Document | None,
        services: SigningServices,
    ) -> bytes:
        tree = parse_xml(signed, what="the XAdES signature")
        signature = _single_signature(tree)
        # Act only on what was signed: the core must verify before anything is added.
        core = _verify_core(tree, signature, detached_content=detached_content)
        self._raise(tree, signature, core, detect_level(signature), level, services=services)
        return serialize(tree)

    def _raise(self, tree: Any, signature: Any, core: _Core, current: SignatureLevel,
               level: SignatureLevel, *, services: SigningServices) -> None:
        """Add to the verified ``signature`` what ``level`` needs beyond ``current``."""
        ts_digest = services.timestamp_digest or self.timestamp_digest
        if current < SignatureLevel.B_T <= level:
            to_t(signature, services=services, digest_algorithm=ts_digest,
                 canonicalization=self.canonicalization)
        if current < SignatureLevel.B_LT <= level:
            to_lt(signature, services=services)
        if level is SignatureLevel.B_LTA:
            to_lta(signature, references=core.processed, services=services,
                   digest_algorithm=ts_digest, canonicalization=self.canonicalization)


BACKEND = XadesBackend()


# -- building B-B -----------------------------------------------------------------------------


def _packaging_for(document: Document, options: SigningOptions) -> tuple[Packaging, bool, str]:
    """Packaging, whether the content is XML, and its MIME type (DataObjectFormat)."""
    mime = options.mime_type
    if isinstance(document, Path):
        head = b""
        with document.open("rb") as stream:
            head = stream.read(512)
    else:
        head = document[:512]
    looks_xml = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
    if mime is not None:
        is_xml = bool(_XML_MIME.match(mime))
    else:
        is_xml = looks_xml
        if not is_xml and isinstance(document, Path) and document.suffix.lower() == ".xml":
            is_xml = True
        mime = "text/xml" if is_xml else _guess_mime(document, options)
    packaging = options.packaging or (Packaging.ENVELOPED if is_xml else Packaging.DETACHED)
    if packaging is Packaging.ENVELOPED and not is_xml:
        raise InputError("an enveloped XAdES signature needs an XML document; use detached "
                         "or enveloping packaging for other files")
    return packaging, is_xml, mime


def _guess_mime(document: Document, options: SigningOptions) -> str:
    name = options.file_name or (document.name if isinstance(document, Path) else "")
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {
        "pdf": "application/pdf", "txt": "text/plain", "json": "application/json",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
    }.get(suffix, "application/octet-stream")


def _file_name(document: Document, options: SigningOptions) -> str:
    if options.file_name:
        return Path(options.file_name).name
    if isinstance(document, Path):
        return document.name
    return "document"


def _read(document: Document) -> bytes:
    return document.read_bytes() if isinstance(document, Path) else bytes(document)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Skeleton:
    sid: str
    packaging: Packaging
    is_xml: bool
    mime_type: str
    file_name: str
    c14n: C14nMethod
    digest_algorithm: DigestAlgorithm
    mechanism: SignatureMechanism

    def build(self, document: Document, chain: Sequence[x509.Certificate],
              signing_time: datetime) -> tuple[Any, Any]:
        sid = self.sid
        alg = self.digest_algorithm
        signature = etree.Element(_q(DS, "Signature"), nsmap={"ds": DS}, Id=sid)
        tree = _place(signature, document, packaging=self.packaging, is_xml=self.is_xml, sid=sid,
                      mime_type=self.mime_type)
        signature = _find_signature_by_id(tree, sid)
        content_object = signature.find(f"{{{DS}}}Object[@Id='{sid}-object']")
        if content_object is not None:
            signature.remove(content_object)  # back at the end once the rest is built

        signed_info = etree.SubElement(signature, _q(DS, "SignedInfo"))
        etree.SubElement(signed_info, _q(DS, "CanonicalizationMethod"), Algorithm=self.c14n.value)
        build_signature_method(signed_info, self.mechanism, alg)
        etree.SubElement(signature, _q(DS, "SignatureValue"), Id=f"{sid}-value")
        key_info = etree.SubElement(signature, _q(DS, "KeyInfo"))
        x509_data = etree.SubElement(key_info, _q(DS, "X509Data"))
        for cert in chain:
            etree.SubElement(x509_data, _q(DS, "X509Certificate")).text = _b64(_der(cert))

        qp_object = etree.SubElement(signature, _q(DS, "Object"))
        if content_object is not None:
            signature.append(content_object)
        qp = etree.SubElement(qp_object, _q(XADES, "QualifyingProperties"),
                              nsmap={"xades": XADES}, Target=f"#{sid}")
        sp = etree.SubElement(qp, _q(XADES, "SignedProperties"), Id=f"{sid}-signedprops")
        ssp = etree.SubElement(sp, _q(XADES, "SignedSignatureProperties"))
        etree.SubElement(ssp, _q(XADES, "SigningTime")).text = format_time(signing_time)
        scv2 = etree.SubElement(ssp, _q(XADES, "SigningCertificateV2"))
        cert_el = etree.SubElement(scv2, _q(XADES, "Cert"))  # no URI (EN 319 132-1 §6.3 l)
        cd = etree.SubElement(cert_el, _q(XADES, "CertDigest"))
        etree.SubElement(cd, _q(DS, "DigestMethod"), Algorithm=digest_uri(alg))
        etree.SubElement(cd, _q(DS, "DigestValue")).text = _b64(alg.digest(_der(chain[0])))
        etree.SubElement(cert_el, _q(XADES, "IssuerSerialV2")).text = _b64(
            _issuer_serial_v2(chain[0])
        )
        sdop = etree.SubElement(sp, _q(XADES, "SignedDataObjectProperties"))
        dof = etree.SubElement(sdop, _q(XADES, "DataObjectFormat"),
                               ObjectReference=f"#{sid}-ref-0")
        etree.SubElement(dof, _q(XADES, "MimeType")).text = self.mime_type

        # Reference to the data object (EN 319 132-1 §4.3, XMLDSIG §4.4.3).
        ref = etree.SubElement(signed_info, _q(DS, "Reference"), Id=f"{sid}-ref-0")
        if self.packaging is Packaging.ENVELOPED:
            ref.set("URI", "")
            transforms = etree.SubElement(ref, _q(DS, "Transforms"))
            etree.SubElement(transforms, _q(DS, "Transform"), Algorithm=TRANSFORM_ENVELOPED)
            etree.SubElement(transforms, _q(DS, "Transform"), Algorithm=self.c14n.value)
            data = canonicalize(signature.getroottree(), self.c14n, exclude=signature)
        elif self.packaging is Packaging.ENVELOPING:
            assert content_object is not None
            ref.set("URI", f"#{sid}-object")
            transforms = etree.SubElement(ref, _q(DS, "Transforms"))
            if self.is_xml:
                etree.SubElement(transforms, _q(DS, "Transform"), Algorithm=self.c14n.value)
                data = canonicalize(content_object, self.c14n)
            else:
                etree.SubElement(transforms, _q(DS, "Transform"), Algorithm=TRANSFORM_BASE64)
                data = _read(document)
        else:
            ref.set("URI", quote(self.file_name))
            data = b""
        etree.SubElement(ref, _q(DS, "DigestMethod"), Algorithm=digest_uri(alg))
        if self.packaging is Packaging.DETACHED and isinstance(document, Path):
            with document.open("rb") as stream:
                value = alg.digest_stream(stream)
        elif self.packaging is Packaging.DETACHED:
            value = alg.digest(bytes(document))
        else:
            value = alg.digest(data)
        etree.SubElement(ref, _q(DS, "DigestValue")).text = _b64(value)

        sp_ref = etree.SubElement(signed_info, _q(DS, "Reference"), Type=SIGNED_PROPERTIES_TYPE,
                                  URI=f"#{sid}-signedprops")
        transforms = etree.SubElement(sp_ref, _q(DS, "Transforms"))
        etree.SubElement(transforms, _q(DS, "Transform"), Algorithm=self.c14n.value)
        etree.SubElement(sp_ref, _q(DS, "DigestMethod"), Algorithm=digest_uri(alg))
        etree.SubElement(sp_ref, _q(DS, "DigestValue")).text = _b64(
            alg.digest(canonicalize(sp, self.c14n))
        )
        return tree, signature


def _place(signature: Any, document: Document, *, packaging: Packaging, is_xml: bool, sid: str,
           mime_type: str | None) -> Any:
    """Put ``signature`` where the packaging says; return the tree that holds it."""
    if packaging is Packaging.ENVELOPED:
        tree = parse_xml(_read(document), what="the document to sign")
        root = tree.getroot()
        signature.tail = None
        root.append(signature)  # last child, no tail: the document minus it is unchanged
        return tree
    tree = etree.ElementTree(signature)
    if packaging is Packaging.ENVELOPING:
        obj = etree.SubElement(signature, _q(DS, "Object"), Id=f"{sid}-object")
        if mime_type:
            obj.set("MimeType", mime_type)
        if is_xml:
            content = parse_xml(_read(document), what="the document to sign").getroot()
            obj.append(content)
        else:
            obj.set("Encoding", ENCODING_BASE64)
            obj.text = _b64(_read(document))
    return tree


def _find_signature_by_id(tree: Any, sid: str) -> Any:
    for element in tree.getroot().iter(_q(DS, "Signature")):
        if element.get("Id") == sid:
            return element
    raise SessionError(f"signature {sid} not found")


def _issuer_serial_v2(cert: x509.Certificate) -> bytes:
    """DER ``IssuerSerial`` (RFC 5035) of a certificate, for ``xades:IssuerSerialV2``."""
    issuer = asn1_x509.Name.load(cert.issuer.public_bytes())
    value = asn1_tsp.IssuerSerial({
        "issuer": [asn1_x509.GeneralName(name="directory_name", value=issuer)],
        "serial_number": cert.serial_number,
    })
    der: bytes = value.dump()
    return der


def _xml_signature_value(value: bytes, cert: x509.Certificate) -> bytes:
    """ECDSA: the phone's DER ``Ecdsa-Sig-Value`` as XMLDSIG's ``r || s``; RSA unchanged."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        r, s = utils.decode_dss_signature(value)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return value


def _der_signature_value(value: bytes, cert: x509.Certificate) -> bytes:
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        if len(value) != 2 * size:
            from ltv.errors import SignatureValueError

            raise SignatureValueError(
                f"an ECDSA {key.curve.name} SignatureValue has {2 * size} bytes, got {len(value)}"
            )
        r = int.from_bytes(value[:size], "big")
        s = int.from_bytes(value[size:], "big")
        return utils.encode_dss_signature(r, s)
    return value


# -- locating things --------------------------------------------------------------------------


def _xades_signatures(tree: Any) -> list[Any]:
    found = []
    for sig in tree.getroot().iter(_q(DS, "Signature")):
        if _qualifying_properties(sig) is not None:
            found.append(sig)
    return found


def _single_signature(tree: Any, signature_id: str | None = None) -> Any:
    signatures = _xades_signatures(tree)
    if signature_id is not None:
        signatures = [s for s in signatures if s.get("Id") == signature_id]
    if not signatures:
        for old in ("http://uri.etsi.org/01903/v1.1.1#", "http://uri.etsi.org/01903/v1.2.2#"):
            if tree.getroot().find(f".//{{{old}}}QualifyingProperties") is not None:
                raise UnsupportedAlgorithmError(f"XAdES {old} signatures are not supported")
        raise MalformedError("no XAdES signature (ds:Signature with QualifyingProperties) found")
    if len(signatures) > 1:
        raise InputError(
            f"the document holds {len(signatures)} XAdES signatures; name one by its Id "
            f"({', '.join(str(s.get('Id')) for s in signatures)})"
        )
    return signatures[0]


def _qualifying_properties(signature: Any) -> Any | None:
    """The signature's own QualifyingProperties: in one of its ds:Object, Target = #its Id."""
    found = None
    for obj in signature.findall(_q(DS, "Object")):
        for qp in obj.findall(_q(XADES, "QualifyingProperties")):
            target = qp.get("Target")
            if signature.get("Id") is None or target != f"#{signature.get('Id')}":
                raise MalformedError(
                    f"QualifyingProperties targets {target!r}, not this signature"
                )
            if found is not None:
                raise MalformedError("more than one QualifyingProperties in the signature")
            found = qp
    return found


def _unsigned_signature_properties(signature: Any, *, create: bool) -> Any | None:
    qp = _qualifying_properties(signature)
    if qp is None:
        raise MalformedError("the signature has no QualifyingProperties")
    up = qp.find(_q(XADES, "UnsignedProperties"))
    if up is None:
        if not create:
            return None
        if qp.find(_q(XADES, "SignedProperties")) is None:
            raise MalformedError("the signature has no SignedProperties")
        up = etree.SubElement(qp, _q(XADES, "UnsignedProperties"))
    usp = up.find(_q(XADES, "UnsignedSignatureProperties"))
    if usp is None:
        if not create:
            return None
        usp = etree.SubElement(up, _q(XADES, "UnsignedSignatureProperties"))
        up.insert(0, usp)
    return usp


def _props(usp: Any | None) -> list[Any]:
    return [] if usp is None else [c for c in usp if isinstance(c.tag, str)]


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


def _is_archive_timestamp(element: Any) -> bool:
    return element.tag in (_q(XADES141, "ArchiveTimeStamp"), _q(XADES, "ArchiveTimeStamp"))


def detect_level(signature: Any) -> SignatureLevel:
    """The baseline level a signature's unsigned properties reach (EN 319 132-1 §6.3)."""
    usp = _unsigned_signature_properties(signature, create=False)
    tags = {c.tag for c in _props(usp)}
    if tags & {_q(XADES141, "ArchiveTimeStamp"), _q(XADES, "ArchiveTimeStamp")}:
        return SignatureLevel.B_LTA
    if tags & {_q(XADES, "CertificateValues"), _q(XADES, "RevocationValues")}:
        return SignatureLevel.B_LT
    if _q(XADES, "SignatureTimeStamp") in tags:
        return SignatureLevel.B_T
    return SignatureLevel.B_B


# -- time-stamps ------------------------------------------------------------------------------


def _timestamp_property(parent: Any, tag: str, token: TimestampToken | bytes,
                        c14n: C14nMethod) -> Any:
    """Append a time-stamp container: ``ds:CanonicalizationMethod`` then the token."""
    der = token if isinstance(token, bytes) else token.der
    nsmap = {"xadesv141": XADES141} if tag.startswith(f"{{{XADES141}}}") else None
    prop = etree.SubElement(parent, tag, nsmap=nsmap, Id="ts-" + secrets.token_hex(12))
    etree.SubElement(prop, _q(DS, "CanonicalizationMethod"), Algorithm=c14n.value)
    etree.SubElement(prop, _q(XADES, "EncapsulatedTimeStamp")).text = _b64(der)
    return prop


def _stamp(services: SigningServices, data: bytes, algorithm: DigestAlgorithm) -> TimestampToken:
    client = services.require_timestamps()
    digest = algorithm.digest(data)
    token = client.timestamp(digest, algorithm)
    verify_imprint(token, digest=digest)
    return token


def to_t(
    signature: Any,
    *,
    services: SigningServices,
    digest_algorithm: DigestAlgorithm = DigestAlgorithm.SHA256,
    canonicalization: C14nMethod = C14nMethod.EXC_C14N,
) -> None:
    """Add a ``SignatureTimeStamp`` over the canonicalised ``ds:SignatureValue``
    (EN 319 132-1 §5.3, B-T requirement n: one token per container)."""
    sv = signature.find(_q(DS, "SignatureValue"))
    if sv is None or not (sv.text or "").strip():
        raise MalformedError("the signature has no SignatureValue to time-stamp")
    token = _stamp(services, canonicalize(sv, canonicalization), digest_algorithm)
    usp = _unsigned_signature_properties(signature, create=True)
    _timestamp_property(usp, _q(XADES, "SignatureTimeStamp"), token, canonicalization)


def _embedded(signature: Any) -> EvidenceSet:
    """Everything already embedded: KeyInfo certificates, CertificateValues, RevocationValues
    and each TimeStampValidationData."""
    certs = list(_key_info_certificates(signature))
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    usp = _unsigned_signature_properties(signature, create=False)
    for prop in _props(usp):
        containers = [prop] if prop.tag in (
            _q(XADES, "CertificateValues"), _q(XADES, "RevocationValues")
        ) else list(prop) if prop.tag == _q(XADES141, "TimeStampValidationData") else []
        for container in containers:
            for el in container.iter(_q(XADES, "EncapsulatedX509Certificate")):
                certs.append(_load_cert(_unb64(el.text, "EncapsulatedX509Certificate")))
            for el in container.iter(_q(XADES, "EncapsulatedCRLValue")):
                crls.append(_unb64(el.text, "EncapsulatedCRLValue"))
            for el in container.iter(_q(XADES, "EncapsulatedOCSPValue")):
                ocsps.append(_unb64(el.text, "EncapsulatedOCSPValue"))
    return EvidenceSet.of(certificates=certs, crls=crls, ocsp_responses=ocsps)


def _missing(found: EvidenceSet, present: EvidenceSet) -> EvidenceSet:
    have_certs = set(present.certificate_ders)
    return EvidenceSet.of(
        certificates=[c for c in found.certificates if _der(c) not in have_certs],
        crls=[c for c in found.crls if c not in set(present.crls)],
        ocsp_responses=[o for o in found.ocsp_responses if o not in set(present.ocsp_responses)],
    )


def _certificate_values(parent: Any, evidence: EvidenceSet) -> Any:
    el = etree.SubElement(parent, _q(XADES, "CertificateValues"))
    for cert in evidence.certificates:
        etree.SubElement(el, _q(XADES, "EncapsulatedX509Certificate")).text = _b64(_der(cert))
    return el


def _revocation_values(parent: Any, evidence: EvidenceSet) -> Any:
    el = etree.SubElement(parent, _q(XADES, "RevocationValues"))
    if evidence.crls:
        crls = etree.SubElement(el, _q(XADES, "CRLValues"))
        for der in evidence.crls:
            etree.SubElement(crls, _q(XADES, "EncapsulatedCRLValue")).text = _b64(der)
    if evidence.ocsp_responses:
        ocsps = etree.SubElement(el, _q(XADES, "OCSPValues"))
        for der in evidence.ocsp_responses:
            etree.SubElement(ocsps, _q(XADES, "EncapsulatedOCSPValue")).text = _b64(der)
    return el


def _timestamp_tokens(signature: Any) -> list[tuple[Any, bytes]]:
    out = []
    for prop in _props(_unsigned_signature_properties(signature, create=False)):
        if prop.tag in (_q(XADES, "SignatureTimeStamp"), _q(XADES141, "ArchiveTimeStamp"),
                        _q(XADES, "ArchiveTimeStamp")):
            for el in prop.findall(_q(XADES, "EncapsulatedTimeStamp")):
                out.append((prop, _unb64(el.text, "EncapsulatedTimeStamp")))
    return out


def _add_timestamp_validation_data(signature: Any, tokens: Sequence[bytes],
                                   services: SigningServices) -> None:
    """Append a ``xadesv141:TimeStampValidationData`` with what the tokens' chains need and the
    signature does not carry yet (EN 319 132-1 §5.4.4)."""
    if not tokens:
        return
    present = _embedded(signature)
    found = collect_for_tokens(tokens, services=services, available=present.certificates,
                               embedded_crls=present.crls)
    missing = _missing(found, present)
    if missing.is_empty():
        return
    usp = _unsigned_signature_properties(signature, create=True)
    tsvd = etree.SubElement(usp, _q(XADES141, "TimeStampValidationData"),
                            nsmap={"xadesv141": XADES141}, Id="tsvd-" + secrets.token_hex(12))
    if missing.certificates:
        _certificate_values(tsvd, missing)
    if missing.crls or missing.ocsp_responses:
        _revocation_values(tsvd, missing)


def to_lt(signature: Any, *, services: SigningServices) -> None:
    """Add long-term validation material (EN 319 132-1 §5.4, B-LT): ``CertificateValues`` and
    ``RevocationValues`` for the signer's chain, then ``TimeStampValidationData`` for the chains
    of every time-stamp already present (TSA and OCSP responders)."""
    key_info = _key_info_certificates(signature)
    signer = _signer_certificate(signature, key_info)
    found = collect([signer], services=services, available=key_info)
    missing = _missing(found, EvidenceSet.of(certificates=key_info))
    usp = _unsigned_signature_properties(signature, create=True)
    _certificate_values(usp, missing)
    _revocation_values(usp, missing)
    _add_timestamp_validation_data(signature, [der for _, der in _timestamp_tokens(signature)],
                                   services)


def to_lta(
    signature: Any,
    *,
    references: Sequence[ProcessedReference],
    services: SigningServices,
    digest_algorithm: DigestAlgorithm = DigestAlgorithm.SHA256,
    canonicalization: C14nMethod = C14nMethod.EXC_C14N,
) -> None:
    """Add an ``xadesv141:ArchiveTimeStamp`` (EN 319 132-1 §5.5.2, B-LTA).

    On renewal the validation data of the latest archive time-stamp's TSA goes in first (a new
    ``TimeStampValidationData``), so the new time-stamp covers it.
    """
    usp = _unsigned_signature_properties(signature, create=True)
    previous = [p for p in _props(usp) if _is_archive_timestamp(p)]
    if previous:
        tokens = [_unb64(el.text, "EncapsulatedTimeStamp")
                  for el in previous[-1].findall(_q(XADES, "EncapsulatedTimeStamp"))]
        _add_timestamp_validation_data(signature, tokens, services)
    data = archive_timestamp_input(signature, references, canonicalization, before=None)
    token = _stamp(services, data, digest_algorithm)
    _timestamp_property(usp, _q(XADES141, "ArchiveTimeStamp"), token, canonicalization)


def archive_timestamp_input(
    signature: Any,
    references: Sequence[ProcessedReference],
    c14n: C14nMethod,
    *,
    before: Any | None,
    v132: bool = False,
) -> bytes:
    """Message-imprint input of an archive time-stamp (EN 319 132-1 §5.5.2.2, Implicit case):

    1. each ``ds:Reference`` in SignedInfo order, processed; a node-set result canonicalised
       with ``c14n``, an octet-stream result as is;
    2. ``ds:SignedInfo``, ``ds:SignatureValue``, ``ds:KeyInfo`` (if present), canonicalised;
    3. every unsigned signature property preceding ``before`` (all of them when ``None``), in
       order, canonicalised;
    4. every ``ds:Object`` except the one holding ``QualifyingProperties``, canonicalised
       (``v132``: a 1.3.2 ``xades:ArchiveTimeStamp`` skips those SignedInfo references,
       :func:`ltv.formats.xades_legacy.referenced_object`).
    """
    parts: list[bytes] = []
    for ref in references:
        if ref.node_set and ref.node is not None:
            parts.append(canonicalize(ref.node, c14n, exclude=ref.exclude))
        else:
            parts.append(ref.octets)
    for name in ("SignedInfo", "SignatureValue", "KeyInfo"):
        element = signature.find(_q(DS, name))
        if element is not None:
            parts.append(canonicalize(element, c14n))
    for prop in _props(_unsigned_signature_properties(signature, create=False)):
        if prop is before:
            break
        parts.append(canonicalize(prop, c14n))
    for obj in signature.findall(_q(DS, "Object")):
        if v132 and xades_legacy.referenced_object(signature, obj):
            continue
        if obj.find(_q(XADES, "QualifyingProperties")) is None:
            parts.append(canonicalize(obj, c14n))
    return b"".join(parts)


# -- verification -----------------------------------------------------------------------------


def _load_cert(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise MalformedError(f"an embedded certificate does not parse: {exc}") from exc


def _key_info_certificates(signature: Any) -> list[x509.Certificate]:
    key_info = signature.find(_q(DS, "KeyInfo"))
    if key_info is None:
        return []
    return [_load_cert(_unb64(el.text, "X509Certificate"))
            for el in key_info.iter(_q(DS, "X509Certificate"))]


def _signed_properties(signature: Any) -> Any:
    qp = _qualifying_properties(signature)
    sp = qp.find(_q(XADES, "SignedProperties")) if qp is not None else None
    if sp is None:
        raise MalformedError("the signature has no SignedProperties")
    return sp


def _signer_certificate(signature: Any, candidates: Sequence[x509.Certificate]) -> x509.Certificate:
    """The certificate ``SigningCertificateV2`` (or v1) identifies (EN 319 132-1 §5.2.2)."""
    ssp = _signed_properties(signature).find(_q(XADES, "SignedSignatureProperties"))
    ref = None
    if ssp is not None:
        ref = ssp.find(_q(XADES, "SigningCertificateV2"))
        if ref is None:
            ref = ssp.find(_q(XADES, "SigningCertificate"))
    if ref is None:
        raise MalformedError("SignedProperties lack SigningCertificateV2")
    cert_el = ref.find(_q(XADES, "Cert"))
    if cert_el is None:
        raise MalformedError("SigningCertificateV2 has no Cert")
    dm = cert_el.find(f"{_q(XADES, 'CertDigest')}/{_q(DS, 'DigestMethod')}")
    dv = cert_el.findtext(f"{_q(XADES, 'CertDigest')}/{_q(DS, 'DigestValue')}")
    if dm is None or dv is None:
        raise MalformedError("SigningCertificateV2/Cert lacks its CertDigest")
    alg = digest_from_uri(dm.get("Algorithm"))
    wanted = _unb64(dv, "CertDigest/DigestValue")
    for cert in candidates:
        if alg.digest(_der(cert)) == wanted:
            isv2 = cert_el.findtext(_q(XADES, "IssuerSerialV2"))
            if isv2 is not None and _unb64(isv2, "IssuerSerialV2") != _issuer_serial_v2(cert):
                _check_issuer_serial(_unb64(isv2, "IssuerSerialV2"), cert)
            return cert
    raise MalformedError(
        "the signing certificate named in SigningCertificateV2 is neither in ds:KeyInfo nor in "
        "CertificateValues"
    )


def _check_issuer_serial(der: bytes, cert: x509.Certificate) -> None:
    try:
        parsed = asn1_tsp.IssuerSerial.load(der)
        serial = parsed["serial_number"].native
    except (ValueError, TypeError) as exc:
        raise MalformedError("IssuerSerialV2 does not parse") from exc
    if serial != cert.serial_number:
        raise MalformedError("IssuerSerialV2 names another certificate than CertDigest")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Core:
    info: XadesInfo
    processed: tuple[ProcessedReference, ...]


def verify_xades_core(
    signature_xml: bytes,
    *,
    detached_content: Document | Mapping[str, Document] | None = None,
    signature_id: str | None = None,
) -> XadesInfo:
    """Core validation of one XAdES signature (XMLDSIG §3.2; EN 319 102-1 §5.2.7 CV).

    Checks each reference's digest (:class:`HashFailureError` names the reference) and the
    signature value over the canonicalised SignedInfo
    (:class:`~ltv.errors.SignatureValueError`), identifies the signer certificate from the
    signed ``SigningCertificateV2`` and collects the time-stamps with their message-imprint
    inputs. Path, revocation and time-stamp token checks belong to validation.
    """
    tree = parse_xml(signature_xml, what="the XAdES signature")
    signature = _single_signature(tree, signature_id)
    return _verify_core(tree, signature, detached_content=detached_content).info


def signed_data_objects(
    signature_xml: bytes,
    *,
    detached_content: Document | Mapping[str, Document] | None = None,
    signature_id: str | None = None,
) -> tuple[SignedObject, ...]:
    """What a XAdES signature signs: each data object's signed octets, in SignedInfo order.

    Use this, not the file, when you need "the signed document": an enveloping or enveloped
    file may hold content that no reference covers (:attr:`XadesInfo.unsigned_content`), and
    only the octets returned here are signed. The core is verified first
    (:class:`HashFailureError`, :class:`~ltv.errors.SignatureValueError`); the certificate path
    and time-stamps are not: run :func:`ltv.validation.validate` for the verdict. The
    SignedProperties reference is not a data object and is left out.
    """
    tree = parse_xml(signature_xml, what="the XAdES signature")
    signature = _single_signature(tree, signature_id)
    core = _verify_core(tree, signature, detached_content=detached_content)
    return tuple(
        SignedObject(uri=info.uri, resolved_to=info.resolved_to, mime_type=info.mime_type,
                     octets=ref.octets)
        for info, ref in zip(core.info.references, core.processed, strict=True)
        if not info.is_signed_properties
    )


def _external_resolver(detached: Document | Mapping[str, Document] | None) -> Any:
    if detached is None:
        return None

    def resolve(name: str) -> bytes:
        if isinstance(detached, Mapping):
            if name not in detached:
                raise InputError(f"the detached data {name!r} was not given")
            return _read(detached[name])
        return _read(detached)

    return resolve


def _verify_core(tree: Any, signature: Any, *,
                 detached_content: Document | Mapping[str, Document] | None) -> _Core:
    ids = resolve_ids(tree)
    signed_info, c14n, prefixes, sm, mechanism, digest_alg = signed_info_of(signature,
                                                                           exactly_one=True)

    qp = _qualifying_properties(signature)
    signed_props = _signed_properties(signature)
    formats: dict[str, str] = {}
    sdop = signed_props.find(_q(XADES, "SignedDataObjectProperties"))
    for dof in sdop.findall(_q(XADES, "DataObjectFormat")) if sdop is not None else []:
        formats[(dof.get("ObjectReference") or "").lstrip("#")] = dof.findtext(
            _q(XADES, "MimeType")) or ""

    resolver = _external_resolver(detached_content)
    processed: list[ProcessedReference] = []
    infos: list[ReferenceInfo] = []
    signed_props_refs = 0
    for reference in signed_info.findall(_q(DS, "Reference")):
        ref = process_reference(reference, tree=tree, ids=ids, signature=signature,
                                external=resolver)
        if ref.digest_algorithm.digest(ref.octets) != ref.digest_value:
            raise HashFailureError(
                f"the digest of reference {ref.uri!r} ({_describe(ref)}) does not match: "
                "the signed data was changed"
            )
        is_sp = ref.node is signed_props
        if ref.type == SIGNED_PROPERTIES_TYPE and not is_sp:
            raise MalformedError(
                f"the SignedProperties reference {ref.uri!r} resolves to {_describe(ref)}, "
                "not this signature's own SignedProperties"
            )
        signed_props_refs += is_sp
        processed.append(ref)
        infos.append(_reference_info(reference, ref, is_sp=is_sp,
                                     mime_type=formats.get(ref.id or "") if ref.id else None))
    if signed_props_refs != 1:
        raise MalformedError(
            "exactly one ds:Reference must cover this signature's SignedProperties "
            f"(found {signed_props_refs})"
        )
    if len(processed) < 2:
        raise MalformedError("a XAdES signature signs at least one data object")

    certs = _key_info_certificates(signature)
    # The signed SigningCertificateV2 digest binds the signer; where the certificate sits
    # (ds:KeyInfo, or only xades:CertificateValues as some tools write) does not matter.
    signer = _signer_certificate(signature, [*certs, *_embedded(signature).certificates])
    sv = signature.find(_q(DS, "SignatureValue"))
    if sv is None:
        raise MalformedError("the signature has no SignatureValue")
    value = _der_signature_value(_unb64(sv.text, "SignatureValue"), signer)
    verify_signature_value(sm, signer.public_key(), value,  # PSS with its parameters
                           data=canonicalize(signed_info, c14n, prefixes=prefixes))

    ssp = signed_props.find(_q(XADES, "SignedSignatureProperties"))
    st_text = ssp.findtext(_q(XADES, "SigningTime")) if ssp is not None else None
    signing_time = _parse_xs_datetime(st_text) if st_text else None

    timestamps: list[EmbeddedTimestamp] = []
    usp = _unsigned_signature_properties(signature, create=False) if qp is not None else None
    for position, prop in enumerate(_props(usp)):
        kind = _local(prop)
        if prop.tag == _q(XADES, "SignatureTimeStamp"):
            method, pre = c14n_method_of(prop.find(_q(DS, "CanonicalizationMethod")),
                                         C14nMethod.C14N_10)
            data = canonicalize(sv, method, prefixes=pre)
        elif _is_archive_timestamp(prop):
            method, _ = c14n_method_of(prop.find(_q(DS, "CanonicalizationMethod")),
                                       C14nMethod.C14N_10)
            data = archive_timestamp_input(signature, processed, method, before=prop,
                                           v132=prop.tag == _q(XADES, "ArchiveTimeStamp"))
            if prop.tag == _q(XADES, "ArchiveTimeStamp"):
                kind = "xades:ArchiveTimeStamp"  # 1.3.2 rules (legacy, JIS X 5093)
        elif xades_legacy.is_x_timestamp(prop):
            method, _ = c14n_method_of(prop.find(_q(DS, "CanonicalizationMethod")),
                                       C14nMethod.C14N_10)
            data = xades_legacy.x_timestamp_input(signature, _props(usp), prop, method)
        else:
            continue
        for el in prop.findall(_q(XADES, "EncapsulatedTimeStamp")):
            timestamps.append(EmbeddedTimestamp(
                kind=kind, token=_unb64(el.text, "EncapsulatedTimeStamp"), imprint_input=data,
                canonicalization=method, element_id=prop.get("Id"), position=position,
            ))
    info = XadesInfo(
        signature_id=signature.get("Id"),
        level=detect_level(signature),
        signer_certificate=signer,
        key_info_certificates=tuple(certs),
        signing_time=signing_time,
        mechanism=mechanism,
        digest_algorithm=digest_alg,
        canonicalization=c14n,
        references=tuple(infos),
        timestamps=tuple(timestamps),
        evidence=_embedded(signature),
        unsigned_content=_unsigned_content(signature, processed, qp),
        legacy_refs=xades_legacy.legacy_references(_props(usp)),
    )
    return _Core(info=info, processed=tuple(processed))


def _reference_info(reference: Any, ref: ProcessedReference, *, is_sp: bool,
                    mime_type: str | None) -> ReferenceInfo:
    node = ref.node
    element = element_id = path = None
    if node is None:
        kind = "detached" if ref.uri and not ref.uri.startswith("#") else "octets"
    elif isinstance(node, etree._ElementTree):
        kind = "document"
        path = "/"
    else:
        kind = "element"
        element, element_id, path = _qname(node), _element_id(node), _path(node)
    dm = reference.find(_q(DS, "DigestMethod"))
    return ReferenceInfo(
        uri=ref.uri, type=ref.type, resolved_to=_describe(ref),
        digest_algorithm=ref.digest_algorithm, mime_type=mime_type, is_signed_properties=is_sp,
        kind=kind, element=element, element_id=element_id, path=path,
        transforms=tuple(t.get("Algorithm") or "" for t in reference.iterfind(
            f"{_q(DS, 'Transforms')}/{_q(DS, 'Transform')}")),
        digest_method=(dm.get("Algorithm") or "") if dm is not None else "",
        digest_value=ref.digest_value,
    )


# -- what is not signed -----------------------------------------------------------------------

#: At most this many unsigned nodes are listed one by one (then one "more" entry counts the rest).
MAX_UNSIGNED_LISTED = 50


def _qname(element: Any) -> str:
    local = etree.QName(element).localname
    return f"{element.prefix}:{local}" if element.prefix else str(local)


def _element_id(element: Any) -> str | None:
    for name in ("Id", "ID", "id"):
        value = element.get(name)
        if value is not None:
            return str(value)
    return None


def _path(element: Any) -> str:
    """An XPath-like location, "/ds:Signature/ds:Object[2]" (position among same-name siblings)."""
    parts: list[str] = []
    current = element
    while current is not None:
        name = _qname(current)
        if current.getparent() is not None:
            before = sum(1 for _ in current.itersiblings(current.tag, preceding=True))
            after = next(current.itersiblings(current.tag), None) is not None
            if before or after:
                name += f"[{before + 1}]"
        parts.append(name)
        current = current.getparent()
    return "/" + "/".join(reversed(parts))


def _within(element: Any, ancestor: Any) -> bool:
    """``ancestor`` is ``element`` or one of its ancestors."""
    current = element
    while current is not None:
        if current is ancestor:
            return True
        current = current.getparent()
    return False


def _elements(element: Any) -> list[Any]:
    return [child for child in element if isinstance(child.tag, str)]


def _has_text(element: Any) -> bool:
    return bool((element.text or "").strip()) or any((c.tail or "").strip() for c in element)


def _unsigned_content(signature: Any, processed: Sequence[ProcessedReference],
                      qp: Any | None) -> tuple[UnsignedNode, ...]:
    """The content of the file no reference covers (EN 319 102-1 §5.2.8 signature constraints;
    security review finding 9).

    A reference covers the subtree it resolved to (the whole document for URI=""), minus the
    signature when the enveloped-signature transform excluded it. Not content: ``ds:SignedInfo``,
    ``ds:SignatureValue``, ``ds:KeyInfo`` and the unsigned properties of this signature (they
    are the signature itself); comments and processing instructions (same-document references
    never sign comments, XMLDSIG §4.4.3.3). Everything else outside every reference is
    reported: an extra ``ds:Object`` in an enveloping signature, the siblings of the signed
    element in an enveloped one whose reference is not URI="", wrapper attributes and text.
    References into a ``ds:Manifest`` are not followed (manifests are not verified), so what
    only a manifest covers is unsigned here too.
    """
    spans: list[tuple[Any, Any | None]] = []
    for ref in processed:
        if ref.node is None:
            continue
        node = ref.node.getroot() if isinstance(ref.node, etree._ElementTree) else ref.node
        spans.append((node, ref.exclude))
    found: list[UnsignedNode] = []
    more = 0

    def add(what: str, element: Any) -> None:
        nonlocal more
        if len(found) >= MAX_UNSIGNED_LISTED:
            more += 1
            return
        found.append(UnsignedNode(what=what, element=_qname(element),
                                  element_id=_element_id(element), path=_path(element)))

    def covered(element: Any) -> bool:
        return any(_within(element, top) and (skip is None or not _within(element, skip))
                   for top, skip in spans)

    def holds_covered(element: Any) -> bool:
        return any(top is not element and _within(top, element) for top, _ in spans)

    def visit(element: Any) -> None:
        if element is signature:
            visit_signature()
            return
        if covered(element):
            for child in _elements(element):
                if _within(signature, child):
                    visit(child)  # towards the enveloped signature, whose parts are checked
            return
        if not holds_covered(element) and not _within(signature, element):
            add("element", element)
            return
        if element.attrib:
            add("attributes", element)
        if _has_text(element):
            add("text", element)
        for child in _elements(element):
            visit(child)

    def visit_signature() -> None:
        if _has_text(signature):
            add("text", signature)
        holder = qp.getparent() if qp is not None else None
        for child in _elements(signature):
            if child.tag in (_q(DS, "SignedInfo"), _q(DS, "SignatureValue"), _q(DS, "KeyInfo")):
                continue
            if child is not holder:
                visit(child)
                continue
            if _has_text(child):
                add("text", child)
            for part in _elements(child):
                if part is not qp:
                    visit(part)
                    continue
                for prop in _elements(qp):
                    if prop.tag != _q(XADES, "UnsignedProperties"):
                        visit(prop)

    visit(signature.getroottree().getroot())
    if more:
        found.append(UnsignedNode(what="more", element=None, element_id=None, path=None,
                                  count=more))
    return tuple(found)


def _describe(ref: ProcessedReference) -> str:
    node = ref.node
    if node is None:
        return f"external {ref.uri}" if ref.uri and not ref.uri.startswith("#") else "octets"
    if isinstance(node, etree._ElementTree):
        return "document" + (" (enveloped signature excluded)" if ref.exclude is not None else "")
    return f"element {etree.QName(node).localname} Id={node.get('Id') or node.get('ID')}"


def _parse_xs_datetime(text: str) -> datetime:
    try:
        return parse_time(text)
    except InputError as exc:
        raise MalformedError(f"SigningTime {text!r} is not an xs:dateTime with zone") from exc
