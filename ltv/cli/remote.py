"""``ltv remote enroll``: a key for USER in the remote signing service's HSM, a certificate with
the remote signing policy, and the user's passkey registered (here: a software passkey kept in
``--passkey DIR``, the simulated phone's). Prints the credential id for ``ltv sign --remote``."""

from __future__ import annotations

from pathlib import Path

import click

from ltv.i18n import N_
from ltv.i18n import gettext as _

__all__ = ["remote"]


@click.group("remote",
             help=N_("Remote signing: keys in the server's HSM, each signature approved by a "
                     "passkey."))
def remote() -> None:
    pass


@remote.command("enroll", help=N_("Enrol USER: prints the new credential id."))
@click.argument("user")
@click.option("--server", required=True, envvar="LTV_REMOTE_URL",
              help=N_("Base URL of `ltv serve` with remote signing on. [env LTV_REMOTE_URL]"))
@click.option("--api-key", required=True, envvar="LTV_API_KEY",
              help=N_("The tenant's API key (`ltv tenant add`). [env LTV_API_KEY]"))
@click.option("--passkey", "passkey_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help=N_("Directory for the new software passkey (must not hold one yet)."))
@click.option("--key-algorithm", type=click.Choice(["p256", "rsa2048"]), default="p256",
              show_default=True, help=N_("Key pair made in the token."))
@click.option("--origin", default="http://localhost", show_default=True,
              help=N_("Web origin the passkey reports (the server must accept it)."))
def enroll(user: str, server: str, api_key: str, passkey_dir: Path, key_algorithm: str,
           origin: str) -> None:
    from ltv.online.csc import CscClient
    from samples.passkey import SoftPasskey

    client = CscClient(server)
    try:
        client.login(user, api_key)
        options = client.call("ltv/enroll/begin", {"key_algorithm": key_algorithm})
        enrolment_id = options.pop("enrolment_id")
        _credential, response = SoftPasskey.create(passkey_dir, options, origin=origin)
        answer = client.call("ltv/enroll/complete", {"enrolment_id": enrolment_id,
                                                     "credential": response})
    finally:
        client.close()
    click.echo(answer["credentialID"])
    click.echo(_("enrolled {user}: key in the server's token, passkey in {dir}").format(
        user=user, dir=passkey_dir), err=True)


@remote.command("approve",
                help=N_("The simulated phone approves URL (a /remote/approve/{id} page) with "
                        "its passkey."))
@click.argument("url")
@click.option("--passkey", "passkey_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help=N_("The passkey directory (from `ltv remote enroll`)."))
def approve(url: str, passkey_dir: Path) -> None:
    import httpx

    from ltv.errors import ServiceError
    from samples.passkey import SoftPasskey

    passkey = SoftPasskey(passkey_dir)
    url = url.rstrip("/")
    try:
        got = httpx.post(f"{url}/options", timeout=30)
        if got.status_code != 200:
            raise ServiceError(_("approval refused: {reason}").format(reason=_describe(got)))
        sent = httpx.post(url, json={"credential": passkey.get(got.json())}, timeout=30)
    except httpx.HTTPError as exc:
        raise ServiceError(f"{url}: {exc}") from exc
    if sent.status_code != 200:
        raise ServiceError(_("approval refused: {reason}").format(reason=_describe(sent)))
    click.echo(_("approved"))


def _describe(response: object) -> str:
    import httpx

    assert isinstance(response, httpx.Response)
    try:
        body = response.json()
        return f"{body['error']}: {body['error_description']} (HTTP {response.status_code})"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
