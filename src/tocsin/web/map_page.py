"""The incident map: ``GET /map`` and the data behind it.

- ``GET /map``: the page. A filter form (dates, types of violence, actor, tier as allowed), a
  count, the latest matching incidents as a table, and a ``<div>`` that ``static/js/map.js``
  turns into a Leaflet map with clustering. Without JavaScript a server-drawn picture of the
  same incidents (``<noscript><img>``) replaces the interactive map, and the table and the
  form work as they are.
- ``GET /map/events.geojson``: the matching incidents in the viewer's scope, redacted.
- ``GET /map/events.json``: the same as compact arrays, gzipped when accepted (what the map
  loads: a third of the bytes, and much cheaper to encode and parse than GeoJSON).
- ``GET /map/picture.svg``: the static picture for browsers without JavaScript.
- ``GET /map/incidents/{uid}.json``: one incident, for a marker's popup.
- ``GET /map/risk.json``: the risk choropleth's values, from the latest forecast run (internal).
- ``GET /map/admin-boundaries.geojson``: the optional boundaries layer (404 when not set).

The map follows the API's policy: it needs ``events:read``, the scope is the viewer's record
scope (narrowed by the tier filter, never widened), every record passes the field redaction,
and reads of restricted cases are written to the audit log like the API's.
"""

from __future__ import annotations

import gzip
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import Connection

from tocsin.api.deps import current_principal, get_services
from tocsin.api.middleware import CSP
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security.policies import AccessScope, Permission, is_restricted_case
from tocsin.security.principal import Principal
from tocsin.web import dashboard_data, forecast_data, map_data, protected_sites
from tocsin.web.filters import MapFilters, parse_filters
from tocsin.web.forecast_data import FORECAST_TIER
from tocsin.web.i18n import environment
from tocsin.web.labels import TIER_LABELS, VIOLENCE_LABELS, VIOLENCE_ORDER
from tocsin.web.palette import FOCUS_BORDER, MAP_COLOURS, RISK_COLOURS, VIOLENCE_COLOURS
from tocsin.web.render import render_page, request_language, static_url
from tocsin.web.settings import WebSettings
from tocsin.web.svgmap import MapPoint, box_of_points, padded_box, render_map

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

LATEST_ROWS = 25
WORLD_BOX = (-180.0, -60.0, 180.0, 80.0)
GEOJSON = "application/geo+json"
GZIP_MIN_BYTES = 1400  # below one packet, compressing gains nothing


def web_settings(request: Request) -> WebSettings:
    return getattr(request.app.state, "web_settings", None) or WebSettings()


def _params(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


def _audit(uow: UnitOfWork, principal: Principal, uids: list[str], how: str) -> None:
    # Same entry as the API's reads (tocsin.api.routers.events.audit_reads), so the ledger
    # reads alike whichever door a restricted record left by.
    if uids:
        target = f"event:{uids[0]}" if len(uids) == 1 else "events"
        uow.audit(principal.actor(), "event.read", target, {"uids": uids, "via": how})


def _json(body: dict[str, Any], status: int) -> Response:
    return JSONResponse(body, status_code=status)


def login_redirect(path: str) -> RedirectResponse:
    # Only the path: a query string may carry filter values, and URLs end up in logs.
    return RedirectResponse("/login?" + urlencode({"next": path}), status_code=303)


def _forbidden(request: Request, principal: Principal) -> HTMLResponse:
    return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)


def _latest(
    conn: Connection, filters: MapFilters, scope: AccessScope
) -> tuple[list[dict[str, Any]], list[str]]:
    """The newest matching incidents for the table, redacted like the map's points."""
    if scope.is_empty:
        return [], []
    where = map_data.where_clauses(conn, filters.query(), scope)
    rows = map_data.rows_newest_first(conn, where, LATEST_ROWS)
    owners = map_data.owners_of(conn, [r.id for r in rows]) if scope.owner_user_id else {}
    redactor = map_data.Redactor(scope)
    out, restricted = [], []
    for row in rows:
        record = redactor.record(row, owners.get(row.id))
        if record is None:
            continue
        if is_restricted_case(record["sensitivity"], record["case_class"]):
            restricted.append(record["uid"])
        start, end = record["date_start"], record["date_end"]
        out.append(
            {
                "uid": record["uid"],
                "date": start if start == end else f"{start} – {end}",
                "place": record.get("place_name"),
                "admin1": record.get("admin1_name") or "",
                "country": record.get("country_iso3") or "",
                "type": record.get("violence_type") or "unknown",
                "fatalities": record.get("fatalities_best"),
                "tier": record["sensitivity"],
                "located": "latitude" in record and record.get("latitude") is not None,
            }
        )
    return out, restricted


# Upper bounds of the five classes of P(at least one fatality), drawn with RISK_COLOURS.
RISK_CLASSES = (0.2, 0.4, 0.6, 0.8, 1.0)


def _risk_available(uow: UnitOfWork, principal: Principal) -> bool:
    return _sees_forecasts(principal) and forecast_data.latest_run(uow.conn) is not None


