"""``/api/v1/exports``: CSV, GeoJSON and HXL.

Small exports are answered at once (``GET /api/v1/exports/events``); anything larger than
``Settings.sync_export_limit`` events is a background job (``POST /api/v1/exports``) whose
file only its requester can download. Identifying fields are absent from every file (names
never leave in bulk, TM-07), and every export is audited with the uids of the restricted cases
it contains.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.responses import FileResponse
from pydantic import Field
from sqlalchemy import func, select

from tocsin.api.deps import get_services, require
from tocsin.api.exports_worker import FORMATS, write_export
from tocsin.api.records import export_records, store_scope
from tocsin.api.schemas.common import Message, Out
from tocsin.api.schemas.events import EventFilter, GeoJSONPolygon
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.store import schema as s
from tocsin.store.queries import count_events
from tocsin.store.schema_security import event_owners, export_jobs

router = APIRouter(prefix="/api/v1/exports", tags=["exports"], route_class=UnitOfWorkRoute)
Format = Literal["csv", "geojson", "hxl"]


class ExportParams(EventFilter):
    format: Format = "csv"


class ExportJobIn(EventFilter):
    format: Format = "csv"
    polygon: GeoJSONPolygon | None = None


class ExportJobOut(Out):
    id: str
    format: str
    status: Literal["queued", "running", "done", "failed", "expired"]
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime
    row_count: int | None
    error: str | None
    download_url: str | None = Field(description="set when the file is ready")


def _count(uow: UnitOfWork, principal: Principal, query: Any) -> int:
    scope = principal.record_scope()
    if scope.is_empty:
        return 0
    if scope.owner_user_id is None:
        return count_events(uow.conn, query, store_scope(scope))
    e = s.events.c
    return int(
        uow.conn.scalar(
            select(func.count())
            .select_from(s.events)
            .where(
                e.id.in_(
                    select(event_owners.c.event_id).where(
                        event_owners.c.user_id == scope.owner_user_id
                    )
                ),
                e.sensitivity.in_(sorted(t.value for t in scope.tiers)),
                e.case_class.in_(sorted(c.value for c in scope.case_classes)),
            )
        )
        or 0
    )


@router.get(
    "/events",
    responses={
        200: {
            "content": {"text/csv": {}, "application/geo+json": {}},
            "description": "the file",
        },
        400: {"model": Message, "description": "too large: use an export job"},
    },
    summary="Export events now (small exports)",
)
def export_now(
    params: Annotated[ExportParams, Query()],
    principal: Principal = Depends(require(Permission.EXPORT)),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    query = params.to_query()
    limit = services.settings.sync_export_limit
    n = _count(uow, principal, query)
    if n > limit:
        raise HTTPException(
            400, f"{n} events match; exports of more than {limit} run as jobs: POST /api/v1/exports"
        )
    restricted: list[str] = []
    buffer = io.StringIO(newline="")
    rows = write_export(
        params.format, export_records(uow.conn, principal, query, restricted), buffer, principal
    )
    uow.audit(
        principal.actor(),
        "export.download",
        "events",
        {
            "format": params.format,
            "rows": rows,
            "filters": params.model_dump(mode="json", exclude_defaults=True),
            "restricted_uids": restricted,
        },
    )
    ext, media = FORMATS[params.format]
    stamp = services.settings.clock().strftime("%Y%m%dT%H%M%SZ")
    return Response(
        buffer.getvalue().encode("utf-8"),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="tocsin-events-{stamp}.{ext}"'},
    )


def _job_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "format": row.format,
        "status": row.status,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "expires_at": row.expires_at,
        "row_count": row.row_count,
        "error": row.error,
        "download_url": f"/api/v1/exports/{row.id}/download" if row.status == "done" else None,
    }


@router.post(
    "",
    status_code=202,
    response_model=ExportJobOut,
    summary="Start an export job",
)
def start_job(
    body: ExportJobIn,
    principal: Principal = Depends(require(Permission.EXPORT)),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The file appears at ``download_url`` when the job is done; poll the job."""
    params = body.model_dump(mode="json", exclude_defaults=True, exclude={"format"})
    body.to_query(params.get("polygon"))  # refuse a bad query now, not in the worker
    assert services.exports is not None
    job_id = services.exports.create(uow.conn, principal, body.format, params)
    uow.audit(principal.actor(), "export.request", f"export:{job_id}", {"format": body.format})
    uow.commit()
    services.exports.submit(job_id)
    with services.engine.connect() as conn:
        job = conn.execute(select(export_jobs).where(export_jobs.c.id == job_id)).one()
    return _job_out(job)


JobId = Annotated[str, Path(max_length=36)]


def _own_job(uow: UnitOfWork, principal: Principal, job_id: str) -> Any:
    job = uow.conn.execute(
        select(export_jobs).where(
            export_jobs.c.id == job_id, export_jobs.c.user_id == principal.user_id
        )
    ).first()
    if job is None:  # someone else's job is as invisible as a missing one
        raise HTTPException(404, "no such export job of yours")
    return job


@router.get("", response_model=list[ExportJobOut], summary="Your export jobs")
def list_jobs(
    principal: Principal = Depends(require(Permission.EXPORT)),
    uow: UnitOfWork = Depends(get_uow),
) -> list[dict[str, Any]]:
    rows = uow.conn.execute(
        select(export_jobs)
        .where(export_jobs.c.user_id == principal.user_id)
        .order_by(export_jobs.c.created_at.desc())
        .limit(100)
    )
    return [_job_out(r) for r in rows]


@router.get(
    "/{job_id}",
    response_model=ExportJobOut,
    responses={404: {"model": Message}},
    summary="One of your export jobs",
)
def read_job(
    job_id: JobId,
    principal: Principal = Depends(require(Permission.EXPORT)),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    return _job_out(_own_job(uow, principal, job_id))


@router.get(
    "/{job_id}/download",
    responses={
        200: {"content": {"text/csv": {}, "application/geo+json": {}}},
        404: {"model": Message},
        409: {"model": Message, "description": "not ready, failed or expired"},
    },
    summary="Download the file of a finished export job",
)
def download(
    job_id: JobId,
    principal: Principal = Depends(require(Permission.EXPORT)),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    job = _own_job(uow, principal, job_id)
    if job.status != "done":
        raise HTTPException(409, f"the export is {job.status}")
    assert services.exports is not None
    path = services.exports.path_for(job.id, job.format)
    if not path.exists():
        raise HTTPException(409, "the export file is gone (expired)")
    uow.audit(
        principal.actor(),
        "export.download",
        f"export:{job.id}",
        {"format": job.format, "rows": job.row_count},
    )
    ext, media = FORMATS[job.format]
    return FileResponse(path, media_type=media, filename=f"tocsin-export-{job.id[:8]}.{ext}")
