"""``ltv tenant add|ls|rotate-key|revoke-key``: tenants of the HTTP API and their API keys, the
CLI edge over :mod:`ltv.server.tenants`. Keys are printed once (stdout) and kept hashed; every
change is an audit line (:mod:`archive.audit`). Each command takes ``--allow-unlocked`` and
``--min-retention`` as ``ltv serve`` does: the tenant records and audit objects it writes are
under COMPLIANCE retention until at least the floor (10 years by default)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import click

from ltv.cli._common import TIME
from ltv.cli._i18n import date_options, show_time
from ltv.cli.archive import _MIN_RETENTION, _UNLOCKED
from ltv.cli.archive import _open as open_store  # --allow-unlocked, --min-retention floor
from ltv.clock import Clock, FixedClock, SystemClock, format_time
from ltv.i18n import N_
from ltv.i18n import gettext as _

__all__ = ["tenant"]

_DEFAULT_STORE = "var/archive"
_STORE = click.option("--store", "store_url", default=_DEFAULT_STORE, show_default=True,
                      envvar="LTV_STORE", help=N_("Object store URL (the one `ltv serve` uses)."))
_AT = click.option("--at", type=TIME, default=None,
                   help=N_("Act as if it were this time (ISO 8601); default: now."))
_DURATION = re.compile(r"^(\d{1,7})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _clock(at: datetime | None) -> Clock:
    return FixedClock(at) if at is not None else SystemClock()


def _duration(text: str) -> timedelta:
    raw = text.strip().lower()
    if raw == "0":
        return timedelta(0)
    match = _DURATION.match(raw)
    if not match:
        raise click.BadParameter(
            _("not a duration: {text!r} (e.g. 24h, 30m, 7d or 0)").format(text=text))
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@click.group("tenant", help=N_("Tenants of the HTTP API and their API keys."))
def tenant() -> None:
    pass


@tenant.command("add",
                help=N_("Create tenant NAME; prints its new API key once (only its SHA-256 is "
                        "kept)."))
@click.argument("name")
@_STORE
@_UNLOCKED
@_MIN_RETENTION
@_AT
def add(name: str, store_url: str, at: datetime | None) -> None:
    from ltv.server.tenants import add_tenant

    made, key = add_tenant(open_store(store_url), name, clock=_clock(at))
    click.echo(key)
    click.echo(_("created tenant {name} (key {key_id}); the key above is shown only once")
               .format(name=made.name, key_id=made.key_id), err=True)


@tenant.command("ls",
                help=N_("List tenants and their keys: key id, state (active, expiring, expired,"
                        " revoked), dates.\n\nNever a key: ids are the first 16 hex digits of "
                        "the key's SHA-256."))
@_STORE
@_UNLOCKED
@_MIN_RETENTION
@_AT
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help=N_("text: one line per key; json: one object per line."))
@date_options
def ls_cmd(store_url: str, at: datetime | None, fmt: str) -> None:
    from ltv.server.tenants import list_tenants

    now = _clock(at).now()
    for entry in list_tenants(open_store(store_url)):
        name = entry.tenant.name
        if not entry.keys:
            if fmt == "json":
                click.echo(json.dumps({"tenant": name, "key_id": None, "state": None}))
            else:
                click.echo(_("{name}  -  no keys").format(name=name))
            continue
        for k in entry.keys:
            state = k.state(now).value
            until = k.revoked if k.revoked is not None else k.expires
            if fmt == "json":
                click.echo(json.dumps({
                    "tenant": name, "key_id": k.key_id, "state": state,
                    "created": format_time(k.created),
                    "expires": format_time(k.expires) if k.expires else None,
                    "revoked": format_time(k.revoked) if k.revoked else None}))
            else:
                end = _("  until {time}").format(time=show_time(until)) \
                    if until is not None else ""
                click.echo(_("{name}  {key_id}  {state}  created {time}").format(
                    name=name, key_id=k.key_id, state=f"{state:<8}",
                    time=show_time(k.created)) + end)


@tenant.command("rotate-key",
                help=N_("Give tenant NAME a new API key (printed once); its old keys expire "
                        "after --grace."))
@click.argument("name")
@click.option("--grace", default="24h", show_default=True,
              help=N_("How long the old keys stay valid (e.g. 24h, 30m, 7d; 0: refuse them now)."))
@_STORE
@_UNLOCKED
@_MIN_RETENTION
@_AT
def rotate_key_cmd(name: str, grace: str, store_url: str, at: datetime | None) -> None:
    from ltv.server.tenants import rotate_key

    new, key, old = rotate_key(open_store(store_url), name, grace=_duration(grace),
                               clock=_clock(at))
    click.echo(key)
    ends = ", ".join(_("{key_id} until {time}").format(key_id=k.key_id,
                                                        time=show_time(k.expires))
                     for k in old if k.expires)
    click.echo(_("new key {key_id} for tenant {name}; old keys: {old}; the key above is shown "
                 "only once").format(key_id=new.key_id, name=name, old=ends or _("none")),
               err=True)


@tenant.command("revoke-key",
                help=N_("Revoke keys of tenant NAME at once (KEY_ID from `ltv tenant ls`, or "
                        "--all)."))
@click.argument("name")
@click.argument("key_ids", nargs=-1, metavar="KEY_ID...")
@click.option("--all", "all_keys", is_flag=True, help=N_("Revoke every key of the tenant."))
@_STORE
@_UNLOCKED
@_MIN_RETENTION
@_AT
def revoke_key_cmd(name: str, key_ids: tuple[str, ...], all_keys: bool, store_url: str,
                   at: datetime | None) -> None:
    from ltv.cli._common import EXIT_USAGE, fail
    from ltv.server.tenants import revoke_key

    if bool(key_ids) == all_keys:
        fail(_("name the KEY_IDs to revoke (see ltv tenant ls) or give --all"), EXIT_USAGE)
    done = revoke_key(open_store(store_url), name, None if all_keys else list(key_ids),
                      clock=_clock(at))
    for k in done:
        click.echo(_("revoked key {key_id} of tenant {name}").format(key_id=k.key_id, name=name))
    if not done:
        click.echo(_("nothing to revoke: the key(s) of tenant {name} were already revoked")
                   .format(name=name),
                   err=True)
