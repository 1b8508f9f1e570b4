"""XAdES 1.1.1 and 1.2.2 signatures (ETSI TS 101 903 v1.1.1 / v1.2.2), issue #19 item 5.

The same core validation as :func:`ltv.formats.xades.verify_xades_core`, with the older
namespaces' structures:

* ``SigningCertificate`` (v1): one or more ``Cert`` with ``CertDigest`` and ``IssuerSerial``
  (``ds:X509IssuerName``/``ds:X509SerialNumber``). In 1.1.1 ``CertDigest``'s ``DigestMethod``
  and ``DigestValue`` are in the XAdES namespace (local elements of ``DigestAlgAndValueType``),
  from 1.2.2 on in ``ds``: both are read. The signer is the listed certificate (in ``ds:KeyInfo``
  or ``CertificateValues``) whose key verifies the signature value; its ``IssuerSerial`` must
  name it (serial number).
* The SignedProperties reference's ``Type`` is ``{namespace}SignedProperties`` (1.3.2 and
  later: ``http://uri.etsi.org/01903#SignedProperties``): either is accepted.
* Time-stamps (``TimeStampType``) name their input explicitly with ``HashDataInfo``: each
  ``uri`` (a same-document ``#Id``) dereferenced, its ``Transforms`` applied, a node-set
  canonicalised with C14N 1.0, the results concatenated (TS 101 903 v1.1.1 §7.1.1 / v1.2.2
  §7.1.3). A time-stamp without ``HashDataInfo`` (as 1.3.2 writes them) is read the 1.3.2
  way: ``SignatureTimeStamp`` over the canonical ``ds:SignatureValue``.
* ``CertificateValues`` and ``RevocationValues`` as in 1.3.2, in the older namespace.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509

from ltv.errors import InputError, MalformedError, SignatureValueError
from ltv.evidence import EvidenceSet
from ltv.formats._xmldsig import (
    DS,
    SIGNED_PROPERTIES_TYPE,
    C14nMethod,
    HashFailureError,
    ProcessedReference,
    c14n_method_of,
    canonicalize,
    digest_from_uri,
    process_reference,
    resolve_ids,
    signed_info_of,
    verify_signature_value,
)
from ltv.formats._xmldsig_transforms import Subtree, run_transforms
from ltv.signing import Document, SignatureLevel
from ltv.xmlsafe import parse_xml

__all__ = ["OLD_NAMESPACES", "old_namespace", "verify_old_xades"]

XADES111 = "http://uri.etsi.org/01903/v1.1.1#"
XADES122 = "http://uri.etsi.org/01903/v1.2.2#"
OLD_NAMESPACES = (XADES111, XADES122)
_TIMESTAMPS = ("SignatureTimeStamp", "SigAndRefsTimeStamp", "RefsOnlyTimeStamp",
               "ArchiveTimeStamp")


def old_namespace(signature: Any) -> str | None:
    """The XAdES 1.1.1/1.2.2 namespace of the signature's QualifyingProperties, if any."""
    for obj in signature.findall(f"{{{DS}}}Object"):
        for ns in OLD_NAMESPACES:
            if obj.find(f"{{{ns}}}QualifyingProperties") is not None:
                return ns
    return None


def _one_signature(tree: Any, signature_id: str | None) -> Any:
    found = [s for s in tree.getroot().iter(f"{{{DS}}}Signature")
             if old_namespace(s) is not None
             and (signature_id is None or s.get("Id") == signature_id)]
    if not found:
        raise MalformedError("no XAdES 1.1.1/1.2.2 signature found")
    if len(found) > 1:
        raise InputError(f"the document holds {len(found)} XAdES signatures; name one by its "
                         "Id")
    return found[0]


