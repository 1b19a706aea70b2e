"""The generated CSV goes through the real UCDP adapter with nothing rejected."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tocsin.ingest.runner import ingest_file
from tocsin.scenario.model import Scenario
from tocsin.scenario.output import write_scenario


def test_scenario_imports_cleanly_and_idempotently(
    demo_scenario: Scenario, tmp_path: Path, sqlite_engine
) -> None:  # noqa: ANN001
    events_file, _ = write_scenario(demo_scenario, tmp_path / "scenario")
    first = ingest_file(sqlite_engine, events_file)
    assert first.format == "ucdp"
    assert first.read == len(demo_scenario.rows)
    assert (first.inserted, first.rejected, first.warnings) == (len(demo_scenario.rows), 0, 0)
    again = ingest_file(sqlite_engine, events_file)
    assert (again.inserted, again.unchanged, again.rejected) == (0, len(demo_scenario.rows), 0)
    with sqlite_engine.connect() as conn:
        countries = conn.execute(text("SELECT DISTINCT country_iso3 FROM events")).scalars().all()
        one_sided = conn.execute(
            text("SELECT count(*) FROM events WHERE violence_type = 'one_sided'")
        ).scalar_one()
    assert countries == ["CAF"]
    expected = sum(1 for row in demo_scenario.rows if row[5] == "3")
    assert one_sided == expected
