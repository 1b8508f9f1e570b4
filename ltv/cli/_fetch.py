"""The fetch options of ``ltv validate``, ``sign`` and ``extend`` (and :func:`parse_size`).

``--fetch-allow`` / ``--fetch-deny HOST[:PORT]|CIDR`` (repeatable), ``--fetch-public-only``,
``--fetch-timeout SECONDS``, ``--max-crl-size SIZE``; each also an ``LTV_*`` environment
variable. The CLI runs on the user's own machine, so by default it fetches from any address;
``--fetch-public-only`` gives it the server's default (non-public addresses refused unless
allowed). The options are stored in the click context and read by :func:`cli_egress`, so a
command's own signature does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ltv.i18n import N_
from ltv.i18n import gettext as _

if TYPE_CHECKING:
    from ltv.online.egress import Egress

__all__ = ["cli_egress", "fetch_options", "parse_size"]

_META = "ltv.fetch"
_F = TypeVar("_F", bound=Callable[..., Any])


def parse_size(text: str) -> int:
    """``64M``, ``512k``, ``1G``, ``1048576`` → bytes."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    raw = text.strip().lower().removesuffix("b")
    factor = units.get(raw[-1:], 1)
    if raw[-1:] in units:
        raw = raw[:-1]
    try:
        return int(float(raw) * factor)
    except ValueError as exc:
        raise click.BadParameter(_("not a size: {text!r} (e.g. 64M)").format(text=text)) from exc


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta.setdefault(_META, {})[param.name] = value
    return value


def fetch_options(command: _F) -> _F:
    """Add the fetch options to a click command (values land in the context, not in kwargs)."""
    options = [
        click.option("--fetch-allow", multiple=True, envvar="LTV_FETCH_ALLOW",
                     expose_value=False, callback=_keep, metavar="HOST[:PORT]|CIDR",
                     help=N_("Allow fetching from this host or range (repeatable).")),
        click.option("--fetch-deny", multiple=True, envvar="LTV_FETCH_DENY",
                     expose_value=False, callback=_keep, metavar="HOST[:PORT]|CIDR",
                     help=N_("Never fetch from this host or range (repeatable).")),
        click.option("--fetch-public-only", is_flag=True, envvar="LTV_FETCH_PUBLIC_ONLY",
                     expose_value=False, callback=_keep,
                     help=N_("Refuse loopback, private, link-local, multicast and reserved "
                             "addresses unless --fetch-allow names them.")),
        click.option("--fetch-timeout", type=click.FloatRange(min=0.1), default=10.0,
                     show_default=True, envvar="LTV_FETCH_TIMEOUT", expose_value=False,
                     callback=_keep, help=N_("Seconds for one fetch, connect to last byte.")),
        click.option("--max-crl-size", default="64M", show_default=True,
                     envvar="LTV_MAX_CRL_SIZE", expose_value=False, callback=_keep,
                     help=N_("Largest CRL fetched.")),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def cli_egress() -> Egress:
    """The egress for this command's fetch options (the permissive default without them)."""
    from ltv.online.egress import Egress, default_egress
    from ltv.online.policy import FetchPolicy

    ctx = click.get_current_context(silent=True)
    values = ctx.meta.get(_META) if ctx is not None else None
    if not values:
        return default_egress()
    made = values.get("_egress")
    if isinstance(made, Egress):
        return made
    policy = FetchPolicy.build(
        public_only=bool(values.get("fetch_public_only")),
        allow=values.get("fetch_allow") or (), deny=values.get("fetch_deny") or (),
        timeout=float(values.get("fetch_timeout") or 10.0),
        crl_max_bytes=parse_size(str(values.get("max_crl_size") or "64M")))
    egress = values["_egress"] = Egress(policy)
    return egress
