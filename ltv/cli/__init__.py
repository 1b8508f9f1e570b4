"""The ``ltv`` command line (an edge: parse, call the library, render, map errors).

Languages: ``--lang ja|en`` on every command (default ``LTV_LANG``, then the locale), read from
argv before any sub-command module loads (:mod:`ltv.cli._i18n`), so help, verdict lines,
errors and progress are in one language from the start.

Exit codes: 0 passed / success, 1 TOTAL-FAILED, 2 usage error, 3 INDETERMINATE, 4 bad input or
I/O. Errors print one line on stderr; ``-v`` (or ``LTV_VERBOSE=1``) adds the traceback.

Library logging (pyHanko, certvalidator, asyncio, urllib3, httpx, ``warnings``) reaches stderr
as one ``ltv: warning:`` line per record, never a traceback; what a validation collected into
its report (:mod:`ltv.validation.diagnostics`) is not printed twice. ``-v`` shows INFO records
and their tracebacks.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import traceback
from typing import Any

import click

from ltv import __version__
from ltv.cli._common import EXIT_BAD_INPUT
from ltv.cli._i18n import choose_language, install_click_texts, localize
from ltv.errors import LtvError
from ltv.i18n import N_, use_language
from ltv.i18n import gettext as _

__all__ = ["main"]

# Sub-command modules, each owning one verb or group; loaded lazily so `ltv --help` stays fast
# and a module still being written cannot break the others.
_COMMANDS: dict[str, tuple[str, str]] = {
    "pki": ("ltv.cli.pki", "pki"),
    "phone": ("ltv.cli.phone", "phone"),
    "tsa": ("ltv.cli.tsa", "tsa"),
    "sign": ("ltv.cli.sign", "sign"),
    "extend": ("ltv.cli.sign", "extend"),
    "validate": ("ltv.cli.validate", "validate"),
    "archive": ("ltv.cli.archive", "archive"),
    "serve": ("ltv.cli.serve", "serve"),
    "tenant": ("ltv.cli.tenant", "tenant"),
    "audit": ("ltv.cli.audit", "audit"),
    "demo": ("ltv.cli.demo", "demo"),
    "remote": ("ltv.cli.remote", "remote"),
    "completion": ("ltv.cli.completion", "completion"),
}


#: The first paragraph of each command's help, which ``ltv --help`` shortens as click does (a
#: command missing here is imported for its help line; tests/test_cli_startup.py checks both).
_SHORT_HELP: dict[str, str] = {
    "pki": N_("Sample JPKI-like PKI: root, card CA, smartphone CA, TSA, OCSP responders."),
    "phone": N_("Simulated smartphone: key made in its secure element, certificate from the "
                "sample PKI."),
    "tsa": N_("Run the RFC 3161 time-stamp authority."),
    "sign": N_("Sign FILE and raise the signature to --level (B-B, B-T, B-LT, B-LTA)."),
    "extend": N_("Raise an existing signature (ours or another tool's) to --level."),
    "validate": N_("Validate signed FILEs (EN 319 102-1) and print one verdict line per "
                   "signature."),
    "archive": N_("Evidence packages with RFC 4998 evidence records, renewed before they "
                  "weaken."),
    "serve": N_("Run the HTTP API (OpenAPI at /openapi.json and /docs, web page at /)."),
    "tenant": N_("Tenants of the HTTP API and their API keys."),
    "audit": N_("The audit trail: every state change and refusal by policy, as JSON lines."),
    "demo": N_("Play the sample story: PKI, phone, timestamps, signatures, revocation, "
                "validation."),
    "remote": N_("Remote signing: keys in the server's HSM, each signature approved by a "
                 "passkey."),
    "completion": N_("Print the completion script of SHELL (bash, zsh or fish); e.g. "
                     "eval \"$(ltv completion bash)\" in ~/.bashrc."),
}


def _present(name: str) -> bool:
    """Whether the module of command ``name`` exists (found, not imported)."""
    import importlib.util

    try:
        return importlib.util.find_spec(_COMMANDS[name][0]) is not None
    except (ImportError, ValueError):
        return False


def _error_types() -> tuple[type[BaseException], ...]:
    # An error of a module never imported cannot have been raised: look, do not import (the
    # archive package alone costs `ltv validate` ~50 ms at exit).
    types: list[type[BaseException]] = [LtvError, OSError]
    for module, name in (("tsa.errors", "TsaError"), ("archive.errors", "ArchiveError")):
        loaded = sys.modules.get(module)
        if loaded is not None:
            with contextlib.suppress(AttributeError):
                types.append(getattr(loaded, name))
    return tuple(types)


class _OneLine(logging.Formatter):
    """``ltv: warning: LOGGER: message[: ExcType: text]`` on one line, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        from ltv.validation.diagnostics import one_line

        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message}: {type(exc).__name__}: {exc}"
        level = "error" if record.levelno >= logging.ERROR else "warning"
        return f"ltv: {level}: {one_line(f'{record.name}: {message}', limit=500)}"