def _risk_legend() -> list[dict[str, str]]:
    lows = (0.0, *RISK_CLASSES[:-1])
    return [
        {"colour": colour, "range": f"{round(100 * lo)}–{round(100 * hi)}%"}
        for colour, lo, hi in zip(RISK_COLOURS, lows, RISK_CLASSES, strict=True)
    ]


def _page_csp(settings: WebSettings) -> str | None:
    """The map page's CSP: the base policy, plus the tile server's origin for images."""
    origin = settings.tiles.origin if settings.tiles else None
    if origin is None:
        return None
    return CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")


@router.get("/map", response_class=HTMLResponse, name="map_page")
def map_page(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
) -> Response:
    if not principal.can(Permission.EVENTS_READ):
        if not principal.authenticated:
            return login_redirect("/map")
        return _forbidden(request, principal)
    viewer_scope = principal.record_scope()
    filters = parse_filters(_params(request), viewer_scope.tiers)
    scope = filters.scope(viewer_scope)
    total = map_data.count_matching(uow.conn, filters.query(), scope)
    latest, restricted = _latest(uow.conn, filters, scope)
    _audit(uow, principal, restricted, "map")
    settings = web_settings(request)
    query = filters.query_string()
    suffix = f"?{query}" if query else ""
    context = {
        "active": "map",
        "filters": filters,
        "problems": {p.field: p for p in filters.problems},
        "problem_list": list(filters.problems),
        "allowed_tiers": [t.value for t in sorted(viewer_scope.tiers, key=lambda t: t.rank)],
        "tier_labels": TIER_LABELS,
        "violence_labels": VIOLENCE_LABELS,
        "violence_order": [v for v in VIOLENCE_ORDER if v != "unknown"],
        "legend_order": VIOLENCE_ORDER,
        "selected_types": {v.value for v in filters.violence_types},
        "total": total,
        "latest": latest,
        "events_url": f"/map/events.json{suffix}",
        "picture_url": f"/map/picture.svg{suffix}",
        "basemap_url": static_url("basemap/countries.geojson"),
        "admin_url": "/map/admin-boundaries.geojson" if settings.admin_boundaries else "",
        "tiles": settings.tiles,
        "risk_url": "/map/risk.json" if _risk_available(uow, principal) else "",
        "risk_classes": _risk_legend(),
        "owner_only": viewer_scope.owner_user_id is not None,
        **_sitrep_button(principal, filters),
        "sites": _sites_for(request, principal),
        "sites_url": "/map/sites.geojson",
        "site_kinds": protected_sites.SITE_KIND_LABELS,
        "site_symbols": protected_sites.SITE_KIND_SYMBOLS,
    }
    headers = {}
    if (csp := _page_csp(settings)) is not None:
        headers["content-security-policy"] = csp
    status = 400 if filters.problems else 200
    return render_page(
        request, "map.html", context, principal=principal, status_code=status, headers=headers
    )


def _problem_response(filters: MapFilters) -> Response:
    problem = filters.problems[0]
    return _json({"detail": f"invalid filter {problem.field}: {problem.message}"}, 422)


def _data_access(
    request: Request, principal: Principal
) -> tuple[MapFilters, AccessScope] | Response:
    if not principal.can(Permission.EVENTS_READ):
        status = 403 if principal.authenticated else 401
        return _json({"detail": "sign in with a role that may read events"}, status)
    viewer_scope = principal.record_scope()
    filters = parse_filters(_params(request), viewer_scope.tiers)
    if filters.problems:
        return _problem_response(filters)
    return filters, filters.scope(viewer_scope)


@router.get("/map/events.geojson", name="map_events")
def map_events(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
) -> Response:
    access = _data_access(request, principal)
    if isinstance(access, Response):
        return access
    filters, scope = access
    points = map_data.map_points(
        uow.conn, filters.query(), scope, limit=web_settings(request).map_max_features
    )
    _audit(uow, principal, points.restricted_uids, "map")
    return Response(content=points.to_json(), media_type=GEOJSON)


def _compressed(request: Request, body: str, media_type: str) -> Response:
    """gzip (fast level) when the browser accepts it: the compact data of 50,000 incidents
    shrinks several-fold, which is what counts on a field office's link. No secret is mixed
    with attacker-chosen text in these bodies, so compression leaks nothing (BREACH)."""
    data = body.encode("utf-8")
    headers = {"vary": "Accept-Encoding"}
    if len(data) > GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        data = gzip.compress(data, compresslevel=1)
        headers["content-encoding"] = "gzip"
    return Response(content=data, media_type=media_type, headers=headers)


@router.get("/map/events.json", name="map_events_compact")
def map_events_compact(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
) -> Response:
    """The same incidents as ``/map/events.geojson``, as compact arrays (what map.js loads)."""
    access = _data_access(request, principal)
    if isinstance(access, Response):
        return access
    filters, scope = access
    points = map_data.map_points(
        uow.conn, filters.query(), scope, limit=web_settings(request).map_max_features
    )
    _audit(uow, principal, points.restricted_uids, "map")
    return _compressed(request, points.to_compact_json(), "application/json")


