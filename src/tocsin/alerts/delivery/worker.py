"""Runs due deliveries once; a scheduler (CLI loop, cron, API background task) calls it."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from tocsin.alerts.delivery.addressing import PREFIX, resolve
from tocsin.alerts.delivery.queue import (
    DEAD,
    DeliveryJob,
    RetryPolicy,
    claim_due,
    mark_delivered,
    mark_failed,
)
from tocsin.alerts.delivery.senders import DeliveryError, Sender
from tocsin.security.keys import KeyRing


def _without(error: DeliveryError, address: str) -> DeliveryError:
    """The error with a directory address taken out: senders may quote the address they were
    given (a validation message, a gateway's reply), and the queue row must not keep it."""
    text = str(error).replace(address, "<directory address>")
    return DeliveryError(text, permanent=error.permanent)


@dataclass
class WorkerReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0


class DeliveryWorker:
    """Claims in one short transaction, sends outside any transaction (a slow receiver must not
    hold database locks), and records each outcome in its own transaction.

    ``keys`` opens the staff directory's addresses for escalation deliveries (rows that name a
    user, ``addressing``); a worker without it leaves those rows to retry."""

    def __init__(
        self,
        engine: Engine,
        senders: Mapping[str, Sender],
        *,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        keys: KeyRing | None = None,
    ) -> None:
        self._engine = engine
        self._keys = keys
        self._senders = senders
        self._policy = policy or RetryPolicy()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._clock = clock

    def run_once(self, *, limit: int = 50, only_equipped: bool = False) -> WorkerReport:
        """``only_equipped``: claim only rows of channel kinds this worker has a sender for;
        otherwise a row without a sender is dead-lettered (visible, replayable)."""
        report = WorkerReport()
        kinds = set(self._senders) if only_equipped else None
        with self._engine.begin() as conn:
            jobs = claim_due(conn, self._clock(), limit=limit, kinds=kinds)
        for job in jobs:
            sender = self._senders.get(job.kind)
            error: DeliveryError | None = None
            if sender is None:
                error = DeliveryError(f"no sender configured for {job.kind!r}", permanent=True)
            else:
                addressed = job
                try:
                    addressed = self._addressed(job)
                    sender.send(addressed)
                except DeliveryError as exc:
                    error = exc
                except Exception as exc:  # noqa: BLE001 - any other failure is worth a retry
                    error = DeliveryError(f"{type(exc).__name__}: {exc}")
                if error is not None and addressed.target != job.target:
                    error = _without(error, addressed.target)
            with self._engine.begin() as conn:
                now = self._clock()
                if error is None:
                    mark_delivered(conn, job, now)
                    report.delivered += 1
                    continue
                status = mark_failed(
                    conn,
                    job,
                    now,
                    str(error),
                    policy=self._policy,
                    rng=self._rng,
                    permanent=error.permanent,
                )
                if status == DEAD:
                    report.dead += 1
                else:
                    report.retried += 1
        return report

    def _addressed(self, job: DeliveryJob) -> DeliveryJob:
        if not job.target.startswith(PREFIX):
            return job
        with self._engine.connect() as conn:
            return resolve(conn, job, self._keys)
