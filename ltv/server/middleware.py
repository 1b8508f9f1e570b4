"""ASGI middleware of the API: upload cap (413), request timeout (504) with the request's fetch
budget, admission (a bounded work pool, 503; per-caller concurrency and rate limits, 429),
Prometheus metrics.

All are plain ASGI wrappers (no per-request task or thread), answering with the same
``application/problem+json`` bodies as :mod:`ltv.server.problems`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from archive.audit import AuditEvent
from ltv.online.budget import fetch_budget
from ltv.server.problems import PROBLEM_JSON, TYPE_PREFIX, localized_problem
from ltv.server.refusals import CALLER, RefusalAudit, caller_of

__all__ = ["Admission", "AdmissionLimits", "BodyLimit", "Metrics", "MetricsMiddleware",
           "Timeout"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _problem(send: Send, status: int, slug: str, title: str, detail: str, path: str,
                   *, retry_after: int | None = None, scope: Scope | None = None) -> None:
    # title and detail in the language of the request's Accept-Language (ltv.server.problems)
    title, detail, lang = localized_problem(list((scope or {}).get("headers") or []),
                                            title, detail)
    body = json.dumps({"type": TYPE_PREFIX + slug, "title": title, "status": status,
                       "detail": detail, "instance": path}, ensure_ascii=False).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()),
               (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
               (b"content-language", lang.encode()), (b"vary", b"Accept-Language")]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413: by Content-Length up front, and by
    counting while the body streams in (chunked uploads)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than the server accepts ({self.limit} bytes)"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _problem(send, 400, "bad-request", "Bad Request",
                                   "bad Content-Length", scope.get("path", ""), scope=scope)
                    return
                if declared > self.limit:
                    await _problem(send, 413, "payload-too-large", "Request body too large",
                                   detail, scope.get("path", ""), scope=scope)
                    return
        seen = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's answer to a half-read body is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not started:
            await _problem(send, 413, "payload-too-large", "Request body too large", detail,
                           scope.get("path", ""), scope=scope)


class Timeout:
    """Answer 504 when a request takes longer than ``seconds``, and give the request a fetch
    budget (:mod:`ltv.online.budget`) of ``min(fetch_seconds, seconds)`` and ``max_fetches``.

    The budget is what frees the worker thread: every outbound fetch of the request ends at its
    deadline, and when the request times out (or ends) the budget is cancelled, so a fetch in
    flight stops at its next socket operation and no new one starts.
    """

    def __init__(self, app: ASGIApp, *, seconds: float, fetch_seconds: float | None = None,
                 max_fetches: int = 32) -> None:
        self.app = app
        self.seconds = seconds
        self.fetch_seconds = min(fetch_seconds or seconds, seconds)
        self.max_fetches = max_fetches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with fetch_budget(seconds=self.fetch_seconds, max_fetches=self.max_fetches):
            await self._timed(scope, receive, send)

    async def _timed(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, receive, tracking_send), self.seconds)
        except TimeoutError:
            if not started:
                await _problem(send, 504, "timeout", "Request timed out",
                               f"the request took longer than {self.seconds:g} s",
                               scope.get("path", ""), scope=scope)


@dataclass(frozen=True, slots=True, kw_only=True)
class AdmissionLimits:
    """Limits on ``/v1/`` requests (see :class:`Admission`)."""

    max_concurrent: int = 16
    queue_seconds: float = 2.0
    tenant_concurrency: int = 4
    tenant_rate: int = 120  # per minute
    anonymous_concurrency: int = 2
    anonymous_rate: int = 30  # per minute, per client address
    max_callers: int = 10_000  # rate-limit entries kept (least recently seen dropped first)


async def _drain(receive: Receive, limit: int = 1 << 20) -> None:
    """Read (and drop) up to ``limit`` bytes of a refused request's body, so the client reads
    our answer instead of a reset connection; a larger body is cut by closing."""
    seen = 0
    with contextlib.suppress(Exception):  # best effort: the refusal is sent whatever happens
        while seen <= limit:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


class _TokenBucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class Admission:
    """A bounded work pool and per-caller limits for ``/v1/`` routes (the ones that validate,
    sign, extend, archive or read the store); ``/healthz``, ``/metrics``, ``/``, ``/docs`` pass.

    * a caller is an API key (by its SHA-256, before any store lookup, so a refusal costs
      nothing), or, without a key, the client address (rate) within one shared anonymous pool
      (concurrency);
    * rate: a token bucket of ``rate`` requests per minute (burst ``rate``) → 429;
    * concurrency per caller → 429 (``Retry-After: 1``);
    * at most ``max_concurrent`` requests in the work pool; a request waits at most
      ``queue_seconds`` for a slot (and only while fewer than ``max_concurrent`` wait), else
      503 with ``Retry-After`` — never an unbounded queue of threads.
    """

    def __init__(self, app: ASGIApp, *, limits: AdmissionLimits,
                 audit: RefusalAudit | None = None) -> None:
        self.app = app
        self.limits = limits
        self.audit = audit  # each refusal → one throttled audit line (ltv.server.refusals)
        self._busy = 0
        self._waiting = 0
        self._in_flight: dict[str, int] = defaultdict(int)
        self._buckets: OrderedDict[str, _TokenBucket] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        key, rate_key, limit, rate = self._caller(scope)
        wait = self._take_token(rate_key, rate)
        if wait > 0:
            self._audit(scope, "rate-limit")
            await _drain(receive)
            await _problem(send, 429, "too-many-requests", "Too Many Requests",
                           f"more than {rate} requests per minute; retry later", path,
                           retry_after=max(1, math.ceil(wait)), scope=scope)
            return
        if self._in_flight[key] >= limit:
            self._audit(scope, "concurrency-limit")
            await _drain(receive)
            await _problem(send, 429, "too-many-requests", "Too Many Requests",
                           f"more than {limit} requests in flight for this caller", path,
                           retry_after=1, scope=scope)
            return
        self._in_flight[key] += 1
        try:
            if not await self._enter_pool():
                self._audit(scope, "busy")
                await _drain(receive)
                await _problem(send, 503, "unavailable", "Service Unavailable",
                               "the server is busy; retry later", path,
                               retry_after=max(1, math.ceil(self.limits.queue_seconds)),
                               scope=scope)
                return
            token = CALLER.set(caller_of(next(
                (bytes(v) for n, v in scope.get("headers", ()) if n == b"authorization"), None)))
            try:
                await self.app(scope, receive, send)
            finally:
                CALLER.reset(token)
                self._leave_pool()
        finally:
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]

    def _audit(self, scope: Scope, reason: str) -> None:
        if self.audit is None:
            return
        header = next((bytes(v) for n, v in scope.get("headers", ()) if n == b"authorization"),
                      None)
        who, key_id = caller_of(header)
        self.audit.refused(AuditEvent.REQUEST, who=who, reason=reason, object_id=key_id)

    def _caller(self, scope: Scope) -> tuple[str, str, int, int]:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                digest = hashlib.sha256(bytes(value)).hexdigest()[:32]
                key = "key:" + digest
                return key, key, self.limits.tenant_concurrency, self.limits.tenant_rate
        client = scope.get("client") or ("?", 0)
        return ("anonymous", f"addr:{client[0]}", self.limits.anonymous_concurrency,
                self.limits.anonymous_rate)

    def _take_token(self, key: str, per_minute: int) -> float:
        """0 if a request may start now, else the seconds until it may."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _TokenBucket(float(per_minute), now)
            while len(self._buckets) > self.limits.max_callers:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(key)
        bucket.tokens = min(float(per_minute),
                            bucket.tokens + (now - bucket.stamp) * per_minute / 60.0)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) * 60.0 / per_minute

    async def _enter_pool(self) -> bool:
        # a counter polled by waiters (not an asyncio.Semaphore: the middleware may serve more
        # than one event loop, e.g. under a test client)
        if self._busy < self.limits.max_concurrent:
            self._busy += 1
            return True
        if self._waiting >= self.limits.max_concurrent or self.limits.queue_seconds <= 0:
            return False
        self._waiting += 1
        try:
            give_up = time.monotonic() + self.limits.queue_seconds
            while time.monotonic() < give_up:
                await asyncio.sleep(0.02)
                if self._busy < self.limits.max_concurrent:
                    self._busy += 1
                    return True
            return False
        finally:
            self._waiting -= 1

    def _leave_pool(self) -> None:
        self._busy -= 1


