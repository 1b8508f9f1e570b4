"""``ltv serve`` (the HTTP API), the CLI edge over :mod:`ltv.server` (``ltv tenant``: in
:mod:`ltv.cli.tenant`). Every option can also be set by an ``LTV_*`` environment variable."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ltv.cli._fetch import parse_size
from ltv.cli._services import ENV_PKI, ENV_TSA
from ltv.i18n import N_
from ltv.i18n import gettext as _

__all__ = ["serve"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_DEFAULT_STORE = "var/archive"




@click.command("serve",
               help=N_("Run the HTTP API (OpenAPI at /openapi.json and /docs, web page at /)."))
@click.option("--host", default="127.0.0.1", show_default=True, envvar="LTV_HOST",
              help=N_("Address to bind (default loopback only)."))
@click.option("--port", type=click.IntRange(1, 65535), default=8400, show_default=True,
              envvar="LTV_PORT")
@click.option("--store", "store_url", default=_DEFAULT_STORE, show_default=True,
              envvar="LTV_STORE", help=N_("Object store URL (file:///path, path, s3://BUCKET)."))
@click.option("--pki", type=_DIR, default=None, envvar=ENV_PKI,
              help=N_("Sample PKI: its TSA, certificates and root as trust anchor. [env LTV_PKI]"))
@click.option("--tsa", "tsa_url", default=None, envvar=ENV_TSA,
              help=N_("RFC 3161 TSA URL. [env LTV_TSA_URL]"))
@click.option("--trust", multiple=True, type=click.Path(exists=True, path_type=Path),
              help=N_("Trust anchor PEM file or directory for validation (repeatable)."))
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              envvar="LTV_WORKERS", help=N_("Worker processes."))
@click.option("--max-upload", default="50M", show_default=True, envvar="LTV_MAX_UPLOAD",
              help=N_("Largest request body accepted (413 beyond)."))
@click.option("--timeout", "request_timeout", type=float, default=120.0, show_default=True,
              envvar="LTV_REQUEST_TIMEOUT", help=N_("Seconds before a request answers 504."))
@click.option("--public-validation", is_flag=True, envvar="LTV_PUBLIC_VALIDATION",
              help=N_("Let /v1/validations (and the web page) work without an API key."))
@click.option("--min-retention", default="10y", show_default=True, envvar="LTV_MIN_RETENTION",
              metavar="PERIOD", help=N_("Archive retention floor (10y, 3650d, 1y180d); a tenant's "
                 "retain-until may extend it, never shorten it."))
@click.option("--allow-unlocked", is_flag=True, envvar="LTV_ALLOW_UNLOCKED",
              help=N_("Accept an S3 bucket without object lock (no COMPLIANCE retention)."))
@click.option("--tsa-key", type=_FILE, default=None, help=N_("Also serve our TSA at /tsa: key."))
@click.option("--tsa-cert", type=_FILE, default=None, help=N_("... and its certificate."))
@click.option("--tsa-chain", type=_FILE, default=None, help=N_("... and issuer certificates."))
@click.option("--tsa-state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var/tsa"), show_default=True, help=N_("TSA serial-number state."))
@click.option("--tsa-key-password-file", type=_FILE, default=None,
              envvar="LTV_TSA_KEY_PASSWORD_FILE",
              help=N_("File holding the password of an encrypted --tsa-key (read by each worker)."))
@click.option("--public-tsa", is_flag=True, envvar="LTV_PUBLIC_TSA",
              help=N_("Let /tsa answer without an API key."))
@click.option("--tsa-rate-limit", type=click.IntRange(1), default=600, show_default=True,
              envvar="LTV_TSA_RATE_LIMIT",
              help=N_("/tsa requests per minute per caller (429 beyond)."))
@click.option("--public-metrics", is_flag=True, envvar="LTV_PUBLIC_METRICS",
              help=N_("Let /metrics answer without an API key."))
@click.option("--session-purge-interval", type=click.FloatRange(min=1.0), default=300.0,
              show_default=True, envvar="LTV_SESSION_PURGE_INTERVAL",
              help=N_("Seconds between purges of expired signing sessions."))
@click.option("--fetch-allow", multiple=True, envvar="LTV_FETCH_ALLOW",
              metavar="HOST[:PORT]|CIDR",
              help=N_("Allow fetching from this non-public host or range (repeatable); --pki "
                      "adds its own server."))
@click.option("--fetch-deny", multiple=True, envvar="LTV_FETCH_DENY",
              metavar="HOST[:PORT]|CIDR", help=N_("Never fetch from this host or range."))
@click.option("--fetch-timeout", type=click.FloatRange(min=0.1), default=10.0,
              show_default=True, envvar="LTV_FETCH_TIMEOUT",
              help=N_("Seconds for one fetch, connect to last byte."))
@click.option("--fetch-budget", type=click.FloatRange(min=0.1), default=30.0,
              show_default=True, envvar="LTV_FETCH_BUDGET",
              help=N_("Seconds of fetching per request, all fetches together."))
@click.option("--max-fetches", type=click.IntRange(1, 1000), default=32, show_default=True,
              envvar="LTV_MAX_FETCHES", help=N_("Fetches per request."))
@click.option("--max-crl-size", default="64M", show_default=True, envvar="LTV_MAX_CRL_SIZE",
              help=N_("Largest CRL fetched."))
@click.option("--cache-size", default="64M", show_default=True, envvar="LTV_CACHE_SIZE",
              help=N_("Memory for cached CRLs (OCSP answers get a quarter more)."))
@click.option("--max-concurrent", type=click.IntRange(1, 1000), default=16,
              show_default=True, envvar="LTV_MAX_CONCURRENT",
              help=N_("/v1/ requests worked on at once per worker (503 beyond)."))
@click.option("--queue-seconds", type=click.FloatRange(min=0), default=2.0,
              show_default=True, envvar="LTV_QUEUE_SECONDS",
              help=N_("How long a request may wait for a free slot before 503."))
@click.option("--tenant-concurrency", type=click.IntRange(1, 1000), default=4,
              show_default=True, envvar="LTV_TENANT_CONCURRENCY",
              help=N_("/v1/ requests in flight per API key (429 beyond)."))
@click.option("--tenant-rate", type=click.IntRange(1, 100000), default=120,
              show_default=True, envvar="LTV_TENANT_RATE",
              help=N_("/v1/ requests per minute per API key (429 beyond)."))
@click.option("--anonymous-concurrency", type=click.IntRange(1, 1000), default=2,
              show_default=True, envvar="LTV_ANONYMOUS_CONCURRENCY",
              help=N_("Anonymous requests in flight, all callers together."))
@click.option("--anonymous-rate", type=click.IntRange(1, 100000), default=30,
              show_default=True, envvar="LTV_ANONYMOUS_RATE",
              help=N_("Anonymous requests per minute per client address."))
@click.option("--pkcs11-module", type=_FILE, default=None, envvar="LTV_PKCS11_MODULE",
              help=N_("Remote signing (CSC API v2 at /csc/v2/): the PKCS#11 module of the HSM."))
@click.option("--token-label", default="ltv-remote", show_default=True,
              envvar="LTV_TOKEN_LABEL", help=N_("... the token holding the remote keys."))
@click.option("--pin-file", type=_FILE, default=None, envvar="LTV_PIN_FILE",
              help=N_("... a file holding the token's user PIN (read by each worker)."))
@click.option("--webauthn-rp-id", default="localhost", show_default=True,
              envvar="LTV_WEBAUTHN_RP_ID", help=N_("... the passkeys' relying party id."))
@click.option("--webauthn-origin", "webauthn_origins", multiple=True,
              default=("http://localhost",), show_default=True,
              help=N_("... origins the passkey assertions may come from (repeatable)."))
@click.option("--sad-lifetime", type=click.IntRange(10, 3600), default=300, show_default=True,
              help=N_("... seconds a signature authorisation (SAD) stays usable."))
def serve(host: str, port: int, store_url: str, pki: Path | None, tsa_url: str | None,
          trust: tuple[Path, ...], workers: int, max_upload: str, request_timeout: float,
          min_retention: str, allow_unlocked: bool,
          public_validation: bool, tsa_key: Path | None, tsa_cert: Path | None,
          tsa_chain: Path | None, tsa_state_dir: Path, tsa_key_password_file: Path | None,
          public_tsa: bool, tsa_rate_limit: int, public_metrics: bool,
          session_purge_interval: float,
          fetch_allow: tuple[str, ...],
          fetch_deny: tuple[str, ...], fetch_timeout: float, fetch_budget: float,
          max_fetches: int, max_crl_size: str, cache_size: str, max_concurrent: int,
          queue_seconds: float, tenant_concurrency: int, tenant_rate: int,
          anonymous_concurrency: int, anonymous_rate: int,
          pkcs11_module: Path | None, token_label: str,
          pin_file: Path | None, webauthn_rp_id: str, webauthn_origins: tuple[str, ...],
          sad_lifetime: int) -> None:
    import os

    from ltv.server.app import build_app, fetch_policy
    from ltv.server.settings import ServerSettings

    settings = ServerSettings(
        min_retention=min_retention, allow_unlocked=allow_unlocked,
        host=host, port=port, store_url=store_url, pki=pki, tsa_url=tsa_url, trust=trust,
        workers=workers, max_upload=parse_size(max_upload), request_timeout=request_timeout,
        public_validation=public_validation, tsa_key=tsa_key, tsa_cert=tsa_cert,
        tsa_chain=tsa_chain, tsa_state_dir=tsa_state_dir,
        tsa_key_password_file=tsa_key_password_file, public_tsa=public_tsa,
        tsa_rate_limit=tsa_rate_limit, public_metrics=public_metrics,
        session_purge_interval=session_purge_interval,
        fetch_allow=fetch_allow, fetch_deny=fetch_deny, fetch_timeout=fetch_timeout,
        fetch_budget=fetch_budget, max_fetches=max_fetches, max_crl_size=parse_size(max_crl_size),
        cache_size=parse_size(cache_size), max_concurrent=max_concurrent,
        queue_seconds=queue_seconds,
        tenant_concurrency=tenant_concurrency, tenant_rate=tenant_rate,
        anonymous_concurrency=anonymous_concurrency, anonymous_rate=anonymous_rate,
        pkcs11_module=pkcs11_module, token_label=token_label, pin_file=pin_file,
        webauthn_rp_id=webauthn_rp_id, webauthn_origins=webauthn_origins,
        sad_lifetime=sad_lifetime,
    )
    app = build_app(settings)  # fails here, clearly, if misconfigured
    click.echo(_("ltv API on http://{host}:{port}/ (store {store}, {workers} worker(s))").format(
        host=host, port=port, store=store_url, workers=workers),
               err=True)
    click.echo(_("outbound fetches: {policy}").format(policy=fetch_policy(settings).describe()),
               err=True)
    import logging

    online = logging.getLogger("ltv.online")  # failed fetches, with their full URL and cause
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    online.addHandler(handler)
    online.setLevel(logging.WARNING)
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

