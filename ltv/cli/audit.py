"""``ltv audit ls``: read the audit trail back from the store (:mod:`archive.audit`), one JSON
line per event, in time order."""

from __future__ import annotations

from datetime import datetime

import click

from ltv.cli._common import TIME
from ltv.cli.archive import _UNLOCKED
from ltv.i18n import N_

__all__ = ["audit"]


@click.group("audit",
             help=N_("The audit trail: every state change and refusal by policy, as JSON lines."))
def audit() -> None:
    pass


@audit.command("ls", help=N_("Print the audit events (one JSON object per line, oldest first)."))
@click.option("--since", type=TIME, default=None,
              help=N_("Only events at or after this time (ISO 8601)."))
@click.option("--tenant", default=None, help=N_("Only events concerning this tenant."))
@click.option("--store", "store_url", default="var/archive", show_default=True,
              envvar="LTV_STORE", help=N_("Object store URL."))
@_UNLOCKED
def ls_cmd(since: datetime | None, tenant: str | None, store_url: str) -> None:
    from archive.audit import read_audit
    from ltv.cli.archive import _open as open_store  # --allow-unlocked

    for entry in read_audit(open_store(store_url), since=since, tenant=tenant):
        click.echo(entry.line())
