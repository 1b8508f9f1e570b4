"""The HTTP API of ltv (an edge: parse, call the library, render, map errors to RFC 9457).

``create_app(settings, store=..., services=...)`` builds the FastAPI app; ``ltv serve`` runs it.
"""

from __future__ import annotations

from ltv.server.settings import DEFAULT_MAX_UPLOAD, DEFAULT_PORT, ServerSettings

__all__ = ["DEFAULT_MAX_UPLOAD", "DEFAULT_PORT", "ServerSettings", "create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from ltv.server.app import create_app

        return create_app
    raise AttributeError(name)
