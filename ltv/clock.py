"""Time as a port: the only module that reads the wall clock.

Everything time-dependent in ltv takes an aware UTC ``at=`` or a :class:`Clock`, so that "validate
in 2040" or "run the TSA as if it were 2030" is an input, not a wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ltv.errors import InputError

__all__ = ["Clock", "FixedClock", "OffsetClock", "SystemClock", "format_time", "parse_time"]


class Clock(Protocol):
    """Tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FixedClock:
    """A clock stopped at ``at`` (tests, and validation at a chosen time)."""

    at: datetime

    def __post_init__(self) -> None:
        _require_aware(self.at)

    def now(self) -> datetime:
        return self.at


@dataclass(frozen=True, slots=True)
class OffsetClock:
    """A clock that starts at ``start`` and then ticks with real time.

    This is what ``--at`` gives the sample servers: a ten-year timeline is played by starting
    them at chosen instants, while timestamps issued in one run still move forward.
    """

    start: datetime
    _origin: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        _require_aware(self.start)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._origin)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError(f"time {at.isoformat()} has no time zone; use UTC, e.g. ...Z")


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time (``2030-01-01``, ``2030-01-01T09:00:00+09:00``, ``...Z``) to UTC.

    A date alone means midnight UTC; a time without offset is refused, since a validation
    time that silently depends on the machine's zone is a trap for auditors.
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            parsed = datetime.fromisoformat(raw).replace(tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"not an ISO 8601 time: {text!r} (e.g. 2030-01-01T00:00:00Z)") from exc
    if parsed.tzinfo is None:
        raise InputError(f"time {text!r} has no time zone; add Z or an offset such as +09:00")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise InputError(f"time {text!r} is outside the years 1 to 9999 in UTC") from exc


def format_time(at: datetime) -> str:
    """Render a time as ISO 8601 UTC with a ``Z`` (the form every report and file uses)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
