"""An ordered pool of forked workers for the command line: ``ltv validate`` of many files.

:class:`OrderedPool` runs ``work(i)`` for ``i`` in ``range(count)`` in up to ``jobs`` child
processes and yields the results in input order, each as soon as it and every one before it
are known. It is built on ``os.fork`` and pipes, not :mod:`multiprocessing`, for three reasons:

* start-up: a forked child already has every module the parent imported (the validation
  stack, its caches, the parsed policy and trust anchors), so it starts in about a
  millisecond and pays no import; nothing is pickled but an index out and a small result back;
* a child that dies (a signal, ``os._exit``, the OOM killer) costs exactly the item it was
  working on: that item's result is :class:`Lost`, a fresh child takes its place, the rest go
  on (:mod:`multiprocessing`'s pools hang or break every pending item);
* Ctrl-C: children ignore SIGINT; the parent, interrupted, ends them with SIGTERM (which
  unwinds their ``finally`` blocks, so a report being written is removed, never left half
  written) and waits for them before it re-raises.

Forking is only sound when the parent has no other thread (a lock held by another thread at the
fork stays held forever in the child): :func:`can_fork` says so, and the caller falls back to
running in-process. A child never returns into the caller's code: it ends with ``os._exit``, so
buffered output and ``atexit`` handlers of the parent are not run twice.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import selectors
import signal
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Lost", "OrderedPool", "can_fork", "default_jobs"]

T = TypeVar("T")
_HEADER = struct.Struct("!I")
_TERM_GRACE = 5.0  # seconds a child gets to unwind after SIGTERM before SIGKILL


@dataclass(frozen=True, slots=True)
class Lost:
    """The item's child process ended before answering (``why``: e.g. ``killed by SIGKILL``)."""

    why: str


def default_jobs(count: int) -> int:
    """Worker processes for ``count`` items: one per usable CPU, at most one per item; 1 (no
    pool at all) for a single item."""
    if count < 2:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, count))


def can_fork() -> bool:
    """Whether forking workers is sound here: a POSIX fork and no thread but this one."""
    return hasattr(os, "fork") and threading.active_count() == 1


class _Worker:
    __slots__ = ("buffer", "item", "pid", "results", "tasks")

    def __init__(self, pid: int, tasks: int, results: int) -> None:
        self.pid = pid
        self.tasks = tasks  # parent writes item indexes here
        self.results = results  # ... and reads length-prefixed pickles here
        self.buffer = bytearray()
        self.item: int | None = None  # the item in progress


class OrderedPool(Generic[T]):
    """``work(0) ... work(count - 1)`` in up to ``jobs`` forked children, results in input order.

    ``with OrderedPool(work, count, jobs) as pool: for result in pool: ...``: entering forks
    the children (so enter before starting any thread), iterating yields each result as soon
    as it and every one before it are known, leaving (normally, on an exception, on
    KeyboardInterrupt) ends every child before it returns. ``work`` runs in a child and must
    return a picklable value; an exception it raises ends that child (the item becomes
    :class:`Lost`): the caller catches what it can.
    """

    def __init__(self, work: Callable[[int], T], count: int, jobs: int) -> None:
        self._work = work
        self._count = count
        self._jobs = max(1, min(jobs, count))
        self._pending = iter(range(count))
        self._done: dict[int, T | Lost] = {}
        self._workers: dict[int, _Worker] = {}  # by result fd
        self._selector = selectors.DefaultSelector()

    def __enter__(self) -> OrderedPool[T]:
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # children do not scan (and so do not copy) the parent's objects
        try:
            for _ in range(self._jobs):
                self._spawn()
        except BaseException:  # SIGTERM, a broken pipe: the parent sees the exit
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        _stop(list(self._workers.values()))
        self._workers.clear()
        self._selector.close()
        gc.unfreeze()

    def __iter__(self) -> Iterator[T | Lost]:
        next_out = 0
        while next_out < self._count:
            while next_out in self._done:
                yield self._done.pop(next_out)
                next_out += 1
            if next_out < self._count:
                self._collect()

    def _collect(self) -> None:
        """Wait for at least one child to answer or die; record what it said."""
        for key, _events in self._selector.select():
            worker: _Worker = key.data
            answers = _receive(worker)
            if answers is not None:
                for index, value in answers:
                    self._done[index] = value
                    self._dispatch(worker)
                continue
            self._selector.unregister(worker.results)
            del self._workers[worker.results]
            why = _reap(worker)
            if worker.item is None:
                continue
            self._done[worker.item] = Lost(why)
            if can_fork():
                self._spawn()
            else:  # forking is no longer sound: the rest in this process
                for item in self._pending:
                    self._done[item] = self._work(item)

    def _dispatch(self, worker: _Worker) -> None:
        item = next(self._pending, None)
        worker.item = item
        if item is None:
            _close(worker.tasks)  # EOF: the child exits
            worker.tasks = -1
            return
        os.write(worker.tasks, _HEADER.pack(item))

    def _spawn(self) -> None:
        worker = _fork(self._work, list(self._workers.values()))
        self._workers[worker.results] = worker
        self._selector.register(worker.results, selectors.EVENT_READ, worker)
        self._dispatch(worker)


