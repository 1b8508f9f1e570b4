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
* pyHanko reads from the last ``startxref`` and never sees bytes no cross-reference section
  lists (the incremental saving attack), accepts any ``/ByteRange`` it can hash and parses
  ``/Contents`` leniently. :mod:`ltv.formats.pdf_revisions` checks the bytes themselves: a
  ``/ByteRange`` or ``/Contents`` that is not exactly one signature over its whole revision is
  FORMAT_FAILURE; bytes after the signed revision that are no well-formed incremental update
  make the changes ``disallowed``, naming them. A field whose ``/SubFilter`` is unknown is a
  FORMAT_FAILURE entry of its own.

Document time-stamps after a signature are POE sources (EN 319 102-1 §5.6.2.3, the chain of
document time-stamps read as an evidence record): each covers what pyHanko's prima facie POE
index says its revision contains (earlier signatures' values and certificates, DSS content).

Each thing is read once per document (issue #15): the census's signature objects serve the
field listing, the current DSS serves the POE index of a document time-stamp in the last
revision when reading that revision would read the same (:mod:`ltv.validation._pdf_reuse`).
"""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ltv.errors import InputError, LtvError, MalformedError
from ltv.evidence import EvidenceSet
from ltv.formats import pdf_revisions
from ltv.formats.pades import pdf_errors
from ltv.formats.pdf_revisions import Buffer
from ltv.signing import SignatureFormat, SignatureLevel
from ltv.validation.cades import (
    certificates_problem,
    cms_algorithm_uses,
    content_type_missing,
    signed_attributes_problem,
    timestamp_facts,
)
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


def extract(data: Buffer, *, detached_content: bytes | None = None,
            reader: Any = None) -> list[SignatureFacts]:
    """Every signature of the PDF ``data`` (bytes, or a read-only mmap of the file).

    ``reader``: pyHanko's reader over the whole of ``data`` from :func:`open_reader` (the
    census already read the file with it; without one, ``data`` is read here)."""
    from ltv.validation._speedups import install

    install()

    if detached_content is not None:
        raise InputError("a PDF signature covers the PDF itself: --detached does not apply")
    with pdf_errors("cannot read the PDF"):
        reader, readable = (reader, len(data)) if reader is not None else _open(data)
        if reader.encrypted:
            raise InputError("the PDF is encrypted; decrypt it first (e.g. qpdf --decrypt)")
        regular, doc_timestamps, broken, notes = _signature_fields(reader)
        if not regular and not broken:
            raise MalformedError("the PDF has no signature" if readable == len(data) else
                                 f"cannot read the PDF: it is damaged after byte {readable}")
        count = len(regular) + len(broken)
        if regular:
            evidence, dss_revision, current_dss = _dss(reader)
            poe_index = _poe_index(reader, current_dss)
        else:
            evidence, dss_revision, poe_index = EvidenceSet(), None, {}
        doc_ts_facts = [(ts.signed_revision, _doc_timestamp(ts, poe_index, data))
                        for ts in doc_timestamps]
        out: list[tuple[int, SignatureFacts]] = []
        for index, sig in enumerate(regular):
            problem = pdf_revisions.byte_range_problem(_numbers(sig.byte_range), data=data,
                                                       contents=bytes(sig.pkcs7_content))
            if problem is not None:  # before pyHanko hashes ranges it may not even read
                out.append((sig.signed_revision,
                            _unreadable(_label(sig, index, count), problem, changes=True)))
                continue
            facts = _signature(sig, index, count, evidence, dss_revision, doc_ts_facts)
            facts = _bytes_after(facts, sig, data, readable, reader)
            out.append((sig.signed_revision,
                        replace(facts, warnings=(*facts.warnings, *notes)) if notes else facts))
        out.extend(broken)
    return [facts for _, facts in sorted(out, key=lambda pair: pair[0])]


def open_reader(stream: Any) -> Any:
    """pyHanko's reader over the whole PDF in ``stream`` (a binary file or BytesIO), or None
    when it cannot read it (then :func:`extract` reads ``data`` itself and says why)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from ltv.validation._speedups import install

    install()
    try:
        reader = PdfFileReader(stream, strict=False)
        reader.root  # noqa: B018  (a broken cross-reference fails here)
        return reader
    except Exception:  # extract reads it again and reports why it cannot
        return None


def census(reader: Any) -> tuple[int | None, int | None]:
    """(signatures, document time-stamps) of ``reader``'s PDF, counted without verifying
    anything; (None, None) when it cannot say (as :func:`ltv.validation.limits.census_of_data`
    for a PDF, over a reader that is then reused)."""
    try:
        if reader.encrypted:
            return None, None
        regular = len(list(reader.embedded_regular_signatures))
        stamps = len(list(reader.embedded_timestamp_signatures))
    except Exception:  # the census never decides: a broken file is extract's to report
        return None, None
    return regular, stamps


def _open(data: Buffer) -> tuple[Any, int]:
    """pyHanko's reader over ``data``, or over its longest prefix ending with a complete
    revision when the tail is unreadable (the tail is then reported, never passed over)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    def read(prefix: Buffer) -> Any:
        with pdf_errors("cannot read the PDF"):
            reader = PdfFileReader(io.BytesIO(prefix), strict=False)
            reader.root  # noqa: B018  (a broken cross-reference fails here)
            return reader

    try:
        return read(data), len(data)
    except MalformedError:
        for end in pdf_revisions.revision_ends(data)[:_PREFIX_TRIES]:
            if end >= len(data):
                continue
            try:
                return read(data[:end]), end
            except MalformedError:
                continue
        from ltv.validation._pdf_forms import reread_without_prev_zero

        reader = reread_without_prev_zero(data, read)
        if reader is not None:
            return reader, len(data)
        raise


_PREFIX_TRIES = 8
_WHITE_SPACE = b"\x00\t\n\x0c\r "


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]


_SIG_SUBFILTERS = frozenset({"/adbe.pkcs7.detached", "/ETSI.CAdES.detached",
                             "/adbe.pkcs7.sha1"})  # legacy: ltv.validation._pdf_forms
_TS_SUBFILTERS = frozenset({"/ETSI.RFC3161"})


def _signature_fields(reader: Any) -> tuple[list[Any], list[Any],
                                            list[tuple[int, SignatureFacts]], list[str]]:
    """Every filled signature field: readable approval signatures and document time-stamps
    (pyHanko's objects, in signing order), signatures that cannot be validated (FORMAT_FAILURE
    facts: unknown /SubFilter, /Contents not one DER SignedData, unreadable), and warnings
    about unreadable document time-stamps."""
    from pyhanko.sign.fields import enumerate_sig_fields
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, extract_contents

    regular: list[Any] = []
    stamps: list[Any] = []
    broken: list[tuple[int, SignatureFacts]] = []
    notes: list[str] = []
    counted = list(reader._embedded_signatures or ())  # the census's, if it ran
    for fq_name, sig_obj, sig_field in enumerate_sig_fields(reader, filled_status=True):
        label = str(fq_name)
        embedded = None
        is_timestamp = False  # unknown when even the signature dictionary cannot be read
        try:
            obj = sig_obj.get_object()
            subfilter = obj.get("/SubFilter")
            # a document time-stamp by its SubFilter, whatever its /Type (other tools write
            # /Type /Sig or none: ltv.validation._pdf_forms)
            is_timestamp = (str(obj.get("/Type", "/Sig")) == "/DocTimeStamp"
                            or str(subfilter) in _TS_SUBFILTERS)
            known = _TS_SUBFILTERS if is_timestamp else _SIG_SUBFILTERS
            if subfilter is None or str(subfilter) not in known:
                problem: str | None = (
                    f"the signature's /SubFilter {subfilter} is not one this validator reads "
                    f"({', '.join(sorted(known))})")
            else:
                problem = pdf_revisions.contents_problem(bytes(extract_contents(obj)))
            if problem is None:
                embedded = (_counted(counted, sig_field, fq_name)
                            or EmbeddedPdfSignature(reader, sig_field, fq_name))
        except (LtvError, RecursionError):
            raise
        except Exception as exc:  # pyHanko raises raw exceptions on hostile signatures
            problem = f"the signature cannot be read: {_one_line(exc)}"
        if embedded is not None and problem is None:
            (stamps if is_timestamp else regular).append(embedded)
        elif is_timestamp:
            notes.append(f"document time-stamp {label} ignored: {problem}")
        else:
            broken.append((_revision_of(reader, sig_field),
                           _unreadable(label, problem or "the signature cannot be read")))
    regular.sort(key=lambda sig: sig.signed_revision)
    stamps.sort(key=lambda sig: sig.signed_revision)
    # pyHanko's own list (used by its POE index) would log a traceback for each field it skips
    reader._embedded_signatures = sorted([*regular, *stamps],
                                         key=lambda sig: sig.signed_revision)
    return regular, stamps, broken, notes


def _counted(counted: list[Any], sig_field: Any, fq_name: Any) -> Any:
    """The census's pyHanko signature object for this field (:func:`census` made it with the
    same reader, field and name, and nothing has used it since), or None: the object this
    adapter would make, without parsing the CMS structure a second time. Each is taken once
    (a field listed twice gets two objects, as before)."""
    from pyhanko.pdf_utils.generic import IndirectObject

    field: Any = sig_field
    if isinstance(field, IndirectObject):  # as EmbeddedPdfSignature resolves it
        field = field.get_object()  # type: ignore[no-untyped-call]
    for sig in counted:
        if (sig.sig_field is field and sig.fq_name == fq_name and not sig._integrity_checked
                and not sig.external_digests and sig.coverage is None
                and sig.diff_result is None):
            counted.remove(sig)
            return sig
    return None


def _revision_of(reader: Any, sig_field: Any) -> int:
    """The revision that last wrote a field's signature dictionary (for the report's order)."""
    try:
        field = sig_field.get_object() if hasattr(sig_field, "get_object") else sig_field
        return int(reader.xrefs.get_last_change(field.raw_get("/V").reference))
    except Exception:  # a direct or dangling /V: last
        return 1 << 30


def _unreadable(label: str, problem: str, *, changes: bool = False) -> SignatureFacts:
    """A signature this validator cannot check (EN 319 102-1 §5.2.2 format checking:
    FORMAT_FAILURE). ``changes``: the problem is a /ByteRange that leaves bytes of the file
    unsigned, so the changes after signing are ``disallowed`` too (ISO 32000-2 §12.8.1)."""
    return SignatureFacts(
        id=label, format=SignatureFormat.PADES, level=None, signer_certificate=None,
        signer_identification_error=problem,
        integrity=IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE, problem),
        pdf_changes_after_signing="disallowed" if changes else None,
        pdf_changes_detail=problem if changes else None,
    )


def _numbers(value: Any) -> list[object]:
    """A /ByteRange as the list of its entries (an indirect or non-array value: none)."""
    value = value.get_object() if hasattr(value, "get_object") else value
    return list(value) if isinstance(value, list) else []


def _label(sig: Any, index: int, count: int) -> str:
    label = str(sig.field_name) if sig.field_name else f"signature {index + 1}"
    return label if count > 1 or sig.field_name else "signature"


def _bytes_after(facts: SignatureFacts, sig: Any, data: Buffer, readable: int,
                 reader: Any) -> SignatureFacts:
    """Every byte after the signed revision must be a well-formed incremental update (else
    the changes after signing are ``disallowed``, the bytes named), ISO 32000-2 §7.5.6."""
    if facts.integrity.status is IntegrityStatus.FORMAT_FAILURE:
        return replace(facts, pdf_changes_after_signing="disallowed",
                       pdf_changes_detail=facts.integrity.message)
    second, length = (int(v) for v in list(sig.byte_range)[2:])
    revision = int(sig.signed_revision) + 1
    analysis = pdf_revisions.trailing_update_problem(
        data, signed_end=second + length,
        prev_startxref=int(reader.xrefs.get_startxref_for_revision(sig.signed_revision)),
        revision=revision)
    detail = analysis.problem
    if detail is None and data[readable:].strip(_WHITE_SPACE):
        detail = (f"{len(data) - readable} bytes after revision "
                  f"{int(reader.xrefs.total_revisions)} that the PDF reader cannot read")
    if detail is None:
        return facts
    if facts.pdf_changes_after_signing == "disallowed" and facts.pdf_changes_detail:
        detail = f"{detail}; {facts.pdf_changes_detail}"
    return replace(facts, pdf_changes_after_signing="disallowed", pdf_changes_detail=detail)


def _dss(reader: Any) -> tuple[EvidenceSet, int | None, Any]:
    """The DSS of the current revision: its evidence, the revision that last changed it, and
    pyHanko's DocumentSecurityStore (None when there is no DSS) for :func:`_poe_index`."""
    from pyhanko.pdf_utils.decode_limits import DecodePurpose
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError

    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return EvidenceSet(), None, None
    certs = [_crypto(c) for c in dss.load_certs()]
    crls = [c.get_object().read_data(DecodePurpose.CRL) for c in dss.crls]
    ocsps = [o.get_object().read_data(DecodePurpose.OCSP_RESPONSE) for o in dss.ocsps]
    try:
        revision = int(reader.xrefs.get_last_change(reader.root.raw_get("/DSS").reference))
    except (KeyError, AttributeError):
        revision = None
    return EvidenceSet.of(certificates=certs, crls=crls, ocsp_responses=ocsps), revision, dss


