"""The generated GED file: format, determinism, geography, marks and clustering."""

from __future__ import annotations

import csv
import io
from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely

from tocsin.geo.countries import country_outline
from tocsin.geo.prio_grid import gid_for_point
from tocsin.scenario.ged_format import csv_bytes
from tocsin.scenario.generator import ID_BASE, build_scenario
from tocsin.scenario.model import Scenario
from tocsin.scenario.stats import (
    NEAR_DAYS,
    NEAR_KM,
    frame_from_rows,
    homogeneous_baseline,
    near_share,
)

# The public UCDP GED 23.1 CSV header, in order (48 names: the codebook's 49 fields less the
# API-only geometry).
GED_HEADER = [
    "id", "relid", "year", "active_year", "code_status", "type_of_violence",
    "conflict_dset_id", "conflict_new_id", "conflict_name", "dyad_dset_id", "dyad_new_id",
    "dyad_name", "side_a_dset_id", "side_a_new_id", "side_a", "side_b_dset_id", "side_b_new_id",
    "side_b", "number_of_sources", "source_article", "source_office", "source_date",
    "source_headline", "source_original", "where_prec", "where_coordinates", "where_description",
    "latitude", "longitude", "adm_1", "adm_2", "priogrid_gid", "country", "country_id", "region",
    "event_clarity", "date_prec", "date_start", "date_end", "deaths_a", "deaths_b",
    "deaths_civilians", "deaths_unknown", "best", "high", "low", "gwnoa", "gwnob",
]  # fmt: skip


def table(scenario: Scenario) -> pd.DataFrame:
    """The CSV as an importer reads it: every value a string."""
    data = csv_bytes(scenario.rows).decode("utf-8")
    return pd.read_csv(io.StringIO(data), dtype=str, keep_default_na=False)


def ints(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].astype(int).to_numpy()