def _fork(work: Callable[[int], T], others: list[_Worker]) -> _Worker:
    task_read, task_write = os.pipe()
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(task_read)
        os.close(result_write)
        return _Worker(pid, task_write, result_read)
    # the child: never returns
    code = 0
    try:
        os.close(task_write)
        os.close(result_read)
        for other in others:  # the siblings' pipes: a child holds only its own
            _close(other.tasks)
            _close(other.results)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
        signal.signal(signal.SIGTERM, _terminated)
        _serve(work, task_read, result_write)
    except BaseException:  # SIGTERM, a broken pipe: the parent sees the exit
        code = 1
    finally:
        os._exit(code)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds finally blocks (temporary files are removed)


def _serve(work: Callable[[int], T], tasks: int, results: int) -> None:
    with os.fdopen(tasks, "rb", buffering=0) as incoming:
        while True:
            header = _read_exactly(incoming, _HEADER.size)
            if header is None:
                return
            (index,) = _HEADER.unpack(header)
            body = pickle.dumps((index, work(index)), protocol=pickle.HIGHEST_PROTOCOL)
            _write_all(results, _HEADER.pack(len(body)) + body)


def _read_exactly(stream: object, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))  # type: ignore[attr-defined]
        if not chunk:
            return None
        data += chunk
    return data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _receive(worker: _Worker) -> list[tuple[int, Any]] | None:
    """The complete answers now readable from ``worker``; None when its pipe closed."""
    try:
        chunk = os.read(worker.results, 1 << 16)
    except OSError:
        chunk = b""
    if not chunk:
        return None
    worker.buffer.extend(chunk)
    answers: list[tuple[int, Any]] = []
    while len(worker.buffer) >= _HEADER.size:
        (size,) = _HEADER.unpack_from(worker.buffer)
        if len(worker.buffer) < _HEADER.size + size:
            break
        body = bytes(worker.buffer[_HEADER.size:_HEADER.size + size])
        del worker.buffer[:_HEADER.size + size]
        answers.append(pickle.loads(body))  # noqa: S301 - our own child, over our own pipe
    return answers


def _reap(worker: _Worker) -> str:
    """Wait for a child whose pipe closed; how it ended, in words."""
    _close(worker.results)
    _close(worker.tasks)
    worker.results = worker.tasks = -1
    try:
        _pid, status = os.waitpid(worker.pid, 0)
    except ChildProcessError:
        return "the worker process ended"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"the worker process was killed by {name}"
    return f"the worker process ended with exit code {os.waitstatus_to_exitcode(status)}"


def _stop(workers: list[_Worker]) -> None:
    """End every child still running: EOF to the idle ones, SIGTERM to the busy ones, SIGKILL
    to those still there after a grace period; reap them all."""
    import time

    for worker in workers:
        _close(worker.tasks)
        if worker.item is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + _TERM_GRACE
    for worker in workers:
        _close(worker.results)
        while True:
            try:
                pid, _status = os.waitpid(worker.pid, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                break
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(worker.pid, 0)
                break
            time.sleep(0.005)


def _close(fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