@router.get("/map/picture.svg", name="map_picture")
def map_picture(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
) -> Response:
    access = _data_access(request, principal)
    if isinstance(access, Response):
        return access
    filters, scope = access
    points = map_data.map_points(
        uow.conn, filters.query(), scope, limit=web_settings(request).map_max_features
    )
    _audit(uow, principal, points.restricted_uids, "map")
    marks = [MapPoint(lon, lat, vtype) for lon, lat, vtype in points.points]
    box = box_of_points(marks) or padded_box(WORLD_BOX)
    svg = (
        environment(request_language(request))
        .get_template("map_picture.svg")
        .render(
            m=render_map(marks, box, width=960),
            colours=VIOLENCE_COLOURS,
            map_colours=MAP_COLOURS,
            focus=FOCUS_BORDER,
        )
    )
    return Response(content=svg, media_type="image/svg+xml")


@router.get("/map/incidents/{uid}.json", name="map_incident")
def map_incident(
    request: Request,
    uid: Annotated[str, Path(max_length=64)],
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
) -> Response:
    """What a marker's popup shows: one incident, redacted, read-audited if restricted."""
    if not principal.can(Permission.EVENTS_READ):
        status = 403 if principal.authenticated else 401
        return _json({"detail": "sign in with a role that may read events"}, status)
    found = map_data.incident_detail(uow.conn, uid, principal.record_scope())
    if found is None:
        return _json({"detail": "no such incident in your scope"}, 404)
    record, restricted = found
    if restricted:
        _audit(uow, principal, [record["uid"]], "map")
    start, end = record["date_start"], record["date_end"]
    body: dict[str, Any] = {
        "date": start if start == end else f"{start}/{end}",
        "type": record.get("violence_type") or "unknown",
        "fatalities": record.get("fatalities_best"),
        "admin1": record.get("admin1_name"),
        "country": record.get("country_iso3"),
        "approx": record.get("latitude") is None,
    }
    if "place_name" in record:  # absent when redacted
        body["place"] = record["place_name"]
    return _json(body, 200)


def _sees_forecasts(principal: Principal) -> bool:
    return FORECAST_TIER in principal.record_scope().tiers


@router.get("/map/risk.json", name="map_risk")
def map_risk(
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    """P(at least one fatality) per unit for one month of the latest forecast run at a level
    (countries, PRIO-GRID cells, or admin areas when a boundaries layer is configured)."""
    if not principal.can(Permission.EVENTS_READ):
        status = 403 if principal.authenticated else 401
        return _json({"detail": "sign in with a role that may read events"}, status)
    if not _sees_forecasts(principal):
        return _json({"detail": "forecasts are internal; your role does not see them"}, 403)
    layer = forecast_data.risk_layer(uow.conn, services.settings.clock().date())
    if layer is None:
        return _json({"detail": "no forecast run is stored"}, 404)
    run = layer.run
    return _json(
        {
            "run": run.id,
            "model": f"{run.model} {run.model_version}",
            "level": run.level,
            "target": run.target,
            "data_cutoff": run.data_cutoff,
            "month": layer.month,
            "classes": list(RISK_CLASSES),
            "values": layer.values,
        },
        200,
    )


def _sitrep_button(principal: Principal, filters: MapFilters) -> dict[str, Any]:
    """The situation-report form under the map (it posts to ``/sitrep``, see ``dashboard``)."""
    scope = principal.record_scope()
    tier = dashboard_data.viewer_tier(scope)
    start = filters.start
    period = start.strftime("%Y-%m") if start is not None else ""
    return {
        "may_report": tier is not None and scope.owner_user_id is None,
        "reader_tier": tier.value if tier is not None else None,
        "sitrep_values": {"period": period, "area": "", "format": "pdf"},
        "sitrep_formats": ("pdf", "html"),
    }


def _sites_for(request: Request, principal: Principal) -> list[protected_sites.VisibleSite]:
    source = getattr(request.app.state, "protected_sites", None)
    if source is None:
        return []
    return protected_sites.visible_sites(source.sites(), principal.record_scope().tiers)


@router.get("/map/sites.geojson", name="map_sites")
def map_sites(request: Request, principal: Principal = Depends(current_principal)) -> Response:
    """The protected sites the viewer's tier may see (none above it, not even counted)."""
    if not principal.can(Permission.EVENTS_READ):
        status = 403 if principal.authenticated else 401
        return _json({"detail": "sign in with a role that may read events"}, status)
    body = protected_sites.to_geojson(_sites_for(request, principal))
    return Response(content=body, media_type=GEOJSON, headers={"cache-control": "no-store"})


@router.get("/map/admin-boundaries.geojson", name="map_admin_boundaries")
def admin_boundaries(
    request: Request, principal: Principal = Depends(current_principal)
) -> Response:
    if not principal.can(Permission.EVENTS_READ):
        status = 403 if principal.authenticated else 401
        return _json({"detail": "sign in with a role that may read events"}, status)
    cache = getattr(request.app.state, "admin_boundaries", None)
    if cache is None:
        return _json({"detail": "no admin boundaries are configured"}, 404)
    return Response(content=cache.get().geojson, media_type=GEOJSON)
