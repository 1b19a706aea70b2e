"""One incident: ``GET /incidents/{uid}``.

The record comes from the API's own read path (``tocsin.api.records.load_one``): the viewer's
scope in the query, then the field redaction, names of victims and witnesses decrypted only
for roles that may see them. A forbidden field is absent from the record, so the template
simply has nothing to show for it. A read of a restricted case is audited like the API's.

Shown: what happened (date, type, acts, actors, fatalities, victims), where (with a small
server-drawn map when the coordinates are visible), the sources with their Admiralty grades,
and a timeline (created, updated). Admins also see the audit trail of the record (entries
whose target is this incident); that read of the ledger is itself audited.

The page title stays generic ("Incident"): titles end up in browser history and window lists.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, select

from tocsin.api.deps import current_principal, get_services
from tocsin.api.records import load_one
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.store.schema_security import audit_log
from tocsin.web.incident_corroboration import SEARCH_DAYS, SEARCH_KM, corroboration_for
from tocsin.web.labels import TIER_LABELS, VIOLENCE_LABELS
from tocsin.web.map_page import login_redirect
from tocsin.web.palette import FOCUS_BORDER, MAP_COLOURS, VIOLENCE_COLOURS
from tocsin.web.render import render_page
from tocsin.web.report_links import linked_reports_for_page
from tocsin.web.svgmap import MapPoint, padded_box, render_map

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

AUDIT_TRAIL_ROWS = 200
MAP_SPAN_DEG = 3.0  # the small map shows about 3 degrees around the incident


def _audit_trail(conn: Connection, uid: str) -> list[dict[str, Any]]:
    t = audit_log.c
    rows = conn.execute(
        select(t.seq, t.at, t.actor, t.action, t.details)
        .where(t.target == f"event:{uid}")
        .order_by(t.seq.desc())
        .limit(AUDIT_TRAIL_ROWS)
    ).all()
    out = []
    for row in rows:
        details = json.loads(row.details)
        shown = {k: v for k, v in details.items() if k != "uids"}  # the uid is this page's
        out.append(
            {
                "seq": row.seq,
                "at": row.at,
                "actor": row.actor,
                "action": row.action,
                "details": ", ".join(f"{k}: {v}" for k, v in sorted(shown.items())),
            }
        )
    return out


def _small_map(record: dict[str, Any]) -> Any | None:
    lat, lon = record.get("latitude"), record.get("longitude")
    if lat is None or lon is None:
        return None
    half = MAP_SPAN_DEG / 2
    box = padded_box((lon - half, lat - half, lon + half, lat + half))
    category = record.get("violence_type") or "unknown"
    focus = [record["country_iso3"]] if record.get("country_iso3") else []
    return render_map([MapPoint(lon, lat, category)], box, width=480, focus=focus, point_radius=7)


@router.get("/incidents/{uid}", response_class=HTMLResponse, name="incident_page")
def incident_page(
    request: Request,
    uid: Annotated[str, Path(max_length=64)],
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    if not principal.can(Permission.EVENTS_READ):
        if not principal.authenticated:
            return login_redirect("/map")  # never the incident's own path: it names a record
        return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)
    found = load_one(uow.conn, services.keys, principal, uid)
    if found is None:
        # Absent and out of scope look the same, so that existence does not leak.
        return render_page(request, "not_found.html", {}, principal=principal, status_code=404)
    record, _stored, restricted = found
    if restricted:
        uow.audit(principal.actor(), "event.read", f"event:{uid}", {"uids": [uid], "via": "page"})
    trail = None
    if principal.can(Permission.AUDIT_READ):
        trail = _audit_trail(uow.conn, uid)
        uow.audit(principal.actor(), "audit.read", f"event:{uid}", {"returned": len(trail)})
    linked = linked_reports_for_page(uow, principal, uid)
    corroboration = corroboration_for(uow.conn, principal.record_scope(), _stored.event, record)
    context = {
        "active": "map",
        "linked_reports": linked,
        "corroboration": corroboration,
        "corroboration_window": {"days": SEARCH_DAYS, "km": int(SEARCH_KM)},
        "r": record,
        "small_map": _small_map(record),
        "colours": VIOLENCE_COLOURS,
        "map_colours": MAP_COLOURS,
        "focus_border": FOCUS_BORDER,
        "violence_labels": VIOLENCE_LABELS,
        "tier_labels": TIER_LABELS,
        "trail": trail,
        "hidden": {
            group: group_hidden
            for group, group_hidden in (
                ("location", "latitude" not in record),
                ("narrative", "description" not in record),
                ("sources", "sources" not in record),
                ("persons", "persons" not in record),
            )
        },
    }
    return render_page(request, "incident.html", context, principal=principal)
