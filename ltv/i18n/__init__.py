"""Languages of human-facing text: English and Japanese, from gettext catalogs.

Messages are written in English in the code, marked with :func:`gettext` (imported as ``_``)
or :func:`N_` (marked for extraction, translated later), and translated from catalogs under
``ltv/i18n/locale/<lang>/LC_MESSAGES/<domain>.po``; the compiled ``.mo`` next to each ``.po``
is what runs (stdlib :mod:`gettext`, no dependency at run time). One domain per owner keeps
catalogs apart: see :data:`DOMAINS`. ``python -m ltv.i18n.catalogs update|compile|check``
(Babel, a development dependency) extracts, merges and compiles; a test fails when a message
exists in one language only.

The language of a call is, in order: an explicit choice (``--lang``, ``?lang=``), then
``Accept-Language`` (HTTP), then ``LTV_LANG``, then the POSIX locale (``LC_ALL``,
``LC_MESSAGES``, ``LANG``); English otherwise. :func:`use_language` sets it for a block
(a context variable, so concurrent requests do not mix).
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext as _gettext
import os
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path

__all__ = [
    "DEFAULT_LANGUAGE",
    "DOMAINS",
    "LANGUAGES",
    "N_",
    "current_language",
    "gettext",
    "negotiate",
    "ngettext",
    "parse_accept_language",
    "translate",
    "use_language",
]

LANGUAGES: tuple[str, ...] = ("en", "ja")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).parent / "locale"

# domain -> source globs (relative to the repository root) whose marked messages it holds.
# Each domain has one owner; a message used by several parts lives in "common".
DOMAINS: Mapping[str, tuple[str, ...]] = {
    "common": ("ltv/i18n/*.py", "ltv/validation/explain.py"),
    "cli": ("ltv/cli/*.py",),
    "report": ("ltv/validation/report_*.py", "ltv/validation/summary.py",
               "ltv/server/web*.py", "ltv/report_pdf.py"),
    "console": ("ltv/server/console*.py", "ltv/server/routes_console*.py"),
    "server": ("ltv/server/problems.py", "ltv/server/errors.py", "ltv/server/refusals.py",
               "ltv/server/routes_approve.py", "ltv/server/routes_archive.py"),
}

_LANG: contextvars.ContextVar[str | None] = contextvars.ContextVar("ltv_lang", default=None)


def _supported(tag: str | None) -> str | None:
    """``ja``, ``ja-JP``, ``ja_JP.UTF-8`` → ``ja``; unknown or empty → None."""
    if not tag:
        return None
    base = tag.strip().replace("_", "-").split(".")[0].split("@")[0].split("-")[0].lower()
    return base if base in LANGUAGES else None


def parse_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header (RFC 9110 §12.5.4)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:32]):
        fields = part.strip().split(";")
        quality = 1.0
        for param in fields[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        lang = _supported(fields[0])
        if lang is not None and quality > 0:
            ranked.append((-quality, index, lang))
    return min(ranked)[2] if ranked else None


def negotiate(explicit: str | None = None, accept_language: str | None = None,
              environ: Mapping[str, str] | None = None) -> str:
    """The language to use: explicit choice, Accept-Language, ``LTV_LANG``, locale, English.

    An explicit choice that is not supported raises :class:`ValueError` naming the choices.
    """
    if explicit:
        lang = _supported(explicit)
        if lang is None:
            raise ValueError(f"unsupported language {explicit!r} (choose {', '.join(LANGUAGES)})")
        return lang
    lang = parse_accept_language(accept_language)
    if lang is not None:
        return lang
    env = os.environ if environ is None else environ
    for name in ("LTV_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            # the first locale variable that is set decides, as POSIX says (C → English)
            return _supported(value) or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def current_language() -> str:
    """The language set by :func:`use_language`, else from the environment."""
    return _LANG.get() or negotiate()


@contextlib.contextmanager
def use_language(lang: str) -> Iterator[str]:
    """Translate into ``lang`` inside the block (``ja`` / ``en``)."""
    chosen = _supported(lang) or DEFAULT_LANGUAGE
    token = _LANG.set(chosen)
    try:
        yield chosen
    finally:
        _LANG.reset(token)


def set_language(lang: str) -> str:
    """Set the language for the rest of this context (the CLI's ``--lang``)."""
    chosen = _supported(lang) or DEFAULT_LANGUAGE
    _LANG.set(chosen)
    return chosen


@lru_cache(maxsize=32)
def _catalog(lang: str, domain: str) -> _gettext.NullTranslations:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.mo"
    if not path.is_file():
        return _gettext.NullTranslations()
    with path.open("rb") as handle:
        return _gettext.GNUTranslations(handle)


def translate(message: str, lang: str | None = None, domain: str | None = None) -> str:
    """``message`` in ``lang`` (default: the current language), looked up in every domain."""
    chosen = lang or current_language()
    domains = (domain,) if domain else tuple(DOMAINS)
    for name in domains:
        translated = _catalog(chosen, name).gettext(message)
        if translated != message:
            return translated
    return message


def gettext(message: str) -> str:
    """``message`` in the current language (mark with ``_ = gettext``)."""
    return translate(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Singular/plural in the current language (Japanese has one form)."""
    chosen = current_language()
    for name in DOMAINS:
        catalog = _catalog(chosen, name)
        translated = catalog.ngettext(singular, plural, n)
        if translated not in (singular, plural):
            return translated
    return singular if n == 1 else plural


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now."""
    return message
