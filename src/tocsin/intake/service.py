"""The intake service: stores reports durably, acknowledging each only after its commit.

Group commit. Every channel hands its reports to one writer thread per app. The writer takes
whatever reports are waiting (up to ``max_batch``), stores them all in ONE transaction, commits,
and only then wakes each waiting request with its result. Under load, one commit (one WAL
append on SQLite) covers dozens of reports instead of each request fighting for SQLite's single
write lock; when idle, a report is committed on its own at once, so there is no added delay.
If a batch fails (one bad report, a database error), its reports are retried one transaction
each, so one report's problem is reported to that report's sender alone.

Keys. The vault KEK and the pseudonym key come from the environment
(``TOCSIN_VAULT_KEY_FILE`` / ``TOCSIN_VAULT_KEY``, ``TOCSIN_PSEUDONYM_KEY_FILE`` /
``TOCSIN_PSEUDONYM_KEY``; see ``tocsin.security.vault``). When they are not set, key files
``$TOCSIN_HOME/keys/vault.key`` and ``pseudonym.key`` are used, created (mode 0600) on first use
with a warning in the log, as ``tocsin.security.keys`` does for the other keys: convenient for a
demo, but in production provide them from separate media, or set
``TOCSIN_VAULT_AUTOCREATE=0`` to refuse to start without them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fastapi import Request
from sqlalchemy import Engine

from tocsin.intake import repository
from tocsin.intake.report import IntakeReport
from tocsin.intake.repository import Attachment, Stored
from tocsin.security import audit
from tocsin.security.txn import write_transaction
from tocsin.security.vault import (
    ENV_KEY,
    ENV_KEY_FILE,
    ENV_PSEUDONYM_KEY,
    ENV_PSEUDONYM_KEY_FILE,
    Keyring,
    Pseudonymizer,
    create_key_file,
    load_key_file,
    pseudonym_key_from_environment,
)
from tocsin.store.group_commit import next_batch

log = logging.getLogger(__name__)

ENV_AUTOCREATE = "TOCSIN_VAULT_AUTOCREATE"
VAULT_KEY_FILE = "vault.key"
PSEUDONYM_KEY_FILE = "pseudonym.key"


class IntakeBusy(RuntimeError):
    """Too many reports are waiting to be written: this one was not accepted (retry later)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Job:
    report: IntakeReport
    attachments: Sequence[Attachment]
    parent_report_id: str | None
    future: Future[Stored] = field(default_factory=Future)


class IntakeService:
    """``accept`` stores a report and returns once it is committed (never before)."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        pseudonymizer: Pseudonymizer,
        clock: Callable[[], datetime] = _utcnow,
        *,
        max_batch: int = 200,
        max_batch_bytes: int = 32 * 1024 * 1024,
        max_pending: int = 20_000,
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.pseudonymizer = pseudonymizer
        self.clock = clock
        self.max_batch = max_batch
        self.max_batch_bytes = max_batch_bytes
        self.max_pending = max_pending
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._closed = False

    # -- public -------------------------------------------------------------------------------

    def accept(
        self,
        report: IntakeReport,
        attachments: Sequence[Attachment] = (),
        *,
        parent_report_id: str | None = None,
        timeout: float | None = 60.0,
    ) -> Stored:
        """Blocks until the report is committed; raises ``InvalidReport`` for a report that
        cannot be stored and the database's error when the commit failed (nothing is
        acknowledged then, and nothing of the report is left half-written)."""
        return self.submit(report, attachments, parent_report_id=parent_report_id).result(timeout)

    async def accept_async(
        self,
        report: IntakeReport,
        attachments: Sequence[Attachment] = (),
        *,
        parent_report_id: str | None = None,
    ) -> Stored:
        """``accept`` for async routes: waits in the event loop, holding no worker thread."""
        future = self.submit(report, attachments, parent_report_id=parent_report_id)
        return await asyncio.wrap_future(future)

    def submit(
        self,
        report: IntakeReport,
        attachments: Sequence[Attachment] = (),
        *,
        parent_report_id: str | None = None,
    ) -> Future[Stored]:
        # Validate here, in the caller's thread: a bad report never enters a batch.
        repository.validate(report, attachments)
        if self._queue.qsize() >= self.max_pending:
            # A flood from many sources at once: refuse openly (never acknowledge and drop).
            raise IntakeBusy("too many reports are waiting to be stored; try again shortly")
        job = _Job(report, tuple(attachments), parent_report_id)
        self._ensure_writer()
        self._queue.put(job)
        return job.future

    def close(self, timeout: float = 10.0) -> None:
        """Stops the writer after the reports already queued are stored."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            writer = self._writer
        if writer is not None:
            self._queue.put(None)
            writer.join(timeout)

    # -- the writer ---------------------------------------------------------------------------

    def _ensure_writer(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            return
        with self._lock:
            if self._closed:
                raise RuntimeError("the intake service is closed")
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._run, name="tocsin-intake-writer", daemon=True
                )
                self._writer.start()

    def _run(self) -> None:
        while True:
            batch, stop = next_batch(self._queue, self.max_batch, _job_bytes, self.max_batch_bytes)
            try:
                if batch:
                    self._store(batch)
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any one batch
                log.error("intake writer failed on a batch: %s", describe_failure(exc))
                for job in batch:
                    _resolve(job, exc=exc)
            if stop:
                return

    def _store(self, batch: list[_Job]) -> None:
        try:
            results = self._write(batch)
        except Exception as exc:  # noqa: BLE001 - retried one by one, each failing on its own
            if len(batch) == 1:
                if not isinstance(exc, repository.InvalidReport):
                    log.error("storing an intake report failed: %s", describe_failure(exc))
                _resolve(batch[0], exc=exc)
                return
            log.warning("a batch of %d intake reports failed; storing them one by one", len(batch))
            for job in batch:
                self._store([job])
            return
        for job, stored in zip(batch, results, strict=True):
            _resolve(job, result=stored)

    def _write(self, batch: list[_Job]) -> list[Stored]:
        now = self.clock()
        entries: list[audit.PendingEntry] = []
        results: list[Stored] = []
        with write_transaction(self.engine) as conn:
            for job in batch:
                stored, entry = repository.submit_without_audit(
                    conn,
                    job.report,
                    keyring=self.keyring,
                    pseudonymizer=self.pseudonymizer,
                    now=now,
                    attachments=job.attachments,
                    parent_report_id=job.parent_report_id,
                )
                results.append(stored)
                if entry is not None:
                    entries.append(entry)
            if entries:
                audit.append(conn, entries, now)
            # Two deliveries of one message in the same batch: the second saw the first's row.
        return results


