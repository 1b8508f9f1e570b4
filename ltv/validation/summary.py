"""The short plain-language summary at the top of a report, in English or Japanese.

Built from the report's facts, not from scenarios: the verdict of each signature, who signed
(the JPKI holder name), whether the signer's certificate has since expired or been revoked, and
whether a time-stamp proves the signature existed before that (the proof of existence that
carried the verdict). For example::

    この契約書の署名は有効です。署名者は署名 太郎です。署名者の証明書は2029年12月3日に有効期限が
    切れましたが、署名時点の存在がタイムスタンプで証明されています（2026年12月3日 20:31:05 JST）。

Dates go through :mod:`ltv.i18n.dates` (JST by default for Japanese, the era on request).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ltv.clock import format_time
from ltv.i18n import gettext as _
from ltv.i18n import use_language
from ltv.i18n.dates import format_date, format_datetime
from ltv.jpki import KeyKind
from ltv.validation.explain import sub_text
from ltv.validation.model import (
    CertificateSummary,
    Indication,
    SignatureReport,
    SignerSummary,
    ValidationReport,
)
from ltv.validation.report_options import ReportOptions

__all__ = ["date_text", "key_kind_text", "normalized", "signature_summary", "summary",
           "time_text"]

_DEFAULT_OPTIONS = ReportOptions()


def normalized(options: ReportOptions) -> ReportOptions:
    """``options`` with its language as one of ours (``ja-JP`` → ``ja``; unknown → ``en``)."""
    with use_language(options.lang) as chosen:
        return options if chosen == options.lang else replace(options, lang=chosen)


def key_kind_text(kind: KeyKind) -> str:
    """スマートフォン / カード / リモート (in the current language)."""
    return {
        KeyKind.SMARTPHONE: _("smartphone"),
        KeyKind.CARD: _("card"),
        KeyKind.REMOTE: _("remote (server-held key, FIDO-authorised)"),
        KeyKind.OTHER: _("other"),
    }[kind]


def date_text(value: datetime, options: ReportOptions) -> str:
    """The day of ``value`` for people (ISO UTC when the zone or era cannot hold it)."""
    try:
        return format_date(value, options.lang, options.tz, options.era)
    except (OverflowError, ValueError):
        return format_time(value)[:10]


def time_text(value: datetime | None, options: ReportOptions) -> str:
    """Date and time of ``value`` for people; ``-`` for None (ISO UTC when out of range)."""
    if value is None:
        return "-"
    try:
        return format_datetime(value, options.lang, options.tz, options.era)
    except (OverflowError, ValueError):
        return format_time(value)


_date = date_text
_when = time_text


def _signer_row(sig: SignatureReport) -> CertificateSummary | None:
    return next((c for c in sig.certificates if c.role == "signer"), None)


def _signer_sentence(signer: SignerSummary) -> str:
    return _("The signer is %(name)s (%(kind)s key, certificate issued by %(ca)s).") % {
        "name": signer.display_name, "kind": key_kind_text(signer.key_kind),
        "ca": signer.issuer_name or signer.issuer}


def _proof_sentence(sig: SignatureReport, options: ReportOptions) -> str | None:
    """What the certificate's life since signing means for the signature (passed only)."""
    signer = sig.signer
    poe = sig.poe
    stamped = poe is not None and poe.source != "validation-time"
    row = _signer_row(sig)
    revoked = row.revocation_time if row is not None else None
    if signer is not None and revoked is not None and stamped:
        return _("The signer's certificate was revoked on %(date)s, but a time-stamp proves "
                 "the signature existed before that (%(when)s).") % {
            "date": _date(revoked, options), "when": _when(sig.best_signature_time, options)}
    if signer is not None and signer.not_after < sig.validation_time and stamped:
        return _("The signer's certificate expired on %(date)s, but a time-stamp proves the "
                 "signature existed at the time of signing (%(when)s).") % {
            "date": _date(signer.not_after, options),
            "when": _when(sig.best_signature_time, options)}
    if stamped:
        return _("A time-stamp proves the signature existed at %(when)s; the signer's "
                 "certificate is valid until %(date)s.") % {
            "when": _when(sig.best_signature_time, options),
            "date": _date(signer.not_after, options) if signer else "-"}
    if signer is not None:
        return _("No time-stamp proves when it was signed; the signer's certificate is valid "
                 "until %(date)s.") % {"date": _date(signer.not_after, options)}
    return None


def signature_summary(sig: SignatureReport, options: ReportOptions, *, only: bool) -> str:
    """Sentences for one signature (``only``: it is the document's only signature)."""
    options = normalized(options)
    with use_language(options.lang):
        sentences: list[str] = []
        if sig.indication is Indication.TOTAL_PASSED:
            sentences.append(_("The signature on this contract is valid.") if only
                             else _("This signature is valid."))
        elif sig.indication is Indication.TOTAL_FAILED:
            sentences.append(_("The signature on this contract is not valid.") if only
                             else _("This signature is not valid."))
        else:
            sentences.append(
                _("The signature on this contract could not be confirmed as valid or "
                  "invalid.") if only
                else _("This signature could not be confirmed as valid or invalid."))
        if sig.signer is not None:
            sentences.append(_signer_sentence(sig.signer))
        if sig.indication is Indication.TOTAL_PASSED:
            proof = _proof_sentence(sig, options)
            if proof:
                sentences.append(proof)
        elif sig.subindication is not None:
            sentences.append(sub_text(sig.subindication.token, options.lang))
        return _join(sentences, options.lang)


def _join(sentences: list[str], lang: str) -> str:
    return ("" if lang == "ja" else " ").join(s for s in sentences if s)


def summary(report: ValidationReport, options: ReportOptions = _DEFAULT_OPTIONS) -> str:
    """The plain-language summary of ``report`` in ``options.lang``."""
    options = normalized(options)
    with use_language(options.lang):
        signatures = report.signatures
        if not signatures:
            return _("No signature was found in this document.")
        if len(signatures) == 1:
            return signature_summary(signatures[0], options, only=True)
        passed = sum(1 for s in signatures if s.passed)
        head = (_("All %(count)d signatures on this contract are valid.") % {
                    "count": len(signatures)}
                if passed == len(signatures)
                else _("%(passed)d of the %(count)d signatures on this contract are valid.") % {
                    "passed": passed, "count": len(signatures)})
        parts = [head]
        for sig in signatures:
            name = sig.signer.display_name if sig.signer else sig.id
            parts.append(_("%(name)s: %(text)s") % {
                "name": name, "text": signature_summary(sig, options, only=False)})
        return _join(parts, options.lang)
