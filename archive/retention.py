"""Retention only grows: the operator's floor, a tenant's request, the effective retain-until.

The operator sets a floor (``--min-retention``, default :data:`DEFAULT_MIN_RETENTION`, ten
years). A package's retention is the floor counted from its ingest, unless the tenant asks for a
later ``retain-until``; a request before the floor is refused (:class:`RetentionError`), never
silently raised or lowered, and so is one beyond :data:`MAX_RETENTION` (a COMPLIANCE lock can
never be lifted, so a typo of 9999 would pin the storage for ever).

Every object a package depends on gets at least its retention: the blobs and the manifest, the
batch's evidence-record entries (the longest retention of the batch's packages) and the
material blobs of its renewals. A content-addressed blob shared by several packages keeps the
longest retention any of them asked for (:meth:`archive.store.ObjectStore.extend_retention`).

Periods are calendar periods (``10y`` is ten calendar years, not 3650 days), so a floor is never
a few leap days short. Pure logic, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from archive.errors import ArchiveInputError, RetentionError
from ltv.clock import format_time

__all__ = [
    "DEFAULT_MIN_RETENTION",
    "MAX_RETENTION",
    "RetentionPeriod",
    "effective_retention",
    "longest",
]

_PERIOD = re.compile(r"^(?:(\d{1,3})y)?(?:(\d{1,6})d)?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPeriod:
    """A retention period in calendar years plus days (``10y``, ``30d``, ``1y180d``)."""

    years: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        if self.years < 0 or self.days < 0 or (self.years == 0 and self.days == 0):
            raise ArchiveInputError("a retention period must be positive")

    @classmethod
    def parse(cls, text: str) -> RetentionPeriod:
        """``10y``, ``3650d`` or ``1y180d``; :class:`ArchiveInputError` otherwise."""
        match = _PERIOD.match(text.strip().lower()) if isinstance(text, str) else None
        if match is None or not any(match.groups()):
            raise ArchiveInputError(
                f"not a retention period: {text!r} (e.g. 10y, 3650d or 1y180d)")
        return cls(years=int(match.group(1) or 0), days=int(match.group(2) or 0))

    @classmethod
    def of_days(cls, days: int) -> RetentionPeriod:
        return cls(days=days)

    def after(self, at: datetime) -> datetime:
        """``at`` plus this period; 29 February plus whole years lands on 1 March (later,
        never earlier)."""
        if at.tzinfo is None:
            raise ArchiveInputError("retention needs an aware UTC datetime")
        year = at.year + self.years
        try:
            moved = at.replace(year=year)
        except ValueError:  # 29 February into a common year
            moved = at.replace(year=year, month=3, day=1)
        return moved + timedelta(days=self.days)

    def __str__(self) -> str:
        return (f"{self.years}y" if self.years else "") + (f"{self.days}d" if self.days else "")


DEFAULT_MIN_RETENTION = RetentionPeriod(years=10)
MAX_RETENTION = RetentionPeriod(years=100)


def effective_retention(requested: datetime | None, *, now: datetime,
                        floor: RetentionPeriod = DEFAULT_MIN_RETENTION) -> datetime:
    """The retain-until of a package ingested at ``now``: ``requested`` if given (it may only
    extend the floor), else the floor. :class:`RetentionError` for a request before the floor
    or beyond :data:`MAX_RETENTION`."""
    minimum = floor.after(now)
    if requested is None:
        return minimum
    if requested.tzinfo is None:
        raise RetentionError("retain-until needs a time zone (e.g. 2040-01-01T00:00:00Z)")
    requested = requested.astimezone(UTC)
    if requested < minimum:
        raise RetentionError(
            f"retain-until {format_time(requested)} is before the minimum retention "
            f"({floor}: {format_time(minimum)}); retention can be extended, never shortened")
    maximum = MAX_RETENTION.after(now)
    if requested > maximum:
        raise RetentionError(
            f"retain-until {format_time(requested)} is beyond the maximum retention "
            f"({MAX_RETENTION}: {format_time(maximum)})")
    return requested


def longest(*values: datetime | None) -> datetime | None:
    """The latest of the given retain-until values (None when there is none)."""
    present = [v for v in values if v is not None]
    return max(present) if present else None