_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Request counts by route and status, and a duration histogram by route (per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str, int], int] = defaultdict(int)
        self.buckets: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.counts[(method, route, status)] += 1
            key = (method, route)
            buckets = self.buckets.setdefault(key, [0] * (len(_BUCKETS) + 1))
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            buckets[-1] += 1
            self.sums[key] += seconds

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        lines = ["# HELP ltv_http_requests_total HTTP requests by route and status.",
                 "# TYPE ltv_http_requests_total counter"]
        with self._lock:
            for (method, route, status), n in sorted(self.counts.items()):
                lines.append(f'ltv_http_requests_total{{method="{method}",route="{_esc(route)}",'
                             f'status="{status}"}} {n}')
            lines += ["# HELP ltv_http_request_duration_seconds Time to answer, by route.",
                      "# TYPE ltv_http_request_duration_seconds histogram"]
            for (method, route), buckets in sorted(self.buckets.items()):
                labels = f'method="{method}",route="{_esc(route)}"'
                for bound, n in zip(_BUCKETS, buckets, strict=False):
                    lines.append(f'ltv_http_request_duration_seconds_bucket{{{labels},'
                                 f'le="{bound:g}"}} {n}')
                lines.append(f'ltv_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} '
                             f"{buckets[-1]}")
                lines.append(f"ltv_http_request_duration_seconds_sum{{{labels}}} "
                             f"{self.sums[(method, route)]:.6f}")
                lines.append(f"ltv_http_request_duration_seconds_count{{{labels}}} "
                             f"{buckets[-1]}")
        return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """Count every HTTP request by route template (not raw path: ids stay out of labels)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None)
            if not isinstance(path, str):
                path = "/tsa" if scope.get("path", "").startswith("/tsa") else "unmatched"
            self.metrics.observe(scope.get("method", "GET"), path, status,
                                 time.perf_counter() - start)