_UNREAD = object()


def _poe_index(reader: Any, current_dss: Any = _UNREAD) -> dict[int, frozenset[bytes]]:
    """pdf revision of each document time-stamp → POE digests it covers (the same SHA-256
    keys as :func:`poe_digest`).

    ``current_dss``: what :func:`_dss` read of the current revision's DSS (None: there is
    none), used for a document time-stamp's revision instead of reading that revision's DSS
    again when :func:`ltv.validation._pdf_reuse.same_dss` shows the read would be the same.

    pyHanko's prima facie POE index (``pyhanko.sign.validation.ades.
    _build_prima_facie_poe_index_from_pdf_timestamps`` with ``include_content_ts=False`` and no
    difference policy), step for step and with the same reads (and so the same errors), keeping
    only the digests: importing that module costs ``ltv validate`` ~0.3 s of start-up (it pulls
    in aiohttp). tests/test_validation_speed.py compares both on signed files."""
    from asn1crypto.crl import CertificateList
    from asn1crypto.ocsp import OCSPResponse
    from pyhanko.pdf_utils.decode_limits import DecodePurpose
    from pyhanko.pdf_utils.reader import HistoricalResolver
    from pyhanko.sign.general import (
        MultivaluedAttributeError,
        NonexistentAttributeError,
        find_cms_attribute_iter,
        find_unique_cms_attribute,
    )
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.validation.errors import NoDSSFoundError
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    from ltv.validation._pdf_reuse import same_dss

    def dss_digests(dss: Any) -> Iterator[bytes]:
        for crl_obj in dss.crls:
            raw = crl_obj.get_object().read_data(DecodePurpose.CRL)
            CertificateList.load(raw)
            yield poe_digest(raw)
        for ocsp_obj in dss.ocsps:
            raw = ocsp_obj.get_object().read_data(DecodePurpose.OCSP_RESPONSE)
            OCSPResponse.load(raw)
            yield poe_digest(raw)
        for cert_obj in dss.certs.values():
            raw = cert_obj.get_object().read_data(DecodePurpose.CERTIFICATE)
            asn1_x509.Certificate.load(raw)
            yield poe_digest(raw)

    def cert_digests(signed_data: Any) -> Iterator[bytes]:
        for choice in signed_data["certificates"]:
            raw = choice.chosen.dump()
            if choice.name in ("certificate", "v2_attr_cert"):
                yield poe_digest(raw)

    collected: set[bytes] = set()
    for_next: set[bytes] = set()
    out: dict[int, frozenset[bytes]] = {}
    for sig in reader.embedded_signatures:
        sig.compute_integrity_info(None, skip_diff=True)
        history = HistoricalResolver(reader, revision=sig.signed_revision)
        signed_data = sig.signed_data
        is_doc_ts = sig.sig_object_type == "/DocTimeStamp"
        if is_doc_ts:
            if current_dss is not _UNREAD and same_dss(reader, history):
                if current_dss is not None:
                    collected.update(dss_digests(current_dss))
            else:
                with contextlib.suppress(NoDSSFoundError):
                    collected.update(dss_digests(DocumentSecurityStore.read_dss(history)))
            collected.update(for_next)
            sig.compute_digest()
            if sig.evaluate_signature_coverage() >= SignatureCoverageLevel.ENTIRE_REVISION:
                signed_data["encap_content_info"]["content"].parsed["gen_time"].native  # noqa: B018
                sig.external_md_algorithm  # noqa: B018
                sig.summarise_integrity_info()
                out[sig.signed_revision] = frozenset(collected)
                for_next = set()
            for_next.update(cert_digests(signed_data))
        for_next.update(cert_digests(signed_data))
        signed_attrs = sig.signer_info["signed_attrs"]
        if not is_doc_ts:
            try:
                archival = find_unique_cms_attribute(signed_attrs,
                                                     "adobe_revocation_info_archival")
                for_next.update(poe_digest(crl.dump()) for crl in archival["crl"])
                for_next.update(poe_digest(ocsp.dump()) for ocsp in archival["ocsp"])
            except (MultivaluedAttributeError, NonexistentAttributeError):
                pass
        for_next.add(poe_digest(sig.signer_info["signature"].native))
        for ts_data in itertools.chain(
                find_cms_attribute_iter(sig.signer_info["unsigned_attrs"],
                                        "signature_time_stamp"),
                find_cms_attribute_iter(signed_attrs, "content_time_stamp")):
            for ts_signer_info in ts_data["content"]["signer_infos"]:
                for_next.add(poe_digest(ts_signer_info["signature"].native))
    return out


