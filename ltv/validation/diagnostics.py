"""What the libraries log during a validation goes into the report, one line each.

pyHanko, pyhanko-certvalidator, asyncio, urllib3, httpx and ``warnings`` speak through
:mod:`logging`; left alone, Python's last-resort handler prints their warnings (with
tracebacks) on stderr, where an auditor reads them as crashes. :func:`library_log` collects
the WARNING-and-above records of the validating thread into one-line notes (the exception's
type and first line, never the traceback) for the report's ``warnings``, and marks each record
``ltv_captured`` so that the CLI's stderr handler does not print it a second time.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

__all__ = ["LIBRARY_LOGGERS", "MAX_NOTES", "LogNotes", "library_log", "one_line"]

#: The loggers whose records are collected (children included).
LIBRARY_LOGGERS = ("pyhanko", "pyhanko_certvalidator", "asyncio", "urllib3", "httpx",
                   "httpcore", "fontTools", "py.warnings")
#: At most this many notes per validation; the rest are counted.
MAX_NOTES = 20
_LENGTH = 300


def one_line(text: str, *, limit: int = _LENGTH) -> str:
    """``text`` on one line (control characters and newlines become spaces), shortened."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class LogNotes(logging.Handler):
    """Collects records of one thread as one-line notes."""

    def __init__(self, thread: int) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = thread
        self.notes: list[str] = []
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        record.ltv_captured = True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message}: {type(exc).__name__}: {exc}"
        note = one_line(f"{record.name}: {message}")
        if note in self.notes:
            return
        if len(self.notes) >= MAX_NOTES:
            self.dropped += 1
            return
        self.notes.append(note)

    def lines(self) -> tuple[str, ...]:
        more = (f"{self.dropped} more library message(s) not shown",) if self.dropped else ()
        return (*self.notes, *more)


@contextlib.contextmanager
def library_log() -> Iterator[LogNotes]:
    """Collect the libraries' warnings of the current thread while the block runs."""
    handler = LogNotes(threading.get_ident())
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
