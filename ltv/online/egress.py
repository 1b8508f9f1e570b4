"""The one door out: every OCSP, CRL, caIssuers and TSA fetch goes through :class:`Egress`.

What it enforces (the rules are :class:`~ltv.online.policy.FetchPolicy`'s):

* only ``http``/``https``; redirects are never followed (a 3xx is an error);
* the host is resolved **once**, every address is checked against the policy, and the socket
  connects to an address that passed: the check and the connection use the same address, so a
  name that re-resolves (DNS rebinding) cannot slip a private address in between. TLS still
  verifies the certificate against the URL's host name;
* a total deadline per fetch, ``min(policy.timeout, the request's budget)``
  (:mod:`ltv.online.budget`): every connect, read and write is clamped to the time left, so a
  peer that drips one byte every few seconds is cut at the deadline, not kept alive per read;
* a size cap per kind of answer, by Content-Length up front and while reading; compressed
  answers are refused (no decompression bombs);
* errors name the URL's **host** only and a short reason ("refused by the fetch policy",
  "timed out", "HTTP 404"); the full URL and the OS error go to the ``ltv.online`` log.

Operator-trusted URLs (the configured TSA) skip the address check only, and use their own
connection pool, so a connection opened for them is never reused for a certificate's URL.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import httpcore
import httpx

from ltv.errors import ServiceError
from ltv.online.budget import BudgetExhausted, current_budget
from ltv.online.policy import FetchPolicy, Target, split_url

__all__ = ["USER_AGENT", "Egress", "default_egress"]

USER_AGENT = "ltv (long-term signatures)"
_log = logging.getLogger("ltv.online")
_log.addHandler(logging.NullHandler())  # a library logs; the edge decides where (ltv serve)

# the deadline (monotonic seconds) of the fetch running in this thread, read by the sockets
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "ltv_fetch_deadline", default=None)
# whether the fetch running in this thread must pass the address policy
_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("ltv_fetch_checked",
                                                                default=True)
# name resolution runs here so that a slow resolver is cut at the deadline too
_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="ltv-dns")


class _Refused(httpcore.ConnectError):
    """The address policy refused every address of the host (never connected)."""


class _Deadline(httpcore.TimeoutException):
    """The fetch's total deadline passed."""


