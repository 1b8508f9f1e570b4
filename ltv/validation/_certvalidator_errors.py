"""Exceptions pyhanko-certvalidator raises that are not validation findings (issue #19).

On foreign revocation data the library sometimes fails with a plain Python error instead of a
``ValidationError``/``PathError``: an OCSP response whose CertID uses SHA-512
(``AttributeError: 'Name' object has no attribute 'sha512'``), a bootstrap handler meeting an
unexpected structure (``TypeError``). EN 319 102-1 §5.2.6 has a verdict for "the chain could
not be validated for a reason not covered by other sub-indications":
INDETERMINATE / CERTIFICATE_CHAIN_GENERAL_FAILURE. Never PASSED: a path whose validation broke
off proves nothing; the next candidate path is still tried.
"""

from __future__ import annotations

__all__ = ["UNEXPECTED", "describe"]

#: The plain errors a library bug on unusual input raises (never the library's own findings).
UNEXPECTED: tuple[type[Exception], ...] = (
    AttributeError, TypeError, KeyError, IndexError, ValueError, LookupError,
    NotImplementedError, ArithmeticError, AssertionError, RecursionError,
)


def describe(exc: BaseException) -> str:
    """One line naming the failure and where it comes from (for the report)."""
    return (f"the certificate validation library could not process this chain's material "
            f"({type(exc).__name__}: {exc})")
