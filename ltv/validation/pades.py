"""PAdES adapter: every approval signature of a PDF → :class:`SignatureFacts` (pyHanko reads).

pyHanko parses the PDF, computes each ``/ByteRange`` digest and runs its difference analysis;
the decisions stay with the engine. Two traps (TESTING.md) are handled here:

* pyHanko's AdES indication does not fold in its difference analysis, so
  ``pdf_changes_after_signing`` is computed from the modification level of
  ``compute_integrity_info``: ``none``; ``allowed`` (DSS, document time-stamps, later
  signatures, form filling within the DocMDP permissions); ``disallowed`` (anything else: page
  content, annotations, a failed or suspicious analysis). The default policy does not pass
  ``disallowed`` (INDETERMINATE / SIG_CONSTRAINTS_FAILURE).
* malformed PDFs make pyHanko raise raw exceptions; they become one-line MalformedErrors.

Document time-stamps after a signature are POE sources (EN 319 102-1 §5.6.2.3, the chain of
document time-stamps read as an evidence record): each covers what pyHanko's prima facie POE
index says its revision contains (earlier signatures' values and certificates, DSS content).
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC
from typing import Any

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ltv.errors import InputError, MalformedError
from ltv.evidence import EvidenceSet
from ltv.formats.pades import pdf_errors
from ltv.signing import SignatureFormat, SignatureLevel
from ltv.validation.cades import timestamp_facts
from ltv.validation.facts import (
    IntegrityResult,
    IntegrityStatus,
    SignatureFacts,
    TimestampFacts,
    poe_digest,
)
from ltv.validation.model import TimestampKind

__all__ = ["extract"]

_DER = Encoding.DER


def _crypto(cert: Any) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def _content_info(signed_data: Any) -> bytes:
    data: bytes = asn1_cms.ContentInfo(
        {"content_type": "signed_data", "content": signed_data}).dump()
    return data


def extract(data: bytes, *, detached_content: bytes | None = None) -> list[SignatureFacts]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    from ltv.validation._speedups import install

    install()

    if detached_content is not None:
        raise InputError("a PDF signature covers the PDF itself: --detached does not apply")
    with pdf_errors("cannot read the PDF"):
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            raise InputError("the PDF is encrypted; decrypt it first (e.g. qpdf --decrypt)")
        from ltv.validation._pdf_forms import split_signatures

        regular, doc_timestamps = split_signatures(reader.embedded_signatures)  # by SubFilter
        if not regular:
            raise MalformedError("the PDF has no signature")
        evidence, dss_revision = _dss(reader)
        poe_index = _poe_index(reader)
        doc_ts_facts = [(ts.signed_revision, _doc_timestamp(ts, poe_index))
                        for ts in doc_timestamps]
        out = []
        for index, sig in enumerate(regular):
            out.append(_signature(sig, index, len(regular), evidence, dss_revision,
                                  doc_ts_facts))
    return out


def _dss(reader: Any) -> tuple[EvidenceSet, int | None]:
    from pyhanko.pdf_utils.decode_limits import DecodePurpose
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError

    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return EvidenceSet(), None
    certs = [_crypto(c) for c in dss.load_certs()]
    crls = [c.get_object().read_data(DecodePurpose.CRL) for c in dss.crls]
    ocsps = [o.get_object().read_data(DecodePurpose.OCSP_RESPONSE) for o in dss.ocsps]
    try:
        revision = int(reader.xrefs.get_last_change(reader.root.raw_get("/DSS").reference))
    except (KeyError, AttributeError):
        revision = None
    return EvidenceSet.of(certificates=certs, crls=crls, ocsp_responses=ocsps), revision


def _poe_index(reader: Any) -> dict[int, frozenset[bytes]]:
    """pdf revision of each document time-stamp → POE digests it covers (pyHanko's prima
    facie index: same SHA-256 keys as :func:`poe_digest`)."""
    from pyhanko.sign.validation.ades import (
        _build_prima_facie_poe_index_from_pdf_timestamps,
    )

    sets = _build_prima_facie_poe_index_from_pdf_timestamps(
        reader, include_content_ts=False, diff_policy=None)
    return {item.pdf_revision: frozenset(p.digest for p in item.poes_implied) for item in sets}


def _doc_timestamp(ts: Any, poe_index: dict[int, frozenset[bytes]]) -> TimestampFacts:
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    token = _content_info(ts.signed_data)
    algorithm = ts.md_algorithm
    digest = ts.compute_digest()
    covered = ts.evaluate_signature_coverage() >= SignatureCoverageLevel.ENTIRE_REVISION

    def expected(alg: Any) -> bytes:
        if alg.value != algorithm:
            return b""
        return bytes(digest) if covered else b""

    facts = timestamp_facts(token, kind=TimestampKind.DOCUMENT, label="document time-stamp",
                            expected=expected, covers=poe_index.get(ts.signed_revision,
                                                                    frozenset()))
    if not covered:
        return replace(facts, imprint_ok=False, covers=frozenset(),
                       imprint_message="the document time-stamp does not cover its revision")
    return facts


def _changes(sig: Any) -> tuple[str, str | None]:
    from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel

    result = sig.diff_result
    if result is None:
        return "none", None
    if not isinstance(result, DiffResult):
        return "disallowed", " ".join(str(result).split())[:300]
    level = result.modification_level
    docmdp = sig.docmdp_level
    if level == ModificationLevel.NONE:
        return "none", None
    if level in (ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING) and (
            docmdp is None or level.value <= docmdp.value):
        return "allowed", level.name.lower().replace("_", " ")
    return "disallowed", f"{level.name.lower().replace('_', ' ')} after signing"


def _signature(sig: Any, index: int, count: int, evidence: EvidenceSet,
               dss_revision: int | None,
               doc_ts: list[tuple[int, TimestampFacts]]) -> SignatureFacts:
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    label = str(sig.field_name) if sig.field_name else f"signature {index + 1}"
    signer_info = sig.signer_info
    signature_value = bytes(signer_info["signature"].native)
    from ltv.validation._pdf_forms import readable_certificates

    cert_problems: list[str] = []
    certs = readable_certificates((c.chosen for c in sig.signed_data["certificates"] or ()
                                   if c.name == "certificate"), cert_problems)
    signer: x509.Certificate | None
    isc_error = None
    try:
        signer = _crypto(sig.signer_cert)
    except Exception as exc:
        signer, isc_error = None, f"the signer certificate is not in the signature: {exc}"
    from ltv.validation._pdf_forms import compute_integrity

    damaged = compute_integrity(sig)  # lenient on damaged xref data, strict on changes
    changes, detail = ("disallowed", damaged) if damaged else _changes(sig)
    integrity = IntegrityResult()
    if sig.evaluate_signature_coverage() < SignatureCoverageLevel.ENTIRE_REVISION:
        integrity = IntegrityResult.failed(
            IntegrityStatus.FORMAT_FAILURE,
            "the /ByteRange does not cover the whole revision it signs")
    elif signer is not None:
        intact, valid = validate_sig_integrity(signer_info, sig.signer_cert, "data",
                                               sig.compute_digest())
        if not intact:
            integrity = IntegrityResult.failed(
                IntegrityStatus.HASH_FAILURE,
                "the signed byte range does not match the signed message-digest")
        elif not valid:
            integrity = IntegrityResult.failed(
                IntegrityStatus.SIG_CRYPTO_FAILURE,
                "the signature value does not verify with the signer certificate's key")
    sig_covers = frozenset({poe_digest(signature_value)}
                           | ({poe_digest(signer.public_bytes(_DER))} if signer else set()))
    timestamps: list[TimestampFacts] = []
    for attr in signer_info["unsigned_attrs"] or ():
        if attr["type"].native != "signature_time_stamp_token":
            continue
        for value in attr["values"]:
            timestamps.append(timestamp_facts(
                value.dump(), kind=TimestampKind.SIGNATURE, label="signature-time-stamp",
                expected=lambda alg: alg.digest(signature_value), covers=sig_covers,
                extra=certs))
    later_ts = [facts for revision, facts in doc_ts if revision > sig.signed_revision]
    timestamps.extend(later_ts)
    has_dss = dss_revision is not None and dss_revision > sig.signed_revision
    level = SignatureLevel.B_B
    if timestamps:
        level = SignatureLevel.B_T
    if timestamps and has_dss:
        level = SignatureLevel.B_LT
        if any(r > (dss_revision or 0) for r, _ in doc_ts if r > sig.signed_revision):
            level = SignatureLevel.B_LTA
    claimed = sig.self_reported_timestamp
    token_certs = [c for t in timestamps for c in t.certificates]
    return SignatureFacts(
        id=label if count > 1 or sig.field_name else "signature",
        format=SignatureFormat.PADES,
        level=level,
        signer_certificate=signer,
        signer_identification_error=isc_error,
        certificates=tuple([*certs, *evidence.certificates, *token_certs]),
        integrity=integrity,
        signature_value=signature_value,
        claimed_signing_time=claimed.astimezone(UTC) if claimed is not None else None,
        digest_algorithm=str(signer_info["digest_algorithm"]["algorithm"].native),
        signature_algorithm=str(signer_info["signature_algorithm"]["algorithm"].native),
        timestamps=tuple(timestamps),
        evidence=evidence.merge(EvidenceSet.of(certificates=certs)),
        pdf_changes_after_signing=changes,
        pdf_changes_detail=detail,
        warnings=(*cert_problems, *([damaged] if damaged else [])),
    )

