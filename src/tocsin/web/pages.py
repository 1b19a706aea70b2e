"""Mounts the analyst web pages on the API application: ``install(app)``.

``tocsin.api.app.create_app`` calls it once. It adds:

- ``/static/...``: the stylesheet, scripts, vendored Leaflet and the offline basemap
  (``SecurityHeaders`` lets only ``/static/`` be cached);
- ``POST /language``: the language switch (a cookie; no account needed);
- the pages: ``/login`` and ``/logout`` (``auth_pages``), ``/map`` and its data (``map_page``),
  ``/incidents/{uid}`` (``incident_page``), ``/dashboard`` and ``POST /sitrep`` (``dashboard``),
  ``/forecast`` (``forecast_page``), ``/sources`` and its import jobs (``sources_page``);
- a rate limit on ``POST /login`` like the API's on ``/api/v1/auth/login``.

Pages use the API's dependencies (principal, unit of work, audit), so they follow the same
policies; see ``docs/web.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from tocsin.api.settings import RateRule
from tocsin.web import (
    alerts_page,
    auth_pages,
    dashboard,
    forecast_page,
    incident_page,
    map_page,
    protected_sites,
    public_report,
    report_queue,
    sources_page,
)
from tocsin.web.auth_pages import local_path
from tocsin.web.boundaries import BoundariesCache
from tocsin.web.i18n import COOKIE_NAME, PUBLIC_LANGUAGES
from tocsin.web.import_jobs import ImportJobs
from tocsin.web.protected_sites import SitesSource
from tocsin.web.settings import WebSettings

STATIC_DIR = Path(__file__).parent / "static"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
PAGE_LOGIN_RULE = RateRule("page-login", "/login", 20, 10, frozenset({"POST"}), exact=True)

router = APIRouter(include_in_schema=False)


@router.post("/language", name="set_language")
def set_language(
    request: Request,
    lang: Annotated[str, Form(max_length=8)] = "",
    next: Annotated[str, Form(max_length=200)] = "/",  # noqa: A002 - the form's name
) -> RedirectResponse:
    """Remembers the chosen language in a cookie and goes back to the page (path only)."""
    response = RedirectResponse(local_path(next, "/"), status_code=303)
    if lang in PUBLIC_LANGUAGES:  # analyst pages ignore a language they do not offer
        response.set_cookie(
            COOKIE_NAME,
            lang,
            max_age=LANGUAGE_COOKIE_SECONDS,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
    return response


@router.get("/favicon.ico", name="favicon")
def favicon() -> FileResponse:
    """Browsers ask for it on every site; an SVG answers instead of a logged 404."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


def install(app: FastAPI, settings: WebSettings | None = None) -> None:
    """Adds the pages, the language switch and the static files to ``app``."""
    settings = settings or WebSettings.from_env()
    app.state.web_settings = settings
    app.state.admin_boundaries = (
        BoundariesCache(settings.admin_boundaries) if settings.admin_boundaries else None
    )
    app.state.protected_sites = SitesSource(
        settings.alerts_config or protected_sites.default_config_path()
    )
    app.include_router(router)
    app.include_router(auth_pages.router)
    app.include_router(map_page.router)
    app.include_router(incident_page.router)
    app.include_router(alerts_page.router)  # /alerts: docs/alerts.md
    app.include_router(report_queue.router)  # /reports: the triage queue, docs/verification.md
    public_report.install(app)  # /report, /report/status, /api/v1/public: docs/intake.md
    app.include_router(dashboard.router)
    app.include_router(dashboard.sitrep_router)
    app.include_router(forecast_page.router)
    app.include_router(sources_page.router)
    app.include_router(sources_page.upload_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    services = getattr(app.state, "services", None)
    if services is not None and PAGE_LOGIN_RULE not in services.settings.rate_rules:
        # The same list object the RateLimit middleware reads, so the rule applies at once.
        services.settings.rate_rules.append(PAGE_LOGIN_RULE)
    if services is not None:
        app.state.import_jobs = ImportJobs(services.engine)
        if sources_page.UPLOAD_PATH not in services.settings.upload_paths:
            # Uploads from the data-sources page get the API's upload limit, not 1 MiB.
            services.settings.upload_paths = (
                *services.settings.upload_paths,
                sources_page.UPLOAD_PATH,
            )
