"""Hand-written events for the storage tests, and a helper that stores them in one go."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Engine

from tocsin.domain.entities import Event, Provenance
from tocsin.store.event_writer import EventWriter, WriteCounts
from tocsin.store.import_runs import finish_run, start_run


def make_event(original_id: str | int, *, dataset: str = "test", **fields: Any) -> Event:
    """An event on 2021-03-01 with no coordinates unless told otherwise."""
    fields.setdefault("date_start", date(2021, 3, 1))
    fields.setdefault("date_end", fields["date_start"])
    return Event(provenance=Provenance(dataset, str(original_id)), **fields)


def store(
    engine: Engine,
    events: Sequence[Event],
    *,
    dataset_version: str | None = None,
    with_run: bool = True,
) -> WriteCounts:
    """Writes ``events`` in one transaction, inside a finished import run by default."""
    with engine.begin() as conn:
        run_id = None
        if with_run:
            run_id = start_run(
                conn,
                dataset=events[0].provenance.dataset if events else "test",
                dataset_version=dataset_version,
                fmt="test",
                source_name="builders.py",
                source_sha256="0" * 64,
            )
        counts = EventWriter(conn, run_id).write(list(events))
        if run_id is not None:
            finish_run(conn, run_id, read=len(events), counts=counts, rejected=0)
    return counts
