"""ASGI middleware of the API: upload cap (413), request timeout (504), Prometheus metrics.

All three are plain ASGI wrappers (no per-request task or thread), answering with the same
``application/problem+json`` bodies as :mod:`ltv.server.problems`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ltv.server.problems import PROBLEM_JSON, TYPE_PREFIX

__all__ = ["BodyLimit", "Metrics", "MetricsMiddleware", "Timeout"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _problem(send: Send, status: int, slug: str, title: str, detail: str, path: str
                   ) -> None:
    body = json.dumps({"type": TYPE_PREFIX + slug, "title": title, "status": status,
                       "detail": detail, "instance": path}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
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
                                   "bad Content-Length", scope.get("path", ""))
                    return
                if declared > self.limit:
                    await _problem(send, 413, "payload-too-large", "Request body too large",
                                   detail, scope.get("path", ""))
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
                           scope.get("path", ""))


class Timeout:
    """Answer 504 when a request takes longer than ``seconds`` (work in a worker thread keeps
    running to its end, but the client is answered and the connection freed)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
                               scope.get("path", ""))


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
