"""The FastAPI application: :func:`create_app` wires ports, routes, error handlers, middleware.

Routes: ``/v1/signing-sessions`` (:mod:`.routes_signing`), ``/v1/validations`` and
``/v1/extensions`` (:mod:`.routes_files`), ``/v1/archive`` (:mod:`.routes_archive`),
``/healthz``, ``/metrics`` (Prometheus text, per worker process), ``/`` (web page,
:mod:`.web`), ``/tsa`` (our RFC 3161 TSA, when configured), OpenAPI at ``/openapi.json``
and ``/docs``. Errors: :mod:`.problems`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cryptography import x509
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse

from archive.store import ObjectStore, open_store
from ltv import __version__
from ltv.clock import Clock
from ltv.online.policy import FetchPolicy
from ltv.server.deps import AppState, get_metrics
from ltv.server.middleware import (
    Admission,
    AdmissionLimits,
    BodyLimit,
    Metrics,
    MetricsMiddleware,
    Timeout,
)
from ltv.server.problems import install_problem_handlers
from ltv.server.refusals import CALLER, RefusalAudit
from ltv.server.settings import ServerSettings
from ltv.signing import SigningServices
from ltv.validation import RevocationFetchers, ValidationPolicy, load_trust_anchors

__all__ = ["app_from_environment", "build_app", "create_app", "fetch_policy"]

_DESCRIPTION = """Long-term signatures (CAdES, PAdES, XAdES) from smartphone-held keys.

