"""Group commit for the audit entries of read requests (ADR 0008).

A search that returns restricted cases must be in the ledger before its response leaves. Done
one request at a time, every such read became a write transaction of its own: on SQLite a
``BEGIN IMMEDIATE`` on the one write lock, fought over by every worker process, and on
PostgreSQL a WAL flush per read. Here one writer thread per process appends the entries of every
request waiting at that moment in ONE transaction, in arrival order, and only then releases the
requests. The hash chain is unchanged (``audit.append`` under the chain lock), and so is the
guarantee: a request learns that its entries are committed before it answers, and if the batch
fails, it answers 503 and sends no data.

A failed batch is retried one request at a time, so one request's bad bookkeeping write fails
only that request (as in the intake writer, ADR 0005).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine

from tocsin.security import audit
from tocsin.security.audit import PendingEntry
from tocsin.security.txn import write_transaction
from tocsin.store.group_commit import next_batch

log = logging.getLogger(__name__)

Write = Callable[[Connection], None]


class LedgerBusy(RuntimeError):
    """Too many requests are already waiting for the ledger: answer 503, read nothing out."""


@dataclass(slots=True)
class _Job:
    entries: Sequence[PendingEntry]
    writes: Sequence[Write]
    done: Future[int] = field(default_factory=Future)


class LedgerWriter:
    """One per process (on ``Services``); the thread starts with the first job."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        on_audited: Callable[[int], None] | None = None,
        *,
        max_batch: int = 512,
        max_waiting: int = 10_000,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._on_audited = on_audited
        self._max_batch = max_batch
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=max_waiting)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0  # committed transactions, for tests and the benchmark

    def submit(self, entries: Sequence[PendingEntry], writes: Sequence[Write] = ()) -> Future[int]:
        """Queues a request's entries (and bookkeeping writes, run first in the same
        transaction); the future gives the number of entries once they are committed."""
        job = _Job(list(entries), list(writes))
        if not job.entries and not job.writes:
            job.done.set_result(0)
            return job.done
        self._ensure_started()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise LedgerBusy("the audit ledger is behind; try again shortly") from None
        return job.done

    def write(self, entries: Sequence[PendingEntry], writes: Sequence[Write] = ()) -> int:
        """``submit`` and wait: returns once committed, raises if the commit failed."""
        return self.submit(entries, writes).result()

    def stop(self, timeout: float = 10.0) -> None:
        """Commits what is queued, then ends the thread (a later job starts a new one)."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="tocsin-ledger", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while True:
            batch, stop = next_batch(self._queue, self._max_batch)
            if batch:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Job]) -> None:
        try:
            count = self._transaction(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].done.set_exception(exc)
                return
            log.warning("ledger batch of %d failed (%s); retrying one by one", len(batch), exc)
            for job in batch:
                self._commit([job])
            return
        for job in batch:
            job.done.set_result(len(job.entries))
        if count and self._on_audited is not None:
            try:
                self._on_audited(count)
            except Exception:  # a missed checkpoint is retried later; the reads are committed
                log.exception("after-audit hook failed")

    def _transaction(self, batch: list[_Job]) -> int:
        entries = [entry for job in batch for entry in job.entries]
        with write_transaction(self._engine) as conn:
            for job in batch:
                for write in job.writes:
                    write(conn)
            audit.append(conn, entries, self._clock())
        self.batches += 1
        return len(entries)
