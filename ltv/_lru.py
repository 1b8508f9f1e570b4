"""An LRU map bounded by a byte budget and an entry count (the caches of uploader-influenced
data: revocation answers, parsed certificates and CRLs). Costs are the caller's estimate."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["ByteBudgetLru"]

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class ByteBudgetLru(Generic[_K, _V]):
    """An LRU map bounded by a byte budget and an entry count (costs are given by the caller).

    An entry larger than half the budget is never kept, so no single answer can take the whole
    cache; inserting evicts the least recently used entries until both bounds hold.
    """

    def __init__(self, *, max_bytes: int, max_entries: int) -> None:
        if max_bytes < 0 or max_entries < 0:
            raise ValueError("cache bounds must not be negative")
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._items: OrderedDict[_K, tuple[int, _V]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: _K) -> _V | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: _K, value: _V, *, cost: int) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[0]
            if cost > self.max_bytes // 2 or self.max_entries == 0:
                return
            self._items[key] = (cost, value)
            self._bytes += cost
            while self._bytes > self.max_bytes or len(self._items) > self.max_entries:
                _, (dropped, _value) = self._items.popitem(last=False)
                self._bytes -= dropped

    def discard(self, key: _K) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
