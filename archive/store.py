"""The object-store port: write-once objects, a small mutable namespace, and ``open_store(url)``.

Everything the archive keeps (packages, blobs, evidence records) is a **write-once** object:
:meth:`ObjectStore.put` refuses a key that already exists (:class:`ObjectExistsError`) and a
failed write leaves nothing half-visible. How the store enforces it is reported by
:meth:`ObjectStore.write_once_mode` (DESIGN.md "Archive": object lock where the store supports
it, versioning otherwise, exclusive create on the local store).

A few things must change over time: the renewal job's **lease** (one renewer at a time) and the
signing service's **pending sessions** (single use). They live under :data:`MUTABLE_PREFIX`
(``_mutable/``) and only there may objects be overwritten or deleted. Mutable objects carry an
``etag`` (an opaque string that changes whenever the content changes: a content hash) and
support compare-and-swap:

* :meth:`ObjectStore.create_exclusive` — create only if absent; returns the new etag, or ``None``
  when the key exists (S3 ``If-None-Match: *``; local ``link(2)``; memory under a lock).
* :meth:`ObjectStore.replace_if` — overwrite only if the current etag is the given one (S3
  ``If-Match``); returns the new etag or ``None``.
* :meth:`ObjectStore.delete_if` — delete only if the current etag is the given one.

Since the etag is a content hash, writers put a unique token (holder id, random nonce) in every
mutable object so that the same bytes never come back (no ABA). :func:`acquire_lease`,
:func:`heartbeat_lease`, :func:`check_lease` and :func:`release_lease` build the renewal lease
from these primitives. The lease carries a **fencing token**, a number that grows by one at every
change of holder and is never reset (a released lease is marked released, not deleted): a
renewer proves before each write, by comparing the lease's etag, that it still holds the lease
it took (:class:`~archive.errors.LeaseLostError` otherwise), and records its token in what it
writes.

Retention (:mod:`archive.retention`): write-once objects carry a retain-until where the store
can keep one; :meth:`ObjectStore.retention` reads it back and
:meth:`ObjectStore.extend_retention` lengthens it (never shortens). A store opened with a
``min_retention`` floor applies it to every write-once object it writes.

Keys are ``/``-separated relative paths: no empty, ``.`` or ``..`` segment, no segment starting
with ``.`` (reserved for the stores' own files), no backslash, NUL or control character, at most
1024 UTF-8 bytes. :func:`validate_key` raises :class:`ArchiveInputError` otherwise.
"""

from __future__ import annotations

import enum
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qs, unquote, urlsplit

from archive.errors import ArchiveInputError, LeaseLostError, ObjectNotFoundError
from archive.retention import RetentionPeriod
from ltv.clock import Clock, SystemClock, format_time, parse_time

__all__ = [
    "MUTABLE_PREFIX",
    "Lease",
    "MutableObject",
    "ObjectInfo",
    "ObjectStore",
    "WriteOnce",
    "acquire_lease",
    "check_lease",
    "heartbeat_lease",
    "is_mutable_key",
    "open_store",
    "release_lease",
    "validate_key",
]

MUTABLE_PREFIX = "_mutable/"
_MAX_KEY_BYTES = 1024


class WriteOnce(enum.Enum):
    """How a store keeps written objects from being overwritten or deleted."""

    OBJECT_LOCK = "object-lock"  # S3 object lock: COMPLIANCE retention, versions kept
    VERSIONING = "versioning"  # S3 versioning: an overwrite or delete keeps the old version
    EXCLUSIVE_CREATE = "exclusive-create"  # the store refuses to create an existing key
    NONE = "none"  # nothing beyond our own client's checks


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectInfo:
    """One entry of :meth:`ObjectStore.list`."""

    key: str
    size: int
    sha256: str | None  # hex, when the store knows it without reading the object
    created: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MutableObject:
    """A mutable object's content and its etag (for :meth:`ObjectStore.replace_if`)."""

    data: bytes
    etag: str


