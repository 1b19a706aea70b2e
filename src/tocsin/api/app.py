"""The FastAPI application factory.

``create_app(engine=None, settings=None)`` builds one self-contained app: its own engine (or the
one given), settings, keys and workers, all on ``app.state.services``. Routers live in
``tocsin.api.routers``; a later module (intake, alerts) adds its router by passing it in
``extra_routers`` or by adding one line to ``_ROUTERS`` below. See ``docs/api.md``.

Layers of a request, outside in: access log (no query strings) -> security headers -> rate
limits on public endpoints -> body size limit -> route. Each ``/api/v1`` route runs in a
``UnitOfWorkRoute``: one transaction, audit entries inside it, commit before the response.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, HTTPException, Request
from sqlalchemy import Engine

from tocsin import __version__
from tocsin.alerts.scheduler import run_alerts_if_due
from tocsin.api import errors
from tocsin.api.deps import resolve_principal
from tocsin.api.exports_worker import ExportWorker
from tocsin.api.heap import HeapFreezer
from tocsin.api.middleware import AccessLog, BodyLimit, RateLimit, SecurityHeaders
from tocsin.api.routers import (
    aggregates,
    alerts,
    audit,
    auth,
    event_merges,
    events,
    exports,
    health,
    imports,
    intake_sms,
    openrosa,
    reference,
    report_contact,
    reports,
    user_contacts,
    users,
)
from tocsin.api.services import Services
from tocsin.api.settings import Settings
from tocsin.api.uow import UnitOfWork
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security import sessions as session_store
from tocsin.security import throttle
from tocsin.security.keys import KeyRing
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.security.txn import write_transaction
from tocsin.store.db import make_engine
from tocsin.store.queries import Scope
from tocsin.web import pages as web_pages

log = logging.getLogger(__name__)

_ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    users.router,
    audit.router,
    events.router,
    event_merges.router,
    reference.router,
    aggregates.router,
    alerts.router,
    exports.router,
    imports.router,
    intake_sms.router,
    openrosa.router,
    report_contact.router,
    reports.router,
    user_contacts.router,
)

# The overview page shows counts and the latest events without per-field redaction or
# per-record audit, so it is limited to what is never a restricted case.
_OVERVIEW_TIERS = frozenset({SensitivityTier.PUBLIC, SensitivityTier.INTERNAL})
_OVERVIEW_CLASSES = frozenset({CaseClass.GENERAL})


def create_app(
    engine: Engine | None = None,
    settings: Settings | None = None,
    *,
    extra_routers: Iterable[APIRouter] = (),
    background: bool = True,
) -> FastAPI:
    settings = settings or Settings.from_env()
    engine = engine or make_engine()
    services = Services(engine=engine, settings=settings, keys=KeyRing(settings.home))
    services.exports = ExportWorker(services)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        services.exports.start()
        if background:
            thread = threading.Thread(
                target=_maintenance_loop, args=(services, stop), name="tocsin-maintenance"
            )
            thread.daemon = True
            thread.start()
            # A serving process (tests build apps without background work and keep their
            # collector as it is): start-up is over, keep full collections off its objects.
            services.heap = HeapFreezer()
            log.info("start-up heap frozen: %d objects", services.heap.start())
        try:
            yield
        finally:
            stop.set()
            services.exports.stop()
            services.ledger.stop()  # commits the audit entries still queued
            if thread is not None:
                thread.join(timeout=10)

    app = FastAPI(
        title="Tocsin API",
        version=__version__,
        description="Events, incidents and early warning for the protection of civilians. "
        "Every response is scoped to your role; restricted reads are audited.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI needs inline scripts and a CDN: neither is allowed here
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.engine = engine  # read by the overview router's get_engine
    errors.install(app)
    for router in (*_ROUTERS, *extra_routers):
        app.include_router(router)
    _mount_overview(app)
    web_pages.install(app)  # analyst pages, static files, language switch: docs/web.md

    app.add_middleware(BodyLimit, limit_for=settings.body_limit_for)
    app.add_middleware(RateLimit, rules=settings.rate_rules, buckets=services.buckets)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLog)
    return app


def overview_scope(request: Request) -> Scope:
    """The signed-in viewer's scope, narrowed to non-restricted records; public otherwise."""
    services: Services = request.app.state.services
    uow = UnitOfWork(services.engine, writes=False, clock=services.settings.clock)
    try:
        principal = resolve_principal(request, uow, services)
        uow.commit()  # keeps the session's last-seen time fresh
    except HTTPException:
        principal = Principal.anonymous()
    finally:
        uow.rollback()  # a no-op after the commit
    if principal.authenticated and principal.can(Permission.EVENTS_READ):
        request.state.signed_in_home = "/dashboard"  # GET / sends them on (web/overview.py)
    scope = principal.record_scope()
    if scope.owner_user_id is not None or scope.is_empty:
        return Scope.public()
    return Scope(scope.tiers & _OVERVIEW_TIERS, scope.case_classes & _OVERVIEW_CLASSES)


def _mount_overview(app: FastAPI) -> None:
    try:
        from tocsin.web import overview
    except ImportError:  # the web package is optional for API-only deployments
        log.warning("tocsin.web.overview not available; GET / is not served")
        return
    app.include_router(overview.router)
    # Read by overview.get_scope. Not app.dependency_overrides: a non-empty overrides map makes
    # FastAPI rebuild every route's dependency tree on every request (~1 ms of CPU per call).
    app.state.overview_scope = overview_scope


def _maintenance_loop(services: Services, stop: threading.Event) -> None:
    """Periodic signed checkpoint, pruning of dead sessions and old login attempts, and
    deletion of expired export files."""
    interval = services.settings.maintenance_interval.total_seconds()
    while not stop.wait(interval):
        run_maintenance(services)


def run_maintenance(services: Services) -> None:
    now = services.settings.clock()
    try:
        services.checkpoint()
        with write_transaction(services.engine) as conn:
            session_store.prune(conn, now)
            throttle.prune(conn, now, services.settings.throttle)
        if services.exports is not None:
            services.exports.expire(now)
    except Exception:  # maintenance must never take the server down; it retries next round
        log.exception("maintenance round failed")
    if services.settings.alerts_interval is not None:
        try:
            run_alerts_if_due(
                services.engine, now, services.settings.alerts_interval, keys=services.keys
            )
        except Exception:  # an alert round that fails is retried at the next maintenance
            log.exception("alert round failed")
