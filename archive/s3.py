"""An S3-compatible bucket as an object store, through the minio SDK (the only minio user).

Write-once, in order of strength (:meth:`S3Store.write_once_mode`):

* every write-once ``put`` is a conditional ``PUT`` with ``If-None-Match: *`` (AWS S3 since
  2024-08, MinIO, SeaweedFS 4.48 — checked in the tests, also under racing writers): the server
  refuses an existing key atomically, so of two racing writers exactly one wins and the other
  gets :class:`ObjectExistsError`. Nothing is read first, so there is no check-then-write race;
* the bucket is created **with object lock** (which turns versioning on) when missing: an
  overwrite or delete by anyone keeps the old version. With ``retain_until`` or the store's
  ``default_retention`` the version gets a **COMPLIANCE** retention: the server refuses to delete
  it before that date, whoever asks;
* an existing bucket without object lock is **refused** (:class:`StoreError` naming the bucket)
  unless the store is opened with ``allow_unlocked=True`` (``--allow-unlocked``): then one with
  versioning reports ``VERSIONING`` and one with neither ``EXCLUSIVE_CREATE`` (only the
  conditional PUT protects it) and no retention is kept.

Retention: every write-once object is written under COMPLIANCE retention until the later of its
``retain_until`` and the floors (``min_retention``, ``default_retention``) counted from now,
rounded up to the second. :meth:`S3Store.extend_retention` lengthens it with
``PutObjectRetention`` (the server refuses to shorten COMPLIANCE retention; we never ask) and
:meth:`S3Store.retention` reads it back (``GetObjectRetention``).

Mutable objects (``_mutable/``) get no retention (unless the bucket has a default retention
rule, which then also applies to them). Compare-and-swap uses ``If-None-Match: *`` (create),
``If-Match: "etag"`` on PUT (replace) and on DELETE (delete); the etag is the server's (an MD5
of the content for single-part uploads). In a versioned bucket a delete leaves a delete marker;
we then remove the key's older versions and markers (never the current one) so that leases and
sessions do not pile up.

Retries (a node lost, a gateway restarting, a timeout): every operation is retried on a
transient failure (no connection, a timeout, a broken response, HTTP 5xx, ``SlowDown``,
``RequestTimeout``) with exponential backoff and full jitter (0.1 s doubling up to 2 s), for at
most ``retry_time`` seconds in all (default 30, env ``LTV_S3_RETRY_SECONDS``; 0: no retry) plus
one request ``timeout``; then the last failure is raised as :class:`StoreError` saying how many
attempts were made. urllib3 itself retries nothing, so no request is resent blindly. Reads,
listings (resumed after the last key seen), retention and unconditional writes are idempotent.
A conditional write whose outcome is unknown (the request may have landed before the
connection broke) is resent, and a refusal of the resent one is decided by content: a
write-once ``put`` refused with ``PreconditionFailed`` whose object now holds exactly our bytes
(its SHA-256) succeeded; so did a ``create_exclusive`` or ``replace_if`` whose object now holds
our bytes (mutable objects carry a nonce, so nobody else writes the same bytes), and a
``delete_if`` whose object is gone. A refusal on the first attempt is always a refusal.

Errors from minio and urllib3 become :class:`StoreError` ("while writing KEY to s3://...: ...").
The conditional requests go through minio's internal ``_put_object`` / ``_execute`` (its public
``put_object`` cannot send ``If-None-Match``); minio is pinned below 8 in pyproject.toml.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, TypeVar
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.retention import Retention

from archive.errors import ArchiveInputError, ObjectExistsError, ObjectNotFoundError, StoreError
from archive.retention import RetentionPeriod, longest
from archive.store import (
    MutableObject,
    ObjectInfo,
    WriteOnce,
    is_mutable_key,
    require_mutable_key,
    require_write_once_key,
    validate_key,
    validate_prefix,
)
from ltv.clock import Clock, SystemClock

__all__ = ["S3Store"]

_MAX_SINGLE_PUT = 5 * 1024**3
_NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "NoSuchObject"}
_TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout",
                    "ServerBusy", "OperationAborted"}
_BACKOFF_BASE = 0.1
_BACKOFF_CAP = 2.0
_T = TypeVar("_T")

#: Retention extensions of one object in this process take turns (striped by key). SeaweedFS
#: checks "COMPLIANCE never shortens" and writes the date in two steps, so of two concurrent
#: extensions the shorter one can land last and shorten the retention (seen in
#: test_racing_retention_extensions_all_succeed); taking turns, each reads what the one
#: before it set. Across processes the store's own check is all there is: each extension
#: reads the date back after writing it and writes it again when a racing one undercut it.
_RETENTION_STRIPES = tuple(threading.Lock() for _ in range(64))


def _transient(exc: BaseException) -> bool:
    """Worth retrying: the server may answer differently in a moment."""
    if isinstance(exc, S3Error):
        status = getattr(exc.response, "status", 0) or 0
        return exc.code in _TRANSIENT_CODES or status >= 500
    if isinstance(exc, ServerError):
        return exc.status_code >= 500
    if isinstance(exc, InvalidResponseError):
        return int(getattr(exc, "_code", 0) or 0) >= 500
    return isinstance(exc, (urllib3.exceptions.HTTPError, OSError))


def _default_retry_time() -> float:
    text = os.environ.get("LTV_S3_RETRY_SECONDS", "")
    try:
        return max(0.0, float(text)) if text else 30.0
    except ValueError as exc:
        raise ArchiveInputError(
            f"LTV_S3_RETRY_SECONDS must be a number of seconds, got {text!r}") from exc


class S3Store:
    """Objects in ``bucket`` under ``prefix`` on an S3-compatible server."""

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        prefix: str = "",
        region: str | None = None,
        default_retention: timedelta | None = None,
        min_retention: RetentionPeriod | None = None,
        allow_unlocked: bool = False,
        clock: Clock | None = None,
        create_bucket: bool = True,
        timeout: float = 60.0,
        retry_time: float | None = None,
    ) -> None:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ArchiveInputError(
                f"bad S3 endpoint {endpoint!r} (use http://host:port or https://host)"
            )
        if prefix:
            if not prefix.endswith("/"):
                prefix += "/"
            validate_key(prefix[:-1])
        if default_retention is not None and default_retention <= timedelta(0):
            raise ArchiveInputError("default_retention must be positive")
        self._bucket = bucket
        self._prefix = prefix
        self._url = f"s3://{bucket}/{prefix}"
        self._default_retention = default_retention
        self._min_retention = min_retention
        self._allow_unlocked = allow_unlocked
        self._clock = clock or SystemClock()
        self._create_bucket = create_bucket
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10.0, read=timeout),
            maxsize=16,
            retries=urllib3.Retry(total=0, redirect=False),  # we retry, knowing what is safe
        )
        try:
            self._client = Minio(
                parts.netloc,
                access_key=access_key,
                secret_key=secret_key,
                secure=parts.scheme == "https",
                region=region,
                http_client=http,
            )
        except ValueError as exc:
            raise ArchiveInputError(f"bad S3 settings for {self._url}: {exc}") from exc
        self._ready = False
        self._mode = WriteOnce.EXCLUSIVE_CREATE
        self._init_lock = threading.Lock()
        self._retry_time = _default_retry_time() if retry_time is None else max(0.0, retry_time)
        self._sleep: Callable[[float], None] = time.sleep
        self._jitter = random.Random()  # backoff jitter, not a secret
        self.retries = 0  # how many requests were resent (a figure for tests and benches)

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"S3Store({self._url!r})"

    # --- retries ----------------------------------------------------------------------------

    def _retry(self, stage: str, key: str | None, attempt: Callable[[bool], _T]) -> _T:
        """Run ``attempt(resent)`` until it succeeds, a non-transient error (raised as is, for
        the caller to map) or the retry budget is spent (:class:`StoreError`). ``resent`` is
        True from the second attempt on: the earlier one's outcome is unknown."""
        deadline = time.monotonic() + self._retry_time
        attempts = 0
        while True:
            try:
                return attempt(attempts > 0)
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                attempts += 1
                if not _transient(exc):
                    raise
                self._back_off(exc, stage, key, attempts, deadline)

    # --- bucket ---------------------------------------------------------------------------

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._init_lock:
            if self._ready:
                return
            try:
                self._mode = self._retry("opening the bucket", None, self._open_bucket)
            except StoreError:
                raise
            except (MinioException, urllib3.exceptions.HTTPError, ValueError, OSError) as exc:
                raise self._error("opening the bucket", None, exc) from exc
            if self._mode is not WriteOnce.OBJECT_LOCK and not self._allow_unlocked:
                raise StoreError(
                    f"bucket {self._bucket} has no object lock, so nothing archived in it "
                    "would be protected by COMPLIANCE retention; use a bucket created "
                    "with object lock, or pass --allow-unlocked (allow_unlocked=True) to "
                    "accept that", store=self._url)
            self._ready = True

    def _open_bucket(self, _resent: bool) -> WriteOnce:
        if not self._client.bucket_exists(self._bucket):
            if not self._create_bucket:
                raise StoreError(f"bucket {self._bucket} does not exist", store=self._url)
            try:
                self._client.make_bucket(self._bucket, object_lock=True)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        return self._detect_mode()

    def _detect_mode(self) -> WriteOnce:
        try:
            self._client.get_object_lock_config(self._bucket)
            return WriteOnce.OBJECT_LOCK
        except S3Error as exc:
            if _transient(exc):
                raise
            if "ObjectLock" not in (exc.code or "") and exc.code not in (
                "NotImplemented",
                "NoSuchKey",
            ):
                raise
        status = self._client.get_bucket_versioning(self._bucket).status
        return WriteOnce.VERSIONING if status == "Enabled" else WriteOnce.EXCLUSIVE_CREATE

    def write_once_mode(self) -> WriteOnce:
        self._ensure()
        return self._mode

    # --- write-once -----------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: datetime | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        require_write_once_key(key)
        body = _bytes(data)
        self._ensure()
        headers = self._headers(body, content_type)
        headers["If-None-Match"] = "*"
        if retain_until is not None and retain_until.tzinfo is None:
            raise ArchiveInputError("retain_until must be an aware UTC datetime")
        until = longest(retain_until, self._floor())
        if until is not None and self._mode is WriteOnce.OBJECT_LOCK:
            headers["x-amz-object-lock-mode"] = "COMPLIANCE"
            headers["x-amz-object-lock-retain-until-date"] = _s3_time(until)
        name = self._prefix + key

        def attempt(resent: bool) -> None:
            try:
                self._client._put_object(self._bucket, name, body, headers)
            except S3Error as exc:
                if exc.code != "PreconditionFailed":
                    raise
                if resent and self._holds(key, body):
                    return  # our earlier attempt landed before its answer was lost
                raise ObjectExistsError(
                    f"{key} already exists in {self._url}; objects are written once", key=key
                ) from exc

        try:
            self._retry("writing", key, attempt)
        except (ObjectExistsError, StoreError):
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error("writing", key, exc) from exc

    def _holds(self, key: str, body: bytes) -> bool:
        """Does ``key`` hold exactly ``body`` now (its SHA-256)?"""
        try:
            data, _ = self._get_once(key)
        except ObjectNotFoundError:
            return False
        return hashlib.sha256(data).digest() == hashlib.sha256(body).digest()

    def _floor(self) -> datetime | None:
        now = self._clock.now()
        return longest(
            now + self._default_retention if self._default_retention is not None else None,
            self._min_retention.after(now) if self._min_retention is not None else None,
        )

    def retention(self, key: str) -> datetime | None:
        require_write_once_key(key)
        self._ensure()
        name = self._prefix + key

        def attempt(_resent: bool) -> datetime | None:
            try:
                self._client.stat_object(self._bucket, name)
                if self._mode is not WriteOnce.OBJECT_LOCK:
                    return None
                found = self._client.get_object_retention(self._bucket, name)
            except S3Error as exc:
                if exc.code in _NOT_FOUND:
                    raise ObjectNotFoundError(f"no object {key} in {self._url}",
                                              key=key) from exc
                if exc.code in ("NoSuchObjectLockConfiguration",
                                "ObjectLockConfigurationNotFound"):
                    return None
                raise
            if found is None or found.retain_until_date is None:
                return None
            when: datetime = found.retain_until_date
            return when if when.tzinfo is not None else when.replace(tzinfo=UTC)

        try:
            return self._retry("reading the retention of", key, attempt)
        except (ObjectNotFoundError, StoreError):
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error("reading the retention of", key, exc) from exc

    def extend_retention(self, key: str, until: datetime) -> datetime | None:
        if until.tzinfo is None:
            raise ArchiveInputError("retain_until must be an aware UTC datetime")
        stripe = _RETENTION_STRIPES[hash((self._bucket, self._prefix, key)) % 64]
        with stripe:
            return self._extend_retention(key, until)

    def _extend_retention(self, key: str, until: datetime) -> datetime | None:
        current = self.retention(key)
        if self._mode is not WriteOnce.OBJECT_LOCK:
            return None
        if current is not None and current >= until:
            return current
        wanted = _ceil_second(until)

        def attempt(_resent: bool) -> None:  # idempotent: the same date again
            self._client.set_object_retention(self._bucket, self._prefix + key,
                                              Retention(COMPLIANCE, wanted))

        error: Exception | None = None
        for _ in range(3):
            try:
                self._retry("extending the retention of", key, attempt)
                in_force = self.retention(key)
                if in_force is not None and in_force >= wanted:
                    return in_force
                continue  # a racing, shorter extension landed after ours: write ours again
            except StoreError:
                raise
            except S3Error as exc:
                # a concurrent writer extended it further between our read and our write (the
                # server refuses to shorten COMPLIANCE retention): what is in force now decides
                current = self.retention(key)
                if current is not None and current >= wanted:
                    return current
                error = exc
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise self._error("extending the retention of", key, exc) from exc
        if error is None:
            raise StoreError(f"while extending the retention of {key} in {self._url}: the "
                             f"store kept an earlier date than {wanted.isoformat()} after three "
                             "writes", store=self._url, key=key)
        raise self._error("extending the retention of", key, error) from error

    def get(self, key: str) -> bytes:
        validate_key(key)
        return self._get(key)[0]

    def exists(self, key: str) -> bool:
        validate_key(key)
        self._ensure()

        def attempt(_resent: bool) -> bool:
            try:
                self._client.stat_object(self._bucket, self._prefix + key)
                return True
            except S3Error as exc:
                if exc.code in _NOT_FOUND or exc.code == "ResourceNotFound":
                    return False
                raise

        try:
            return self._retry("checking", key, attempt)
        except StoreError:
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error("checking", key, exc) from exc

    def list(
        self, prefix: str = "", *, start_after: str = "", limit: int | None = None
    ) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if limit is not None and limit < 0:
            raise ArchiveInputError("limit must be >= 0")
        self._ensure()
        entries = self._list(prefix, start_after)
        return islice(entries, limit) if limit is not None else entries

    def _list(self, prefix: str, start_after: str) -> Iterator[ObjectInfo]:
        """Listed page by page; a transient failure resumes after the last key yielded."""
        strip = len(self._prefix)
        after = start_after
        attempts = 0
        deadline = 0.0
        while True:
            try:
                for obj in self._client.list_objects(
                    self._bucket,
                    prefix=self._prefix + prefix,
                    recursive=True,
                    start_after=(self._prefix + after) if after else None,
                ):
                    name = obj.object_name or ""
                    if obj.is_dir or (after and name[strip:] <= after):
                        continue
                    info = ObjectInfo(key=name[strip:], size=int(obj.size or 0), sha256=None,
                                      created=obj.last_modified)
                    yield info
                    after = info.key
                return
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                if not _transient(exc):
                    raise self._error("listing", prefix or "/", exc) from exc
                attempts += 1
                if attempts == 1:
                    deadline = time.monotonic() + self._retry_time
                self._back_off(exc, "listing", prefix or "/", attempts, deadline)

    def _back_off(self, exc: BaseException, stage: str, key: str | None, attempts: int,
                  deadline: float) -> None:
        """Wait before attempt ``attempts + 1`` (full jitter), or raise :class:`StoreError`
        when that would pass ``deadline``."""
        delay = self._jitter.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempts - 1)))
        if time.monotonic() + delay > deadline:
            error = self._error(stage, key, exc)
            if attempts > 1:
                error = StoreError(f"{error} (gave up after {attempts} attempts in "
                                   f"{self._retry_time:g} s)", store=self._url, key=key)
            raise error from exc
        self.retries += 1
        self._sleep(delay)

    # --- mutable --------------------------------------------------------------------------

    def put_mutable(self, key: str, data: bytes) -> str:
        require_mutable_key(key)
        return self._conditional_put(key, _bytes(data), {}) or ""

    def read_mutable(self, key: str) -> MutableObject:
        require_mutable_key(key)
        data, etag = self._get(key)
        return MutableObject(data=data, etag=etag)

    def create_exclusive(self, key: str, data: bytes) -> str | None:
        require_mutable_key(key)
        return self._conditional_put(key, _bytes(data), {"If-None-Match": "*"})

    def replace_if(self, key: str, data: bytes, *, etag: str) -> str | None:
        require_mutable_key(key)
        return self._conditional_put(key, _bytes(data), {"If-Match": f'"{etag}"'})

    def delete_if(self, key: str, *, etag: str) -> bool:
        require_mutable_key(key)
        return self._delete(key, {"If-Match": f'"{etag}"'})

    def delete(self, key: str) -> None:
        require_mutable_key(key)
        self._delete(key, {})

    # --- helpers --------------------------------------------------------------------------

    def _headers(self, body: bytes, content_type: str) -> dict[str, Any]:
        if len(body) > _MAX_SINGLE_PUT:
            raise ArchiveInputError("objects larger than 5 GiB are not supported")
        return {
            "Content-Type": content_type,
            "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode(),  # noqa: S324 - S3 integrity header
            "x-amz-meta-sha256": hashlib.sha256(body).hexdigest(),
        }

    def _conditional_put(self, key: str, body: bytes, conditions: dict[str, str]) -> str | None:
        self._ensure()
        headers = {**self._headers(body, "application/octet-stream"), **conditions}

        def attempt(resent: bool) -> str | None:
            try:
                result = self._client._put_object(self._bucket, self._prefix + key, body,
                                                  headers)
            except S3Error as exc:
                if exc.code == "PreconditionFailed" or (conditions and exc.code in _NOT_FOUND):
                    if resent:  # did our earlier attempt land? mutable bytes are unique
                        try:
                            data, etag = self._get_once(key)
                        except ObjectNotFoundError:
                            return None
                        if data == body:
                            return etag
                    return None
                raise
            return str(result.etag or "").strip('"')

        try:
            return self._retry("writing", key, attempt)
        except StoreError:
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error("writing", key, exc) from exc

    def _get(self, key: str) -> tuple[bytes, str]:
        self._ensure()
        try:
            return self._retry("reading", key, lambda _resent: self._get_once(key))
        except (ObjectNotFoundError, StoreError):
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error("reading", key, exc) from exc

    def _get_once(self, key: str) -> tuple[bytes, str]:
        """One GET: :class:`ObjectNotFoundError` if absent, other errors raised as is."""
        response = None
        try:
            response = self._client.get_object(self._bucket, self._prefix + key)
            data = response.read()
            etag = str(response.headers.get("etag", "")).strip('"')
            return data, etag
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                raise ObjectNotFoundError(f"no object {key} in {self._url}", key=key) from exc
            raise
        finally:
            if response is not None:
                response.close()
                response.release_conn()

    def _delete(self, key: str, conditions: dict[str, str]) -> bool:
        self._ensure()
        name = self._prefix + key

        def attempt(resent: bool) -> bool:
            try:
                headers: dict[str, str | list[str] | tuple[str]] = dict(conditions)
                self._client._execute("DELETE", self._bucket, name, headers=headers or None)
            except S3Error as exc:
                if exc.code == "PreconditionFailed" or (conditions and exc.code in _NOT_FOUND):
                    # resent: gone means our earlier attempt deleted it
                    return resent and not self._exists_once(name)
                if exc.code in _NOT_FOUND:
                    return True
                raise
            return True

        try:
            done = self._retry("deleting", key, attempt)
        except StoreError:
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._error("deleting", key, exc) from exc
        if done and is_mutable_key(key) and self._mode is not WriteOnce.EXCLUSIVE_CREATE:
            self._purge_history(name)
        return done

    def _exists_once(self, name: str) -> bool:
        try:
            self._client.stat_object(self._bucket, name)
            return True
        except S3Error as exc:
            if exc.code in _NOT_FOUND or exc.code == "ResourceNotFound":
                return False
            raise

    def _purge_history(self, name: str) -> None:
        """Remove a mutable key's non-current versions (best effort; never the current one)."""
        try:
            for version in self._client.list_objects(
                self._bucket, prefix=name, recursive=True, include_version=True
            ):
                if version.object_name != name or version.is_latest == "true":
                    continue
                self._client.remove_object(self._bucket, name, version_id=version.version_id)
        except (MinioException, urllib3.exceptions.HTTPError, OSError):
            return

    def _error(self, stage: str, key: str | None, exc: BaseException) -> StoreError:
        if isinstance(exc, S3Error):
            detail = f"{exc.code}: {exc.message}"
        elif isinstance(exc, urllib3.exceptions.MaxRetryError):
            detail = f"no answer from the server ({exc.reason})"
        else:
            detail = str(exc) or type(exc).__name__
        where = f"{key} {'in' if stage != 'writing' else 'to'} " if key else ""
        return StoreError(f"while {stage} {where}{self._url}: {detail}", store=self._url, key=key)


def _ceil_second(when: datetime) -> datetime:
    """Round up to the whole second (a retention is never shortened by rounding)."""
    when = when.astimezone(UTC)
    if when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when


def _s3_time(when: datetime) -> str:
    return _ceil_second(when).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _bytes(data: bytes) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArchiveInputError(f"object data must be bytes, got {type(data).__name__}")
    return bytes(data)
