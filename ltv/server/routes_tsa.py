"""``POST /tsa`` on the API: our RFC 3161 TSA (:mod:`tsa.server`) behind three doors.

1. **A key.** The caller sends ``Authorization: Bearer KEY`` like everywhere else in the API
   (401 problem+json otherwise), unless the operator serves the TSA publicly (``--public-tsa``).
2. **A rate limit.** ``--tsa-rate-limit N`` requests per minute per caller (the tenant; the
   client address when public); beyond it 429 problem+json with ``Retry-After``. Per worker
   process: with ``--workers W`` a caller gets up to ``W * N``.
3. **Off the event loop.** :func:`tsa.server.create_app` signs in anyio's worker threads; the
   key lookup here runs there too.

The RFC 3161 answers themselves (``application/timestamp-reply``, rejections as PKIStatus) and
the TSA's transport refusals (405, 415, 413, 400) are :mod:`tsa.server`'s. It is a route, not a
mount: a mount answers ``POST /tsa`` with a 307 to ``/tsa/``, and RFC 3161 clients (openssl,
pyHanko, ours) do not follow redirects on POST.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
from starlette.routing import Route

from archive.store import ObjectStore
from ltv.errors import ConfigurationError
from ltv.server.errors import AuthenticationError
from ltv.server.hardening import RateLimiter
from ltv.server.problems import problem_response
from ltv.server.settings import ServerSettings
from ltv.server.tenants import authenticate

__all__ = ["tsa_route"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _TsaEndpoint:
    """The ASGI endpoint (Starlette routes to an object like this as an app)."""

    def __init__(self, tsa_app: Any, *, store: ObjectStore, public: bool,
                 limiter: RateLimiter) -> None:
        self._tsa = tsa_app
        self._store = store
        self._public = public
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "/tsa"))
        if self._public:
            client = scope.get("client") or ("unknown", 0)
            caller = f"address:{client[0]}"
        else:
            authorization = None
            for name, value in scope.get("headers", ()):
                if name == b"authorization":
                    authorization = value.decode("latin-1")
            try:
                tenant = await anyio.to_thread.run_sync(authenticate, self._store, authorization)
            except AuthenticationError as exc:
                await problem_response(
                    401, "unauthorized", "Missing or unknown API key", str(exc), instance=path,
                    headers={"WWW-Authenticate": 'Bearer realm="ltv"'})(scope, receive, send)
                return
            caller = f"tenant:{tenant.name}"
        wait = self._limiter.take(caller)
        if wait > 0:
            await problem_response(
                429, "too-many-requests", "Too Many Requests",
                f"more than {self._limiter.limit} time-stamp requests per minute; retry later",
                instance=path, headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )(scope, receive, send)
            return
        await self._tsa(scope, receive, send)


def tsa_route(settings: ServerSettings, *, store: ObjectStore,
              limiter: RateLimiter | None = None) -> Route:
    """The ``/tsa`` route for ``settings`` (which must name ``tsa_key`` and ``tsa_cert``)."""
    from tsa.server import ServeSettings, build_authority
    from tsa.server import create_app as create_tsa_app

    if settings.tsa_key is None or settings.tsa_cert is None:
        raise ConfigurationError("the /tsa route needs --tsa-key and --tsa-cert")
    tsa_settings = ServeSettings(key=settings.tsa_key, cert=settings.tsa_cert,
                                 chain=settings.tsa_chain, state_dir=settings.tsa_state_dir,
                                 key_password_file=settings.tsa_key_password_file)
    endpoint = _TsaEndpoint(create_tsa_app(build_authority(tsa_settings)), store=store,
                            public=settings.public_tsa,
                            limiter=limiter or RateLimiter(settings.tsa_rate_limit))
    return Route("/tsa", methods=["POST"], endpoint=endpoint)
