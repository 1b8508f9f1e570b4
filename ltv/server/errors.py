"""Errors raised by the HTTP edge itself, placed under the library's roots so that
:mod:`ltv.server.problems` maps them with the same one-handler-per-root rule::

    LtvError
    ├── AuthenticationError                 no, malformed or unknown API key        → 401
    └── InputError
        ├── NotFoundError                   no such resource for this tenant        → 404
        ├── PayloadTooLargeError            the request body exceeds --max-upload   → 413
        └── SessionError
            ├── SessionNotFoundError        unknown, or another tenant's session    → 404
            ├── SessionUsedError            already finished (single use)           → 409
            └── SessionExpiredError         past its expiry                         → 410
"""

from __future__ import annotations

from ltv.errors import InputError, LtvError, SessionError

__all__ = [
    "AuthenticationError",
    "NotFoundError",
    "PayloadTooLargeError",
    "SessionExpiredError",
    "SessionNotFoundError",
    "SessionUsedError",
]


class AuthenticationError(LtvError):
    """The request carries no valid ``Authorization: Bearer KEY``."""


class NotFoundError(InputError):
    """No such resource, or one that belongs to another tenant (never told apart)."""


class PayloadTooLargeError(InputError):
    """The request body is larger than the server accepts."""


class SessionNotFoundError(SessionError):
    """No signing session with that id for this tenant."""


class SessionUsedError(SessionError):
    """The signing session was already finished; sessions are single use."""


class SessionExpiredError(SessionError):
    """The signing session expired before the signature value arrived."""
