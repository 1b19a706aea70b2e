"""Data sources and imports: ``GET /sources``, ``POST /sources/import``,
``GET /sources/imports/{job}``.

- The page lists the datasets with events in the viewer's scope: counts, date span, version,
  last import and the attribution their licences require, and the latest import runs.
- Roles with the ``import`` permission (administrators, analysts) get an upload form. The file
  goes to the ingest runner as a background job (``import_jobs``) and the browser is sent to the
  job's page, which shows progress and refreshes itself every two seconds with a
  ``<meta http-equiv="refresh">`` until the job ends: no JavaScript needed.
- A bad form (no file, empty file, unknown format) re-shows the page with the reason (400); a
  file the runner cannot import fails its job, and the job's page says why. Nothing is stored.

The upload is ``multipart/form-data``, whose CSRF token the API's form hook does not read (it
reads URL-encoded forms only): this handler first checks that a session exists, then parses the
form (bounded by the body limit of ``upload_paths``), hands the token over, and resolves the
principal with the API's own check, so the same CSRF and same-origin rules apply.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tocsin.api.deps import current_principal, get_services, resolve_principal, session_cookie
from tocsin.api.services import Services
from tocsin.api.uow import ReadOnlyRoute, UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.ingest.formats import FORMAT_NAMES
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.store import schema as s
from tocsin.store.queries import Scope, data_sources
from tocsin.web.i18n import N_, gettext
from tocsin.web.import_jobs import ImportJob, ImportJobs
from tocsin.web.map_page import login_redirect
from tocsin.web.overview import attribution_for
from tocsin.web.render import render_page, request_language

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
upload_router = APIRouter(route_class=ReadOnlyRoute, include_in_schema=False)

UPLOAD_PATH = "/sources/import"
RECENT_RUNS = 10
REFRESH_SECONDS = 2
_CHUNK = 1024 * 1024
_FORM_FIELDS = {"file", "format", "dataset_version", "csrf_token"}
# Names of the import formats in the upload form (the option values stay the format keys).
FORMAT_LABELS = {
    "ucdp": N_("UCDP GED (CSV)"),
    "acled": N_("ACLED (CSV)"),
    "insecurity_insight": N_("Insecurity Insight (JSON)"),
    "hxl": N_("HXL-tagged CSV"),
    "geojson": N_("GeoJSON"),
}
_JOB_ID = r"^[0-9a-f]{32}$"


def jobs_of(request: Request) -> ImportJobs:
    jobs = getattr(request.app.state, "import_jobs", None)
    if jobs is None:
        raise RuntimeError("tocsin.web.pages.install sets app.state.import_jobs")
    return jobs


def _refuse(request: Request, principal: Principal, path: str) -> Response:
    if not principal.authenticated:
        return login_redirect(path)
    return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)


def _may_view(principal: Principal) -> bool:
    scope = principal.record_scope()
    # Counts per dataset are over the viewer's tiers; own-records roles would learn the size
    # of records they may not read, so they do not get the page.
    return principal.can(Permission.EVENTS_READ) and scope.owner_user_id is None


def _recent_runs(conn: Connection) -> list[dict[str, Any]]:
    r = s.import_runs.c
    rows = conn.execute(
        select(
            r.id,
            r.dataset,
            r.format,
            r.started_at,
            r.finished_at,
            r.n_read,
            r.n_inserted,
            r.n_updated,
            r.n_rejected,
        )
        .order_by(r.started_at.desc(), r.id.desc())
        .limit(RECENT_RUNS)
    ).all()
    return [dict(row._mapping) for row in rows]


def _page_context(uow: UnitOfWork, principal: Principal) -> dict[str, Any]:
    scope = principal.record_scope()
    sources = data_sources(uow.conn, Scope(scope.tiers, scope.case_classes))
    may_import = principal.can(Permission.IMPORT)
    return {
        "active": "sources",
        "sources": [
            {
                "dataset": src.dataset,
                "events": src.events,
                "first": src.first_date,
                "last": src.last_date,
                "version": src.version or "",
                "last_import": src.last_import_at,
                "attribution": attribution_for(src.dataset),
            }
            for src in sources
        ],
        "runs": _recent_runs(uow.conn) if may_import else [],
        "may_import": may_import,
        "formats": [(f, FORMAT_LABELS.get(f, f)) for f in FORMAT_NAMES],
        "upload_error": None,
        "form": {"format": "", "dataset_version": ""},
    }


@router.get("/sources", response_class=HTMLResponse, name="sources_page")
def sources_page(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
) -> Response:
    if not _may_view(principal):
        return _refuse(request, principal, "/sources")
    return render_page(request, "sources.html", _page_context(uow, principal), principal=principal)


def _form_error(
    request: Request, uow: UnitOfWork, principal: Principal, message: str, form: dict[str, str]
) -> Response:
    context = _page_context(uow, principal)
    context.update(upload_error=message, form=form)
    return render_page(request, "sources.html", context, principal=principal, status_code=400)


@upload_router.post(UPLOAD_PATH, name="sources_import")
async def sources_import(
    request: Request,
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    if session_cookie(request) is None and "authorization" not in request.headers:
        return login_redirect("/sources")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(415, "send the file as multipart/form-data")
    form = await request.form(max_files=1, max_fields=len(_FORM_FIELDS))
    token = form.get("csrf_token")
    if isinstance(token, str):
        request.state.csrf_form_token = token
    principal: Principal = await run_in_threadpool(resolve_principal, request, uow, services)
    if not principal.can(Permission.IMPORT) or not _may_view(principal):
        return _refuse(request, principal, "/sources")
    fmt = form.get("format") or None
    version = form.get("dataset_version") or None
    shown = {
        "format": fmt if isinstance(fmt, str) and fmt in FORMAT_NAMES else "",
        "dataset_version": version if isinstance(version, str) else "",
    }

    def problem(message: str, **params: object) -> Response:
        # ``message`` is an English msgid (N_); shown in the reader's language.
        text = gettext(request_language(request), message)
        return _form_error(request, uow, principal, text % params if params else text, shown)

    unknown = sorted(set(form.keys()) - _FORM_FIELDS)
    if unknown:
        return problem(N_("unknown form fields: %(fields)s"), fields=", ".join(unknown)[:100])
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not (upload.filename or upload.size):
        return problem(N_("choose a file to import"))
    if fmt is not None and (not isinstance(fmt, str) or fmt not in FORMAT_NAMES):
        return problem(N_("the format must be one of %(formats)s"), formats=", ".join(FORMAT_NAMES))
    if version is not None and (not isinstance(version, str) or len(version) > 64):
        return problem(N_("the dataset version must be text of at most 64 characters"))

    folder = services.settings.home / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    suffix = os.path.splitext(upload.filename or "")[1][:10].lower()
    if not suffix.isascii() or not suffix[1:].isalnum():
        suffix = ""  # only the extension is kept: some adapters look at it
    path = folder / f"{uuid.uuid4()}{suffix}"
    digest, size = hashlib.sha256(), 0
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        await upload.close()
    if size == 0:
        path.unlink(missing_ok=True)
        return problem(N_("the file is empty"))
    job = jobs_of(request).submit(
        path,
        user_id=principal.user_id,
        actor=principal.actor(),
        sha256=digest.hexdigest(),
        size=size,
        fmt=fmt,
        dataset_version=version,
    )
    uow.audit(
        principal.actor(),
        "import.started",
        f"import_job:{job.id}",
        {"sha256": job.sha256, "format": fmt, "bytes": size},
    )
    return RedirectResponse(f"/sources/imports/{job.id}", status_code=303)


def _job_view(job: ImportJob) -> dict[str, Any]:
    report = job.report
    return {
        "id": job.id,
        "state": job.state,
        "finished": job.finished,
        "percent": job.percent,
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "report": None
        if report is None
        else {
            "run_id": report.run_id,
            "format": report.format,
            "dataset": report.dataset,
            "read": report.read,
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
            "warnings": report.warnings,
            "notes": list(report.notes),
        },
        "errors": job.errors(),
    }


@router.get("/sources/imports/{job_id}", response_class=HTMLResponse, name="import_job_page")
def import_job_page(
    request: Request,
    job_id: Annotated[str, Path(pattern=_JOB_ID)],
    principal: Principal = Depends(current_principal),
) -> Response:
    if not principal.can(Permission.IMPORT):
        return _refuse(request, principal, "/sources")
    job = jobs_of(request).get(job_id)
    if job is None or (
        job.user_id != principal.user_id and not principal.can(Permission.USERS_MANAGE)
    ):
        # Someone else's job looks like no job at all.
        return render_page(request, "not_found.html", {}, principal=principal, status_code=404)
    context = {"active": "sources", "job": _job_view(job), "refresh": REFRESH_SECONDS}
    return render_page(request, "import_job.html", context, principal=principal)
