"""Progress of long work on stderr: a rich bar on a terminal, else plain lines or nothing.

rich is imported only when a bar is drawn (start-up stays fast), and only when stderr is a
TTY: a pipe or a log file never gets escape codes. ``plain=True`` writes ``STAGE: DONE/TOTAL``
lines (about ten per stage) where there is no terminal; ``enabled=False`` (``--quiet``) shows
nothing.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ltv.i18n import N_
from ltv.i18n import gettext as _

__all__ = ["Progress"]

# the stages archive.renew reports (shown in the run's language)
_STAGES = (N_("timestamp renewal"), N_("rehashing"), N_("hash-tree renewal"))


class Progress:
    """``progress(stage, done, total)``; a context manager around the work."""

    def __init__(self, *, plain: bool = True, enabled: bool = True,
                 transient: bool = False, threadless: bool = False) -> None:
        self._transient = transient
        self._threadless = threadless  # redraw on each call, no refresh thread (forks stay safe)
        self._plain = plain
        self._enabled = enabled
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._last: dict[str, int] = {}

    def __enter__(self) -> Progress:
        if self._enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(console=Console(stderr=True), transient=self._transient,
                                     auto_refresh=not self._threadless)
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self._enabled:
            return
        stage = _(stage)
        if self._bar is not None:
            task = self._tasks.get(stage)
            if task is None:
                task = self._tasks[stage] = self._bar.add_task(stage, total=total)
            self._bar.update(task, completed=done, refresh=self._threadless)
            return
        if not self._plain:
            return
        step = max(1, total // 10)
        if done == total or done - self._last.get(stage, 0) >= step:
            self._last[stage] = done
            click.echo(f"{stage}: {done}/{total}", err=True)