Authenticate with `Authorization: Bearer KEY` (a key from `ltv tenant add NAME`). Errors are
RFC 9457 `application/problem+json` with `type`, `title`, `status`, `detail`; another tenant's
objects answer 404.
"""


def create_app(
    settings: ServerSettings,
    *,
    store: ObjectStore,
    services: SigningServices,
    policy: ValidationPolicy | None = None,
    fetchers: RevocationFetchers | None = None,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    refusals: RefusalAudit | None = None,
) -> FastAPI:
    """The API over the given ports (``clock`` defaults to ``services.clock``; ``policy`` to the
    default policy with ``settings.trust`` as trust anchors; ``fetchers`` None: validation
    fetches nothing beyond what the file carries; ``refusals``: the throttled audit of 429/503
    and refused fetches, by default one over ``store``)."""
    from ltv.server import docs, routes_archive, routes_files, routes_signing, web
    from ltv.server.hardening import SecurityHeaders, SessionPurger, metrics_access
    from ltv.server.routes_console import api as console_api  # the archive console: data,
    from ltv.server.routes_console import pages as console_pages  # and pages at /console
    from ltv.server.routes_raw import install_raw_validation

    _spool_uploads_in_memory()
    if policy is None:
        policy = ValidationPolicy.default(trust_anchors=load_trust_anchors(list(settings.trust)))
    metrics = metrics or Metrics()
    app = FastAPI(title="ltv", version=__version__, description=_DESCRIPTION,
                  docs_url=None, openapi_url="/openapi.json", redoc_url=None)
    app.state.ltv = AppState(settings=settings, store=store, services=services,
                             clock=clock or services.clock, policy=policy, fetchers=fetchers,
                             metrics=metrics)
    install_problem_handlers(app)
    app.include_router(routes_signing.router)
    app.include_router(routes_files.router)
    install_raw_validation(app)  # POST /v1/validations with the file as the body
    app.include_router(routes_archive.router)
    app.include_router(web.router)
    app.include_router(console_api)
    app.include_router(console_pages)
    app.include_router(docs.router)  # /docs with local assets (no CDN)

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> JSONResponse:  # async: answers even when every worker thread works
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics of this process",
             response_class=PlainTextResponse, dependencies=[Depends(metrics_access)])
    def prometheus(m: Annotated[Metrics, Depends(get_metrics)]) -> PlainTextResponse:
        return PlainTextResponse(m.render(), media_type="text/plain; version=0.0.4")

    if settings.tsa_key is not None and settings.tsa_cert is not None:
        from ltv.server.routes_tsa import tsa_route  # key, rate limit, thread pool

        app.router.routes.insert(0, tsa_route(settings, store=store))

    if settings.pkcs11_module is not None:  # remote signing: CSC API v2 at /csc/v2/
        from ltv.server.routes_csc import install_remote_signing

        install_remote_signing(app, settings, store=store, clock=clock or services.clock)

    # outermost last: metrics see every answer, including 413, 429, 503 and 504
    app.add_middleware(Admission, limits=AdmissionLimits(
        max_concurrent=settings.max_concurrent, queue_seconds=settings.queue_seconds,
        tenant_concurrency=settings.tenant_concurrency, tenant_rate=settings.tenant_rate,
        anonymous_concurrency=settings.anonymous_concurrency,
        anonymous_rate=settings.anonymous_rate),
        audit=refusals or RefusalAudit(store, clock=clock or services.clock))
    app.add_middleware(BodyLimit, limit=settings.max_upload)
    app.add_middleware(Timeout, seconds=settings.request_timeout,
                       fetch_seconds=settings.fetch_budget, max_fetches=settings.max_fetches)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeaders)  # nosniff everywhere; CSP + frame-ancestors on HTML
    app.add_middleware(SessionPurger, store=store, clock=clock or services.clock,
                       interval=settings.session_purge_interval)
    return app


#: Multipart file parts up to this size are held in memory while the form is parsed.
UPLOAD_SPOOL_BYTES = 8 << 20


def _spool_uploads_in_memory() -> None:
    """Starlette spools a file part over 1 MiB to a temporary file on disk; every route here
    reads its uploads whole into memory right after, so for a 1 MiB PDF the disk only added a
    write and a read back (about 1 ms of the request's CPU). Parts up to
    :data:`UPLOAD_SPOOL_BYTES` now stay in memory; larger ones still go to disk."""
    from starlette.formparsers import MultiPartParser

    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, UPLOAD_SPOOL_BYTES)


def build_app(settings: ServerSettings) -> FastAPI:
    """The app as ``ltv serve`` runs it: store from ``--store``, services from ``--pki``/``--tsa``,
    trust anchors from ``--trust`` or the PKI's root, revocation fetched over HTTP under the
    server's fetch policy (:func:`fetch_policy`)."""
    from dataclasses import replace

    from archive.audit import AuditEvent
    from archive.retention import RetentionPeriod
    from ltv.clock import SystemClock
    from ltv.online.egress import Egress
    from ltv.online.services import online_services

    store = open_store(settings.store_url, min_retention=RetentionPeriod.parse(
        settings.min_retention), allow_unlocked=settings.allow_unlocked)
    store.write_once_mode()  # an unreachable store or an unlocked bucket fails here, at start
    known: list[x509.Certificate] = []
    tsa_url = settings.tsa_url
    if settings.pki is not None:
        from samples.services import pki_certificates, pki_tsa_url

        known = pki_certificates(settings.pki)
        tsa_url = tsa_url or pki_tsa_url(settings.pki)
    refusals = RefusalAudit(store, clock=SystemClock())
    egress = Egress(fetch_policy(settings), on_refused=lambda what: refusals.refused(
        AuditEvent.FETCH, who=CALLER.get()[0], object_id=CALLER.get()[1],
        reason=f"{what} address refused"))
    from ltv.validation.certpath import PARSED

    PARSED.set_budget(settings.cache_size)  # parsed certificates and CRLs of uploads
    services = online_services(tsa_url=tsa_url, egress=egress, known_certificates=known,
                               cache_bytes=settings.cache_size)
    if not settings.trust and settings.pki is not None:
        settings = replace(settings, trust=(Path(settings.pki) / "root.pem",))
    # the signing services' fetchers cache fresh answers (bounded LRU): validation shares them
    fetchers = RevocationFetchers(ocsp=services.ocsp_fetcher, crl=services.crl_fetcher,
                                  certificates=services.certificate_fetcher)
    return create_app(settings, store=store, services=services, fetchers=fetchers,
                      refusals=refusals)


def fetch_policy(settings: ServerSettings) -> FetchPolicy:
    """The server's outbound fetch policy: public addresses only, plus ``--fetch-allow`` rules
    (and the sample PKI's own server with ``--pki DIR``), minus ``--fetch-deny`` rules."""
    allow = list(settings.fetch_allow)
    if settings.pki is not None:
        from samples.services import pki_fetch_allow

        allow.append(pki_fetch_allow(settings.pki))
    return FetchPolicy.build(public_only=True, allow=dict.fromkeys(allow),
                             deny=settings.fetch_deny,
                             timeout=settings.fetch_timeout,
                             crl_max_bytes=settings.max_crl_size)


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker (``LTV_SERVER_SETTINGS``, see :class:`ServerSettings`)."""
    return build_app(ServerSettings.from_environment())
