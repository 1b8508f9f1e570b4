"""The fetch budget of one request: a deadline and a fetch count shared by all its fetches.

``ltv serve`` opens a budget per HTTP request (:func:`fetch_budget`, a context variable, so the
worker thread running the request's work sees it); every fetch of :mod:`ltv.online.egress`
then ends at ``min(own timeout, budget deadline)``, and once the budget is spent or
:meth:`FetchBudget.cancel` was called (the request timed out) no fetch starts at all. Outside a
budget (the CLI) only the per-fetch timeout applies.

Times are ``time.monotonic()`` seconds: durations, not dates.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator

__all__ = ["BudgetExhausted", "FetchBudget", "current_budget", "fetch_budget"]


class BudgetExhausted(Exception):
    """No time or fetches left in the request's budget (mapped to a ServiceError by callers)."""


class FetchBudget:
    """Deadline (monotonic seconds) and a maximum number of fetches; thread-safe."""

    def __init__(self, *, seconds: float, max_fetches: int) -> None:
        self.deadline = time.monotonic() + seconds
        self.max_fetches = max_fetches
        self._used = 0
        self._cancelled = False
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        """The request is over (timed out or answered): no further fetch may start or run."""
        self._cancelled = True
        self.deadline = min(self.deadline, time.monotonic())

    def remaining(self) -> float:
        return 0.0 if self._cancelled else max(0.0, self.deadline - time.monotonic())

    def take(self) -> float:
        """Count one fetch; returns the seconds left. Raises :class:`BudgetExhausted`."""
        with self._lock:
            if self._cancelled:
                raise BudgetExhausted("the request is over")
            if self._used >= self.max_fetches:
                raise BudgetExhausted(f"more than {self.max_fetches} fetches in one request")
            left = self.remaining()
            if left <= 0:
                raise BudgetExhausted("the request's fetch time is spent")
            self._used += 1
            return left


_CURRENT: contextvars.ContextVar[FetchBudget | None] = contextvars.ContextVar(
    "ltv_fetch_budget", default=None)


def current_budget() -> FetchBudget | None:
    return _CURRENT.get()


@contextlib.contextmanager
def fetch_budget(*, seconds: float, max_fetches: int) -> Iterator[FetchBudget]:
    """Run the block under a fresh budget; cancelled on leaving, whatever happens."""
    budget = FetchBudget(seconds=seconds, max_fetches=max_fetches)
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        budget.cancel()
        _CURRENT.reset(token)
