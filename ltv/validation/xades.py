"""XAdES adapter: :func:`ltv.formats.xades.verify_xades_core` → :class:`SignatureFacts`.

The XAdES module does the XML work (hardened parsing, reference digests, the signature value,
the SigningCertificateV2 binding, each time-stamp's message-imprint input per EN 319 132-1);
this adapter maps its outcome to the engine's vocabulary: HashFailureError → HASH_FAILURE,
SignatureValueError → SIG_CRYPTO_FAILURE, other refusals → FORMAT_FAILURE. POE keys: the
signature is known by its ``ds:SignatureValue`` octets; a SignatureTimeStamp covers them and
the signer certificate (bound by SigningCertificateV2); an ArchiveTimeStamp covers them, the
embedded validation material and the earlier time-stamps' tokens.

What the signature signs goes into the facts as well: each reference as a
:class:`~ltv.validation.model.SignedDataObjectSummary` and the content no reference covers as
:class:`~ltv.validation.model.UnsignedContent` (refused by the default policy). A malformed
XAdES signature (duplicate Ids, a SignedProperties reference resolving elsewhere, ...) is a
signature that fails with FORMAT_FAILURE; a file that is no XAdES signature at all stays bad
input (:class:`~ltv.errors.MalformedError`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ltv.errors import LtvError, MalformedError, SignatureValueError, UnsupportedAlgorithmError
from ltv.evidence import EvidenceSet
from ltv.formats._xmldsig import DS, XADES, HashFailureError, digest_from_uri
from ltv.formats._xmldsig_xades_old import OLD_NAMESPACES, old_namespace, verify_old_xades
from ltv.signing import SignatureFormat
from ltv.validation.cades import timestamp_facts
from ltv.validation.facts import (
    AlgorithmUse,
    IntegrityResult,
    IntegrityStatus,
    SignatureFacts,
    TimestampFacts,
    poe_digest,
)
from ltv.validation.model import SignedDataObjectSummary, TimestampKind, UnsignedContent
from ltv.xmlsafe import parse_xml

if TYPE_CHECKING:
    from ltv.formats.xades import ReferenceInfo, UnsignedNode, XadesInfo
    from ltv.formats.xades_legacy import LegacyRef

__all__ = ["extract"]

_LEGACY_KINDS = {
    "SigAndRefsTimeStamp": TimestampKind.SIG_AND_REFS,
    "SigAndRefsTimeStampV2": TimestampKind.SIG_AND_REFS,
    "RefsOnlyTimeStamp": TimestampKind.REFS_ONLY,
    "RefsOnlyTimeStampV2": TimestampKind.REFS_ONLY,
}


def _signature_value(data: bytes) -> tuple[bytes, bool]:
    """The first ``ds:SignatureValue``, and whether the file holds XAdES qualifying properties
    (then it is a XAdES signature, and a malformed one fails rather than being "not a
    signature")."""
    tree = parse_xml(data, what="the XAdES signature")
    root = tree.getroot()
    is_xades = any(root.find(f".//{{{ns}}}QualifyingProperties") is not None
                   for ns in (XADES, *OLD_NAMESPACES))
    values = root.iter(f"{{{DS}}}SignatureValue")
    for node in values:
        try:
            return base64.b64decode("".join((node.text or "").split()), validate=True), is_xades
        except (binascii.Error, ValueError) as exc:
            if is_xades:  # a XAdES signature breaking XMLDSIG: FORMAT_FAILURE, not bad input
                return b"", is_xades
            raise MalformedError(f"ds:SignatureValue is not base64: {exc}") from exc
    raise MalformedError("no ds:SignatureValue: not an XML signature")


def extract(data: bytes, *, detached_content: bytes | None = None) -> list[SignatureFacts]:
    """One :class:`SignatureFacts` per XAdES signature of the document (parallel signatures
    and counter-signatures alike, in document order; issue #19), each selected by its Id."""
    from ltv.validation._xades_many import signature_ids

    ids = signature_ids(data)
    if len(ids) < 2:
        return extract_one(data, detached_content=detached_content)
    from dataclasses import replace

    from ltv.validation._xades_many import parent_ids

    parents = parent_ids(data)
    return [replace(facts, counter_signature_of=parents.get(sid)) for sid in ids
            for facts in extract_one(data, detached_content=detached_content, signature_id=sid)]


def extract_one(data: bytes, *, detached_content: bytes | None = None,
                signature_id: str | None = None) -> list[SignatureFacts]:
    from ltv.formats.xades import verify_xades_core
    from ltv.validation._xades_many import signature_value_of

    signature_value, is_xades = _signature_value(data)
    if signature_id is not None:
        signature_value = signature_value_of(data, signature_id) or signature_value
    label = signature_id or "signature"
    namespace = _namespace_of(data, signature_id)
    verify = verify_old_xades if namespace != XADES else verify_xades_core
    try:
        info = verify(data, detached_content=detached_content, signature_id=signature_id)
    except HashFailureError as exc:
        return [_failed(IntegrityStatus.HASH_FAILURE, str(exc), signature_value, label)]
    except SignatureValueError as exc:
        return [_failed(IntegrityStatus.SIG_CRYPTO_FAILURE, str(exc), signature_value, label)]
    except MalformedError as exc:
        if not is_xades:  # plain XML-DSig, validated as such (issue #19)
            from ltv.validation._xmldsig_facts import plain_facts

            return [plain_facts(data, detached_content=detached_content,
                                signature_id=signature_id, signature_value=signature_value)]
        # EN 319 102-1 §5.2.2 (format checking): e.g. duplicate Ids (signature wrapping).
        return [_failed(IntegrityStatus.FORMAT_FAILURE, str(exc), signature_value, label)]
    except UnsupportedAlgorithmError as exc:  # a feature ltv cannot process (issue #19)
        if not is_xades and "XAdES" not in str(exc):
            raise
        return [_failed(IntegrityStatus.UNSUPPORTED_ALGORITHM, str(exc), signature_value, label)]
    except LtvError as exc:
        message = str(exc)
        if detached_content is None and "detached" in message:
            return [_failed(IntegrityStatus.SIGNED_DATA_NOT_FOUND, message, signature_value,
                            label)]
        return [_failed(IntegrityStatus.FORMAT_FAILURE, message, signature_value, label)]
    signer = info.signer_certificate
    from cryptography.hazmat.primitives.serialization import Encoding

    sig_covers = frozenset({poe_digest(signature_value),
                            poe_digest(signer.public_bytes(Encoding.DER))})
    material = frozenset(
        {poe_digest(c.public_bytes(Encoding.DER)) for c in info.evidence.certificates}
        | {poe_digest(c) for c in info.evidence.crls}
        | {poe_digest(o) for o in info.evidence.ocsp_responses}
    )
    timestamps: list[TimestampFacts] = []
    earlier: set[bytes] = set()
    certificates = (*info.key_info_certificates, *info.evidence.certificates)
    for ts in sorted(info.timestamps, key=lambda t: t.position):
        imprint_input = ts.imprint_input
        if ts.kind == "SignatureTimeStamp":
            kind, covers = TimestampKind.SIGNATURE, sig_covers
        elif ts.kind in _LEGACY_KINDS:  # TS 101 903 ES-X stamps (JIS X 5093)
            kind = _LEGACY_KINDS[ts.kind]
            covers = (sig_covers if kind is TimestampKind.SIG_AND_REFS else frozenset()) | (
                frozenset(earlier))
        elif ts.kind == "xades:ArchiveTimeStamp":
            kind = TimestampKind.ARCHIVE_132
            covers = sig_covers | material | frozenset(earlier)
        else:
            kind, covers = TimestampKind.ARCHIVE, sig_covers | material | frozenset(earlier)
        facts = timestamp_facts(
            ts.token, kind=kind, label=ts.kind,
            expected=lambda alg, data=imprint_input: alg.digest(data),
            covers=covers, extra=certificates,
        )
        timestamps.append(facts)
        if facts.signature_value:
            earlier.add(poe_digest(facts.signature_value))
        earlier |= {poe_digest(c.public_bytes(Encoding.DER)) for c in facts.certificates}
    return [SignatureFacts(
        id=info.signature_id or "signature",
        format=SignatureFormat.XADES,
        level=info.level,
        signer_certificate=signer,
        certificates=tuple(certificates),
        signature_value=signature_value,
        claimed_signing_time=info.signing_time,
        digest_algorithm=info.digest_algorithm.value,
        signature_algorithm=f"{info.mechanism.value}-{info.digest_algorithm.value}",
        timestamps=tuple(timestamps),
        evidence=info.evidence,
        signed_data_objects=tuple(_signed_data_object(r) for r in info.references),
        unsigned_content=tuple(_unsigned(u) for u in info.unsigned_content),
        algorithm_uses=_algorithm_uses(data, info, namespace),
        form=_legacy_form({ts.kind for ts in timestamps}),
        warnings=_reference_report(info.legacy_refs, info.evidence, [
            c.public_bytes(Encoding.DER) for c in (
                *certificates, *(c for t in timestamps for c in t.certificates))]),
    )]


def _reference_report(refs: Sequence[LegacyRef], evidence: EvidenceSet,
                      certificates: Sequence[bytes]) -> tuple[str, ...]:
    """TS 101 903 §7.4: each CompleteCertificateRefs(V2) / CompleteRevocationRefs entry matched
    by its digest against the embedded certificates, CRLs and OCSP responses (an OCSPRef digest
    over the OCSPResponse or its BasicOCSPResponse); one line per list, the unresolved listed."""
    from ltv.formats.cades_legacy import basic_ocsp
    from ltv.formats.xades_legacy import RefKind

    ocsps = [*evidence.ocsp_responses,
             *(b for o in evidence.ocsp_responses if (b := basic_ocsp(o)) is not None)]
    pools = {RefKind.CERTIFICATE: list(certificates), RefKind.CRL: list(evidence.crls),
             RefKind.OCSP: ocsps}
    lines: list[str] = []
    for kinds, name, what in (
            ((RefKind.CERTIFICATE,), "complete-certificate-references", "certificates"),
            ((RefKind.CRL, RefKind.OCSP), "complete-revocation-references",
             "revocation data")):
        chosen = [r for r in refs if r.kind in kinds]
        if not chosen:
            continue
        unresolved = []
        for ref in chosen:
            algorithm = ref.algorithm
            if algorithm is None or not any(
                    hmac.compare_digest(algorithm.digest(der), ref.digest)
                    for der in pools[ref.kind]):
                prefix = "" if ref.kind is RefKind.CERTIFICATE else f"{ref.kind.value} "
                alg = algorithm.value if algorithm is not None else ref.algorithm_uri
                unresolved.append(f"{prefix}{alg}:{ref.digest.hex()}")
        line = (f"{name}: {len(chosen) - len(unresolved)} of {len(chosen)} resolved against "
                f"the embedded {what}")
        if unresolved:
            line += "; unresolved: " + ", ".join(unresolved)
        lines.append(line)
    return tuple(lines)


def _legacy_form(kinds: set[TimestampKind]) -> str | None:
    """TS 101 903 form when the signature carries legacy time-stamps (JIS X 5093), with its
    EN 319 102-1 class; None for a baseline-only signature."""
    if not kinds & {TimestampKind.ARCHIVE_132, TimestampKind.SIG_AND_REFS,
                    TimestampKind.REFS_ONLY}:
        return None
    archives = [name for kind, name in ((TimestampKind.ARCHIVE_132, "1.3.2"),
                                        (TimestampKind.ARCHIVE, "1.4.1")) if kind in kinds]
    if archives:
        return f"XAdES-A ({', '.join(archives)}) [B-LTA]"
    types = [name for kind, name in ((TimestampKind.SIG_AND_REFS, "type 1"),
                                     (TimestampKind.REFS_ONLY, "type 2")) if kind in kinds]
    return f"XAdES-X ({', '.join(types)}) [B-T]"


def _signed_data_object(ref: ReferenceInfo) -> SignedDataObjectSummary:
    return SignedDataObjectSummary(
        uri=ref.uri, type=ref.type, kind=ref.kind, resolved_to=ref.resolved_to,
        element=ref.element, element_id=ref.element_id, path=ref.path,
        transforms=ref.transforms, digest_algorithm=ref.digest_algorithm.value,
        digest_method=ref.digest_method,
        digest_value=base64.b64encode(ref.digest_value).decode("ascii"),
        mime_type=ref.mime_type, signed_properties=ref.is_signed_properties,
    )


def _unsigned(node: UnsignedNode) -> UnsignedContent:
    return UnsignedContent(what=node.what, element=node.element, element_id=node.element_id,
                           path=node.path, description=node.description)


def _failed(status: IntegrityStatus, message: str, signature_value: bytes,
            label: str = "signature") -> SignatureFacts:
    return SignatureFacts(
        id=label, format=SignatureFormat.XADES, level=None, signer_certificate=None,
        signer_identification_error=None,
        integrity=IntegrityResult.failed(status, message), signature_value=signature_value,
        evidence=EvidenceSet(),
    )


def _namespace_of(data: bytes, signature_id: str | None) -> str:
    """The XAdES namespace of the signature to validate: 1.3.2 (with 1.4.1 additions), or
    1.1.1/1.2.2 when its QualifyingProperties are in one of those (issue #19)."""
    root = parse_xml(data, what="the XAdES signature").getroot()
    for signature in root.iter(f"{{{DS}}}Signature"):
        if signature_id is not None and signature.get("Id") != signature_id:
            continue
        old = old_namespace(signature)
        if old is not None:
            return old
        if any(obj.find(f"{{{XADES}}}QualifyingProperties") is not None
               for obj in signature.findall(f"{{{DS}}}Object")):
            return XADES
    return XADES


def _algorithm_uses(data: bytes, info: XadesInfo, namespace: str = XADES
                    ) -> tuple[AlgorithmUse, ...]:
    """What the binding rests on (EN 319 102-1 §5.2.8): SignatureMethod, every ds:Reference
    DigestMethod (SignedProperties included) and the SigningCertificate(V2) CertDigest."""
    uses = [AlgorithmUse(
        what=f"ds:SignatureMethod {info.mechanism.value}-{info.digest_algorithm.value}",
        algorithm=info.digest_algorithm.value)]
    for ref in info.references:
        target = "SignedProperties" if ref.is_signed_properties else repr(ref.uri or "")
        uses.append(AlgorithmUse(what=f"ds:Reference {target} DigestMethod",
                                 algorithm=ref.digest_algorithm.value))
    root = parse_xml(data, what="the XAdES signature").getroot()
    signature = next((s for s in root.iter(f"{{{DS}}}Signature")
                      if info.signature_id is None or s.get("Id") == info.signature_id), None)
    for tag in ("SigningCertificateV2", "SigningCertificate"):
        element = next(signature.iter(f"{{{namespace}}}{tag}"), None) \
            if signature is not None else None
        digest = element.find(f"{{{namespace}}}Cert/{{{namespace}}}CertDigest") \
            if element is not None else None
        method = None if digest is None else next(
            (m for m in (digest.find(f"{{{DS}}}DigestMethod"),
                         digest.find(f"{{{namespace}}}DigestMethod")) if m is not None), None)
        if method is None:
            continue
        try:
            algorithm = digest_from_uri(method.get("Algorithm")).value
        except UnsupportedAlgorithmError:
            algorithm = method.get("Algorithm") or "unknown"
        uses.append(AlgorithmUse(what=f"xades:{tag} CertDigest", algorithm=algorithm))
        break
    return tuple(uses)
