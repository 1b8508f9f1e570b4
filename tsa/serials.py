"""Serial numbers of time-stamp tokens: unique across restarts, crashes and worker processes.

RFC 3161 §2.4.2: "Time-Stamping users MUST be ready to accommodate integers up to 160 bits" and
serialNumber must be unique for each token issued by a given TSA. We hand out positive integers
from 1 up to ``2**159 - 1`` (at most 20 octets in DER, so every conforming client can read them).

**Block reservation** (:class:`FileSerialAllocator`). The state directory holds two files:

``serial.next``
    the first serial no process has reserved yet, in decimal, one line.
``serial.lock``
    an empty file that serialises reservations through an exclusive ``fcntl.flock``.

To reserve a block a process takes the lock, reads ``serial.next`` (absent means 1), writes
``next + block_size`` to ``serial.next.tmp``, fsyncs it, renames it over ``serial.next`` and
fsyncs the directory, then releases the lock. The block ``[next, next + block_size)`` now belongs
to that process alone; it hands it out from memory under a thread lock. Hence:

* several worker processes (and several servers) sharing one state directory never overlap: the
  lock orders their reservations and each sees the previous one's durable write;
* a crash, even SIGKILL or power loss after the fsyncs, loses at most the unused rest of the
  block, and never reuses a serial: the rename is atomic, so ``serial.next`` is either the old
  or the new value, and the new value is on disk before any serial of the block is issued;
* a process forked after reserving discards its inherited block (the parent may still use it).

Serials are therefore unique but not gap-free, and not ordered across processes; RFC 3161 asks
for neither (ordering is the separate ``ordering`` field, which we leave FALSE).

**Bound to the key** (:class:`KeyBoundSerials`, what the servers issue). A counter is unique
only within its state directory, but the same TSA key may be served from two directories (``ltv
pki serve`` keeps ``pki/tsa-state``, ``ltv serve --tsa-state-dir`` another one) or from a
directory restored from an old backup; both would hand out 1, 2, 3 again under the same key.
So a served serial is ``counter << 64 | r`` with ``r`` 64 fresh random bits
(:func:`secrets.randbits`): within a directory the counter alone keeps serials apart (whatever
key draws on it, so a directory reused with another key never re-issues a serial any key took
from it); across directories two serials collide only if both the counter and 64 random bits
agree (2**-64 per counter value). Every key that draws on a directory is recorded in
``serial.keys`` (SHA-256 of its SubjectPublicKeyInfo, one per line), so the operator sees which
keys share the directory. Counter serials issued before this scheme are below ``2**64``; the
bound ones are all at or above it, so old and new never meet.

:class:`MemorySerialSource` is the in-process variant for tests and an embedded TSA whose tokens
do not outlive the process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
from pathlib import Path
from typing import Protocol

from tsa.errors import SerialAllocationError, TsaConfigurationError

__all__ = [
    "MAX_SERIAL",
    "RANDOM_BITS",
    "FileSerialAllocator",
    "KeyBoundSerials",
    "MemorySerialSource",
    "SerialSource",
]

#: The largest serial we issue: a positive INTEGER of at most 160 bits (20 DER octets).
MAX_SERIAL = 2**159 - 1
#: Random low bits of a key-bound serial (:class:`KeyBoundSerials`).
RANDOM_BITS = 64

_NEXT = "serial.next"
_LOCK = "serial.lock"
_TMP = "serial.next.tmp"
_KEYS = "serial.keys"


class SerialSource(Protocol):
    """Gives a fresh, never repeated, positive serial number on each call (thread-safe)."""

    def next_serial(self) -> int: ...


class MemorySerialSource:
    """Serials counted in memory from ``start`` (tests, and an in-process TSA)."""

    def __init__(self, start: int = 1) -> None:
        if not 1 <= start <= MAX_SERIAL:
            raise TsaConfigurationError(f"a serial number starts at 1 or more, not {start}")
        self._next = start
        self._lock = threading.Lock()

    def next_serial(self) -> int:
        with self._lock:
            serial = self._next
            if serial > MAX_SERIAL:
                raise SerialAllocationError("all 159-bit serial numbers have been issued")
            self._next = serial + 1
            return serial


class FileSerialAllocator:
    """Serials reserved in blocks from a state directory shared by any number of processes.

    See the module docstring for the protocol. ``block_size`` trades the number of fsyncs
    (one reservation per block) against the serials a crash may skip.
    """

    def __init__(self, state_dir: Path, *, block_size: int = 256) -> None:
        if block_size < 1:
            raise TsaConfigurationError(f"the serial block size must be positive, not {block_size}")
        self.state_dir = Path(state_dir)
        self.block_size = block_size
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TsaConfigurationError(
                f"cannot create the TSA state directory {self.state_dir}: {exc.strerror or exc}"
            ) from exc
        if not os.access(self.state_dir, os.W_OK | os.X_OK):
            raise TsaConfigurationError(f"the TSA state directory {self.state_dir} is not writable")
        self._lock = threading.Lock()
        self._next = 0
        self._end = 0  # exclusive; _next == _end means no block in hand
        self._pid = os.getpid()

    def next_serial(self) -> int:
        with self._lock:
            if self._pid != os.getpid():  # forked: the block belongs to the parent
                self._next = self._end = 0
                self._pid = os.getpid()
            if self._next >= self._end:
                self._next, self._end = self._reserve()
            serial = self._next
            self._next += 1
            return serial

    def recorded_keys(self) -> list[str]:
        """The key fingerprints recorded in ``serial.keys`` (see :class:`KeyBoundSerials`)."""
        try:
            text = (self.state_dir / _KEYS).read_text(encoding="ascii")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise SerialAllocationError(f"cannot read {self.state_dir / _KEYS}: {exc}") from exc
        return [line.strip() for line in text.splitlines() if line.strip()]

    def record_key(self, fingerprint: str) -> None:
        """Add ``fingerprint`` to ``serial.keys`` (once; under the lock; fsynced)."""
        lock_fd = self._open_lock()
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            if fingerprint in self.recorded_keys():
                return
            fd = os.open(self.state_dir / _KEYS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, f"{fingerprint}\n".encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise TsaConfigurationError(
                f"cannot record the TSA key in {self.state_dir}: {exc.strerror or exc}"
            ) from exc
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)

    def _open_lock(self) -> int:
        try:
            return os.open(self.state_dir / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SerialAllocationError(
                f"cannot open {self.state_dir / _LOCK}: {exc.strerror or exc}"
            ) from exc

    def peek_state(self) -> int:
        """The value of ``serial.next`` on disk (1 before the first reservation); for tooling."""
        return self._read_next(self.state_dir / _NEXT)

    def _reserve(self) -> tuple[int, int]:
        """Reserve the next block under the directory lock; return ``(first, end)``."""
        lock_fd = self._open_lock()
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            first = self._read_next(self.state_dir / _NEXT)
            end = first + self.block_size
            if end - 1 > MAX_SERIAL:
                raise SerialAllocationError(
                    f"the serial numbers in {self.state_dir} are exhausted (next would be {first})"
                )
            self._write_next(end)
            return first, end
        except OSError as exc:
            raise SerialAllocationError(
                f"cannot reserve serial numbers in {self.state_dir}: {exc.strerror or exc}"
            ) from exc
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)

    @staticmethod
    def _read_next(path: Path) -> int:
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return 1
        except (OSError, UnicodeDecodeError) as exc:
            raise SerialAllocationError(f"cannot read the serial state {path}: {exc}") from exc
        value = text.strip()
        if not value.isdigit() or int(value) < 1:
            # Never guess: restarting from 1 would reuse serials.
            raise SerialAllocationError(
                f"the serial state {path} is corrupt ({text[:40]!r}); restore it from a backup "
                "or set it above the highest serial ever issued"
            )
        return int(value)

    def _write_next(self, value: int) -> None:
        tmp = self.state_dir / _TMP
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, f"{value}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.state_dir / _NEXT)
        dir_fd = os.open(self.state_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class KeyBoundSerials:
    """The serials one TSA key issues: ``counter << 64 | 64 random bits`` (module docstring).

    ``counter`` is the durable counter (a :class:`FileSerialAllocator` for a served TSA), shared
    by every key that uses its directory; ``key_fingerprint`` is the SHA-256 of the key's
    SubjectPublicKeyInfo (hex), recorded in the directory's ``serial.keys`` on construction.
    """

    def __init__(self, counter: SerialSource, *, key_fingerprint: str) -> None:
        if len(key_fingerprint) != 64 or any(c not in "0123456789abcdef" for c in key_fingerprint):
            raise TsaConfigurationError("the key fingerprint must be a lowercase hex SHA-256")
        self.counter = counter
        self.key_fingerprint = key_fingerprint
        if isinstance(counter, FileSerialAllocator):
            counter.record_key(key_fingerprint)

    def next_serial(self) -> int:
        count = self.counter.next_serial()
        if count > MAX_SERIAL >> RANDOM_BITS:
            raise SerialAllocationError("all key-bound serial numbers have been issued")
        return (count << RANDOM_BITS) | secrets.randbits(RANDOM_BITS)
