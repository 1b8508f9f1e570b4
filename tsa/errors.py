"""The exception tree of :mod:`tsa`.

::

    TsaError
    ├── TsaConfigurationError (also ValueError)   unusable key, certificate or state directory
    └── SerialAllocationError                     the serial-number state could not be advanced

Requests never raise out of :func:`tsa.authority.TimeStampAuthority.respond`: bad requests are
answered with a ``rejection`` PKIStatus and the matching PKIFailureInfo.
"""

from __future__ import annotations

__all__ = ["SerialAllocationError", "TsaConfigurationError", "TsaError"]


class TsaError(Exception):
    """Root of every error raised on purpose by :mod:`tsa`."""


class TsaConfigurationError(TsaError, ValueError):
    """The key, certificate, policy or state directory cannot be used."""


class SerialAllocationError(TsaError):
    """The serial-number state directory could not be read or advanced."""
