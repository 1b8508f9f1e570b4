"""Dates for people: ISO in UTC by default, JST for Japanese, the Japanese era on request.

``format_datetime(dt, lang="ja")`` → ``2026年12月3日 20:31:05 JST``; with ``era=True`` →
``令和8年12月3日 20:31:05 JST``; ``format_date`` omits the time. English keeps the ISO form
(``2026-12-03 11:31:05 UTC``) in the zone asked for. Eras follow the Cabinet Office's dates
(令和 from 2019-05-01, 平成 from 1989-01-08, 昭和 from 1926-12-25); the first year is 元年.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["default_timezone", "era_year", "format_date", "format_datetime", "resolve_timezone"]

_ERAS: tuple[tuple[date, str], ...] = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
    (date(1912, 7, 30), "大正"),
    (date(1868, 10, 23), "明治"),
)


def default_timezone(lang: str) -> str:
    """``Asia/Tokyo`` for Japanese, ``UTC`` otherwise."""
    return "Asia/Tokyo" if lang == "ja" else "UTC"


def resolve_timezone(name: str | None, lang: str = "en") -> ZoneInfo | timezone:
    """The zone ``name`` (IANA), or the language's default; ValueError names an unknown one."""
    chosen = name or default_timezone(lang)
    if chosen.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(chosen)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {chosen!r} (an IANA name such as Asia/Tokyo)") from exc


def era_year(day: date) -> tuple[str, int]:
    """(era name, year in the era) of ``day``; ValueError before 明治."""
    for start, name in _ERAS:
        if day >= start:
            return name, day.year - start.year + 1
    raise ValueError(f"{day.isoformat()} is before the Meiji era")


def _zone_label(dt: datetime) -> str:
    label = dt.tzname() or ""
    return "UTC" if label in ("", "UTC", "+00:00") else label


def format_date(value: datetime | date, lang: str = "en", tz: str | None = None,
                era: bool = False) -> str:
    """The calendar day of ``value`` in the zone, in the language's form."""
    day = value.astimezone(resolve_timezone(tz, lang)).date() if isinstance(value, datetime) \
        else value
    if lang != "ja":
        return day.isoformat()
    if era:
        name, year = era_year(day)
        year_text = "元" if year == 1 else str(year)
        return f"{name}{year_text}年{day.month}月{day.day}日"
    return f"{day.year}年{day.month}月{day.day}日"


def format_datetime(value: datetime, lang: str = "en", tz: str | None = None,
                    era: bool = False) -> str:
    """Date and time of an aware ``value`` in the zone, with the zone's abbreviation."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(resolve_timezone(tz, lang))
    clock = local.strftime("%H:%M:%S")
    zone = _zone_label(local)
    if lang != "ja":
        return f"{local.date().isoformat()} {clock} {zone}"
    return f"{format_date(local, lang, tz, era)} {clock} {zone}"
