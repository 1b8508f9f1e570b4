"""The API's ports as FastAPI dependencies (swap them in tests with ``app.dependency_overrides``
or by passing other ports to :func:`ltv.server.app.create_app`).

The accessors of the app's state are ``async def``: FastAPI runs a plain ``def`` dependency in
the thread pool, a hop (and a GIL hand-off under load) per dependency per request for reading
an attribute; the ones that read the store (a file or S3) stay ``def``, off the event loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from archive.store import ObjectStore
from ltv.clock import Clock
from ltv.server.middleware import Metrics
from ltv.server.sessions import SessionStore
from ltv.server.settings import ServerSettings
from ltv.server.tenants import Tenant, authenticate
from ltv.signing import SigningServices
from ltv.validation import RevocationFetchers, ValidationPolicy

__all__ = [
    "AppState", "get_clock", "get_fetchers", "get_metrics", "get_optional_tenant", "get_policy",
    "get_services", "get_sessions", "get_settings", "get_store", "get_tenant",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppState:
    settings: ServerSettings
    store: ObjectStore
    services: SigningServices
    clock: Clock
    policy: ValidationPolicy
    fetchers: RevocationFetchers | None
    metrics: Metrics


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.ltv
    return state


async def get_settings(request: Request) -> ServerSettings:
    return _state(request).settings


async def get_store(request: Request) -> ObjectStore:
    return _state(request).store


async def get_services(request: Request) -> SigningServices:
    return _state(request).services


async def get_clock(request: Request) -> Clock:
    return _state(request).clock


async def get_policy(request: Request) -> ValidationPolicy:
    return _state(request).policy


async def get_fetchers(request: Request) -> RevocationFetchers | None:
    return _state(request).fetchers


async def get_metrics(request: Request) -> Metrics:
    return _state(request).metrics


def get_sessions(store: Annotated[ObjectStore, Depends(get_store)],
                 clock: Annotated[Clock, Depends(get_clock)]) -> SessionStore:
    return SessionStore(store, clock=clock)


def get_tenant(store: Annotated[ObjectStore, Depends(get_store)],
               clock: Annotated[Clock, Depends(get_clock)],
               authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
               ) -> Tenant:
    """The caller's tenant from ``Authorization: Bearer KEY`` (401 otherwise: unknown,
    revoked, or rotated and past its grace period, judged by the app's clock)."""
    return authenticate(store, authorization, clock=clock)


def get_optional_tenant(
    store: Annotated[ObjectStore, Depends(get_store)],
    settings: Annotated[ServerSettings, Depends(get_settings)],
    clock: Annotated[Clock, Depends(get_clock)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Tenant | None:
    """Like :func:`get_tenant`, but anonymous callers pass when validation is public."""
    if authorization is None and settings.public_validation:
        return None
    return authenticate(store, authorization, clock=clock)
