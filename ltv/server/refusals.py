"""Audit lines for what the server refuses by policy before any tenant code runs: a 429 (rate
or concurrency limit), a 503 (work pool full) and a fetch the outbound policy refuses.

A flood is exactly what these refusals answer, so their audit is throttled: one line per
(event, caller, reason) per minute, and at most ``per_minute`` lines per minute in all (a
flood from many addresses cannot fill the store with audit objects either). The store write
runs on one background thread, never on the event loop, and a failed write is logged by
:func:`archive.audit.record` and not raised. The caller is an API key's id (the first 16 hex
digits of its SHA-256, as in every other audit line) or ``anonymous``: never the key, never a
client address (personal data) and never the refused URL (the uploader's input).
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from archive.audit import AuditEvent, Outcome, Who, record
from archive.store import ObjectStore
from ltv.clock import Clock

__all__ = ["CALLER", "RefusalAudit", "caller_of"]

_EVERY = 60.0

#: (who, key id) of the request being served (set by the admission middleware; worker threads
#: inherit it), so a fetch refused deep in validation is audited against its caller.
CALLER: contextvars.ContextVar[tuple[Who, str | None]] = contextvars.ContextVar(
    "ltv_caller", default=(Who.OPERATOR, None))


def caller_of(authorization: bytes | None) -> tuple[Who, str | None]:
    """(who, key id) of a request's ``Authorization`` header value (None: anonymous)."""
    if authorization is None:
        return Who.ANONYMOUS, None
    text = authorization.decode("latin-1").strip()
    scheme, _, key = text.partition(" ")
    key = key.strip() if scheme.lower() == "bearer" else text
    return Who.TENANT, hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]


class RefusalAudit:
    """Throttled audit of policy refusals (see the module docstring); thread-safe."""

    def __init__(self, store: ObjectStore | None, *, clock: Clock, per_minute: int = 60,
                 monotonic: Callable[[], float] = time.monotonic,
                 background: bool = True) -> None:
        self._store = store
        self._clock = clock
        self._per_minute = per_minute
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str, str, str], float] = OrderedDict()
        self._window = (0.0, 0)  # (start, lines written in this minute)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ltv-audit") if background else None

    def refused(self, event: AuditEvent, *, who: Who, reason: str,
                object_id: str | None = None) -> bool:
        """Audit one refusal; False when the throttle drops it."""
        now = self._monotonic()
        key = (event.value, who.value, object_id or "", reason)
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last < _EVERY:
                return False
            start, count = self._window
            if now - start >= _EVERY:
                start, count = now, 0
            if count >= self._per_minute:
                return False
            self._window = (start, count + 1)
            self._seen[key] = now
            self._seen.move_to_end(key)
            while len(self._seen) > 4 * self._per_minute:
                self._seen.popitem(last=False)

        def write() -> None:
            record(self._store, event, who=who, object_id=object_id, outcome=Outcome.REFUSED,
                   detail=reason, clock=self._clock)

        if self._pool is None:
            write()
        else:
            self._pool.submit(write)
        return True
