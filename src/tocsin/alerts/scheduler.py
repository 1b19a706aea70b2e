"""The API server's periodic alert round (called from ``tocsin.api.app.run_maintenance``).

A round is due when the audit ledger has no ``alerts.evaluate`` entry younger than the interval:
the ledger is the schedule's memory, so several server processes, restarts and the command line
(``tocsin alerts evaluate``) all count, and none of them needs a state of its own. Each round
evaluates the triggers, then runs the delivery worker once for the channel kinds this process
has senders for.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select

from tocsin.alerts.delivery.worker import DeliveryWorker, WorkerReport
from tocsin.alerts.settings import AlertsNotConfigured, build_senders, load_config
from tocsin.security.keys import KeyRing
from tocsin.store.schema_security import audit_log

if TYPE_CHECKING:
    from tocsin.alerts.service import RoundReport

log = logging.getLogger(__name__)


def last_round_at(engine: Engine) -> datetime | None:
    with engine.connect() as conn:
        at = conn.scalar(
            select(audit_log.c.at)
            .where(audit_log.c.action == "alerts.evaluate")
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        )
    if at is None:
        return None
    return datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def run_alerts_if_due(
    engine: Engine,
    now: datetime,
    interval: timedelta,
    *,
    config_path: Path | None = None,
    keys: KeyRing | None = None,
) -> tuple[RoundReport, WorkerReport] | None:
    """One round if due; ``None`` when not due or when no trigger file is configured."""
    last = last_round_at(engine)
    if last is not None and now - last < interval:
        return None
    try:
        cfg = load_config(config_path)
    except AlertsNotConfigured:
        log.debug("alerts are not configured; no round")
        return None
    # Imported here: the round needs the forecaster and scipy, which would otherwise add about a
    # second to every server start (and to every restart of a worker).
    from tocsin.alerts.service import evaluate_round

    report = evaluate_round(engine, cfg, now=now)
    worker = DeliveryWorker(engine, build_senders(cfg), clock=lambda: now, keys=keys)
    delivered = worker.run_once(only_equipped=True)
    log.info(
        "alert round: %d new, %d issued, %d escalated, %d delivered",
        len(report.created),
        len(report.issued),
        len(report.escalated),
        delivered.delivered,
    )
    return report, delivered
