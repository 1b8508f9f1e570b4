"""Shared pieces of the command line: error mapping, exit codes, option types."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any, NoReturn

import click

from ltv.clock import parse_time
from ltv.errors import LtvError
from ltv.i18n import gettext as _

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INDETERMINATE", "EXIT_PASSED", "EXIT_USAGE",
           "TIME", "fail"]

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INDETERMINATE = 3
EXIT_BAD_INPUT = 4


class TimeParam(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 time with zone (``2030-01-01T00:00:00Z``) or a date (midnight UTC)."""

    name = "ISO8601"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value))
        except LtvError as exc:
            self.fail(str(exc), param, ctx)


TIME = TimeParam()


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line on stderr and exit with ``code``."""
    click.echo(_("ltv: error: {message}").format(message=message), err=True)
    sys.exit(code)
