"""Run a coroutine from synchronous code (pyHanko and certvalidator are async inside)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

_T = TypeVar("_T")


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run`` that also works when the calling thread already runs a loop (FastAPI):
    then the coroutine runs in a helper thread with its own loop, in a copy of the caller's
    context (context variables such as the request's fetch budget carry over)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[_T] = []
    failure: list[BaseException] = []
    context = contextvars.copy_context()  # the request's fetch budget goes along

    def worker() -> None:
        try:
            result.append(context.run(asyncio.run, coro))
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