def verify_old_xades(signature_xml: bytes, *,
                     detached_content: Document | Mapping[str, Document] | None = None,
                     signature_id: str | None = None) -> Any:
    """Core validation of one XAdES 1.1.1/1.2.2 signature; returns a
    :class:`ltv.formats.xades.XadesInfo` (raises as :func:`verify_xades_core` does)."""
    from ltv.formats import xades

    tree = parse_xml(signature_xml, what="the XAdES signature")
    signature = _one_signature(tree, signature_id)
    ns = old_namespace(signature)
    assert ns is not None

    def q(name: str) -> str:
        return f"{{{ns}}}{name}"

    qps = [qp for obj in signature.findall(f"{{{DS}}}Object")
           for qp in obj.findall(q("QualifyingProperties"))]
    if len(qps) != 1:
        raise MalformedError("more than one QualifyingProperties in the signature")
    qp = qps[0]
    if signature.get("Id") is None or qp.get("Target") != f"#{signature.get('Id')}":
        raise MalformedError(f"QualifyingProperties targets {qp.get('Target')!r}, not this "
                             "signature")
    signed_props = qp.find(q("SignedProperties"))
    if signed_props is None:
        raise MalformedError("the signature has no SignedProperties")
    ids = resolve_ids(tree)
    signed_info, c14n, prefixes, sm, mechanism, digest_alg = signed_info_of(signature)

    formats: dict[str, str] = {}
    sdop = signed_props.find(q("SignedDataObjectProperties"))
    for dof in sdop.findall(q("DataObjectFormat")) if sdop is not None else []:
        formats[(dof.get("ObjectReference") or "").lstrip("#")] = dof.findtext(
            q("MimeType")) or ""
    resolver = xades._external_resolver(detached_content)
    processed: list[ProcessedReference] = []
    infos = []
    sp_refs = 0
    for reference in signed_info.findall(f"{{{DS}}}Reference"):
        ref = process_reference(reference, tree=tree, ids=ids, signature=signature,
                                external=resolver)
        if not hmac.compare_digest(ref.digest_algorithm.digest(ref.octets), ref.digest_value):
            raise HashFailureError(
                f"the digest of reference {ref.uri!r} ({xades._describe(ref)}) does not "
                "match: the signed data was changed")
        is_sp = ref.node is signed_props
        if ref.type in (SIGNED_PROPERTIES_TYPE, ns + "SignedProperties") and not is_sp:
            raise MalformedError(
                f"the SignedProperties reference {ref.uri!r} resolves to "
                f"{xades._describe(ref)}, not this signature's own SignedProperties")
        sp_refs += is_sp
        processed.append(ref)
        infos.append(xades._reference_info(
            reference, ref, is_sp=is_sp,
            mime_type=formats.get(ref.id or "") if ref.id else None))
    if sp_refs != 1:
        raise MalformedError("exactly one ds:Reference must cover this signature's "
                             f"SignedProperties (found {sp_refs})")
    if len(processed) < 2:
        raise MalformedError("a XAdES signature signs at least one data object")

    usp = qp.find(f"{q('UnsignedProperties')}/{q('UnsignedSignatureProperties')}")
    props = [p for p in usp if isinstance(p.tag, str)] if usp is not None else []
    evidence = _embedded(props, ns, xades._key_info_certificates(signature))
    certs = xades._key_info_certificates(signature)
    sv = signature.find(f"{{{DS}}}SignatureValue")
    if sv is None:
        raise MalformedError("the signature has no SignatureValue")
    raw = xades._unb64(sv.text, "SignatureValue")
    signed_octets = canonicalize(signed_info, c14n, prefixes=prefixes)
    signer = None
    for cert in _listed(signed_props, ns, [*certs, *evidence.certificates]):
        try:
            verify_signature_value(sm, cert.public_key(),
                                   xades._der_signature_value(raw, cert), data=signed_octets)
        except SignatureValueError:
            continue
        signer = cert
        break
    if signer is None:
        raise SignatureValueError("the signature value does not verify with the key of the "
                                  "certificate SigningCertificate names")
    ssp = signed_props.find(q("SignedSignatureProperties"))
    st_text = ssp.findtext(q("SigningTime")) if ssp is not None else None
    signing_time = xades._parse_xs_datetime(st_text) if st_text else None

    timestamps = []
    for position, prop in enumerate(props):
        local = prop.tag.split("}", 1)[1]
        if local not in _TIMESTAMPS:
            continue
        data, method = _timestamp_input(prop, local, ns, signature=signature, tree=tree,
                                        ids=ids, sv=sv)
        if data is None:
            continue
        kind = "xades:ArchiveTimeStamp" if local == "ArchiveTimeStamp" else local
        for el in prop.findall(q("EncapsulatedTimeStamp")):
            timestamps.append(xades.EmbeddedTimestamp(
                kind=kind, token=xades._unb64(el.text, "EncapsulatedTimeStamp"),
                imprint_input=data, canonicalization=method, element_id=prop.get("Id"),
                position=position))
    up = qp.find(q("UnsignedProperties"))
    unsigned = xades._unsigned_content(signature, processed, qp)
    if up is not None:
        inside = xades._path(up)
        unsigned = tuple(u for u in unsigned if not (u.path or "").startswith(inside))
    return xades.XadesInfo(
        signature_id=signature.get("Id"),
        level=_level({p.tag.split("}", 1)[1] for p in props}),
        signer_certificate=signer,
        key_info_certificates=tuple(certs),
        signing_time=signing_time,
        mechanism=mechanism,
        digest_algorithm=digest_alg,
        canonicalization=c14n,
        references=tuple(infos),
        timestamps=tuple(timestamps),
        evidence=evidence,
        unsigned_content=unsigned,
    )


def _level(tags: set[str]) -> SignatureLevel:
    if "ArchiveTimeStamp" in tags:
        return SignatureLevel.B_LTA
    if tags & {"CertificateValues", "RevocationValues"}:
        return SignatureLevel.B_LT
    if "SignatureTimeStamp" in tags:
        return SignatureLevel.B_T
    return SignatureLevel.B_B


