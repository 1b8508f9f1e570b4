"""``ltv tsa serve``: our RFC 3161 time-stamp authority on 127.0.0.1 (the edge over :mod:`tsa`).

Every option can also be set by its ``LTV_TSA_*`` environment variable; the key password is read
only from ``LTV_TSA_KEY_PASSWORD``, or from the file ``LTV_TSA_KEY_PASSWORD_FILE`` names (which
keeps it out of the workers' environment).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click

from ltv.cli._common import TIME
from ltv.i18n import N_
from tsa.authority import DEFAULT_POLICY_OID
from tsa.server import DEFAULT_PORT, ServeSettings, run

__all__ = ["tsa"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(help=N_("Run the RFC 3161 time-stamp authority."))
def tsa() -> None:
    pass


@tsa.command(
             help=N_("Serve time-stamps over HTTP POST (application/timestamp-query) at any "
                     "path."))
@click.option("--key", type=_FILE, required=True, envvar="LTV_TSA_KEY",
              help=N_("TSA private key, PEM (RSA-2048/3072/4096, ECDSA P-256/P-384 or "
                      "ML-DSA-65/87); password from LTV_TSA_KEY_PASSWORD."))
@click.option("--cert", type=_FILE, required=True, envvar="LTV_TSA_CERT",
              help=N_("TSA certificate, PEM (critical EKU timeStamping only)."))
@click.option("--chain", type=_FILE, envvar="LTV_TSA_CHAIN",
              help=N_("Issuer certificates sent with certReq, PEM bundle."))
@click.option("--host", default="127.0.0.1", show_default=True, envvar="LTV_TSA_HOST",
              help=N_("Address to bind."))
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
              envvar="LTV_TSA_PORT")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/tsa"), show_default=True, envvar="LTV_TSA_STATE_DIR",
              help=N_("Serial-number state, shared by every worker and restart."))
@click.option("--policy", default=DEFAULT_POLICY_OID, show_default=True, envvar="LTV_TSA_POLICY",
              help=N_("TSA policy OID of the tokens."))
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              envvar="LTV_TSA_WORKERS", help=N_("Worker processes."))
@click.option("--at", type=TIME, default=None, envvar="LTV_TSA_AT",
              help=N_("Run the clock from this ISO 8601 instant (default: now)."))
def serve(key: Path, cert: Path, chain: Path | None, host: str, port: int, state_dir: Path,
          policy: str, workers: int, at: datetime | None) -> None:
    password = os.environ.get("LTV_TSA_KEY_PASSWORD")
    password_file = os.environ.get("LTV_TSA_KEY_PASSWORD_FILE")
    run(ServeSettings(
        key=key,
        cert=cert,
        chain=chain,
        host=host,
        port=port,
        state_dir=state_dir,
        policy=policy,
        workers=workers,
        at=at,
        key_password=password.encode() if password is not None else None,
        key_password_file=Path(password_file) if password_file else None,
    ))
