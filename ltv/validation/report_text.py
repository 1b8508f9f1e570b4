"""The report as plain text for a terminal or an e-mail, in English or Japanese.

The summary first (:func:`ltv.validation.summary.summary`), then per signature: the verdict
(plain words and the standard token), who signed (the JPKI holder name, the key kind, the
issuing CA; the address, birth date and gender only with ``show_holder_details``), the best
signature time, the proof of existence and, when it did not pass, what went wrong in plain
words. Control characters in names are shown as escapes, so a hostile certificate cannot drive
the terminal.
"""

from __future__ import annotations

from ltv.i18n import gettext as _
from ltv.i18n import use_language
from ltv.i18n.dates import resolve_timezone
from ltv.validation.explain import explain, indication_label
from ltv.validation.model import SignatureReport, ValidationReport
from ltv.validation.report_options import ReportOptions
from ltv.validation.safetext import printable
from ltv.validation.summary import key_kind_text, normalized, summary, time_text

__all__ = ["to_text"]

_DEFAULT_OPTIONS = ReportOptions()


def _line(text: str) -> str:
    return printable(text).replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")


def to_text(report: ValidationReport, options: ReportOptions = _DEFAULT_OPTIONS) -> str:
    """The report as lines of text (ends with a newline). An unknown ``options.tz`` raises
    :class:`ValueError` naming it."""
    options = normalized(options)
    resolve_timezone(options.tz, options.lang)
    with use_language(options.lang):
        lines = [_line(summary(report, options)), ""]
        for index, sig in enumerate(report.signatures, 1):
            lines += _signature(sig, index, options)
        return "\n".join(lines).rstrip("\n") + "\n"


def _signature(sig: SignatureReport, index: int, options: ReportOptions) -> list[str]:
    sub = sig.subindication.token if sig.subindication else None
    token = sig.indication.token + (f"/{sub}" if sub else "")
    rows: list[tuple[str, str]] = []
    signer = sig.signer
    if signer is not None:
        rows += [
            (_("Signer"), signer.display_name),
            (_("Key"), f"{key_kind_text(signer.key_kind)} ({signer.key_algorithm}-"
                       f"{signer.key_size})"),
            (_("Issuing CA"), signer.issuer_name or signer.issuer),
        ]
        if options.show_holder_details:
            rows += [(_("Address"), signer.holder_address or "-"),
                     (_("Date of birth"), signer.holder_date_of_birth or "-"),
                     (_("Gender"), signer.holder_gender or "-")]
    rows += [
        (_("Format / level"), f"{sig.format.value.upper()} "
                              f"{sig.level.value if sig.level else '-'}"),
        (_("Best signature time"), time_text(sig.best_signature_time, options)),
    ]
    if sig.poe is not None and sig.poe.source != "validation-time":
        rows.append((_("Proof of existence"), time_text(sig.poe.time, options)))
    if not sig.passed:
        rows.append((_("Reason"), explain(sig.indication.token, sub, options.lang)))
        if sig.message:
            rows.append(("", sig.message))
    head = (f"[{index}] {sig.id}: {indication_label(sig.indication.token, options.lang)} "
            f"({token})")
    return [_line(head), *(f"    {_line(name + ': ' if name else '')}{_line(value)}"
                           for name, value in rows), ""]
