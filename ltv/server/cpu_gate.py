"""One pure-CPU job at a time per worker process: the lane of offline validations.

An offline validation (``offline=true``) fetches nothing: it is CPU under the GIL from its first
byte to its last. Several of them in threads of one process do not run side by side, they take
turns every switch interval, evicting each other's working set from the caches, and the event
loop thread (receiving the next uploads) has to win the GIL against all of them at each
wake-up. Measured with ``ltv serve --workers 1`` and 8 uploads of a 1 MiB PAdES B-LTA in
flight: 37 ms of server CPU per request with the validations in parallel threads, 29-31 ms one
at a time.

So offline validations go to :data:`OFFLINE`, one thread per process that takes them first come
first served from its queue: when one ends the next starts at once in the same thread (no round
trip through the event loop, which on a busy machine costs a scheduler wake-up or two), and a
queued one whose request is cancelled (timed out, client gone) is dropped without running. A
validation that may fetch (online) does not queue here: it may spend seconds waiting on the
network, and others must run meanwhile. Requests scale across cores with ``--workers``, one
process per core.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["OFFLINE", "VALIDATIONS", "CpuLane", "Occupancy"]

T = TypeVar("T")


class CpuLane:
    """Runs jobs one after the other in one thread of this process, in submission order."""

    def __init__(self, name: str = "ltv-cpu") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._queued = 0  # submitted and not yet answered, all event loops

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:  # the thread starts with the first job, in the worker
                self._executor = ThreadPoolExecutor(1, thread_name_prefix=self.name)
            return self._executor

    async def run(self, job: Callable[[], T]) -> tuple[T, int]:
        """``job()`` in the lane's thread (in a copy of the caller's context, as the thread
        pool would); its result and how many other jobs were queued or running when it ended."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        with self._lock:
            self._queued += 1
        try:
            result = await loop.run_in_executor(self._pool(), context.run, job)
            with self._lock:
                others = self._queued - 1
            return result, others
        finally:
            with self._lock:
                self._queued -= 1

    @property
    def queued(self) -> int:
        """Jobs submitted and not yet answered."""
        return self._queued


class Occupancy:
    """How many requests of a kind this process is answering (all event loops)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    @contextlib.contextmanager
    def entered(self) -> Iterator[Callable[[], int]]:
        """Count one in for the block; yields a function: how many others are in now."""
        with self._lock:
            self._count += 1
        try:
            yield lambda: self._count - 1
        finally:
            with self._lock:
                self._count -= 1


#: Offline validations of this process.
OFFLINE = CpuLane("ltv-offline")
#: Validations (offline and online) this process is answering: a client whose answer finds
#: others here is asked to reconnect (``Connection: close``), so that keep-alive does not pin
#: its next request to a busy worker while another worker idles.
VALIDATIONS = Occupancy()
