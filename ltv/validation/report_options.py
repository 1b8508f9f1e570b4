"""How a report is shown to people: language, time zone, era, and the holder's personal data.

Renderers of human-facing reports (text lines, HTML, PDF) take one :class:`ReportOptions`;
machine formats (JSON, XML) take it too but only ``show_holder_details`` changes them (the
holder's address, birth date and gender are personal data: left out unless asked for, and
never logged).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ReportOptions"]


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """``lang``: ``en``/``ja``; ``tz``: IANA zone (None: UTC for en, Asia/Tokyo for ja);
    ``era``: Japanese era dates (ja only); ``show_holder_details``: address, birth date, gender.
    """

    lang: str = "en"
    tz: str | None = None
    era: bool = False
    show_holder_details: bool = False
