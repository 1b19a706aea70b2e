"""The signed-in home page ``GET /dashboard`` and the situation-report button ``POST /sitrep``.

The dashboard needs ``events:read``; every figure is read in the viewer's record scope (see
``dashboard_data``). The situation report is made for the reader's own tier (the highest tier
of their scope, and never wider than their scope), from a form posted to ``/sitrep``: the
period and area travel in the body, not the URL, and the answer is a download (HTML or PDF),
never a page at an address that names the area. Each generation is audited like the CLI's.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.api.deps import current_principal, get_services
from tocsin.api.services import Services
from tocsin.api.uow import ReadOnlyRoute, UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.web import dashboard_data as data
from tocsin.web import sitrep
from tocsin.web.forecast_data import FORECAST_TIER
from tocsin.web.i18n import N_
from tocsin.web.labels import ALERT_STATE_LABELS, TIER_LABELS, VIOLENCE_LABELS, VIOLENCE_ORDER
from tocsin.web.map_page import login_redirect
from tocsin.web.palette import VIOLENCE_COLOURS
from tocsin.web.render import render_page, request_language

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
# The report is rendered (seconds for a PDF) without holding the database's write lock; the
# audit entry is written in the unit of work's own short transaction at the end.
sitrep_router = APIRouter(route_class=ReadOnlyRoute, include_in_schema=False)

SITREP_FORMATS = ("pdf", "html")
MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}


def _may_report(principal: Principal) -> bool:
    """Own-records roles (field reporters) get no area-wide report."""
    scope = principal.record_scope()
    return not scope.is_empty and scope.owner_user_id is None


def _today(services: Services) -> date:
    return services.settings.clock().date()


def _sitrep_defaults(ref: date) -> dict[str, str]:
    return {"period": f"{ref.year:04d}-{ref.month:02d}", "area": "", "format": "pdf"}


def dashboard_context(
    uow: UnitOfWork, principal: Principal, today: date, form: dict[str, str] | None = None
) -> dict[str, Any]:
    scope = principal.record_scope()
    tier = data.viewer_tier(scope)
    ref = data.reference_day(uow.conn, scope, today)
    sees_forecasts = FORECAST_TIER in scope.tiers
    triage = None
    if principal.can(Permission.EVENTS_UPDATE) and scope.owner_user_id is None:
        triage = {"count": data.reports_awaiting_triage(uow.conn, scope)}
    return {
        "active": "dashboard",
        "today": today,
        "reference_day": ref,
        "windows": data.key_figures(uow.conn, scope, ref),
        "trend": data.monthly_trend(uow.conn, scope, ref),
        "alerts": data.open_alerts(
            uow.conn, tier if scope.owner_user_id is None else None, scope.case_classes
        ),
        "triage": triage,
        "risk": data.risk_summary(uow.conn, today) if sees_forecasts else None,
        "sees_forecasts": sees_forecasts,
        "colours": VIOLENCE_COLOURS,
        "violence_labels": VIOLENCE_LABELS,
        "violence_order": VIOLENCE_ORDER,
        "tier_labels": TIER_LABELS,
        "alert_states": ALERT_STATE_LABELS,
        "reader_tier": tier.value if tier is not None else None,
        "may_report": _may_report(principal),
        "sitrep_values": form or _sitrep_defaults(ref),
        "sitrep_error": None,
        "formats": SITREP_FORMATS,
    }


def _refuse(request: Request, principal: Principal) -> Response:
    if not principal.authenticated:
        return login_redirect("/dashboard")
    return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)


@router.get("/dashboard", response_class=HTMLResponse, name="dashboard")
def dashboard(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    if not principal.can(Permission.EVENTS_READ):
        return _refuse(request, principal)
    context = dashboard_context(uow, principal, _today(services))
    return render_page(request, "dashboard.html", context, principal=principal)


@sitrep_router.post("/sitrep", name="sitrep_generate")
def sitrep_generate(
    request: Request,
    period: Annotated[str, Form(max_length=40)] = "",
    area: Annotated[str, Form(max_length=40)] = "",
    output: Annotated[str, Form(alias="format", max_length=8)] = "pdf",
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    """The report for the reader's tier, as a download; a bad form re-shows the dashboard
    with the reason (400)."""
    if not principal.can(Permission.EVENTS_READ):
        return _refuse(request, principal)
    today = _today(services)
    form = {"period": period, "area": area, "format": output}
    if not _may_report(principal):
        return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)
    try:
        if output not in SITREP_FORMATS:
            raise sitrep.SitrepError(N_("choose PDF or HTML"))
        parsed_period = sitrep.parse_period(period, today)
        parsed_area = sitrep.parse_area(area)
    except sitrep.SitrepError as exc:
        context = dashboard_context(uow, principal, today, form)
        context["sitrep_error"] = exc.translate(request_language(request))
        return render_page(request, "dashboard.html", context, principal=principal, status_code=400)
    scope = principal.record_scope()
    tier = data.viewer_tier(scope)
    assert tier is not None  # _may_report refused an empty scope
    report = sitrep.build_sitrep(
        uow.conn, parsed_period, parsed_area, tier, now=services.settings.clock(), viewer=scope
    )
    html = sitrep.render_html(report, request_language(request))
    body = html.encode("utf-8") if output == "html" else sitrep.render_pdf(html)
    uow.audit(
        principal.actor(),
        "sitrep.generate",
        sitrep.audit_target(report),
        sitrep.generation_details(report, [output]),
    )
    filename = f"{sitrep.file_stem(report)}.{output}"
    return Response(
        content=body,
        media_type=MEDIA_TYPES[output],
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
        },
    )
