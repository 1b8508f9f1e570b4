"""The validation report as ETSI TS 119 102-2 XML (namespace ``http://uri.etsi.org/19102/v1.2.1#``).

Written with lxml, element names and order as in the TS 119 102-2 schema (the same names as
pyHanko's generated ``ts_11910202`` bindings): ``ValidationReport`` holds one
``SignatureValidationReport`` per signature (``SignatureIdentifier``, ``ValidationTimeInfo`` with
``BestSignatureTime``, ``SignerInformation``, ``SignatureValidationStatus`` with the main and
sub-indication URNs and the failure message as ``AssociatedValidationReportData``), then
``SignatureValidationObjects``: every certificate and time-stamp as a ``ValidationObject``
identified by its SHA-256 digest; time-stamps carry their POE and their own validation status.

XAdES: what the signature signs. Each data object's ``ds:Reference`` is a ``ValidationObject``
of type ``signedData`` represented by the reference's own ``DigestAlgAndValue``; the
signature's ``SignersDocument`` points at them (its ``DigestAlgAndValue`` is the first data
object's). How each one was resolved (URI, element name, Id and path, or detached file;
transforms) and any content outside every reference (``unsigned_content``) are
``AssociatedValidationReportData`` of the signature's status, as ``ReportData`` of types
``urn:ltv:validation:signed-data-object`` (with ``RelatedValidationObject``) and
``urn:ltv:validation:unsigned-content``.

Who signed: ``ReportData`` of types ``urn:ltv:validation:holder-name`` (the JPKI holder name from
the certificate's subjectAltName), ``...:key-kind`` and ``...:issuer-name``; the holder's address,
date of birth and gender (``...:holder-address``, ``...:holder-date-of-birth``,
``...:holder-gender``) only when the options ask for them.
"""

from __future__ import annotations

import base64
from typing import Any

from lxml import etree  # type: ignore[import-untyped,unused-ignore]

from ltv.clock import format_time
from ltv.validation.model import (
    CertificateSummary,
    SignatureReport,
    SignedDataObjectSummary,
    TimestampReport,
    ValidationReport,
)
from ltv.validation.report_options import ReportOptions
from ltv.validation.safetext import printable

__all__ = ["NS", "to_xml"]

_DEFAULT_OPTIONS = ReportOptions()

NS = "http://uri.etsi.org/19102/v1.2.1#"
DS = "http://www.w3.org/2000/09/xmldsig#"
_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
_VO = "urn:etsi:019102:validationObject:"


def _el(parent: Any, name: str, text: str | None = None,
        **attrs: str) -> Any:
    """One element; text and attribute values pass :func:`printable` (lxml refuses control
    characters, and a certificate subject may hold them)."""
    node = etree.SubElement(parent, f"{{{NS}}}{name}",
                            attrib={k: printable(v) for k, v in attrs.items()})
    if text is not None:
        node.text = printable(text)
    return node


def _digest(parent: Any, hex_digest: str) -> None:
    dav = _el(parent, "DigestAlgAndValue")
    etree.SubElement(dav, f"{{{DS}}}DigestMethod", Algorithm=_SHA256)
    value = etree.SubElement(dav, f"{{{DS}}}DigestValue")
    value.text = base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _cert_id(c: CertificateSummary) -> str:
    return f"vo-certificate-{c.sha256}"


def _ts_id(t: TimestampReport, index: int, sig_index: int) -> str:
    return f"vo-timestamp-{t.token_sha256 or f'{sig_index}-{index}'}"


def _data_objects(sig: SignatureReport) -> list[SignedDataObjectSummary]:
    return [o for o in sig.signed_data_objects or () if not o.signed_properties]


def _signed_data_id(sig_index: int, index: int) -> str:
    return f"vo-signeddata-{sig_index + 1}-{index + 1}"


def _reference_digest(parent: Any, obj: SignedDataObjectSummary) -> None:
    dav = _el(parent, "DigestAlgAndValue")
    etree.SubElement(dav, f"{{{DS}}}DigestMethod", Algorithm=obj.digest_method)
    etree.SubElement(dav, f"{{{DS}}}DigestValue").text = obj.digest_value


def _signers_document(report: Any, sig: SignatureReport, sig_index: int) -> None:
    """``SignersDocument``: the signed data objects (TS 119 102-2 §4.3.5, XAdES references)."""
    objects = _data_objects(sig)
    if not objects:
        return
    doc = _el(report, "SignersDocument")
    _reference_digest(doc, objects[0])
    _el(doc, "SignersDocumentRepresentation", VOReference=" ".join(
        _signed_data_id(sig_index, i) for i in range(len(objects))))


def _signed_data_report(report: Any, sig: SignatureReport, sig_index: int) -> None:
    """How each reference resolved, and the unsigned content, under the signature's status."""
    status = report.find(f"{{{NS}}}SignatureValidationStatus")
    for index, obj in enumerate(_data_objects(sig)):
        data = _el(status, "AssociatedValidationReportData")
        _el(data, "RelatedValidationObject", VOReference=_signed_data_id(sig_index, index))
        rd = _el(_el(data, "AdditionalValidationReportData"), "ReportData")
        _el(rd, "Type", "urn:ltv:validation:signed-data-object")
        transforms = ", ".join(obj.transforms) or "none"
        _el(rd, "Value", f"URI {obj.uri!r}: {obj.resolved_to}"
                         f"{f' at {obj.path}' if obj.path else ''}; transforms: {transforms}; "
                         f"digest: {obj.digest_algorithm}"
                         f"{f'; MIME type {obj.mime_type}' if obj.mime_type else ''}")
    if sig.unsigned_content:
        add = _el(_el(status, "AssociatedValidationReportData"), "AdditionalValidationReportData")
        for item in sig.unsigned_content:
            rd = _el(add, "ReportData")
            _el(rd, "Type", "urn:ltv:validation:unsigned-content")
            _el(rd, "Value", item.description)


