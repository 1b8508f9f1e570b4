"""The exception tree of :mod:`archive`.

::

    ArchiveError
    ├── StoreError                          an I/O failure; says which store, key and stage
    ├── ObjectExistsError                   write-once refused: the key already holds an object
    ├── ObjectNotFoundError (also LookupError)  no object under that key
    ├── ArchiveInputError (also ValueError) a bad key, URL, or setting; the message names it
    │   └── RetentionError                  a retain-until below the operator's floor (or absurd)
    └── LeaseLostError                      a renewer's lease was taken over: it stops writing

Adapters (:mod:`archive.s3`) re-raise minio / urllib3 errors as :class:`StoreError` with
``raise ... from exc`` and say which stage failed ("while writing KEY to s3://bucket/...: ...").
"""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "ArchiveInputError",
    "LeaseLostError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "RetentionError",
    "StoreError",
]


class ArchiveError(Exception):
    """Root of every error raised on purpose by :mod:`archive`."""


class StoreError(ArchiveError):
    """The object store failed (I/O, network, refused by the server).

    ``store`` is the store's URL and ``key`` the object concerned, when there is one.
    """

    def __init__(self, message: str, *, store: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.store = store
        self.key = key


class ObjectExistsError(ArchiveError):
    """A write-once object already exists under the key: it is never overwritten."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class ObjectNotFoundError(ArchiveError, LookupError):
    """No object under the key."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class ArchiveInputError(ArchiveError, ValueError):
    """A bad key, store URL or setting given by the caller; the message says what."""


class RetentionError(ArchiveInputError):
    """A requested retention would shorten the operator's floor (or is beyond the maximum).

    Retention only grows: a tenant's ``retain-until`` may extend the floor, never shorten it.
    """


class LeaseLostError(ArchiveError):
    """The renewal lease this job held was taken over (its fencing token is stale).

    Raised before the next write: a renewer that lost its lease writes nothing more.
    """
