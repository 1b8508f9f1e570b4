"""The JSON validation report (``ltv.validation-report/1``), our stable, documented format.

Shape (the JSON Schema is ``report.schema.json`` next to this module, :func:`json_schema`)::

    {"schema": "ltv.validation-report/1", "validation_time": "...Z", "policy": "...",
     "offline": false, "document": {"sha256": "..."}, "indication": "TOTAL-PASSED",
     "warnings": [...],
     "signatures": [{"id", "format", "level", "indication", "indication_uri", "subindication",
                     "subindication_uri", "message", "signing_time", "best_signature_time",
                     "signer": {"subject", "serial", "issuer", "key_kind", "key_algorithm",
                                "key_size", "not_before", "not_after", "holder_name",
                                "issuer_name", "holder_details" (only when asked for)},
                     "digest_algorithm", "signature_algorithm",
                     "timestamps": [{"kind", "gen_time", "tsa", "indication", "subindication",
                                     "message", "imprint_ok", "used_as_poe", "past_validation",
                                     "digest_algorithm", "token_sha256"}],
                     "poe": {"source", "time", "timestamp_index", "description"} | null,
                     "certificates": [{"role", "subject", "issuer", "serial", "sha256",
                                       "not_before", "not_after", "revocation_time",
                                       "revocation_reason"}],
                     "pdf_changes_after_signing",
                     "signed_data_objects": [{"uri", "type", "kind", "resolved_to", "element",
                                              "element_id", "path", "transforms",
                                              "digest_algorithm", "digest_method",
                                              "digest_value", "mime_type",
                                              "signed_properties"}] | null,
                     "unsigned_content": [{"what", "element", "element_id", "path",
                                           "description"}] | null,
                     "weakest_algorithm": {"what", "algorithm", "sunset"} | null,
                     "errors", "warnings",
                     "counter_signatures": [signature, ...] (only when counter-signed)}]}

``signed_data_objects`` (XAdES; null for CAdES and PAdES, and when the signature failed
before its references were known) lists every ``ds:Reference``: its URI, what it resolved to
(``kind`` document / element / detached, the element's name, Id and path), its transforms and
digest. ``unsigned_content`` lists what the file holds outside every reference (an extra
``ds:Object``, elements beside the signed one); the default policy refuses a signature with any.
``weakest_algorithm`` names the use, of every algorithm the signature's binding rests on, whose
algorithm sets first in the policy's sunset table (e.g. ``{"what": "SignerInfo signatureAlgorithm
sha1_rsa", "algorithm": "sha1", "sunset": "...Z"}``); null when none has a sunset.

Indications are the spec's tokens (``TOTAL-PASSED``), sub-indications the EN 319 102-1 names
(``HASH_FAILURE``); both also as their ETSI URNs. Times are ISO 8601 UTC with ``Z``.

``signer.holder_name`` is the JPKI holder name from the certificate's subjectAltName otherName
(null when absent), ``signer.issuer_name`` the issuing CA's CN. ``signer.holder_details``
(address, date of birth, gender: personal data) is present only when asked for
(``ReportOptions(show_holder_details=True)``, ``--show-holder-details``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from ltv.clock import format_time
from ltv.validation.model import (
    CertificateSummary,
    PoeSummary,
    SignatureReport,
    SignedDataObjectSummary,
    SignerSummary,
    TimestampReport,
    UnsignedContent,
    ValidationReport,
)
from ltv.validation.report_options import ReportOptions
from ltv.validation.safetext import printable

__all__ = ["dumps", "json_schema", "to_json"]

_DEFAULT_OPTIONS = ReportOptions()


def _t(value: Any) -> str | None:
    return format_time(value) if value is not None else None


def _signer(s: SignerSummary | None, options: ReportOptions) -> dict[str, Any] | None:
    if s is None:
        return None
    doc: dict[str, Any] = {
        "subject": s.subject, "serial": s.serial, "issuer": s.issuer,
        "key_kind": s.key_kind.value, "key_algorithm": s.key_algorithm, "key_size": s.key_size,
        "not_before": _t(s.not_before), "not_after": _t(s.not_after),
        "holder_name": s.holder_name, "issuer_name": s.issuer_name,
    }
    if options.show_holder_details:
        doc["holder_details"] = {"address": s.holder_address,
                                 "date_of_birth": s.holder_date_of_birth,
                                 "gender": s.holder_gender}
    return doc


def _timestamp(t: TimestampReport) -> dict[str, Any]:
    return {
        "kind": t.kind.value, "gen_time": _t(t.gen_time), "tsa": t.tsa,
        "indication": t.indication.token,
        "subindication": t.subindication.token if t.subindication else None,
        "message": t.message, "imprint_ok": t.imprint_ok, "used_as_poe": t.used_as_poe,
        "past_validation": t.past_validation, "digest_algorithm": t.digest_algorithm,
        "token_sha256": t.token_sha256,
        "imprint": t.imprint, "imprint_variant": t.imprint_variant,
    }


def _poe(p: PoeSummary | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"source": p.source, "time": _t(p.time), "timestamp_index": p.timestamp_index,
            "description": p.description}


def _certificate(c: CertificateSummary) -> dict[str, Any]:
    return {
        "role": c.role, "subject": c.subject, "issuer": c.issuer, "serial": c.serial,
        "sha256": c.sha256, "not_before": _t(c.not_before), "not_after": _t(c.not_after),
        "revocation_time": _t(c.revocation_time), "revocation_reason": c.revocation_reason,
    }


def _signed_data_object(o: SignedDataObjectSummary) -> dict[str, Any]:
    return {
        "uri": o.uri, "type": o.type, "kind": o.kind, "resolved_to": o.resolved_to,
        "element": o.element, "element_id": o.element_id, "path": o.path,
        "transforms": list(o.transforms), "digest_algorithm": o.digest_algorithm,
        "digest_method": o.digest_method, "digest_value": o.digest_value,
        "mime_type": o.mime_type, "signed_properties": o.signed_properties,
    }


def _unsigned(u: UnsignedContent) -> dict[str, Any]:
    return {"what": u.what, "element": u.element, "element_id": u.element_id, "path": u.path,
            "description": u.description}


def _signature(s: SignatureReport, options: ReportOptions) -> dict[str, Any]:
    return {
        "id": s.id,
        "format": s.format.value,
        "level": s.level.value if s.level else None,
        "form": s.form,
        "indication": s.indication.token,
        "indication_uri": s.indication.value,
        "subindication": s.subindication.token if s.subindication else None,
        "subindication_uri": s.subindication.value if s.subindication else None,
        "message": s.message,
        "validation_time": _t(s.validation_time),
        "signing_time": _t(s.signing_time),
        "best_signature_time": _t(s.best_signature_time),
        "signer": _signer(s.signer, options),
        "digest_algorithm": s.digest_algorithm,
        "signature_algorithm": s.signature_algorithm,
        "timestamps": [_timestamp(t) for t in s.timestamps],
        "poe": _poe(s.poe),
        "certificates": [_certificate(c) for c in s.certificates],
        "pdf_changes_after_signing": s.pdf_changes_after_signing,
        "signed_data_objects": (None if s.signed_data_objects is None
                                else [_signed_data_object(o) for o in s.signed_data_objects]),
        "unsigned_content": (None if s.unsigned_content is None
                             else [_unsigned(u) for u in s.unsigned_content]),
        "weakest_algorithm": (None if s.weakest_algorithm is None else {
            "what": s.weakest_algorithm.what, "algorithm": s.weakest_algorithm.algorithm,
            "sunset": _t(s.weakest_algorithm.sunset)}),
        "errors": list(s.errors),
        "warnings": list(s.warnings),
    }


def _printable(value: Any) -> Any:
    """Every string with the characters UTF-8 or XML cannot carry shown as escapes."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_printable(item) for item in value]
    return value


