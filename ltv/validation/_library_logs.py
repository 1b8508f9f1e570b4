"""Keep the libraries' tracebacks out of ltv's output (issue #19: no traceback on stderr).

pyHanko's difference analysis and pyhanko-certvalidator's revocation code log some findings
with the exception attached (``logger.warning(..., exc_info=True)``): a foreign PDF whose DSS
was rewritten, or a CRL whose issuer path does not build, then prints a Python traceback on the
auditor's terminal although ltv reports the finding itself. This filter folds the exception into
one line of the log message (``...: SuspiciousModification: VRI key ... was modified``) and drops
the traceback; nothing is hidden, and the verdict never depends on it.
"""

from __future__ import annotations

import logging

__all__ = ["LIBRARY_LOGGERS", "OneLineExceptions", "install"]

LIBRARY_LOGGERS = (  # every module of both libraries that logs
    "pyhanko.pdf_utils.generic",
    "pyhanko.pdf_utils.reader",
    "pyhanko.pdf_utils.xref",
    "pyhanko.sign.diff_analysis.commons",
    "pyhanko.sign.diff_analysis.form_rules_api",
    "pyhanko.sign.diff_analysis.policies",
    "pyhanko.sign.diff_analysis.rules_api",
    "pyhanko.sign.validation.ades",
    "pyhanko.sign.validation.dss",
    "pyhanko.sign.validation.generic_cms",
    "pyhanko.sign.validation.pdf_embedded",
    "pyhanko.sign.validation.status",
    "pyhanko_certvalidator.fetchers.common_utils",
    "pyhanko_certvalidator.ltv.ades_past",
    "pyhanko_certvalidator.name_trees",
    "pyhanko_certvalidator.revinfo.validate_crl",
    "pyhanko_certvalidator.revinfo.validate_ocsp",
    "pyhanko_certvalidator.util",
    "pyhanko_certvalidator.validate",
)


class OneLineExceptions(logging.Filter):
    """Turn a record's ``exc_info`` into a ``: Type: message`` suffix (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = OneLineExceptions()


def install() -> None:
    """Attach the filter to the libraries' loggers (idempotent)."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