@runtime_checkable
class ObjectStore(Protocol):
    """An object store: write-once objects plus the mutable ``_mutable/`` namespace."""

    @property
    def url(self) -> str: ...

    def put(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: datetime | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        """Write a new object atomically; :class:`ObjectExistsError` if the key exists.

        ``retain_until`` sets a COMPLIANCE retention where the store has object lock; other
        stores rely on their :meth:`write_once_mode`. Mutable keys are refused (use
        :meth:`put_mutable`).
        """
        ...

    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`ObjectNotFoundError` if there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(
        self, prefix: str = "", *, start_after: str = "", limit: int | None = None
    ) -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix``, after ``start_after``, in key order."""
        ...

    def write_once_mode(self) -> WriteOnce: ...

    def put_mutable(self, key: str, data: bytes) -> str:
        """Create or overwrite a mutable object unconditionally; returns its etag."""
        ...

    def read_mutable(self, key: str) -> MutableObject:
        """A mutable object with its etag; :class:`ObjectNotFoundError` if absent."""
        ...

    def create_exclusive(self, key: str, data: bytes) -> str | None:
        """Create a mutable object only if absent: its etag, or ``None`` if the key exists."""
        ...

    def replace_if(self, key: str, data: bytes, *, etag: str) -> str | None:
        """Overwrite only if the current etag is ``etag``: the new etag, or ``None``."""
        ...

    def delete_if(self, key: str, *, etag: str) -> bool:
        """Delete only if the current etag is ``etag``; ``False`` if it changed or is gone."""
        ...

    def delete(self, key: str) -> None:
        """Delete a mutable object (no error if absent); write-once keys are refused."""
        ...

    def retention(self, key: str) -> datetime | None:
        """The retain-until the store keeps for a write-once object (None: it keeps none);
        :class:`ObjectNotFoundError` if there is no object."""
        ...

    def extend_retention(self, key: str, until: datetime) -> datetime | None:
        """Lengthen a write-once object's retention to ``until`` if that is later (never
        shorter); returns the retention now in force (None: the store keeps none)."""
        ...


def validate_key(key: str) -> str:
    """Return ``key`` if it is a valid object key, else raise :class:`ArchiveInputError`."""
    if not isinstance(key, str) or not key:
        raise ArchiveInputError("an object key must be a non-empty string")
    if len(key.encode("utf-8", "surrogatepass")) > _MAX_KEY_BYTES:
        raise ArchiveInputError(f"object key longer than {_MAX_KEY_BYTES} bytes: {key[:60]!r}…")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or 0xD800 <= ord(ch) <= 0xDFFF for ch in key):
        raise ArchiveInputError(f"object key {key!r} contains a control character or NUL")
    if "\\" in key:
        raise ArchiveInputError(f"object key {key!r} contains a backslash; use '/'")
    if key.startswith("/"):
        raise ArchiveInputError(f"object key {key!r} is absolute; keys are relative paths")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise ArchiveInputError(f"object key {key!r} has an empty, '.' or '..' segment")
        if segment.startswith("."):
            raise ArchiveInputError(
                f"object key {key!r} has a segment starting with '.' (reserved for the store)"
            )
    return key


def validate_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a key prefix obeying :func:`validate_key`'s rules."""
    if prefix == "":
        return prefix
    stem = prefix[:-1] if prefix.endswith("/") else prefix
    validate_key(stem if stem else "x")
    if prefix.endswith("/") and not stem:
        raise ArchiveInputError("a listing prefix cannot be '/'")
    return prefix


def is_mutable_key(key: str) -> bool:
    """True for keys of the mutable namespace (:data:`MUTABLE_PREFIX`)."""
    return key.startswith(MUTABLE_PREFIX)


def require_write_once_key(key: str) -> str:
    validate_key(key)
    if is_mutable_key(key):
        raise ArchiveInputError(
            f"{key!r} is in the mutable namespace {MUTABLE_PREFIX}; use put_mutable"
        )
    return key


def require_mutable_key(key: str) -> str:
    validate_key(key)
    if not is_mutable_key(key):
        raise ArchiveInputError(
            f"{key!r} is a write-once key; only keys under {MUTABLE_PREFIX} may change or be "
            "deleted"
        )
    return key


