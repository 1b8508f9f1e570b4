"""Bounded, thread-safe memos of checks that passed (issue #15).

A :class:`SuccessMemo` remembers only *successes*, under a digest of every input of a pure
check (:func:`digest_of`), so a hit answers exactly what the check would have answered and a
failure is always recomputed, with its own message.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

__all__ = ["SuccessMemo", "digest_of"]


def digest_of(parts: Sequence[bytes]) -> bytes:
    """SHA-256 over length-prefixed parts (no two different part lists share an encoding)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


class SuccessMemo:
    """A bounded set of digests of checks that passed (FIFO eviction, thread-safe)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._keys: dict[bytes, None] = {}
        self._lock = threading.Lock()
        self.hits = 0

    def __contains__(self, key: bytes) -> bool:
        found = key in self._keys
        if found:
            self.hits += 1
        return found

    def add(self, key: bytes) -> None:
        with self._lock:
            self._keys[key] = None
            while len(self._keys) > self.max_entries:
                del self._keys[next(iter(self._keys))]

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self.hits = 0

    def __len__(self) -> int:
        return len(self._keys)