def _either(parent: Any, ns: str, name: str) -> Any | None:
    """``name`` in the ds namespace (1.2.2) or the XAdES one (1.1.1 local elements)."""
    found = parent.find(f"{{{DS}}}{name}")
    return found if found is not None else parent.find(f"{{{ns}}}{name}")


def _listed(signed_props: Any, ns: str, candidates: Sequence[x509.Certificate]
            ) -> list[x509.Certificate]:
    """The candidates a ``SigningCertificate/Cert`` names by CertDigest (and IssuerSerial)."""
    from ltv.formats import xades

    ref = signed_props.find(f"{{{ns}}}SignedSignatureProperties/{{{ns}}}SigningCertificate")
    if ref is None:
        raise MalformedError("SignedProperties lack SigningCertificate")
    out: list[x509.Certificate] = []
    cert_elements = ref.findall(f"{{{ns}}}Cert")
    if not cert_elements:
        raise MalformedError("SigningCertificate has no Cert")
    for cert_el in cert_elements:
        digest = cert_el.find(f"{{{ns}}}CertDigest")
        dm = _either(digest, ns, "DigestMethod") if digest is not None else None
        dv = _either(digest, ns, "DigestValue") if digest is not None else None
        if dm is None or dv is None:
            raise MalformedError("SigningCertificate/Cert lacks its CertDigest")
        algorithm = digest_from_uri(dm.get("Algorithm"))
        wanted = xades._unb64(dv.text, "CertDigest/DigestValue")
        serial_text = cert_el.findtext(f"{{{ns}}}IssuerSerial/{{{DS}}}X509SerialNumber")
        for cert in candidates:
            if not hmac.compare_digest(algorithm.digest(xades._der(cert)), wanted):
                continue
            if serial_text is not None and _serial(serial_text) != cert.serial_number:
                raise MalformedError("IssuerSerial names another certificate than CertDigest")
            if cert not in out:
                out.append(cert)
    if not out:
        raise MalformedError("the signing certificate named in SigningCertificate is neither "
                             "in ds:KeyInfo nor in CertificateValues")
    return out


def _serial(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError as exc:
        raise MalformedError(f"X509SerialNumber {text.strip()!r} is not an integer") from exc


def _embedded(props: Sequence[Any], ns: str, key_info: Sequence[x509.Certificate]
              ) -> EvidenceSet:
    from ltv.formats import xades

    certs = list(key_info)
    crls: list[bytes] = []
    ocsps: list[bytes] = []
    for prop in props:
        if prop.tag not in (f"{{{ns}}}CertificateValues", f"{{{ns}}}RevocationValues"):
            continue
        for el in prop.iter(f"{{{ns}}}EncapsulatedX509Certificate"):
            certs.append(xades._load_cert(xades._unb64(el.text, "EncapsulatedX509Certificate")))
        for el in prop.iter(f"{{{ns}}}EncapsulatedCRLValue"):
            crls.append(xades._unb64(el.text, "EncapsulatedCRLValue"))
        for el in prop.iter(f"{{{ns}}}EncapsulatedOCSPValue"):
            ocsps.append(xades._unb64(el.text, "EncapsulatedOCSPValue"))
    return EvidenceSet.of(certificates=certs, crls=crls, ocsp_responses=ocsps)


def _timestamp_input(prop: Any, local: str, ns: str, *, signature: Any, tree: Any,
                     ids: Mapping[str, Any], sv: Any) -> tuple[bytes | None, C14nMethod]:
    """The message-imprint input of an old-form time-stamp (see the module docstring)."""
    infos = prop.findall(f"{{{ns}}}HashDataInfo")
    if not infos:
        method, pre = c14n_method_of(prop.find(f"{{{DS}}}CanonicalizationMethod"),
                                     C14nMethod.C14N_10)
        if local != "SignatureTimeStamp":
            return None, method
        return canonicalize(sv, method, prefixes=pre), method
    parts: list[bytes] = []
    for info in infos:
        uri = info.get("uri") or info.get("URI") or ""
        if not uri.startswith("#") or uri.startswith("#xpointer("):
            raise MalformedError(f"{local}: HashDataInfo uri {uri!r} is not a same-document "
                                 "reference")
        node = ids.get(uri[1:])
        if node is None:
            raise MalformedError(f"{local}: HashDataInfo uri {uri!r} points to no element")
        transforms = _either(info, ns, "Transforms")
        steps = [t for t in transforms if isinstance(t.tag, str)] \
            if transforms is not None else []
        result = run_transforms(Subtree(node, None, False), steps, uri=uri,
                                signature=signature)
        parts.append(result.octets)
    del tree
    return b"".join(parts), C14nMethod.C14N_10
