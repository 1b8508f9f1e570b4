"""One pure-CPU job at a time per worker process: the gate in front of offline validations.

An offline validation (``offline=true``) fetches nothing: it is CPU under the GIL from its first
byte to its last. Several of them in threads of one process do not run side by side, they take
turns every switch interval, evicting each other's working set from the caches, and the event
loop thread (receiving the next uploads) has to win the GIL against all of them at each
wake-up. Measured with ``ltv serve --workers 1`` and 8 uploads of a 1 MiB PAdES B-LTA in
flight: 37 ms of server CPU per request with the validations in parallel threads, 29 ms one at
a time, the same CPU as one request alone.

So the route waits (on the event loop, FIFO, cancellable: a request that times out or whose
client leaves while waiting never starts) for :data:`OFFLINE` before handing its validation to
a worker thread. A validation that may fetch (online) is not gated: it may spend seconds
waiting on the network, and others must run meanwhile. Requests scale across cores with
``--workers``, one process per core.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator

__all__ = ["OFFLINE", "CpuGate"]


class CpuGate:
    """At most ``limit`` holders at a time in this process, first come first served.

    One :class:`asyncio.Semaphore` per event loop (an app may be served by more than one
    loop, e.g. under a test client); the loops of a process are few and kept weakly."""

    def __init__(self, limit: int = 1) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())
        self._queued = 0  # holders and waiters, all loops

    @property
    def crowded(self) -> bool:
        """Whether another job holds the gate or waits for it (asked by a holder)."""
        return self._queued > 1

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with self._lock:
            gate = self._gates.get(loop)
            if gate is None:
                gate = self._gates[loop] = asyncio.Semaphore(self.limit)
        self._queued += 1
        try:
            async with gate:
                yield
        finally:
            self._queued -= 1


#: Offline validations of this process.
OFFLINE = CpuGate(1)
