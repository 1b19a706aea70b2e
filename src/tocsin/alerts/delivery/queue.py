"""The durable delivery queue: rows of ``alert_deliveries``.

States: ``pending`` (due at ``next_attempt_at``) -> ``sending`` (claimed, with a lease) ->
``delivered`` | back to ``pending`` with a later ``next_attempt_at`` | ``dead`` (the dead-letter
queue: kept, listed, and replayable by a person with ``requeue_dead``).

Claiming is a conditional UPDATE (the row must still be due), which is atomic on SQLite and
PostgreSQL alike, so two workers never send the same row. A worker that dies mid-send leaves a
``sending`` row whose lease expires; it is then claimed again. Delivery is therefore
at-least-once: receivers de-duplicate on the ``X-Tocsin-Delivery`` id.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, insert, or_, select, update

from tocsin.domain.taxonomy import SensitivityTier
from tocsin.store.schema_alerts import alert_deliveries as d

PENDING, SENDING, DELIVERED, DEAD = "pending", "sending", "delivered", "dead"
MAX_PAYLOAD_CHARS = 1_000_000


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with 'equal jitter': the n-th retry waits between half and all of
    min(cap, base * 2**(n-1)), so retries spread out but never come back immediately."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def delay(self, failures: int, rng: random.Random) -> timedelta:
        if failures < 1:
            raise ValueError("delay is for the n-th failure, n >= 1")
        full = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** min(failures - 1, 30))
        return timedelta(seconds=full / 2 + rng.uniform(0, full / 2))


@dataclass(frozen=True)
class DeliveryJob:
    id: int
    alert_id: str
    channel: str
    kind: str
    target: str
    tier: SensitivityTier
    content_type: str
    subject: str | None
    payload: str
    attempts: int
    max_attempts: int


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def enqueue(
    conn: Connection,
    *,
    alert_id: str,
    channel: str,
    kind: str,
    target: str,
    tier: SensitivityTier,
    content_type: str,
    payload: str,
    now: datetime,
    idempotency_key: str,
    subject: str | None = None,
    max_attempts: int = 8,
) -> tuple[int, bool]:
    """(row id, created). Enqueuing the same ``idempotency_key`` twice returns the first row."""
    if kind not in {"webhook", "email", "sms"}:
        raise ValueError(f"unknown delivery kind {kind!r}")
    if not 1 <= max_attempts <= 50:
        raise ValueError("max_attempts must be between 1 and 50")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise ValueError(f"payload of {len(payload)} characters exceeds {MAX_PAYLOAD_CHARS}")
    existing = conn.scalar(select(d.c.id).where(d.c.idempotency_key == idempotency_key))
    if existing is not None:
        return int(existing), False
    result = conn.execute(
        insert(d).values(
            alert_id=alert_id,
            channel=channel,
            kind=kind,
            target=target,
            tier=tier.value,
            content_type=content_type,
            subject=subject,
            payload=payload,
            status=PENDING,
            attempts=0,
            max_attempts=max_attempts,
            next_attempt_at=now,
            created_at=now,
            idempotency_key=idempotency_key,
        )
    )
    return int(result.inserted_primary_key[0]), True


def _due(now: datetime):  # noqa: ANN202 - a SQL expression
    return or_(
        and_(d.c.status == PENDING, d.c.next_attempt_at <= now),
        and_(d.c.status == SENDING, d.c.lease_until < now),
    )


def claim_due(
    conn: Connection,
    now: datetime,
    *,
    limit: int = 50,
    lease: timedelta = timedelta(minutes=5),
    kinds: Collection[str] | None = None,
) -> list[DeliveryJob]:
    """Claim due rows; with ``kinds``, only rows of those channel kinds (a worker without an
    SMS gateway leaves SMS rows waiting for one that has it, rather than failing them)."""
    query = select(d.c.id).where(_due(now))
    if kinds is not None:
        query = query.where(d.c.kind.in_(sorted(kinds)))
    ids = conn.scalars(query.order_by(d.c.next_attempt_at).limit(limit))
    jobs = []
    for job_id in list(ids):
        claimed = conn.execute(
            update(d)
            .where(d.c.id == job_id, _due(now))
            .values(status=SENDING, lease_until=now + lease)
        )
        if claimed.rowcount != 1:
            continue  # another worker got it first
        r = conn.execute(select(d).where(d.c.id == job_id)).one()
        jobs.append(
            DeliveryJob(
                id=r.id,
                alert_id=r.alert_id,
                channel=r.channel,
                kind=r.kind,
                target=r.target,
                tier=SensitivityTier(r.tier),
                content_type=r.content_type,
                subject=r.subject,
                payload=r.payload,
                attempts=r.attempts,
                max_attempts=r.max_attempts,
            )
        )
    return jobs


def mark_delivered(conn: Connection, job: DeliveryJob, now: datetime) -> None:
    conn.execute(
        update(d)
        .where(d.c.id == job.id, d.c.status == SENDING)
        .values(status=DELIVERED, attempts=job.attempts + 1, delivered_at=now, lease_until=None)
    )


def mark_failed(
    conn: Connection,
    job: DeliveryJob,
    now: datetime,
    error: str,
    *,
    policy: RetryPolicy,
    rng: random.Random,
    permanent: bool = False,
) -> str:
    """Schedule a retry, or move to the dead-letter state. Returns the new status."""
    attempts = job.attempts + 1
    error = error[:2000]
    if permanent or attempts >= job.max_attempts:
        conn.execute(
            update(d)
            .where(d.c.id == job.id, d.c.status == SENDING)
            .values(status=DEAD, attempts=attempts, last_error=error, dead_at=now, lease_until=None)
        )
        return DEAD
    conn.execute(
        update(d)
        .where(d.c.id == job.id, d.c.status == SENDING)
        .values(
            status=PENDING,
            attempts=attempts,
            last_error=error,
            next_attempt_at=now + policy.delay(attempts, rng),
            lease_until=None,
        )
    )
    return PENDING


@dataclass(frozen=True)
class DeadLetter:
    id: int
    alert_id: str
    channel: str
    attempts: int
    last_error: str | None
    dead_at: datetime


def dead_letters(conn: Connection, *, limit: int = 500) -> list[DeadLetter]:
    rows = conn.execute(
        select(d).where(d.c.status == DEAD).order_by(d.c.dead_at.desc()).limit(limit)
    )
    return [
        DeadLetter(r.id, r.alert_id, r.channel, r.attempts, r.last_error, _aware(r.dead_at))  # type: ignore[arg-type]
        for r in rows
    ]


def requeue_dead(conn: Connection, delivery_id: int, now: datetime) -> bool:
    """Give a dead letter a fresh set of attempts (after someone fixed the receiver)."""
    result = conn.execute(
        update(d)
        .where(d.c.id == delivery_id, d.c.status == DEAD)
        .values(status=PENDING, attempts=0, next_attempt_at=now, dead_at=None)
    )
    return result.rowcount == 1


def status_of(conn: Connection, delivery_id: int) -> dict:
    row = conn.execute(select(d).where(d.c.id == delivery_id)).one()
    out = dict(row._mapping)
    for key in ("next_attempt_at", "lease_until", "created_at", "delivered_at", "dead_at"):
        out[key] = _aware(out[key])
    return out
