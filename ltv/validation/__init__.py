"""Signature validation after ETSI EN 319 102-1, for CAdES, PAdES and XAdES.

    report = validate(data, policy=ValidationPolicy.default(trust_anchors=[root]), at=when)
    report.raise_for_indication()

A format adapter turns the input into :class:`~ltv.validation.facts.SignatureFacts`; the
processes in :mod:`ltv.validation.process` (basic §5.3, time-stamp §5.4, with time §5.5,
long-term availability §5.6) decide over those facts and the evidence gathered beforehand.
Reports render as JSON (:mod:`.report_json`), ETSI TS 119 102-2 XML (:mod:`.report_xml`) and a
self-contained HTML page (:mod:`.report_html`).
"""

from __future__ import annotations

from ltv.validation import _library_logs
from ltv.validation.model import (
    REPORT_SCHEMA,
    CertificateSummary,
    Indication,
    PoeSummary,
    SignatureReport,
    SignatureValidationError,
    SignerSummary,
    SubIndication,
    TimestampKind,
    TimestampReport,
    ValidationReport,
)
from ltv.validation.policy import ValidationPolicy, load_trust_anchors
from ltv.validation.process import RevocationFetchers, detect_format, validate, validate_facts

_library_logs.install()

__all__ = [
    "REPORT_SCHEMA",
    "CertificateSummary",
    "Indication",
    "PoeSummary",
    "RevocationFetchers",
    "SignatureReport",
    "SignatureValidationError",
    "SignerSummary",
    "SubIndication",
    "TimestampKind",
    "TimestampReport",
    "ValidationPolicy",
    "ValidationReport",
    "detect_format",
    "load_trust_anchors",
    "validate",
    "validate_facts",
]