def to_json(report: ValidationReport,
            options: ReportOptions = _DEFAULT_OPTIONS) -> dict[str, Any]:
    """The report as JSON-ready data (``json.dumps`` it, or use :func:`dumps`). Strings carry
    control characters and lone surrogates as visible escapes (``\\x01``), like the XML and
    HTML reports. ``options.show_holder_details`` adds ``signer.holder_details`` (personal
    data: address, date of birth, gender); nothing else in the options changes JSON."""
    return _printable(_report(report, options))  # type: ignore[no-any-return]


def _report(report: ValidationReport, options: ReportOptions) -> dict[str, Any]:
    return {
        "schema": report.schema,
        "validation_time": _t(report.validation_time),
        "policy": report.policy,
        "offline": report.offline,
        "document": {"sha256": report.document_sha256},
        "indication": report.indication.token,
        "warnings": list(report.warnings),
        "signatures": _nested(report.signatures, options),
    }


def _nested(signatures: tuple[SignatureReport, ...],
            options: ReportOptions) -> list[dict[str, Any]]:
    """Top-level signatures, each counter-signature under ``counter_signatures`` of the one it
    counter-signs (present only when there are some; issue #19)."""
    ids = {s.id for s in signatures}
    children: dict[str, list[SignatureReport]] = {}
    for s in signatures:
        if s.counter_signature_of in ids and s.counter_signature_of != s.id:
            children.setdefault(str(s.counter_signature_of), []).append(s)

    def render(s: SignatureReport, depth: int) -> dict[str, Any]:
        doc = _signature(s, options)
        below = children.get(s.id, []) if depth < 16 else []
        if below:
            doc["counter_signatures"] = [render(c, depth + 1) for c in below]
        return doc

    return [render(s, 0) for s in signatures
            if not (s.counter_signature_of in ids and s.counter_signature_of != s.id)]


def dumps(report: ValidationReport, *, indent: int | None = 2,
          options: ReportOptions = _DEFAULT_OPTIONS) -> str:
    return json.dumps(to_json(report, options), indent=indent, ensure_ascii=False)


@cache
def json_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of the report."""
    text = resources.files("ltv.validation").joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
