"""Small helpers shared by the ingestion tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from tocsin.domain.entities import Event
from tocsin.store import schema as s
from tocsin.store.reads import hydrate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"


def fixture(name: str) -> Path:
    return FIXTURES / name


def stored(engine: Engine, dataset: str, original_id: str) -> Event:
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.events).where(
                s.events.c.dataset == dataset, s.events.c.original_id == original_id
            )
        ).all()
        assert len(rows) == 1, f"{dataset}/{original_id}: {len(rows)} rows"
        return hydrate(conn, rows)[0].event


def count(engine: Engine, table=s.events, *where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


def snapshot(engine: Engine) -> dict[str, int]:
    """Row counts of every table an import writes, to prove a failed import left no trace."""
    tables = (
        s.events,
        s.event_acts,
        s.event_actors,
        s.event_sources,
        s.victim_groups,
        s.actors,
        s.import_runs,
        s.import_problems,
    )
    return {t.name: count(engine, t) for t in tables}
