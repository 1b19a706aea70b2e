"""Bookkeeping for import runs and the rows they could not take as they were."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, update

from tocsin.store import schema as s
from tocsin.store.event_writer import WriteCounts

RAW_LIMIT = 2000  # characters of a bad row kept for the analyst; enough to fix it by hand


@dataclass(slots=True, frozen=True)
class Problem:
    line: int | None
    reason: str
    disposition: str  # "rejected" (quarantined, not imported) or "kept" (imported, with a warning)
    raw: str | None = None


def start_run(
    conn: Connection,
    *,
    dataset: str,
    dataset_version: str | None,
    fmt: str,
    source_name: str,
    source_sha256: str,
) -> int:
    result = conn.execute(
        insert(s.import_runs).returning(s.import_runs.c.id),
        {
            "dataset": dataset,
            "dataset_version": dataset_version,
            "format": fmt,
            "source_name": source_name[:255],
            "source_sha256": source_sha256,
            "started_at": datetime.now(UTC),
            "n_read": 0,
            "n_inserted": 0,
            "n_updated": 0,
            "n_unchanged": 0,
            "n_rejected": 0,
        },
    )
    return int(result.scalar_one())


def finish_run(
    conn: Connection, run_id: int, *, read: int, counts: WriteCounts, rejected: int
) -> None:
    conn.execute(
        update(s.import_runs)
        .where(s.import_runs.c.id == run_id)
        .values(
            finished_at=datetime.now(UTC),
            n_read=read,
            n_inserted=counts.inserted,
            n_updated=counts.updated,
            n_unchanged=counts.unchanged,
            n_rejected=rejected,
        )
    )


def record_problems(conn: Connection, run_id: int, problems: Sequence[Problem]) -> None:
    if not problems:
        return
    conn.execute(
        insert(s.import_problems),
        [
            {
                "import_run_id": run_id,
                "line": p.line,
                "reason": p.reason,
                "disposition": p.disposition,
                "raw": None if p.raw is None else p.raw[:RAW_LIMIT],
            }
            for p in problems
        ],
    )
