"""Languages on the command line: ``--lang``, ``--tz``, ``--era`` and translated help.

The language is chosen once per run, before any sub-command module is loaded:
``--lang X`` / ``--lang=X`` anywhere in argv (before ``--``), else ``LTV_LANG``, else the
locale (:func:`ltv.i18n.negotiate`). Help texts are written in English (marked with ``N_``) and
translated when a command is fetched (:func:`localize` keeps the English originals, so one
process can show help in both languages); click's own words (``Usage:``, ``Options``, its
usage errors) are translated through the same "cli" catalog (:func:`install_click_texts`).
Every command gets ``--lang``; commands that show dates get ``--tz`` and ``--era``
(:func:`date_options`), whose values live in the click context (:func:`show_time`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import click

from ltv.i18n import LANGUAGES, N_, negotiate, translate
from ltv.i18n import gettext as _

__all__ = ["choose_language", "date_options", "date_settings", "install_click_texts",
           "lang_option", "localize", "show_time"]

_F = TypeVar("_F", bound=Callable[..., Any])
_META_TZ = "ltv.tz"
_META_ERA = "ltv.era"
_EN_HELP = "_ltv_en_help"

# click's own words, translated from the "cli" catalog (click calls gettext on them itself)
_CLICK_TEXTS = (
    N_("Usage:"), N_("Options"), N_("Commands"), N_("Positional arguments"),
    N_("Show this message and exit."), N_("Show the version and exit."),
    N_("Error: {message}"), N_("Try '{command} {option}' for help."),
    N_("Invalid value: {message}"), N_("Invalid value for {param_hint}: {message}"),
    N_("Missing argument"), N_("Missing option"), N_("Missing parameter"),
    N_("No such option {name!r}."), N_("No such option: {name}"),
    N_("No such command {name!r}."), N_("Missing command."), N_("Aborted!"),
    N_("default: {default}"), N_("env var: {var}"), N_("required"),
    N_("Got unexpected extra argument ({args})"),
    N_("Got unexpected extra arguments ({args})"),
    N_("Option {name!r} requires an argument."),
    N_("{value!r} is not one of {choices}."), N_("{value!r} is not {choice}."),
    N_("{value!r} is not a valid integer."), N_("{value!r} is not a valid float."),
    N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is a file."), N_("File"), N_("Directory"), N_("Path"),
    N_("{name} {filename!r} is not readable."), N_("Did you mean {possibility}?"),
    N_("(Did you mean one of: {possibilities}?)"),
)


def _prescan(argv: Sequence[str]) -> str | None:
    """The last ``--lang X`` / ``--lang=X`` of ``argv`` before ``--`` (None: not given)."""
    chosen: str | None = None
    items = list(argv)
    for index, item in enumerate(items):
        if item == "--":
            break
        if item == "--lang" and index + 1 < len(items):
            chosen = items[index + 1]
        elif item.startswith("--lang="):
            chosen = item.partition("=")[2]
    return chosen


def choose_language(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """``--lang`` in argv, else ``LTV_LANG``, else the locale; an unknown ``--lang`` is left
    for click to refuse (the environment decides the language of that error)."""
    env = os.environ if environ is None else environ
    try:
        return negotiate(_prescan(argv), None, env)
    except ValueError:
        return negotiate(None, None, env)


def _click_gettext(message: str) -> str:
    return translate(message, domain="cli")


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    return translate(singular if n == 1 else plural, domain="cli")


def install_click_texts() -> None:
    """Route click's own gettext calls to the "cli" catalog (English stays the msgid)."""
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.parser
    import click.types

    for module in (click.core, click.decorators, click.exceptions, click.formatting,
                   click.parser, click.types):
        if hasattr(module, "_"):
            module._ = _click_gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = _click_ngettext  # type: ignore[attr-defined]


def _translated(obj: Any, attr: str) -> None:
    key = f"{_EN_HELP}_{attr}"
    if not hasattr(obj, key):
        setattr(obj, key, getattr(obj, attr, None))
    english = getattr(obj, key)
    if english:
        setattr(obj, attr, translate(english, domain="cli"))


def _check_lang(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    return value  # chosen before parsing (choose_language); click.Choice refused others


def lang_option() -> click.Option:
    """``--lang ja|en`` (read before parsing; see :func:`choose_language`)."""
    return click.Option(["--lang"], type=click.Choice(LANGUAGES), expose_value=False,
                        callback=_check_lang, is_eager=True,
                        help=N_("Language of the output and help: ja or en (default: "
                                "$LTV_LANG, then the locale)."))


def localize(command: click.Command) -> click.Command:
    """Translate ``command``'s help (and its sub-commands') into the current language and
    give it ``--lang``; idempotent, and reversible since the English is kept."""
    if not any(p.name == "lang" for p in command.params):
        command.params.append(lang_option())
    _translated(command, "help")
    _translated(command, "short_help")
    command._help_option = None  # click caches it with its text: made again in this language
    for param in command.params:
        if isinstance(param, click.Option):
            _translated(param, "help")
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            localize(sub)
    return command


def _keep(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if key == _META_TZ and value:
            from ltv.i18n.dates import resolve_timezone

            try:
                resolve_timezone(value)
            except ValueError as exc:
                raise click.BadParameter(
                    _("unknown time zone {name!r} (an IANA name such as Asia/Tokyo)").format(
                        name=value)) from exc
        ctx.meta[key] = value
        return value

    return callback


def date_options(command: _F) -> _F:
    """``--tz ZONE`` and ``--era`` for a command that shows dates (values in the context)."""
    command = click.option(
        "--era", is_flag=True, expose_value=False, callback=_keep(_META_ERA),
        help=N_("Show dates with the Japanese era (令和8年12月3日); Japanese output only."),
    )(command)
    return click.option(
        "--tz", metavar="ZONE", envvar="LTV_TZ", expose_value=False, callback=_keep(_META_TZ),
        help=N_("Time zone of the dates shown (IANA name; default: Asia/Tokyo for Japanese, "
                "UTC for English)."),
    )(command)


def date_settings() -> tuple[str | None, bool]:
    """(``--tz``, ``--era``) of the running command (None, False outside one)."""
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    return meta.get(_META_TZ), bool(meta.get(_META_ERA))


def show_time(value: datetime | None) -> str:
    """A time as the command's options want it: ISO 8601 UTC (English, no ``--tz``/``--era``,
    what scripts parse), else in the zone and the language's form."""
    from ltv.clock import format_time
    from ltv.i18n import current_language
    from ltv.i18n.dates import format_datetime

    if value is None:
        return "-"
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    tz = meta.get(_META_TZ)
    era = bool(meta.get(_META_ERA))
    lang = current_language()
    if lang == "en" and not tz and not era:
        return format_time(value)
    return format_datetime(value, lang, tz, era)
