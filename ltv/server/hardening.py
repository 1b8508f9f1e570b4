"""Smaller doors of the API: security headers, who may read ``/metrics``, a per-caller rate
limit, and the timer that purges expired signing sessions.

* :class:`SecurityHeaders` (ASGI): every answer gets ``X-Content-Type-Options: nosniff``; an
  HTML answer also gets a ``Content-Security-Policy`` (:data:`HTML_CSP` unless the route set
  its own) that always names ``frame-ancestors``, and ``Referrer-Policy: no-referrer``. The
  HTML validation report needs no script, no network and no frames, so its policy allows only
  its inline styles and data: images.
* :func:`metrics_access`: ``/metrics`` needs an API key unless ``--public-metrics``.
* :class:`RateLimiter`: a token bucket per caller (``/tsa``), ``limit`` requests per minute,
  with a bounded table of callers (an attacker choosing new callers cannot grow it).
* :class:`SessionPurger` (ASGI, lifespan): calls
  :meth:`~ltv.server.sessions.SessionStore.purge_expired` at startup and then every
  ``interval`` seconds, in a worker thread, reading expiry from the app's clock; with it, the
  expired remote-signing state (:meth:`~ltv.server.remote_state.RemoteState.purge_expired`:
  access tokens, enrolments, approvals, nonces, SADs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, Header

from archive.store import ObjectStore
from ltv.clock import Clock
from ltv.server.deps import get_settings, get_store
from ltv.server.remote_state import RemoteState
from ltv.server.sessions import SessionStore
from ltv.server.settings import ServerSettings
from ltv.server.tenants import authenticate

__all__ = [
    "HTML_CSP",
    "RateLimiter",
    "SecurityHeaders",
    "SessionPurger",
    "metrics_access",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger("ltv.server")

#: The policy of HTML answers that set none (the validation report): inline CSS and the
#: timeline's data: images only; nothing runs, nothing loads, nobody frames it.
HTML_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class SecurityHeaders:
    """Add nosniff to every HTTP answer, and CSP with frame-ancestors to HTML answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def hardened_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _harden(list(message.get("headers", ())))
            await send(message)

        await self.app(scope, receive, hardened_send)


def _harden(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {name.lower(): value for name, value in headers}
    if b"x-content-type-options" not in names:
        headers.append((b"x-content-type-options", b"nosniff"))
    if not names.get(b"content-type", b"").lower().startswith(b"text/html"):
        return headers
    csp = names.get(b"content-security-policy")
    if csp is None:
        headers.append((b"content-security-policy", HTML_CSP.encode()))
    elif b"frame-ancestors" not in csp:
        headers = [(n, v + b"; frame-ancestors 'none'" if n.lower() == b"content-security-policy"
                    else v) for n, v in headers]
    if b"referrer-policy" not in names:
        headers.append((b"referrer-policy", b"no-referrer"))
    if b"x-frame-options" not in names:
        headers.append((b"x-frame-options", b"DENY"))  # frame-ancestors for old browsers
    return headers


def metrics_access(
    store: Annotated[ObjectStore, Depends(get_store)],
    settings: Annotated[ServerSettings, Depends(get_settings)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """``/metrics`` shows request volumes and 401 rates: an API key (any tenant's; give the
    scraper its own tenant) unless the operator made it public (``--public-metrics``)."""
    if not settings.public_metrics:
        authenticate(store, authorization)


class RateLimiter:
    """Token buckets per caller: ``limit`` requests per minute, bursts of up to ``limit``.

    ``monotonic`` is injectable (tests). At most ``max_callers`` buckets are kept; the least
    recently seen one is dropped first (it comes back full, which only errs on letting in).
    """

    def __init__(self, limit: int, *, monotonic: Callable[[], float] = time.monotonic,
                 max_callers: int = 10_000) -> None:
        if limit < 1:
            raise ValueError("a rate limit allows at least one request per minute")
        self.limit = limit
        self._rate = limit / 60.0
        self._monotonic = monotonic
        self._max = max_callers
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, caller: str) -> float:
        """Spend one token of ``caller``: 0.0 if allowed, else the seconds until one is back."""
        now = self._monotonic()
        with self._lock:
            tokens, seen = self._buckets.pop(caller, (float(self.limit), now))
            tokens = min(float(self.limit), tokens + (now - seen) * self._rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self._rate
            self._buckets[caller] = (tokens, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
            return wait


class SessionPurger:
    """On the app's lifespan: purge expired signing sessions now and every ``interval`` s."""

    def __init__(self, app: ASGIApp, *, store: ObjectStore, clock: Clock,
                 interval: float) -> None:
        self.app = app
        self.sessions = SessionStore(store, clock=clock)
        self.remote = RemoteState(store, clock=clock)
        self.interval = interval

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        task: asyncio.Task[None] | None = None

        async def starting_receive() -> Message:
            nonlocal task
            message = await receive()
            if message["type"] == "lifespan.startup" and task is None:
                task = asyncio.create_task(self._run())
            elif message["type"] == "lifespan.shutdown" and task is not None:
                task.cancel()
            return message

        try:
            await self.app(scope, starting_receive, send)
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self) -> None:
        while True:
            try:
                removed = await anyio.to_thread.run_sync(self.sessions.purge_expired)
                if removed:
                    _log.info("purged %d expired signing session(s)", removed)
            except Exception:  # the store may be down for a while: try again next time
                _log.exception("purging expired signing sessions failed")
            try:
                removed = await anyio.to_thread.run_sync(self.remote.purge_expired)
                if removed:
                    _log.info("purged %d expired remote-signing object(s)", removed)
            except Exception:  # as above
                _log.exception("purging expired remote-signing state failed")
            await asyncio.sleep(self.interval)
