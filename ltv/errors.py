"""The exception tree of :mod:`ltv`.

::

    LtvError
    ├── InputError (also ValueError)        bad input from the caller; the message names it
    │   ├── MalformedError                  not parseable: truncated DER, not CMS, broken PDF/XML
    │   ├── UnsupportedAlgorithmError       an algorithm or key type we do not handle
    │   ├── SignatureValueError             a signature value that does not verify with the key
    │   ├── HashFailureError                signed data whose digest does not match (HASH_FAILURE)
    │   └── SessionError                    a pending signature: unknown, expired or used
    ├── ConfigurationError (also ValueError) a missing or inconsistent file, directory or setting
    ├── SignatureValidationError            raise_for_indication() on a report that did not pass
    └── ServiceError                        a remote service failed or answered badly
        ├── TimestampError                  TSA rejection, or a token that fails our checks
        └── RevocationError                 OCSP / CRL fetch, parse or signature check failed

Adapters re-raise third-party errors as these with ``raise ... from exc`` and say which stage
failed ("while asking the TSA at http://...: timed out").
"""

from __future__ import annotations

from typing import Generic, TypeVar

_Report = TypeVar("_Report")

__all__ = [
    "ConfigurationError",
    "HashFailureError",
    "InputError",
    "LtvError",
    "MalformedError",
    "RevocationError",
    "ServiceError",
    "SessionError",
    "SignatureValidationError",
    "SignatureValueError",
    "TimestampError",
    "UnsupportedAlgorithmError",
]


class LtvError(Exception):
    """Root of every error raised on purpose by :mod:`ltv`."""


class InputError(LtvError, ValueError):
    """The caller gave us something we cannot use; the message says what."""


class MalformedError(InputError):
    """Input that does not parse (truncated DER, not CMS, broken PDF or XML)."""


class UnsupportedAlgorithmError(InputError):
    """An algorithm, key type or parameter set that we do not support."""


class SignatureValueError(InputError):
    """A signature value that does not verify with the certificate's public key."""


class HashFailureError(InputError):
    """Signed data whose digest does not match what was signed (EN 319 102-1 HASH_FAILURE)."""


class SessionError(InputError):
    """A pending signature that is unknown, expired or already finished."""


class ConfigurationError(LtvError, ValueError):
    """A missing or inconsistent file, directory or setting."""


class SignatureValidationError(LtvError, Generic[_Report]):
    """Raised by ``ValidationReport.raise_for_indication()`` for a result that did not pass.

    Generic in the report it carries (``SignatureValidationError[ValidationReport]``), so this
    leaf module needs no import from :mod:`ltv.validation`: the raiser supplies the type.
    """

    def __init__(self, message: str, *, report: _Report) -> None:
        super().__init__(message)
        self.report = report


class ServiceError(LtvError):
    """A remote service (TSA, OCSP responder, CRL distribution point) failed or answered badly."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class TimestampError(ServiceError):
    """The TSA refused the request, or its token fails our checks."""


class RevocationError(ServiceError):
    """An OCSP response or CRL could not be fetched, parsed or trusted."""
