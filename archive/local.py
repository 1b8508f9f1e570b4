"""A directory tree as an object store (write-once by exclusive create).

Each object is a file ``ROOT/KEY``. A write goes to a temporary file under ``ROOT/.ltv/tmp``
(invisible to :meth:`LocalStore.list`), is flushed with ``fsync``, made read-only (0o444), and
only then appears under its key with ``link(2)``, which fails if the key exists: a crash at any
point leaves either the whole object or nothing under the key. Mutable objects (``_mutable/``)
are swapped in with ``rename(2)``; their compare-and-swap operations hold an ``flock`` on
``ROOT/.ltv/lock`` so that several processes on one machine agree.

Only the owner can read the tree: directories are created 0o700 (the store root included, when
this class creates it) and mutable objects, such as signing sessions with the whole contract,
are written 0o600; write-once objects are 0o444 inside that tree.

``retain_until`` is not enforced here (a file system has no retention); the read-only mode and
the exclusive create are the protection, as :meth:`LocalStore.write_once_mode` says.

It is recorded, as far as a plain file system allows. What this store guarantees: every
write-once object's retain-until (the given one, at least the store's ``min_retention`` floor)
is recorded under ``ROOT/.ltv/retention/KEY`` (0o400 in 0o700 folders, written before the
object appears, so an object never lacks its record);
:meth:`LocalStore.extend_retention` only ever lengthens it; and this store never overwrites
or deletes a write-once object, before or after its retention ends.
What it cannot guarantee: a file system has no WORM lock, so anyone with write access to the
directory (its owner, root, a backup tool) can ``chmod`` and delete files and records. Use the
S3 store with object lock where retention must hold against the operator too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from archive.errors import (
    ArchiveError,
    ArchiveInputError,
    ObjectExistsError,
    ObjectNotFoundError,
    StoreError,
)
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
from ltv.clock import Clock, SystemClock, format_time, parse_time

__all__ = ["LocalStore"]

_INTERNAL = ".ltv"


def _private_dirs(path: Path) -> None:
    """``mkdir -p`` where every directory made is 0o700 (``Path.mkdir(parents=True)`` gives the
    parents the umask's mode)."""
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            if not directory.is_dir():  # a file where a folder must be: the caller reports it
                raise


class LocalStore:
    """Objects as files under ``root`` (created if missing)."""

    def __init__(self, root: str | os.PathLike[str], *, clock: Clock | None = None,
                 min_retention: RetentionPeriod | None = None) -> None:
        self._root = Path(root).expanduser().absolute()
        self._clock = clock or SystemClock()
        self._min_retention = min_retention
        self._tmp = self._root / _INTERNAL / "tmp"
        self._retention_root = self._root / _INTERNAL / "retention"
        try:
            _private_dirs(self._tmp)
        except OSError as exc:
            raise StoreError(
                f"while creating the store directory {self._root}: {exc}", store=self.url
            ) from exc
        self._lock_path = self._root / _INTERNAL / "lock"
        self._thread_lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._root.as_uri()

    @property
    def root(self) -> Path:
        return self._root

    def __repr__(self) -> str:
        return f"LocalStore({str(self._root)!r})"

    def write_once_mode(self) -> WriteOnce:
        return WriteOnce.EXCLUSIVE_CREATE

    # --- write-once ---------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: datetime | None = None,
        content_type: str = "application/octet-stream",
    ) -> None:
        require_write_once_key(key)
        path = self._path(key)
        floor = self._min_retention.after(self._clock.now()) if self._min_retention else None
        until = longest(retain_until, floor)
        if until is not None and until.tzinfo is None:
            raise ArchiveInputError("retain_until must be an aware UTC datetime")
        tmp = self._write_temp(key, data, mode=0o444)
        try:
            if until is not None and not path.exists():
                with self._mutable_lock():
                    self._record_retention(key, until)

            try:
                os.link(tmp, path)
            except FileExistsError as exc:
                raise ObjectExistsError(
                    f"{key} already exists in {self.url}; objects are written once", key=key
                ) from exc
            except OSError as exc:
                raise self._error("writing", key, exc) from exc
            self._sync_dir(path.parent)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def retention(self, key: str) -> datetime | None:
        require_write_once_key(key)
        if not self._path(key).is_file():
            raise ObjectNotFoundError(f"no object {key} in {self.url}", key=key)
        return self._read_retention(key)

    def extend_retention(self, key: str, until: datetime) -> datetime | None:
        require_write_once_key(key)
        if until.tzinfo is None:
            raise ArchiveInputError("retain_until must be an aware UTC datetime")
        if not self._path(key).is_file():
            raise ObjectNotFoundError(f"no object {key} in {self.url}", key=key)
        with self._mutable_lock():
            return self._record_retention(key, until)

    def _retention_path(self, key: str) -> Path:
        return self._retention_root.joinpath(*key.split("/"))

    def _read_retention(self, key: str) -> datetime | None:
        try:
            return parse_time(self._retention_path(key).read_text(encoding="ascii").strip())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(f"while reading the retention of {key} in {self.url}: {exc}",
                             store=self.url, key=key) from exc

    def _record_retention(self, key: str, until: datetime) -> datetime:  # lock held
        """Record ``until`` unless a later retention is recorded; returns the one in force."""
        current = self._read_retention(key)
        kept = longest(current, until)
        assert kept is not None
        if kept == current:
            return kept
        path = self._retention_path(key)
        try:
            missing = [p for p in (path.parent, *path.parent.parents)
                       if self._root in p.parents and not p.is_dir()]
            for directory in reversed(missing):  # only the owner may look inside
                with contextlib.suppress(FileExistsError):
                    directory.mkdir(mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self._tmp, prefix="r-")
            with os.fdopen(fd, "wb") as out:
                out.write(format_time(kept).encode("ascii") + b"\n")
                out.flush()
                os.fchmod(out.fileno(), 0o400)
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise self._error("recording the retention of", key, exc) from exc
        self._sync_dir(path.parent)
        return kept

    def get(self, key: str) -> bytes:
        validate_key(key)
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFoundError(f"no object {key} in {self.url}", key=key) from exc
        except OSError as exc:
            raise self._error("reading", key, exc) from exc

    def exists(self, key: str) -> bool:
        validate_key(key)
        return self._path(key).is_file()

    def list(
        self, prefix: str = "", *, start_after: str = "", limit: int | None = None
    ) -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        if limit is not None and limit < 0:
            raise ArchiveInputError("limit must be >= 0")
        directory, _, name_prefix = prefix.rpartition("/")
        start = self._root / directory if directory else self._root
        base = f"{directory}/" if directory else ""
        entries = self._walk(start, base, name_prefix, start_after)
        return islice(entries, limit) if limit is not None else entries

    def _walk(
        self, directory: Path, base: str, name_prefix: str, start_after: str
    ) -> Iterator[ObjectInfo]:
        try:
            with os.scandir(directory) as it:
                found = [
                    (e.name + ("/" if e.is_dir(follow_symlinks=False) else ""), e)
                    for e in it
                    if e.name.startswith(name_prefix) and not e.name.startswith(".")
                ]
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise StoreError(
                f"while listing {directory} in {self.url}: {exc}", store=self.url
            ) from exc
        found.sort(key=lambda pair: pair[0])
        for sort_name, entry in found:
            key = base + sort_name
            if sort_name.endswith("/"):
                # every key below starts with `key`: skip the whole directory when all of them
                # sort before start_after
                if key < start_after and not start_after.startswith(key):
                    continue
                yield from self._walk(Path(entry.path), key, "", start_after)
            elif key > start_after and entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                yield ObjectInfo(
                    key=key,
                    size=st.st_size,
                    sha256=None,
                    created=datetime.fromtimestamp(st.st_mtime, UTC),
                )

    # --- mutable ------------------------------------------------------------------------

    def put_mutable(self, key: str, data: bytes) -> str:
        require_mutable_key(key)
        with self._mutable_lock():
            self._replace(key, data)
        return _etag(data)

    def read_mutable(self, key: str) -> MutableObject:
        require_mutable_key(key)
        data = self.get(key)
        return MutableObject(data=data, etag=_etag(data))

    def create_exclusive(self, key: str, data: bytes) -> str | None:
        require_mutable_key(key)
        path = self._path(key)
        tmp = self._write_temp(key, data, mode=0o600)
        try:
            with self._mutable_lock():
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    return None
                except OSError as exc:
                    raise self._error("creating", key, exc) from exc
            self._sync_dir(path.parent)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return _etag(data)

    def replace_if(self, key: str, data: bytes, *, etag: str) -> str | None:
        require_mutable_key(key)
        with self._mutable_lock():
            if self._current_etag(key) != etag:
                return None
            self._replace(key, data)
        return _etag(data)

    def delete_if(self, key: str, *, etag: str) -> bool:
        require_mutable_key(key)
        with self._mutable_lock():
            if self._current_etag(key) != etag:
                return False
            self._unlink(key)
        return True

    def delete(self, key: str) -> None:
        require_mutable_key(key)
        with self._mutable_lock():
            self._unlink(key)

    # --- helpers ------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*key.split("/"))

    def _error(self, stage: str, key: str, exc: OSError) -> ArchiveError:
        if isinstance(exc, (NotADirectoryError, IsADirectoryError)):
            return ArchiveInputError(
                f"key {key} clashes with another key in {self.url} (a name is both an object "
                "and a folder)"
            )
        return StoreError(f"while {stage} {key} in {self.url}: {exc}", store=self.url, key=key)

    def _write_temp(self, key: str, data: bytes, *, mode: int) -> str:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ArchiveInputError(f"object data must be bytes, got {type(data).__name__}")
        try:
            _private_dirs(self._path(key).parent)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ArchiveInputError(
                f"key {key} clashes with another key in {self.url} (a name is both an object "
                "and a folder)"
            ) from exc
        except OSError as exc:
            raise self._error("writing", key, exc) from exc
        fd, tmp = tempfile.mkstemp(dir=self._tmp, prefix="w-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fchmod(out.fileno(), mode)
                os.fsync(out.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise self._error("writing", key, exc) from exc
        return tmp

    def _replace(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = self._write_temp(key, data, mode=0o600)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise self._error("writing", key, exc) from exc
        self._sync_dir(path.parent)

    def _unlink(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._error("deleting", key, exc) from exc
        self._sync_dir(path.parent)

    def _current_etag(self, key: str) -> str | None:
        try:
            return _etag(self._path(key).read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._error("reading", key, exc) from exc

    def _open_lock(self) -> BinaryIO:
        try:
            return open(self._lock_path, "a+b", opener=lambda p, f: os.open(p, f, 0o600))
        except OSError as exc:
            raise StoreError(f"while locking {self.url}: {exc}", store=self.url) from exc

    @contextlib.contextmanager
    def _mutable_lock(self) -> Iterator[None]:
        with self._thread_lock, self._open_lock() as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _sync_dir(self, directory: Path) -> None:
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
