"""What ``ltv serve`` is told. Round-trips through one environment variable
(``LTV_SERVER_SETTINGS``, JSON) so that uvicorn's worker processes, started by import string,
build the same app (:func:`ltv.server.app.app_from_environment`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ltv.errors import ConfigurationError

__all__ = ["DEFAULT_MAX_UPLOAD", "DEFAULT_PORT", "ENV_SETTINGS", "ServerSettings"]

DEFAULT_PORT = 8400
DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024
ENV_SETTINGS = "LTV_SERVER_SETTINGS"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSettings:
    """Settings of the HTTP API (``ltv serve``)."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    store_url: str = "var/archive"
    pki: Path | None = None  # sample PKI: its TSA, its certificates, its root as trust anchor
    tsa_url: str | None = None
    trust: tuple[Path, ...] = ()  # trust anchors for /v1/validations (PEM files or dirs)
    max_upload: int = DEFAULT_MAX_UPLOAD  # bytes of request body
    request_timeout: float = 120.0  # seconds until a request answers 504
    workers: int = 1
    public_validation: bool = False  # /v1/validations without an API key (the web page)
    min_retention: str = "10y"  # the archive's retention floor (archive.retention period)
    allow_unlocked: bool = False  # accept an S3 bucket without object lock
    max_session_seconds: int = 3600  # cap on a signing session's lifetime
    tsa_key: Path | None = None  # mount our RFC 3161 TSA at /tsa
    tsa_cert: Path | None = None
    tsa_chain: Path | None = None
    tsa_state_dir: Path = field(default=Path("var/tsa"))
    tsa_key_password_file: Path | None = None  # the TSA key's password, read by each worker
    public_tsa: bool = False  # /tsa without an API key
    tsa_rate_limit: int = 600  # /tsa requests per minute per caller (tenant, or client address)
    public_metrics: bool = False  # /metrics without an API key
    session_purge_interval: float = 300.0  # seconds between purges of expired signing sessions
    # outbound fetches (OCSP, CRLs, caIssuers, TSA): see ltv.online.policy
    fetch_allow: tuple[str, ...] = ()  # HOST[:PORT] or CIDR allowed despite being non-public
    fetch_deny: tuple[str, ...] = ()  # HOST[:PORT] or CIDR always refused
    fetch_timeout: float = 10.0  # seconds, one fetch from connect to last byte
    fetch_budget: float = 30.0  # seconds of fetching per request, all fetches together
    max_fetches: int = 32  # fetches per request
    max_crl_size: int = 64 * 1024 * 1024  # bytes of one CRL
    cache_size: int = 64 * 1024 * 1024  # bytes of cached CRLs (OCSP: a quarter of it)
    # admission: a bounded work pool and per-caller limits on /v1/ routes
    max_concurrent: int = 16  # /v1/ requests worked on at once (503 + Retry-After beyond)
    queue_seconds: float = 2.0  # how long a request may wait for a free slot
    tenant_concurrency: int = 4  # /v1/ requests in flight per API key (429 beyond)
    tenant_rate: int = 120  # /v1/ requests per minute per API key (429 beyond)
    anonymous_concurrency: int = 2  # anonymous requests in flight, all callers together
    anonymous_rate: int = 30  # anonymous requests per minute per client address
    # remote signing (CSC API v2 at /csc/v2/, ltv.server.routes_csc): on when a module is given
    pkcs11_module: Path | None = None
    token_label: str = "ltv-remote"  # noqa: S105 (a token name, not a secret)
    pin_file: Path | None = None  # the token's user PIN, read by each worker
    webauthn_rp_id: str = "localhost"
    webauthn_origins: tuple[str, ...] = ("http://localhost",)
    sad_lifetime: int = 300  # seconds a SAD (and a challenge nonce) stays usable

    def __post_init__(self) -> None:
        from archive.retention import RetentionPeriod

        try:
            RetentionPeriod.parse(self.min_retention)
        except ValueError as exc:
            raise ConfigurationError(f"--min-retention: {exc}") from exc
        if self.max_upload < 1024:
            raise ConfigurationError("--max-upload must be at least 1024 bytes")
        if self.request_timeout <= 0:
            raise ConfigurationError("the request timeout must be positive")
        if (self.tsa_key is None) != (self.tsa_cert is None):
            raise ConfigurationError("give --tsa-key and --tsa-cert together")
        if self.workers < 1:
            raise ConfigurationError("--workers must be 1 or more")
        if self.tsa_rate_limit < 1:
            raise ConfigurationError("--tsa-rate-limit must be 1 or more requests per minute")
        if self.session_purge_interval <= 0:
            raise ConfigurationError("--session-purge-interval must be positive")
        if self.fetch_timeout <= 0 or self.fetch_budget <= 0 or self.queue_seconds < 0:
            raise ConfigurationError("fetch timeouts must be positive")
        if self.max_crl_size < 1024:
            raise ConfigurationError("--max-crl-size must be at least 1024 bytes")
        if min(self.max_fetches, self.max_concurrent, self.tenant_concurrency,
               self.anonymous_concurrency, self.tenant_rate, self.anonymous_rate) < 1:
            raise ConfigurationError("concurrency and rate limits must be 1 or more")
        if self.pkcs11_module is not None and self.pin_file is None:
            raise ConfigurationError("--pkcs11-module needs --pin-file")
        if not 10 <= self.sad_lifetime <= 3600:
            raise ConfigurationError("--sad-lifetime must be 10 to 3600 seconds")

    def to_json(self) -> dict[str, Any]:
        def p(v: Path | None) -> str | None:
            return str(v.resolve()) if v is not None else None

        return {
            "host": self.host, "port": self.port, "store_url": self.store_url,
            "pki": p(self.pki), "tsa_url": self.tsa_url,
            "trust": [str(t.resolve()) for t in self.trust],
            "min_retention": self.min_retention, "allow_unlocked": self.allow_unlocked,
            "max_upload": self.max_upload, "request_timeout": self.request_timeout,
            "workers": self.workers, "public_validation": self.public_validation,
            "max_session_seconds": self.max_session_seconds,
            "tsa_key": p(self.tsa_key), "tsa_cert": p(self.tsa_cert),
            "tsa_chain": p(self.tsa_chain), "tsa_state_dir": str(self.tsa_state_dir.resolve()),
            "tsa_key_password_file": p(self.tsa_key_password_file),
            "public_tsa": self.public_tsa, "tsa_rate_limit": self.tsa_rate_limit,
            "public_metrics": self.public_metrics,
            "session_purge_interval": self.session_purge_interval,
            **{name: getattr(self, name) for name in _LIMITS},
            "fetch_allow": list(self.fetch_allow), "fetch_deny": list(self.fetch_deny),
            "pkcs11_module": p(self.pkcs11_module), "token_label": self.token_label,
            "pin_file": p(self.pin_file), "webauthn_rp_id": self.webauthn_rp_id,
            "webauthn_origins": list(self.webauthn_origins), "sad_lifetime": self.sad_lifetime,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ServerSettings:
        def p(v: Any) -> Path | None:
            return Path(v) if v else None

        try:
            return cls(
                host=str(obj["host"]), port=int(obj["port"]), store_url=str(obj["store_url"]),
                pki=p(obj.get("pki")), tsa_url=obj.get("tsa_url") or None,
                trust=tuple(Path(t) for t in obj.get("trust", ())),
                min_retention=str(obj.get("min_retention") or "10y"),
                allow_unlocked=bool(obj.get("allow_unlocked", False)),
                max_upload=int(obj["max_upload"]), request_timeout=float(obj["request_timeout"]),
                workers=int(obj["workers"]), public_validation=bool(obj["public_validation"]),
                max_session_seconds=int(obj["max_session_seconds"]),
                tsa_key=p(obj.get("tsa_key")), tsa_cert=p(obj.get("tsa_cert")),
                tsa_chain=p(obj.get("tsa_chain")),
                tsa_state_dir=Path(obj.get("tsa_state_dir") or "var/tsa"),
                tsa_key_password_file=p(obj.get("tsa_key_password_file")),
                public_tsa=bool(obj.get("public_tsa", False)),
                tsa_rate_limit=int(obj.get("tsa_rate_limit", 600)),
                public_metrics=bool(obj.get("public_metrics", False)),
                session_purge_interval=float(obj.get("session_purge_interval", 300.0)),
                fetch_allow=tuple(str(r) for r in obj.get("fetch_allow", ())),
                fetch_deny=tuple(str(r) for r in obj.get("fetch_deny", ())),
                **{name: type(getattr(_DEFAULTS, name))(obj[name])
                   for name in _LIMITS if name in obj},
                pkcs11_module=p(obj.get("pkcs11_module")),
                token_label=str(obj.get("token_label") or "ltv-remote"),
                pin_file=p(obj.get("pin_file")),
                webauthn_rp_id=str(obj.get("webauthn_rp_id") or "localhost"),
                webauthn_origins=tuple(obj.get("webauthn_origins") or ("http://localhost",)),
                sad_lifetime=int(obj.get("sad_lifetime", 300)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"bad {ENV_SETTINGS}: {exc}") from exc

    def to_environment(self) -> dict[str, str]:
        return {ENV_SETTINGS: json.dumps(self.to_json())}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if environ is None else environ
        raw = env.get(ENV_SETTINGS)
        if not raw:
            raise ConfigurationError(f"{ENV_SETTINGS} is not set")
        try:
            return cls.from_json(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{ENV_SETTINGS} is not JSON: {exc}") from exc


# numeric limits that round-trip through LTV_SERVER_SETTINGS as they are
_LIMITS = ("fetch_timeout", "fetch_budget", "max_fetches", "max_crl_size", "cache_size",
           "max_concurrent", "queue_seconds", "tenant_concurrency", "tenant_rate",
           "anonymous_concurrency", "anonymous_rate")
_DEFAULTS = ServerSettings()