def _status(parent: Any, name: str, main: str, sub: str | None,
            message: str | None) -> None:
    status = _el(parent, name)
    _el(status, "MainIndication", main)
    if sub is not None:
        _el(status, "SubIndication", sub)
    if message:
        data = _el(status, "AssociatedValidationReportData")
        add = _el(data, "AdditionalValidationReportData")
        rd = _el(add, "ReportData")
        _el(rd, "Type", "urn:ltv:validation:message")
        _el(rd, "Value", message)


def _signature(root: Any, sig: SignatureReport, sig_index: int,
               options: ReportOptions) -> None:
    report = _el(root, "SignatureValidationReport")
    ident = _el(report, "SignatureIdentifier", id=f"sig-{sig_index + 1}")
    _el(ident, "HashOnly", "false")
    _el(ident, "DocHashOnly", "false")
    _el(ident, "DAIdentifier", sig.id)
    info = _el(report, "ValidationTimeInfo")
    _el(info, "ValidationTime", format_time(sig.validation_time))
    best = _el(info, "BestSignatureTime")
    _el(best, "POETime", format_time(sig.best_signature_time))
    _el(best, "TypeOfProof", "urn:etsi:019102:poetype:validation")
    if sig.poe is not None and sig.poe.timestamp_index is not None:
        ts = sig.timestamps[sig.poe.timestamp_index]
        _el(best, "POEObject", VOReference=_ts_id(ts, sig.poe.timestamp_index, sig_index))
    _signers_document(report, sig, sig_index)
    signer_row = next((c for c in sig.certificates if c.role == "signer"), None)
    if signer_row is not None and sig.signer is not None:
        signer = _el(report, "SignerInformation")
        _el(signer, "SignerCertificate", VOReference=_cert_id(signer_row))
        _el(signer, "Signer", sig.signer.subject)
    _status(report, "SignatureValidationStatus", sig.indication.value,
            sig.subindication.value if sig.subindication else None, sig.message)
    _holder_report(report, sig, options)
    _signed_data_report(report, sig, sig_index)


def _holder_report(report: Any, sig: SignatureReport, options: ReportOptions) -> None:
    """Who signed: the JPKI holder name, key kind and issuing CA as ``ReportData`` of the
    signature's status; the holder's personal data only when ``show_holder_details``."""
    signer = sig.signer
    if signer is None:
        return
    items: list[tuple[str, str | None]] = [
        ("holder-name", signer.holder_name), ("key-kind", signer.key_kind.value),
        ("issuer-name", signer.issuer_name)]
    if options.show_holder_details:
        items += [("holder-address", signer.holder_address),
                  ("holder-date-of-birth", signer.holder_date_of_birth),
                  ("holder-gender", signer.holder_gender)]
    present = [(kind, value) for kind, value in items if value]
    if not present:
        return
    status = report.find(f"{{{NS}}}SignatureValidationStatus")
    add = _el(_el(status, "AssociatedValidationReportData"), "AdditionalValidationReportData")
    for kind, value in present:
        rd = _el(add, "ReportData")
        _el(rd, "Type", f"urn:ltv:validation:{kind}")
        _el(rd, "Value", value)


def _objects(root: Any, report: ValidationReport) -> None:
    objects = _el(root, "SignatureValidationObjects")
    seen: set[str] = set()
    for sig_index, sig in enumerate(report.signatures):
        for index, obj in enumerate(_data_objects(sig)):
            vo = _el(objects, "ValidationObject", id=_signed_data_id(sig_index, index))
            _el(vo, "ObjectType", _VO + "signedData")
            _reference_digest(_el(vo, "ValidationObjectRepresentation"), obj)
        for cert in sig.certificates:
            vo_id = _cert_id(cert)
            if vo_id in seen:
                continue
            seen.add(vo_id)
            vo = _el(objects, "ValidationObject", id=vo_id)
            _el(vo, "ObjectType", _VO + "certificate")
            _digest(_el(vo, "ValidationObjectRepresentation"), cert.sha256)
        for index, ts in enumerate(sig.timestamps):
            vo_id = _ts_id(ts, index, sig_index)
            if vo_id in seen or ts.token_sha256 is None:
                continue
            seen.add(vo_id)
            vo = _el(objects, "ValidationObject", id=vo_id)
            kind = "evidencerecord" if ts.kind.value == "evidence-record" else "timestamp"
            _el(vo, "ObjectType", _VO + kind)
            _digest(_el(vo, "ValidationObjectRepresentation"), ts.token_sha256)
            poe = _el(vo, "POE")
            _el(poe, "POETime", format_time(ts.gen_time))
            _el(poe, "TypeOfProof", "urn:etsi:019102:poetype:validation")
            inner = _el(vo, "ValidationReport")
            _status(inner, "SignatureValidationStatus", ts.indication.value,
                    ts.subindication.value if ts.subindication else None, ts.message)


def to_xml(report: ValidationReport, options: ReportOptions = _DEFAULT_OPTIONS) -> str:
    """The TS 119 102-2 ``ValidationReport`` document (UTF-8 text with declaration);
    ``options.show_holder_details`` adds the holder's personal data."""
    root = etree.Element(f"{{{NS}}}ValidationReport", nsmap={None: NS, "ds": DS})
    for index, sig in enumerate(report.signatures):
        _signature(root, sig, index, options)
    _objects(root, report)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data.decode("utf-8")