# --- lease ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """A held lease: who holds it, until when, its fencing token and the etag that proves it is
    still ours."""

    key: str
    holder: str
    expires: datetime
    etag: str
    token: int = 0


_LEASE_SCHEMA = "ltv-lease/2"


def _lease_bytes(holder: str, expires: datetime, token: int, *, released: bool = False) -> bytes:
    body = {
        "schema": _LEASE_SCHEMA,
        "holder": holder,
        "expires": format_time(expires),
        "token": token,
        "released": released,
        "nonce": secrets.token_hex(16),
    }
    return json.dumps(body, sort_keys=True).encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class _LeaseState:
    holder: str
    expires: datetime
    token: int
    released: bool


def _lease_state(data: bytes, now: datetime) -> _LeaseState:
    try:
        body = json.loads(data)
        token = body.get("token", 0)
        return _LeaseState(holder=str(body["holder"]), expires=parse_time(str(body["expires"])),
                           token=token if isinstance(token, int) and token >= 0 else 0,
                           released=bool(body.get("released", False)))
    except (ValueError, KeyError, TypeError, AttributeError):
        # unreadable lease: expired; its token is unknown, so the next one must outgrow any
        # plausible one (a microsecond clock never repeats)
        return _LeaseState(holder="", expires=now, token=int(now.timestamp() * 1e6),
                           released=True)


def acquire_lease(
    store: ObjectStore,
    key: str,
    *,
    holder: str,
    ttl: timedelta,
    clock: Clock | None = None,
) -> Lease | None:
    """Take the lease ``key`` (under ``_mutable/``) for ``ttl``, or ``None`` if someone holds it.

    A free lease is taken with :meth:`ObjectStore.create_exclusive` (token 1); an expired or
    released one is taken over with :meth:`ObjectStore.replace_if` on the etag we read, with
    the next fencing token, so of several racing callers exactly one wins. Calling this again
    with the same ``holder`` extends a held lease and keeps its token.
    """
    require_mutable_key(key)
    now = (clock or SystemClock()).now()
    expires = now + ttl
    etag = store.create_exclusive(key, _lease_bytes(holder, expires, 1))
    if etag is not None:
        return Lease(key=key, holder=holder, expires=expires, etag=etag, token=1)
    try:
        current = store.read_mutable(key)
    except ObjectNotFoundError:
        return None  # released in between: the caller may simply try again
    state = _lease_state(current.data, now)
    ours = state.holder == holder and not state.released
    if not ours and not state.released and state.expires > now:
        return None
    token = state.token if ours else state.token + 1
    etag = store.replace_if(key, _lease_bytes(holder, expires, token), etag=current.etag)
    if etag is None:
        return None
    return Lease(key=key, holder=holder, expires=expires, etag=etag, token=token)


def check_lease(store: ObjectStore, lease: Lease) -> None:
    """The fence: :class:`LeaseLostError` unless the lease object is still the one we wrote."""
    try:
        current = store.read_mutable(lease.key)
    except ObjectNotFoundError as exc:
        raise LeaseLostError(f"the lease {lease.key} (token {lease.token}) is gone") from exc
    if current.etag != lease.etag:
        state = _lease_state(current.data, lease.expires)
        raise LeaseLostError(
            f"lost the lease {lease.key}: token {lease.token} was taken over by "
            f"{state.holder or 'another renewer'} (token {state.token})")


def heartbeat_lease(store: ObjectStore, lease: Lease, *, ttl: timedelta,
                    clock: Clock | None = None) -> Lease:
    """Extend a held lease to now + ``ttl``, same token (compare-and-swap on its etag);
    :class:`LeaseLostError` if it was taken over meanwhile."""
    now = (clock or SystemClock()).now()
    expires = now + ttl
    etag = store.replace_if(lease.key, _lease_bytes(lease.holder, expires, lease.token),
                            etag=lease.etag)
    if etag is None:
        check_lease(store, lease)  # raises with who took it
        raise LeaseLostError(f"lost the lease {lease.key} (token {lease.token})")
    return Lease(key=lease.key, holder=lease.holder, expires=expires, etag=etag,
                 token=lease.token)


def release_lease(store: ObjectStore, lease: Lease) -> bool:
    """Give the lease back (marked released, its token kept for the next holder); ``False`` if
    it had already been taken over (it expired)."""
    body = _lease_bytes(lease.holder, lease.expires, lease.token, released=True)
    return store.replace_if(lease.key, body, etag=lease.etag) is not None


def break_lease(store: ObjectStore, key: str, *, etag: str, clock: Clock | None = None) -> bool:
    """Mark a lease whose holder is known to be dead as released (compare-and-swap on
    ``etag``), keeping its token; ``False`` if it changed meanwhile."""
    require_mutable_key(key)
    try:
        current = store.read_mutable(key)
    except ObjectNotFoundError:
        return True
    if current.etag != etag:
        return False
    now = (clock or SystemClock()).now()
    state = _lease_state(current.data, now)
    body = _lease_bytes(state.holder, now, state.token, released=True)
    return store.replace_if(key, body, etag=etag) is not None


# --- URLs -----------------------------------------------------------------------------------


def open_store(url: str, *, clock: Clock | None = None,
               min_retention: RetentionPeriod | None = None,
               allow_unlocked: bool = False) -> ObjectStore:
    """Open a store by URL.

    * ``file:///path`` or a plain path → :class:`archive.local.LocalStore`
    * ``memory:`` → :class:`archive.memory.MemoryStore` (a new, empty one)
    * ``s3://BUCKET[/PREFIX][?retention_days=N]`` → :class:`archive.s3.S3Store`, with the
      endpoint and credentials from ``LTV_S3_ENDPOINT`` (``http://host:port`` or
      ``https://…``), ``LTV_S3_ACCESS_KEY``, ``LTV_S3_SECRET_KEY`` and optionally
      ``LTV_S3_REGION``. ``retention_days`` is the default COMPLIANCE retention of new objects.

    ``min_retention`` is the operator's floor: every write-once object gets at least that
    retention from its write (COMPLIANCE on S3; recorded by the local and memory stores). The
    S3 store refuses a bucket without object lock unless ``allow_unlocked``.
    Anything else raises :class:`ArchiveInputError`.
    """
    if not isinstance(url, str) or not url.strip():
        raise ArchiveInputError("empty store URL (use file:///path, memory: or s3://bucket)")
    text = url.strip()
    if text == "memory:" or text.startswith("memory:"):
        from archive.memory import MemoryStore

        return MemoryStore(clock=clock, min_retention=min_retention)
    if text.startswith("s3://"):
        return _open_s3(text, clock=clock, min_retention=min_retention,
                        allow_unlocked=allow_unlocked)
    if text.startswith("file:"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ArchiveInputError(f"bad file URL {url!r} (use file:///absolute/path)")
        from archive.local import LocalStore

        return LocalStore(unquote(parts.path), clock=clock, min_retention=min_retention)
    if "://" in text or (":" in text.split("/", 1)[0] and len(text.split(":", 1)[0]) > 1):
        raise ArchiveInputError(
            f"unsupported store URL {url!r} (use file:///path, a path, memory: or s3://bucket)"
        )
    from archive.local import LocalStore

    return LocalStore(text, clock=clock, min_retention=min_retention)


def _open_s3(url: str, *, clock: Clock | None, min_retention: RetentionPeriod | None,
             allow_unlocked: bool) -> ObjectStore:
    parts = urlsplit(url)
    bucket = parts.netloc
    if not bucket:
        raise ArchiveInputError(f"bad S3 URL {url!r}: no bucket (use s3://BUCKET[/PREFIX])")
    prefix = parts.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if prefix:
        validate_key(prefix[:-1])
    retention: timedelta | None = None
    query = parse_qs(parts.query, keep_blank_values=True)
    for name, values in query.items():
        if name != "retention_days":
            raise ArchiveInputError(f"unknown S3 URL parameter {name!r} (known: retention_days)")
        try:
            days = int(values[-1])
        except ValueError as exc:
            raise ArchiveInputError(
                f"retention_days must be a whole number, got {values[-1]!r}"
            ) from exc
        if days <= 0:
            raise ArchiveInputError("retention_days must be positive")
        retention = timedelta(days=days)
    env = {}
    for name in ("LTV_S3_ENDPOINT", "LTV_S3_ACCESS_KEY", "LTV_S3_SECRET_KEY"):
        value = os.environ.get(name, "")
        if not value:
            raise ArchiveInputError(f"{url} needs the environment variable {name}")
        env[name] = value
    from archive.s3 import S3Store

    return S3Store(
        endpoint=env["LTV_S3_ENDPOINT"],
        access_key=env["LTV_S3_ACCESS_KEY"],
        secret_key=env["LTV_S3_SECRET_KEY"],
        region=os.environ.get("LTV_S3_REGION") or None,
        bucket=bucket,
        prefix=prefix,
        default_retention=retention,
        min_retention=min_retention,
        allow_unlocked=allow_unlocked,
        clock=clock,
    )