def _not_captured(record: logging.LogRecord) -> bool:
    # ltv.online logs each failed fetch with its full URL for a server's operator; on the
    # command line the error line already names it, so that detail is for -v only
    return not getattr(record, "ltv_captured", False) and record.name != "ltv.online"


_HANDLER_NAME = "ltv-cli-stderr"


def _configure_logging(verbose: bool) -> None:
    """One stderr handler on the root logger (replacing ours from an earlier call)."""
    logging.captureWarnings(True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if verbose:
        handler.setFormatter(logging.Formatter("ltv: %(levelname)s: %(name)s: %(message)s"))
    else:
        handler.setFormatter(_OneLine())
        handler.addFilter(_not_captured)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


class _LtvGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in _COMMANDS if (_SHORT_HELP.get(name) is not None
                and _present(name)) or self.get_command(ctx, name) is not None]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``ltv --help`` lists the commands from :data:`_SHORT_HELP` without importing their
        modules, shortened exactly as click shortens a command's help."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            text = _SHORT_HELP.get(name)
            if text is not None:
                rows.append((name, click.Command(name, help=_(text)).get_short_help_str(limit)))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        try:
            module = importlib.import_module(target[0])
        except ModuleNotFoundError as exc:
            if exc.name == target[0]:
                return None
            raise
        command = getattr(module, target[1], None)
        return localize(command) if isinstance(command, click.Command) else None

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        """Choose the language from argv and the environment, then run in it."""
        argv = list(sys.argv[1:] if args is None else args)
        install_click_texts()
        with use_language(choose_language(argv)):
            localize(self)
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _error_types() as exc:
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
            message = str(exc) or type(exc).__name__
            if isinstance(exc, OSError) and exc.filename:
                message = f"{exc.strerror or exc}: {exc.filename}"
            click.echo(_("ltv: error: {message}").format(message=message), err=True)
            sys.exit(EXIT_BAD_INPUT)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:  # a library's raw error or a bug: one line unless -v
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
                hint = ""
            else:
                hint = _("; -v shows the traceback")
            click.echo(_("ltv: error: {message}").format(message=f"{type(exc).__name__}: {exc}")
                       + hint, err=True)
            sys.exit(EXIT_BAD_INPUT)


@click.group(cls=_LtvGroup, context_settings={"help_option_names": ["-h", "--help"]},
             help=N_("Long-term signatures (CAdES, PAdES, XAdES) from smartphone-held keys."))
@click.option("-v", "--verbose", is_flag=True, envvar="LTV_VERBOSE",
              help=N_("Show tracebacks and debug output."))
@click.version_option(__version__, prog_name="ltv")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    # the group's help is above (N_: translated by localize when the language is known)
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    _configure_logging(verbose)
