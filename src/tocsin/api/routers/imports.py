"""``/api/v1/imports``: upload a file in any supported format and import it.

The upload is streamed to a private file under ``$TOCSIN_HOME/uploads`` (mode 0600; the body
limit for this path is ``Settings.max_upload_bytes``), imported by the ingest runner in its own
single transaction, then deleted. The import is audited with its run id, format, file digest
and counts; never the file name, which may itself be telling.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tocsin.api.deps import get_services, require
from tocsin.api.schemas.common import Message, Out
from tocsin.api.services import Services
from tocsin.api.uow import ReadOnlyRoute, UnitOfWork, get_uow
from tocsin.ingest.base import FatalImportError
from tocsin.ingest.formats import FORMAT_NAMES
from tocsin.ingest.runner import ingest_file
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal

router = APIRouter(prefix="/api/v1/imports", tags=["imports"], route_class=ReadOnlyRoute)
_FORM_FIELDS = {"file", "format", "dataset_version"}
_CHUNK = 1024 * 1024


class ImportErrorOut(Out):
    line: int | None
    reason: str


class ImportOut(Out):
    run_id: int | None
    format: str
    dataset: str
    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    warnings: int
    notes: list[str]
    errors: list[ImportErrorOut]


@router.post(
    "",
    response_model=ImportOut,
    responses={422: {"model": Message, "description": "the file cannot be imported"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "additionalProperties": False,
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "format": {"type": "string", "enum": list(FORMAT_NAMES)},
                            "dataset_version": {"type": "string", "maxLength": 64},
                        },
                    }
                }
            },
        }
    },
    summary="Import a file (UCDP, ACLED, Insecurity Insight, HXL, GeoJSON)",
)
async def import_file(
    request: Request,
    principal: Principal = Depends(require(Permission.IMPORT)),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """One file, one transaction: a fatal error leaves the store unchanged (422)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(415, "send the file as multipart/form-data")
    form = await request.form(max_files=1, max_fields=5)
    unknown = sorted(set(form.keys()) - _FORM_FIELDS)
    if unknown:
        raise HTTPException(422, f"unknown form fields: {', '.join(unknown)}")
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, "the form needs a 'file' part")
    fmt = form.get("format")
    if fmt is not None and (not isinstance(fmt, str) or fmt not in FORMAT_NAMES):
        raise HTTPException(422, f"format must be one of {', '.join(FORMAT_NAMES)}")
    version = form.get("dataset_version")
    if version is not None and (not isinstance(version, str) or len(version) > 64):
        raise HTTPException(422, "dataset_version must be text of at most 64 characters")

    folder = services.settings.home / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    # Keep the extension only: some adapters look at it; the name itself is not kept.
    suffix = os.path.splitext(upload.filename or "")[1][:10].lower()
    if not suffix.isascii() or not suffix[1:].isalnum():
        suffix = ""
    path = folder / f"{uuid.uuid4()}{suffix}"
    digest = hashlib.sha256()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        try:
            report = await run_in_threadpool(
                ingest_file, services.engine, path, fmt, dataset_version=version
            )
        except FatalImportError as exc:
            uow.audit(
                principal.actor(),
                "import.failed",
                "events",
                {"sha256": digest.hexdigest(), "format": fmt},
            )
            await run_in_threadpool(uow.commit)
            raise HTTPException(422, f"nothing imported: {exc}") from exc
    finally:
        path.unlink(missing_ok=True)
        await upload.close()
    result = report.to_json()
    uow.audit(
        principal.actor(),
        "import.file",
        f"import_run:{report.run_id}",
        {
            "sha256": digest.hexdigest(),
            "format": report.format,
            "dataset": report.dataset,
            "read": report.read,
            "inserted": report.inserted,
            "updated": report.updated,
            "rejected": report.rejected,
        },
    )
    return {
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
        "errors": [
            {"line": e.get("line"), "reason": str(e.get("reason", ""))}
            for e in result.get("errors", [])
        ],
    }
