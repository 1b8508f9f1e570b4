"""CSC API error answers (``{"error": code, "error_description": text}``), shared by the CSC
routes (:mod:`ltv.server.routes_csc`) and the passkey pages (:mod:`ltv.server.routes_approve`):
one error class and one mapping of the remote-signing exceptions to their answers."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from ltv.errors import InputError
from ltv.remote.passkeys import PasskeyError
from ltv.server.remote_state import StateError

__all__ = ["CSC_ERRORS", "CscError", "csc_error", "csc_error_for"]


class CscError(Exception):
    """A CSC error answer: ``{"error": code, "error_description": description}``."""

    def __init__(self, description: str, *, code: str = "invalid_request", status: int = 400):
        super().__init__(description)
        self.code = code
        self.status = status


def csc_error(status: int, code: str, description: str) -> JSONResponse:
    """The answer itself (the description cut at 300 characters)."""
    return JSONResponse({"error": code, "error_description": description[:300]},
                        status_code=status)


#: What :func:`csc_error_for` answers; catch these around remote-signing work.
CSC_ERRORS = (CscError, StateError, PasskeyError, InputError)


def csc_error_for(exc: CscError | StateError | PasskeyError | InputError) -> JSONResponse:
    """The CSC answer to one of :data:`CSC_ERRORS`."""
    if isinstance(exc, CscError | StateError):
        return csc_error(exc.status, exc.code, str(exc))
    if isinstance(exc, PasskeyError):
        return csc_error(400, "invalid_authentication_data", str(exc))
    return csc_error(400, "invalid_request", str(exc))
