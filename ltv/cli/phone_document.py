"""``ltv phone sign-document``: the simulated phone drives a whole signing session over HTTP.

Registered in the ``phone`` group (:mod:`ltv.cli.phone`) with ``phone.add_command(sign_document)``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ltv.files import write_atomic
from ltv.i18n import N_
from ltv.i18n import gettext as _

__all__ = ["sign_document"]

_LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"]


@click.command("sign-document",
               help=N_("Sign FILE through the API at --server: the data to be signed comes from"
                       " the server, the signature value from the phone's key, the signed file "
                       "back from the server."))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--phone", "phone_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help=N_("The enrolled phone (its key signs locally)."))
@click.option("--server", required=True, envvar="LTV_SERVER",
              help=N_("Base URL of the ltv API, e.g. http://127.0.0.1:8400. [env LTV_SERVER]"))
@click.option("--api-key", required=True, envvar="LTV_API_KEY",
              help=N_("Tenant API key (from ltv tenant add). [env LTV_API_KEY]"))
@click.option("--format", "fmt", type=click.Choice(["cades", "pades", "xades"]), required=True)
@click.option("--level", type=click.Choice(_LEVELS, case_sensitive=False), default="B-LTA",
              show_default=True)
@click.option("--packaging", type=click.Choice(["enveloped", "enveloping", "detached"]),
              default=None, help=N_("XAdES packaging; detached also makes CAdES detached."))
@click.option("--timeout", type=float, default=300.0, show_default=True,
              help=N_("Seconds to wait for each HTTP answer."))
@click.option("-o", "--out", "out", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Where the signed file goes."))
def sign_document(file: Path, phone_dir: Path, server: str, api_key: str, fmt: str, level: str,
                  packaging: str | None, timeout: float, out: Path) -> None:
    from samples.phone import Phone
    from samples.phone_client import PhoneClient

    with PhoneClient(server, api_key=api_key, phone=Phone(phone_dir), timeout=timeout) as client:
        result = client.sign_document(file.read_bytes(), format=fmt, level=level.upper(),
                                      packaging=packaging,
                                      options={"file_name": file.name})
    write_atomic(out, result.document)
    click.echo(_("signed {file} -> {out} ({format} {level}, session {session})").format(
        file=file, out=out, format=fmt, level=level.upper(), session=result.session_id))
