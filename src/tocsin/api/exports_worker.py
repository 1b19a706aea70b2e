"""Background export jobs: one worker thread writes the file, the requester downloads it.

A job is a row in ``export_jobs``. The worker reads the matching events with the requester's
*current* role (a role lost meanwhile means a failed job, not a leaked file), writes the file
under ``$TOCSIN_HOME/exports`` with mode 0600, then commits the audit entry and marks the job
done in one transaction: no file is offered before its export is in the ledger. Files are
deleted when the job expires (``Settings.export_ttl``, default 24 h).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import insert, select, update

from tocsin.api.records import export_records
from tocsin.api.schemas.events import EventFilter
from tocsin.security import audit
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.security.redaction import Channel, visible_columns
from tocsin.security.txn import write_transaction
from tocsin.security.users import get_user
from tocsin.store.export import RECORD_FIELDS, write_csv, write_geojson, write_hxl
from tocsin.store.queries import EventQuery
from tocsin.store.schema_security import export_jobs

if TYPE_CHECKING:
    from tocsin.api.services import Services

log = logging.getLogger(__name__)

FORMATS: dict[str, tuple[str, str]] = {  # format -> (file extension, media type)
    "csv": ("csv", "text/csv; charset=utf-8"),
    "geojson": ("geojson", "application/geo+json"),
    "hxl": ("csv", "text/csv; charset=utf-8"),
}


def write_export(fmt: str, records: Any, out: TextIO, principal: Principal) -> int:
    """Writes redacted records with the columns this principal may ever see."""
    columns = visible_columns(RECORD_FIELDS, principal.record_scope(), Channel.EXPORT)
    if fmt == "csv":
        return write_csv(records, out, fields=columns)
    if fmt == "hxl":
        return write_hxl(records, out, fields=columns)
    if fmt == "geojson":
        return write_geojson(records, out, fields=columns)
    raise ValueError(f"unknown export format {fmt!r}")


def query_from_params(params: dict[str, Any]) -> EventQuery:
    polygon = params.pop("polygon", None)
    return EventFilter.model_validate(params).to_query(polygon)


class ExportWorker:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def directory(self) -> Path:
        path = self.services.settings.export_dir
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        return path

    def start(self) -> None:
        """After a restart: jobs that were running are failed, queued ones run again."""
        now = self.services.settings.clock()
        with write_transaction(self.services.engine) as conn:
            conn.execute(
                update(export_jobs)
                .where(export_jobs.c.status == "running")
                .values(
                    status="failed", error="the server stopped during the export", finished_at=now
                )
            )
            queued = [
                r[0]
                for r in conn.execute(
                    select(export_jobs.c.id).where(export_jobs.c.status == "queued")
                )
            ]
        for job_id in queued:
            self.submit(job_id)

    def stop(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None

    def create(self, conn: Any, principal: Principal, fmt: str, params: dict[str, Any]) -> str:
        """Inserts the job row in the caller's transaction; call ``submit`` after commit."""
        job_id = str(uuid.uuid4())
        now = self.services.settings.clock()
        conn.execute(
            insert(export_jobs),
            {
                "id": job_id,
                "user_id": principal.user_id,
                "format": fmt,
                "params": json.dumps(params, sort_keys=True, default=str),
                "status": "queued",
                "created_at": now,
                "expires_at": now + self.services.settings.export_ttl,
            },
        )
        return job_id

    def submit(self, job_id: str) -> None:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
            self._executor.submit(self._run_safely, job_id)

    def path_for(self, job_id: str, fmt: str) -> Path:
        return self.directory / f"{job_id}.{FORMATS[fmt][0]}"

    def _run_safely(self, job_id: str) -> None:
        try:
            self.run(job_id)
        except Exception as exc:  # recorded on the job; the message has no personal data
            log.exception("export job %s failed", job_id)
            with write_transaction(self.services.engine) as conn:
                conn.execute(
                    update(export_jobs)
                    .where(export_jobs.c.id == job_id)
                    .values(
                        status="failed",
                        error=f"{type(exc).__name__}: export failed",
                        finished_at=self.services.settings.clock(),
                    )
                )

    def run(self, job_id: str) -> None:
        engine = self.services.engine
        with write_transaction(engine) as conn:
            job = conn.execute(select(export_jobs).where(export_jobs.c.id == job_id)).first()
            if job is None or job.status != "queued":
                return
            conn.execute(
                update(export_jobs).where(export_jobs.c.id == job_id).values(status="running")
            )
        user = None
        with engine.connect() as conn:
            user = get_user(conn, job.user_id)
        if user is None or user.disabled:
            raise PermissionError("the requester's account is disabled")
        principal = Principal(user.id, user.username, user.role, "session")
        if not principal.can(Permission.EXPORT):
            raise PermissionError("the requester's role may no longer export")
        query = query_from_params(json.loads(job.params))
        path = self.path_for(job_id, job.format)
        tmp = path.with_suffix(path.suffix + ".part")
        restricted: list[str] = []
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as out, engine.connect() as conn:
                count = write_export(
                    job.format, export_records(conn, principal, query, restricted), out, principal
                )
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        now = self.services.settings.clock()
        try:
            with write_transaction(engine) as conn:
                audit.record(
                    conn,
                    principal.actor(),
                    "export.job",
                    f"export:{job_id}",
                    {"format": job.format, "rows": count, "restricted_uids": restricted},
                    now,
                )
                conn.execute(
                    update(export_jobs)
                    .where(export_jobs.c.id == job_id)
                    .values(
                        status="done",
                        finished_at=now,
                        file_name=path.name,
                        row_count=count,
                        byte_count=path.stat().st_size,
                    )
                )
        except BaseException:
            path.unlink(missing_ok=True)  # no audit entry, no file
            raise
        self.services.note_audited(1)

    def expire(self, now: datetime) -> int:
        """Deletes files of expired jobs; returns how many jobs expired."""
        with write_transaction(self.services.engine) as conn:
            rows = list(
                conn.execute(
                    select(export_jobs.c.id, export_jobs.c.format).where(
                        export_jobs.c.status.in_(["done", "failed"]),
                        export_jobs.c.expires_at <= now,
                    )
                )
            )
            for job_id, fmt in rows:
                self.path_for(job_id, fmt).unlink(missing_ok=True)
            if rows:
                conn.execute(
                    update(export_jobs)
                    .where(export_jobs.c.id.in_([r[0] for r in rows]))
                    .values(status="expired")
                )
        return len(rows)