def test_header_is_the_ged_header(demo_scenario: Scenario) -> None:
    data = csv_bytes(demo_scenario.rows)
    header = next(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert header == GED_HEADER
    assert data.startswith(b"id,relid,year,")
    assert b"\r\n" in data  # GED's line endings
    assert all(len(row) == len(GED_HEADER) for row in demo_scenario.rows)


def test_same_seed_same_bytes_other_seed_other_bytes(demo_scenario: Scenario) -> None:
    again = build_scenario("CAF", 48, 7)
    assert csv_bytes(again.rows) == csv_bytes(demo_scenario.rows)
    assert again.manifest == demo_scenario.manifest
    other = build_scenario("CAF", 48, 8)
    assert csv_bytes(other.rows) != csv_bytes(demo_scenario.rows)


def test_every_point_is_inside_the_country(long_scenario: Scenario) -> None:
    frame = table(long_scenario)
    lat, lon = frame["latitude"].astype(float), frame["longitude"].astype(float)
    assert shapely.contains_xy(country_outline("CAF"), lon, lat).all()


@pytest.mark.parametrize(("iso3", "months"), [("FJI", 24), ("KIR", 24), ("RUS", 3), ("NLD", 24)])
def test_points_stay_inside_awkward_outlines(iso3: str, months: int) -> None:
    """Islands spread across the antimeridian, a small country, a huge one."""
    scenario = build_scenario(iso3, months, 1, start=date(2020, 1, 1))
    frame = table(scenario)
    assert len(frame) > 0
    lat, lon = frame["latitude"].astype(float), frame["longitude"].astype(float)
    assert shapely.contains_xy(country_outline(iso3), lon, lat).all()


def test_identity_columns(demo_scenario: Scenario) -> None:
    frame = table(demo_scenario)
    ids = ints(frame, "id")
    assert len(set(ids)) == len(ids)
    assert ids.min() > ID_BASE > 10**7  # real UCDP GED ids are below 10^7
    assert (frame["country"] == "Central African Republic").all()
    assert (frame["country_id"] == "482").all()
    assert (frame["region"] == "Africa").all()
    assert (frame["code_status"] == "Clear").all()
    gids = [
        gid_for_point(float(a), float(b))
        for a, b in zip(frame.latitude, frame.longitude, strict=True)
    ]
    assert ints(frame, "priogrid_gid").tolist() == gids


def test_dates_lie_in_the_window_and_match_their_precision(demo_scenario: Scenario) -> None:
    frame = table(demo_scenario)
    assert frame["date_start"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00:00").all()
    start = pd.to_datetime(frame["date_start"])
    end = pd.to_datetime(frame["date_end"])
    assert (start >= pd.Timestamp(demo_scenario.window_start)).all()
    assert (end < pd.Timestamp(demo_scenario.window_end)).all()
    assert (start <= end).all()
    precision = ints(frame, "date_prec")
    assert ((end - start).dt.days[precision == 1] == 0).all()
    assert ((end - start).dt.days[precision > 1] > 0).mean() > 0.9
    assert (ints(frame, "year") == start.dt.year).all()
    assert start.is_monotonic_increasing  # sorted, as the ids are


def test_actors_and_violence_types(demo_scenario: Scenario) -> None:
    frame = table(demo_scenario)
    types = ints(frame, "type_of_violence")
    assert set(types) == {1, 2, 3}
    one_sided = frame[types == 3]
    assert (one_sided["side_b"] == "Civilians").all()
    assert (one_sided["side_b_new_id"] == "1").all()
    state = frame[types == 1]
    assert state["side_a"].str.startswith("Government of").all()
    assert (state["gwnoa"] == "482").all()
    non_state = frame[types == 2]
    assert not non_state["side_a"].str.startswith("Government of").any()
    assert (non_state["gwnoa"] == "").all()
    actors = set(frame["side_a"]) | set(frame["side_b"])
    assert len(actors - {"Civilians"}) >= 5
    assert (frame["dyad_name"] == frame["side_a"] + " - " + frame["side_b"]).all()
    assert frame["source_office"].str.contains("synthetic").all()


def test_fatalities_are_consistent(long_scenario: Scenario) -> None:
    frame = table(long_scenario)
    best, low, high = ints(frame, "best"), ints(frame, "low"), ints(frame, "high")
    parts = sum(
        ints(frame, c) for c in ("deaths_a", "deaths_b", "deaths_civilians", "deaths_unknown")
    )
    assert (parts == best).all()
    assert ((low <= best) & (best <= high) & (low >= 0)).all()
    assert (low < best).any() and (high > best).any()
    one_sided = ints(frame, "type_of_violence") == 3
    assert (ints(frame, "deaths_a")[one_sided] == 0).all()
    assert (ints(frame, "deaths_b")[one_sided] == 0).all()


def test_fatalities_are_heavy_tailed(long_scenario: Scenario) -> None:
    best = ints(table(long_scenario), "best")
    median = np.median(best)
    assert 1 <= median <= 6
    assert best.max() / median > 30  # CAR: 800 / 3
    assert np.quantile(best, 0.99) / median > 10
    assert 0 < np.mean(best == 0) < 0.2


def test_precise_and_imprecise_locations(long_scenario: Scenario) -> None:
    frame = table(long_scenario)
    precision = ints(frame, "where_prec")
    assert set(precision) <= {1, 2, 3, 4, 5, 6}
    assert 0.75 < np.mean(precision <= 2) < 0.95
    assert {1, 2, 3, 4}.issubset(set(precision))
    # Imprecise events share their unit's "centroid", as in GED.
    imprecise = frame[precision >= 3]
    assert imprecise.groupby(["latitude", "longitude"]).ngroups < 0.5 * len(imprecise)
    country_level = frame[precision == 6]
    assert (country_level["adm_1"] == "").all()
    assert (country_level["where_coordinates"] == "Central African Republic").all()
    assert (frame.loc[precision <= 3, "adm_1"] != "").all()
    assert (frame.loc[precision <= 3, "adm_2"] != "").all()


def test_events_cluster_far_beyond_a_poisson_process(long_scenario: Scenario) -> None:
    frame = frame_from_rows(long_scenario.rows)
    start = pd.Timestamp(long_scenario.window_start)
    day = (frame["date_start"] - start).dt.days.to_numpy()
    clustered = near_share(
        frame.latitude.to_numpy(), frame.longitude.to_numpy(), day, NEAR_KM, NEAR_DAYS
    )
    poisson = homogeneous_baseline("CAF", len(frame), start, 120, np.random.default_rng(0))
    p_day = (poisson["date_start"] - start).dt.days.to_numpy()
    baseline = near_share(
        poisson.latitude.to_numpy(), poisson.longitude.to_numpy(), p_day, NEAR_KM, NEAR_DAYS
    )
    assert clustered > 0.35
    assert clustered > 3 * baseline


def test_monthly_counts_are_overdispersed(long_scenario: Scenario) -> None:
    frame = frame_from_rows(long_scenario.rows)
    monthly = frame["date_start"].dt.to_period("M").value_counts()
    assert monthly.var() / monthly.mean() > 2  # a Poisson process gives 1


def test_manifest(demo_scenario: Scenario) -> None:
    manifest = demo_scenario.manifest
    assert manifest["synthetic"] is True
    assert manifest["country"]["iso3"] == "CAF"
    assert (manifest["months"], manifest["seed"]) == (48, 7)
    assert manifest["window"] == {"start": "2022-01", "end": "2025-12"}
    assert manifest["events"] == len(demo_scenario.rows)
    assert manifest["calibration"]["process"]["branching_ratio"] < 1
    assert manifest["generator_version"]
    first, last = manifest["id_range"]
    assert last - first + 1 == len(demo_scenario.rows)
