"""The forecast view: ``GET /forecast``.

Risk by unit for one month of the latest stored forecast run (a table; the same values are the
risk choropleth of ``/map``), and for one unit (``?unit=``): why its risk is what it is (the
stored explanations, in plain words) and its forecast against the fatalities that happened.

Forecasts are internal (``forecast_data.FORECAST_TIER``): roles without the internal tier get
the "not available" page. Unit codes and months in the query string are validated against the
run; a bad one gets a clear message (400), never an error page.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.api.deps import current_principal, get_services
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.forecast.registry.partitions import month_label
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.web import forecast_data
from tocsin.web import forecast_view as view
from tocsin.web.forecast_data import FORECAST_TIER
from tocsin.web.i18n import N_
from tocsin.web.map_page import login_redirect
from tocsin.web.palette import RISK_COLOURS
from tocsin.web.render import render_page, request_language

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

LEVEL_LABELS = {
    "cm": N_("Countries"),
    "adm1": N_("Admin-1 areas"),
    "adm2": N_("Admin-2 areas"),
    "pgm": N_("PRIO-GRID cells"),
}

# The two parts of the model, as the explanations name them (translated in the template).
PART_LABELS = (N_("occurrence"), N_("intensity"))


@router.get("/forecast", response_class=HTMLResponse, name="forecast_page")
def forecast_page(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    if not principal.can(Permission.EVENTS_READ):
        if not principal.authenticated:
            return login_redirect("/forecast")
        return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)
    scope = principal.record_scope()
    if FORECAST_TIER not in scope.tiers:
        return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)
    today = services.settings.clock().date()
    run = forecast_data.latest_run(uow.conn)
    context: dict = {"active": "forecast", "run": run, "problem": None, "unit": None}
    if run is None:
        return render_page(request, "forecast.html", context, principal=principal)
    params = request.query_params
    status = 200
    try:
        month = view.parse_month(params.get("month"), run, view.default_month(run, today))
    except view.ForecastInputError as exc:
        context["problem"] = exc.translate(request_language(request))
        month, status = view.default_month(run, today), 400
    rows, total = view.ranked_units(uow.conn, run, month)
    context.update(
        {
            "month": month_label(month),
            "months": [month_label(m) for m in range(run.first_month, run.last_month + 1)],
            "rows": rows,
            "total_units": total,
            "level_label": LEVEL_LABELS.get(run.level, run.level),
            "risk_colours": RISK_COLOURS,
        }
    )
    unit = params.get("unit")
    if unit and status == 200:
        try:
            code = view.check_unit(unit.strip())
            if not view.unit_exists(uow.conn, run, code):
                raise view.ForecastInputError(N_("the latest run has no forecast for this unit"))
        except view.ForecastInputError as exc:
            context["problem"], status = exc.translate(request_language(request)), 400
        else:
            names = forecast_data.unit_names(uow.conn, run.level, [code])
            points = view.series(uow.conn, run, code, scope, today)
            context["unit"] = {
                "code": code,
                "name": names.get(code, code),
                "why": view.why(uow.conn, run, code, month),
                "plot": view.interval_plot(points),
                "points": points,
            }
    return render_page(request, "forecast.html", context, principal=principal, status_code=status)