def describe_failure(exc: BaseException) -> str:
    """What to log about a failed write: the error's kind, never its message or traceback.
    Database errors quote the statement's parameters, i.e. the report's text."""
    orig = getattr(exc, "orig", None)  # the driver's error inside SQLAlchemy's wrapper
    kind = type(exc).__name__
    return f"{kind} ({type(orig).__name__})" if orig is not None else kind


def _resolve(job: _Job, *, result: Stored | None = None, exc: BaseException | None = None) -> None:
    """Wakes the waiting request. Its future may have been cancelled meanwhile (the client
    went away): the report is stored all the same, just not acknowledged to anyone."""
    try:
        if exc is not None:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)  # type: ignore[arg-type]
    except InvalidStateError:
        pass


def _job_bytes(job: _Job) -> int:
    return len(job.report.text) + sum(len(a.data) for a in job.attachments)


# -- keys -------------------------------------------------------------------------------------


def load_intake_keys(
    home: Path, env: Mapping[str, str] | None = None
) -> tuple[Keyring, Pseudonymizer]:
    """The vault keyring and pseudonymizer from the environment, else from key files under
    ``home/keys`` (created on first use unless ``TOCSIN_VAULT_AUTOCREATE=0``)."""
    env = dict(os.environ if env is None else env)
    keys_dir = home / "keys"
    if not (env.get(ENV_KEY_FILE) or env.get(ENV_KEY)):
        env[ENV_KEY_FILE] = str(_key_file(keys_dir / VAULT_KEY_FILE, "vault", env))
    keyring = Keyring.from_environment(env)
    if not (env.get(ENV_PSEUDONYM_KEY_FILE) or env.get(ENV_PSEUDONYM_KEY)):
        env[ENV_PSEUDONYM_KEY_FILE] = str(
            _key_file(keys_dir / PSEUDONYM_KEY_FILE, "pseudonym", env)
        )
    pseudonymizer = Pseudonymizer(pseudonym_key_from_environment(env, keyring=keyring))
    return keyring, pseudonymizer


def _key_file(path: Path, what: str, env: Mapping[str, str]) -> Path:
    if path.exists():
        load_key_file(path)  # refuses unsafe modes now, with a clear message
        return path
    if env.get(ENV_AUTOCREATE, "1").strip().lower() in ("0", "no", "false"):
        raise RuntimeError(
            f"no {what} key: set the environment variables described in docs/intake.md "
            f"({ENV_AUTOCREATE}=0 forbids creating {path})"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    try:
        create_key_file(path)
    except FileExistsError:  # another worker process created it first: use theirs
        return path
    loss = (
        "sealed reporter contacts cannot be opened"
        if what == "vault"
        else "receipt codes stop working and pseudonyms change"
    )
    log.warning(
        "created a new %s key at %s (mode 0600). Back it up on media separate from database "
        "backups: without it, %s.",
        what,
        path,
        loss,
    )
    return path


# -- FastAPI dependency -----------------------------------------------------------------------

_BUILD_LOCK = threading.Lock()


ENV_MAX_BATCH = "TOCSIN_INTAKE_MAX_BATCH"  # 1 = a commit per report (the benchmark baseline)


def build_intake(app_state: object) -> IntakeService:
    services = app_state.services  # type: ignore[attr-defined]
    keyring, pseudonymizer = load_intake_keys(services.settings.home)
    max_batch = int(os.environ.get(ENV_MAX_BATCH, "200"))
    if max_batch < 1:
        raise ValueError(f"{ENV_MAX_BATCH} must be at least 1")
    return IntakeService(
        services.engine, keyring, pseudonymizer, services.settings.clock, max_batch=max_batch
    )


def get_intake(request: Request) -> IntakeService:
    """The app's intake service, built once per app on first use (keys loaded then)."""
    state = request.app.state
    service = getattr(state, "intake", None)
    if service is None:
        with _BUILD_LOCK:
            service = getattr(state, "intake", None)
            if service is None:
                service = build_intake(state)
                state.intake = service
    return service
