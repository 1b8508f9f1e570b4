"""An in-memory object store: a dict behind a lock (tests, demos, offline tools).

Retention is recorded per write-once object (the given ``retain_until``, at least the store's
``min_retention`` floor) and only ever lengthened; nothing can delete a write-once object here
anyway, so the record is what :meth:`MemoryStore.retention` reports, not a lock.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import threading
from collections.abc import Iterator
from datetime import datetime

from archive.errors import ArchiveInputError, ObjectExistsError, ObjectNotFoundError
from archive.retention import RetentionPeriod, longest
from archive.store import (
    MutableObject,
    ObjectInfo,
    WriteOnce,
    require_mutable_key,
    require_write_once_key,
    validate_key,
    validate_prefix,
)
from ltv.clock import Clock, SystemClock

__all__ = ["MemoryStore"]

_ids = itertools.count(1)


class MemoryStore:
    """Objects in a dict; thread-safe; write-once by refusing existing keys."""

    def __init__(self, *, clock: Clock | None = None,
                 min_retention: RetentionPeriod | None = None) -> None:
        self._clock = clock or SystemClock()
        self._min_retention = min_retention
        self._lock = threading.Lock()
        self._objects: dict[str, tuple[bytes, datetime]] = {}
        self._retention: dict[str, datetime] = {}
        self._keys: list[str] = []  # sorted
        self._url = f"memory:{next(_ids)}"

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"MemoryStore({self._url!r}, {len(self._keys)} objects)"

    def write_once_mode(self) -> WriteOnce:
        return WriteOnce.EXCLUSIVE_CREATE

    def put(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: datetime | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        require_write_once_key(key)
        floor = self._min_retention.after(self._clock.now()) if self._min_retention else None
        until = longest(retain_until, floor)
        if until is not None and until.tzinfo is None:
            raise ArchiveInputError("retain_until must be an aware UTC datetime")
        with self._lock:
            if key in self._objects:
                raise ObjectExistsError(
                    f"{key} already exists in {self._url}; objects are written once", key=key
                )
            self._store(key, _bytes(data))
            if until is not None:
                self._retention[key] = until

    def retention(self, key: str) -> datetime | None:
        require_write_once_key(key)
        with self._lock:
            if key not in self._objects:
                raise ObjectNotFoundError(f"no object {key} in {self._url}", key=key)
            return self._retention.get(key)

    def extend_retention(self, key: str, until: datetime) -> datetime | None:
        require_write_once_key(key)
        if until.tzinfo is None:
            raise ArchiveInputError("retain_until must be an aware UTC datetime")
        with self._lock:
            if key not in self._objects:
                raise ObjectNotFoundError(f"no object {key} in {self._url}", key=key)
            kept = longest(self._retention.get(key), until)
            assert kept is not None
            self._retention[key] = kept
            return kept

    def get(self, key: str) -> bytes:
        validate_key(key)
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise ObjectNotFoundError(f"no object {key} in {self._url}", key=key)
        return found[0]

    def exists(self, key: str) -> bool:
        validate_key(key)
        with self._lock:
            return key in self._objects

    def list(
        self, prefix: str = "", *, start_after: str = "", limit: int | None = None
    ) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if limit is not None and limit < 0:
            raise ArchiveInputError("limit must be >= 0")
        with self._lock:
            start = bisect.bisect_left(self._keys, prefix)
            if start_after:
                start = max(start, bisect.bisect_right(self._keys, start_after))
            out: list[ObjectInfo] = []
            for key in self._keys[start:]:
                if not key.startswith(prefix) or (limit is not None and len(out) >= limit):
                    break
                data, created = self._objects[key]
                out.append(
                    ObjectInfo(
                        key=key,
                        size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(),
                        created=created,
                    )
                )
        return iter(out)

    # --- mutable ------------------------------------------------------------------------

    def put_mutable(self, key: str, data: bytes) -> str:
        require_mutable_key(key)
        data = _bytes(data)
        with self._lock:
            self._store(key, data)
        return _etag(data)

    def read_mutable(self, key: str) -> MutableObject:
        require_mutable_key(key)
        data = self.get(key)
        return MutableObject(data=data, etag=_etag(data))

    def create_exclusive(self, key: str, data: bytes) -> str | None:
        require_mutable_key(key)
        return self._create(key, _bytes(data))

    def replace_if(self, key: str, data: bytes, *, etag: str) -> str | None:
        require_mutable_key(key)
        data = _bytes(data)
        with self._lock:
            current = self._objects.get(key)
            if current is None or _etag(current[0]) != etag:
                return None
            self._store(key, data)
        return _etag(data)

    def delete_if(self, key: str, *, etag: str) -> bool:
        require_mutable_key(key)
        with self._lock:
            current = self._objects.get(key)
            if current is None or _etag(current[0]) != etag:
                return False
            self._remove(key)
        return True

    def delete(self, key: str) -> None:
        require_mutable_key(key)
        with self._lock:
            if key in self._objects:
                self._remove(key)

    # --- helpers (callers hold the lock where noted) ------------------------------------

    def _create(self, key: str, data: bytes) -> str | None:
        with self._lock:
            if key in self._objects:
                return None
            self._store(key, data)
        return _etag(data)

    def _store(self, key: str, data: bytes) -> None:  # lock held
        if key not in self._objects:
            bisect.insort(self._keys, key)
        self._objects[key] = (data, self._clock.now())

    def _remove(self, key: str) -> None:  # lock held
        del self._objects[key]
        del self._keys[bisect.bisect_left(self._keys, key)]


def _bytes(data: bytes) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArchiveInputError(f"object data must be bytes, got {type(data).__name__}")
    return bytes(data)


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
