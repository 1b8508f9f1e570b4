"""``ltv completion bash|zsh|fish``: print the shell completion script (click's own).

``eval "$(ltv completion bash)"`` in ``~/.bashrc`` (zsh: ``~/.zshrc``; fish:
``ltv completion fish > ~/.config/fish/completions/ltv.fish``) completes commands, options and
choices; the script calls ``ltv`` with ``_LTV_COMPLETE=bash_complete`` (click's protocol, also
reachable as ``_LTV_COMPLETE=bash_source ltv``).
"""

from __future__ import annotations

import click

from ltv.i18n import N_

__all__ = ["completion"]


@click.command("completion", help=N_(
    "Print the completion script of SHELL (bash, zsh or fish); e.g. "
    "eval \"$(ltv completion bash)\" in ~/.bashrc."))
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    from click.shell_completion import get_completion_class

    from ltv.cli import main

    cls = get_completion_class(shell)
    assert cls is not None  # the three choices are click's built-in shells
    click.echo(cls(main, {}, "ltv", "_LTV_COMPLETE").source(), nl=False)