def _doc_timestamp(ts: Any, poe_index: dict[int, frozenset[bytes]],
                   data: Buffer) -> TimestampFacts:
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    token = _content_info(ts.signed_data)
    # The messageImprint's hash, which need not be the SignerInfo's (RFC 8933 only recommends
    # unifying them): an ML-DSA TSA digests its attributes with SHA-512 (RFC 9882 §3.3) over
    # a SHA-256 imprint. pyHanko's compute_digest() already uses the imprint's.
    algorithm = ts.external_md_algorithm
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
    problem = pdf_revisions.byte_range_problem(_numbers(ts.byte_range), data=data,
                                               contents=bytes(ts.pkcs7_content))
    if problem is not None:
        return replace(facts, imprint_ok=False, covers=frozenset(),
                       imprint_message=f"document time-stamp: {problem}")
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
        from ltv.validation._pdf_forms import sha1_subfilter_integrity

        legacy = sha1_subfilter_integrity(sig)
        intact, valid = legacy if legacy is not None else validate_sig_integrity(
            signer_info, sig.signer_cert, "data", sig.compute_digest())
        if not intact:
            integrity = IntegrityResult.failed(
                IntegrityStatus.HASH_FAILURE,
                "the signed byte range does not match the signed message-digest")
        elif not valid:
            integrity = IntegrityResult.failed(
                IntegrityStatus.SIG_CRYPTO_FAILURE,
                "the signature value does not verify with the signer certificate's key")
    from ltv.validation._pdf_forms import sha1_subfilter_uses

    structure = _structure_problem(sig.signed_data, signer_info)
    if structure is not None:  # FC (§5.2.2) before anything else
        integrity = IntegrityResult.failed(IntegrityStatus.FORMAT_FAILURE, structure)
    # breaches real signers make that leave one readable SignedData: constraint failures
    # (INDETERMINATE / SIG_CONSTRAINTS_FAILURE), never a pass, never a format failure
    constraints = [c for c in (
        pdf_revisions.contents_encoding_problem(bytes(sig.pkcs7_content)),
        content_type_missing(_signed_attributes(signer_info))
        if _signed_attributes(signer_info) else None,
    ) if c is not None]
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
        id=_label(sig, index, count),
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
        algorithm_uses=(*cms_algorithm_uses(signer_info), *sha1_subfilter_uses(sig)),
        content_type=str(sig.signed_data["encap_content_info"]["content_type"].dotted),
        warnings=(*cert_problems, *([damaged] if damaged else [])),
        constraint_failures=tuple(constraints),
    )


def _structure_problem(signed_data: Any, signer_info: Any) -> str | None:
    """The CMS format checks of :mod:`ltv.validation.cades`, on pyHanko's parsed objects."""
    problem = certificates_problem([c.dump() for c in signed_data["certificates"] or ()])
    if problem is not None:
        return problem
    if not _signed_attributes(signer_info):
        return None  # RFC 5652 §5.3: signedAttrs are optional (adbe.pkcs7.* signatures)
    return signed_attributes_problem(_signed_attributes(signer_info))


def _signed_attributes(signer_info: Any) -> list[tuple[str, int]]:
    """(type OID, number of values) of each signed attribute; [] when there are none."""
    return [(a["type"].dotted, len(a["values"])) for a in signer_info["signed_attrs"] or ()]

