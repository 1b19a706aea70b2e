"""Import jobs started from the data-sources page: the existing ingest runner in a background
thread, with its progress kept in memory for the job's page to show.

- One worker thread per application (:class:`ImportJobs` lives on ``app.state``, no module
  globals): imports run one after another, as the store has one writer at a time anyway.
- The uploaded file is private (``$TOCSIN_HOME/uploads``, mode 0600, a random name; the
  original file name is never kept) and deleted when the job ends, whatever the outcome.
- ``ingest_file`` imports in one transaction: a fatal error leaves the store unchanged and the
  job says why; nothing is half-written.
- The job is audited when it ends (``import.file`` or ``import.failed``, like the API's), with
  its run id, format, digest and counts; never the file name.
- A job is visible to the user who started it (and administrators); its id is random.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tocsin.ingest.base import FatalImportError
from tocsin.ingest.runner import IngestReport, ingest_file
from tocsin.security.audit import Actor
from tocsin.security.audit import record as audit_record
from tocsin.security.txn import write_transaction

KEPT_JOBS = 100  # finished jobs remembered for their pages; older ones are forgotten
MAX_ERRORS_SHOWN = 20


@dataclass
class ImportJob:
    id: str
    user_id: int | None
    actor: Actor
    sha256: str
    size: int
    fmt: str | None
    dataset_version: str | None
    created_at: datetime
    state: str = "queued"  # queued | running | done | failed
    bytes_read: int = 0
    report: IngestReport | None = None
    error: str | None = None
    finished_at: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return min(99, int(100 * self.bytes_read / self.size)) if self.size else 0

    def errors(self) -> list[dict[str, Any]]:
        if self.report is None:
            return []
        return [
            {"line": e.get("line"), "reason": str(e.get("reason", ""))}
            for e in self.report.errors[:MAX_ERRORS_SHOWN]
        ]


class ImportJobs:
    """The jobs of one application, run one at a time by a single worker thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._jobs: OrderedDict[str, ImportJob] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tocsin-import")

    def submit(
        self,
        path: Path,
        *,
        user_id: int | None,
        actor: Actor,
        sha256: str,
        size: int,
        fmt: str | None,
        dataset_version: str | None,
    ) -> ImportJob:
        job = ImportJob(
            uuid.uuid4().hex,
            user_id,
            actor,
            sha256,
            size,
            fmt,
            dataset_version,
            datetime.now(UTC),
        )
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEPT_JOBS:
                oldest = next(iter(self._jobs.values()))
                if not oldest.finished:
                    break
                self._jobs.popitem(last=False)
        self._pool.submit(self._run, job, path)
        return job

    def get(self, job_id: str) -> ImportJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _run(self, job: ImportJob, path: Path) -> None:
        job.state = "running"

        def progress(done: int, _total: int) -> None:
            job.bytes_read = done

        try:
            job.report = ingest_file(
                self.engine, path, job.fmt, dataset_version=job.dataset_version, progress=progress
            )
            job.state = "done"
        except FatalImportError as exc:
            job.error = str(exc)
            job.state = "failed"
        except Exception as exc:  # noqa: BLE001 - the page must say it failed, not hang
            job.error = f"the import stopped with an internal error ({type(exc).__name__})"
            job.state = "failed"
        finally:
            path.unlink(missing_ok=True)
            job.finished_at = datetime.now(UTC)
        self._audit(job)

    def _audit(self, job: ImportJob) -> None:
        details: dict[str, Any] = {"sha256": job.sha256, "format": job.fmt, "via": "page"}
        if job.report is not None:
            r = job.report
            action, target = "import.file", f"import_run:{r.run_id}"
            details.update(
                format=r.format,
                dataset=r.dataset,
                read=r.read,
                inserted=r.inserted,
                updated=r.updated,
                rejected=r.rejected,
            )
        else:
            action, target = "import.failed", "events"
        with write_transaction(self.engine) as conn:
            audit_record(conn, job.actor, action, target, details)
