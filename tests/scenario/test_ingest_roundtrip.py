"""The generated CSV goes through the real UCDP adapter with nothing rejected."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tocsin.ingest.runner import ingest_file
from tocsin.scenario.dataset import SCENARIO_DATASET
from tocsin.scenario.model import Scenario
from tocsin.scenario.output import write_scenario


def test_tm_77_scenario_imports_cleanly_idempotently_and_as_synthetic(
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
    # Synthetic events have their own dataset end to end: never counted as UCDP's.
    assert first.dataset == SCENARIO_DATASET
    with sqlite_engine.connect() as conn:
        datasets = conn.execute(text("SELECT DISTINCT dataset FROM events")).scalars().all()
        runs = conn.execute(text("SELECT DISTINCT dataset FROM import_runs")).scalars().all()
    assert datasets == runs == [SCENARIO_DATASET]
    expected = sum(1 for row in demo_scenario.rows if row[5] == "3")
    assert one_sided == expected


def test_tm_77_real_ged_rows_next_to_scenario_rows_keep_their_dataset(
    demo_scenario: Scenario, tmp_path: Path, sqlite_engine
) -> None:  # noqa: ANN001
    """Only rows with both marks (scenario id range and scenario source) are relabelled; a
    real GED id, or a large id without the scenario's source, stays ``ucdp_ged``."""
    events_file, _ = write_scenario(demo_scenario, tmp_path / "scenario")
    lines = events_file.read_text(encoding="utf-8").splitlines()
    header, first_row = lines[0], lines[1]
    synthetic_id = first_row.split(",", 1)[0]
    real_like = first_row.replace(synthetic_id, "4242", 1)
    unmarked = first_row.replace(synthetic_id, "2000000000000", 1).replace(
        "Tocsin synthetic scenario", "Agence Test"
    )
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("\n".join([header, first_row, real_like, unmarked]) + "\n", "utf-8")
    report = ingest_file(sqlite_engine, mixed)
    assert (report.inserted, report.rejected) == (3, 0)
    assert report.dataset == "ucdp_ged"  # a mixed file is not a scenario import
    with sqlite_engine.connect() as conn:
        got = dict(conn.execute(text("SELECT original_id, dataset FROM events")).all())
    assert got == {
        synthetic_id: SCENARIO_DATASET,
        "4242": "ucdp_ged",
        "2000000000000": "ucdp_ged",
    }
