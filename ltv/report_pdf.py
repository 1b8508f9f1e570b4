"""PDF export of the validation report, for filing: the HTML report laid out on A4.

Made with WeasyPrint (a maintained HTML/CSS-to-PDF engine; it needs Pango from the system) from
the same page :func:`ltv.validation.report_html.to_html` writes, under its print CSS, so the
PDF says exactly what the HTML says, in the language of the options. Japanese text comes out in
the system's CJK font (Noto Sans CJK JP, Debian ``fonts-noto-cjk``); the text is extractable
(``pdftotext``). Nothing is fetched: the page has no external resources and WeasyPrint's URL
fetcher refuses every URL.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NoReturn

from ltv.errors import ConfigurationError, LtvError
from ltv.files import write_atomic
from ltv.validation.model import ValidationReport
from ltv.validation.report_html import to_html
from ltv.validation.report_options import ReportOptions

__all__ = ["render_report_pdf", "write_report_pdf"]


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise LtvError(f"the report PDF fetches nothing ({url[:80]!r} refused)")


def render_report_pdf(report: ValidationReport, options: ReportOptions,
                      *, title: str = "validation report") -> bytes:
    """The report as PDF bytes (A4). :class:`ConfigurationError` when WeasyPrint or the
    system libraries it needs are missing; :class:`ValueError` for an unknown time zone."""
    page = to_html(report, title=title, options=options)
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: Pango missing from the system
        raise ConfigurationError(
            f"PDF export needs WeasyPrint and Pango (pip install weasyprint; apt-get install "
            f"libpangoft2-1.0-0): {exc}") from exc
    # WeasyPrint and fontTools log every font and CSS detail; keep them quiet and away from
    # the report's contents (the holder's data never goes to a log)
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        document = weasyprint.HTML(string=page, url_fetcher=_no_fetch)
        data: bytes = document.write_pdf()
    except LtvError:
        raise
    except Exception as exc:  # WeasyPrint raises many kinds; the caller needs one clear error
        raise LtvError(f"could not lay out the report as PDF: {type(exc).__name__}") from exc
    return data


def write_report_pdf(report: ValidationReport, out: Path, options: ReportOptions,
                     *, title: str = "validation report") -> None:
    """Write the report as an A4 PDF to ``out`` (atomically). Errors are :class:`LtvError`:
    a missing directory or an unwritable path names the path."""
    out = Path(out)
    if not out.parent.is_dir():
        raise LtvError(f"cannot write the report PDF to {out}: no directory {out.parent}")
    data = render_report_pdf(report, options, title=title)
    try:
        write_atomic(out, data)
    except OSError as exc:
        raise LtvError(f"cannot write the report PDF to {out}: {exc.strerror or exc}") from exc
