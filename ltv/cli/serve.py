"""``ltv serve`` (the HTTP API) and ``ltv tenant add`` (API keys), the CLI edge over
:mod:`ltv.server`. Every option can also be set by an ``LTV_*`` environment variable."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ltv.cli._services import ENV_PKI, ENV_TSA

__all__ = ["serve", "tenant"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_DEFAULT_STORE = "var/archive"


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    raw = text.strip().lower().removesuffix("b")
    factor = units.get(raw[-1:], 1)
    if raw[-1:] in units:
        raw = raw[:-1]
    try:
        value = int(float(raw) * factor)
    except ValueError as exc:
        raise click.BadParameter(f"not a size: {text!r} (e.g. 50M)") from exc
    return value


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="LTV_HOST",
              help="Address to bind (default loopback only).")
@click.option("--port", type=click.IntRange(1, 65535), default=8400, show_default=True,
              envvar="LTV_PORT")
@click.option("--store", "store_url", default=_DEFAULT_STORE, show_default=True,
              envvar="LTV_STORE", help="Object store URL (file:///path, path, s3://BUCKET).")
@click.option("--pki", type=_DIR, default=None, envvar=ENV_PKI,
              help="Sample PKI: its TSA, certificates and root as trust anchor. [env LTV_PKI]")
@click.option("--tsa", "tsa_url", default=None, envvar=ENV_TSA,
              help="RFC 3161 TSA URL. [env LTV_TSA_URL]")
@click.option("--trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Trust anchor PEM file or directory for validation (repeatable).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              envvar="LTV_WORKERS", help="Worker processes.")
@click.option("--max-upload", default="50M", show_default=True, envvar="LTV_MAX_UPLOAD",
              help="Largest request body accepted (413 beyond).")
@click.option("--timeout", "request_timeout", type=float, default=120.0, show_default=True,
              envvar="LTV_REQUEST_TIMEOUT", help="Seconds before a request answers 504.")
@click.option("--public-validation", is_flag=True, envvar="LTV_PUBLIC_VALIDATION",
              help="Let /v1/validations (and the web page) work without an API key.")
@click.option("--tsa-key", type=_FILE, default=None, help="Also serve our TSA at /tsa: key.")
@click.option("--tsa-cert", type=_FILE, default=None, help="... and its certificate.")
@click.option("--tsa-chain", type=_FILE, default=None, help="... and issuer certificates.")
@click.option("--tsa-state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/tsa"), show_default=True, help="TSA serial-number state.")
@click.option("--tsa-key-password-file", type=_FILE, default=None,
              envvar="LTV_TSA_KEY_PASSWORD_FILE",
              help="File holding the password of an encrypted --tsa-key (read by each worker).")
@click.option("--public-tsa", is_flag=True, envvar="LTV_PUBLIC_TSA",
              help="Let /tsa answer without an API key.")
@click.option("--tsa-rate-limit", type=click.IntRange(1), default=600, show_default=True,
              envvar="LTV_TSA_RATE_LIMIT",
              help="/tsa requests per minute per caller (429 beyond).")
@click.option("--public-metrics", is_flag=True, envvar="LTV_PUBLIC_METRICS",
              help="Let /metrics answer without an API key.")
@click.option("--session-purge-interval", type=click.FloatRange(min=1.0), default=300.0,
              show_default=True, envvar="LTV_SESSION_PURGE_INTERVAL",
              help="Seconds between purges of expired signing sessions.")
@click.option("--pkcs11-module", type=_FILE, default=None, envvar="LTV_PKCS11_MODULE",
              help="Remote signing (CSC API v2 at /csc/v2/): the PKCS#11 module of the HSM.")
@click.option("--token-label", default="ltv-remote", show_default=True,
              envvar="LTV_TOKEN_LABEL", help="... the token holding the remote keys.")
@click.option("--pin-file", type=_FILE, default=None, envvar="LTV_PIN_FILE",
              help="... a file holding the token's user PIN (read by each worker).")
@click.option("--webauthn-rp-id", default="localhost", show_default=True,
              envvar="LTV_WEBAUTHN_RP_ID", help="... the passkeys' relying party id.")
@click.option("--webauthn-origin", "webauthn_origins", multiple=True,
              default=("http://localhost",), show_default=True,
              help="... origins the passkey assertions may come from (repeatable).")
@click.option("--sad-lifetime", type=click.IntRange(10, 3600), default=300, show_default=True,
              help="... seconds a signature authorisation (SAD) stays usable.")
def serve(host: str, port: int, store_url: str, pki: Path | None, tsa_url: str | None,
          trust: tuple[Path, ...], workers: int, max_upload: str, request_timeout: float,
          public_validation: bool, tsa_key: Path | None, tsa_cert: Path | None,
          tsa_chain: Path | None, tsa_state_dir: Path, tsa_key_password_file: Path | None,
          public_tsa: bool, tsa_rate_limit: int, public_metrics: bool,
          session_purge_interval: float, pkcs11_module: Path | None, token_label: str,
          pin_file: Path | None, webauthn_rp_id: str, webauthn_origins: tuple[str, ...],
          sad_lifetime: int) -> None:
    """Run the HTTP API (OpenAPI at /openapi.json and /docs, web page at /)."""
    import os

    from ltv.server.app import build_app
    from ltv.server.settings import ServerSettings

    settings = ServerSettings(
        host=host, port=port, store_url=store_url, pki=pki, tsa_url=tsa_url, trust=trust,
        workers=workers, max_upload=_size(max_upload), request_timeout=request_timeout,
        public_validation=public_validation, tsa_key=tsa_key, tsa_cert=tsa_cert,
        tsa_chain=tsa_chain, tsa_state_dir=tsa_state_dir,
        tsa_key_password_file=tsa_key_password_file, public_tsa=public_tsa,
        tsa_rate_limit=tsa_rate_limit, public_metrics=public_metrics,
        session_purge_interval=session_purge_interval,
        pkcs11_module=pkcs11_module, token_label=token_label, pin_file=pin_file,
        webauthn_rp_id=webauthn_rp_id, webauthn_origins=webauthn_origins,
        sad_lifetime=sad_lifetime,
    )
    app = build_app(settings)  # fails here, clearly, if misconfigured
    click.echo(f"ltv API on http://{host}:{port}/ (store {store_url}, {workers} worker(s))",
               err=True)
    import uvicorn

    common = {"host": host, "port": port, "log_level": "warning", "access_log": False,
              "server_header": False, "timeout_keep_alive": 30, "lifespan": "on"}
    if workers == 1:
        uvicorn.run(app, **common)  # type: ignore[arg-type]
    else:
        del app
        os.environ.update(settings.to_environment())
        uvicorn.run("ltv.server.app:app_from_environment", factory=True, workers=workers,
                    **common)  # type: ignore[arg-type]
    sys.exit(0)


@click.group("tenant")
def tenant() -> None:
    """Tenants of the HTTP API and their API keys."""


@tenant.command("add")
@click.argument("name")
@click.option("--store", "store_url", default=_DEFAULT_STORE, show_default=True,
              envvar="LTV_STORE", help="Object store URL (the one `ltv serve` uses).")
def add(name: str, store_url: str) -> None:
    """Create tenant NAME; prints its new API key once (only its SHA-256 is kept)."""
    from archive.store import open_store
    from ltv.server.tenants import add_tenant

    made, key = add_tenant(open_store(store_url), name)
    click.echo(key)
    click.echo(f"created tenant {made.name}; the key above is shown only once", err=True)