def _left(timeout: float | None) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Deadline("deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """Clamps every socket operation to the running fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PolicedBackend(httpcore.NetworkBackend):
    """Resolve once, check each address, connect to a checked address (never to the name)."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = self._resolve(host, port, _left(timeout))
        if _CHECKED.get():
            verdicts = [(a, self._policy.check_address(host=host, port=port, address=a))
                        for a in addresses]
            refused = [f"{a} ({v.value})" for a, v in verdicts if not v.allowed]
            addresses = [a for a, v in verdicts if v.allowed]
            if refused and not addresses:
                raise _Refused(f"{host}:{port} resolves to {', '.join(refused)}")
        last: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(str(address), port, _left(timeout),
                                                 local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
                continue
            return _DeadlineStream(stream)
        raise last if last is not None else httpcore.ConnectError(f"{host} has no address")

    @staticmethod
    def _resolve(host: str, port: int, timeout: float | None
                 ) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        with contextlib.suppress(ValueError):
            return [ipaddress.ip_address(host.strip("[]"))]
        future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise _Deadline(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
        return found


class _PolicedTransport(httpx.HTTPTransport):
    def __init__(self, policy: FetchPolicy) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=512,
            max_keepalive_connections=16, keepalive_expiry=15.0,
            network_backend=_PolicedBackend(policy))


def _client(transport: httpx.BaseTransport) -> httpx.Client:
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False,
                        headers={"user-agent": USER_AGENT, "accept-encoding": "identity"})


class Egress:
    """Fetches under a :class:`FetchPolicy`. Thread-safe; share one per process.

    ``client``: use this httpx client as is (a test's ``MockTransport``, a proxy): the scheme,
    redirect, size and time rules still apply, the address check is then the transport's job.
    """

    def __init__(self, policy: FetchPolicy | None = None, *,
                 client: httpx.Client | None = None,
                 on_refused: Callable[[str], object] | None = None) -> None:
        self.policy = policy or FetchPolicy()
        self.on_refused = on_refused  # called with ``what`` when the policy refuses a fetch
        self._owned = client is None
        if client is not None:
            self._checked = self._trusted = client
        else:
            self._checked = _client(_PolicedTransport(self.policy))
            self._trusted = _client(_PolicedTransport(self.policy))  # same clamps, no check

    def close(self) -> None:
        if self._owned:
            self._checked.close()
            self._trusted.close()

    def fetch(self, method: str, url: str, *, what: str, max_bytes: int,
              error: type[ServiceError], content: bytes | None = None,
              headers: Mapping[str, str] | None = None, trusted: bool = False,
              timeout: float | None = None) -> bytes:
        """The body of a 200 answer, at most ``max_bytes``; else ``error`` naming the host.
        ``trusted`` (an operator-configured URL): no address check, and the error names the
        whole URL and the cause, as the operator needs to fix their configuration."""
        try:
            target = split_url(url)
        except ValueError as exc:
            self._refused(what)
            raise error(f"while asking the {what} at {_safe_host(url)}: {exc}", url=url) from exc
        where = f"while asking the {what} at {url if trusted else target.host}"
        own = min(timeout, self.policy.timeout) if timeout is not None else self.policy.timeout
        budget = current_budget()
        if budget is not None:
            try:
                own = min(own, budget.take())
            except BudgetExhausted as exc:
                _log.warning("%s %s not fetched: %s", what, url, exc)
                raise error(f"{where}: not fetched ({exc})", url=url) from exc
        deadline = time.monotonic() + own
        with self._scope(deadline, checked=not trusted):
            try:
                return self._read(method, target, content=content, headers=headers,
                                  max_bytes=max_bytes, deadline=deadline)
            except _Failure as exc:
                _log.warning("%s %s: %s", what, url, exc.detail)
                if exc.reason == _POLICY_REFUSED:
                    self._refused(what)
                raise error(f"{where}: {exc.detail if trusted else exc.reason}", url=url
                            ) from exc

    def _refused(self, what: str) -> None:
        if self.on_refused is not None:
            self.on_refused(what)

    @contextlib.contextmanager
    def _scope(self, deadline: float, *, checked: bool) -> Iterator[None]:
        t1 = _DEADLINE.set(deadline)
        t2 = _CHECKED.set(checked)
        try:
            yield
        finally:
            _DEADLINE.reset(t1)
            _CHECKED.reset(t2)

    def _read(self, method: str, target: Target, *, content: bytes | None,
              headers: Mapping[str, str] | None, max_bytes: int, deadline: float) -> bytes:
        client = self._checked if _CHECKED.get() else self._trusted
        left = deadline - time.monotonic()
        try:
            with client.stream(method, target.url, content=content, headers=headers,
                               timeout=httpx.Timeout(max(left, 0.001))) as response:
                if 300 <= response.status_code < 400:
                    raise _Failure(f"HTTP {response.status_code} (redirects are not followed)")
                encoding = response.headers.get("content-encoding", "identity").lower()
                if encoding not in ("identity", ""):
                    raise _Failure(f"compressed answer ({encoding[:20]}) refused")
                if response.status_code != 200:
                    raise _Failure(f"HTTP {response.status_code}",
                                   f"HTTP {response.status_code}{_first_line(response)}")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise _Failure(f"answer larger than {max_bytes} bytes")
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():  # identity only (checked above)
                    size += len(chunk)
                    if size > max_bytes:
                        raise _Failure(f"answer larger than {max_bytes} bytes")
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise _Failure("timed out")
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            reason = _reason(exc)
            raise _Failure(reason, f"{reason}: {exc}" if str(exc) else reason) from exc


def _first_line(response: httpx.Response) -> str:
    """``": first line"`` of a short text error body (for operator-trusted services)."""
    try:
        head = next(response.iter_bytes(), b"")[:512].decode("utf-8", "replace").strip()
    except (httpx.HTTPError, StopIteration):
        return ""
    line = head.splitlines()[0][:200] if head else ""
    return f": {line}" if line else ""


_POLICY_REFUSED = "refused by the fetch policy"


class _Failure(Exception):
    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or reason


def _reason(exc: httpx.HTTPError) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, _Refused):
            return _POLICY_REFUSED
        if isinstance(cause, _Deadline):
            return "timed out"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "bad HTTP answer"
    return "transfer failed"


def _safe_host(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return host or "an unusable URL"


_DEFAULT: Egress | None = None


def default_egress() -> Egress:
    """A process-wide egress with the permissive default policy (the CLI's, and library use
    without an explicit egress)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Egress(FetchPolicy())
    return _DEFAULT
