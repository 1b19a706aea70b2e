"""The shipped constants are what `tocsin scenario calibrate` derives from the real CAR file."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.support.requirements import require
from tocsin.cli import app
from tocsin.scenario.calibration import CAR_CALIBRATION, Calibration
from tocsin.scenario.fit import calibration_source, fit_calibration
from tocsin.scenario.fit_marks import ceil_lognormal_log_pmf, fit_fatalities, mark_persistence
from tocsin.scenario.ged_sample import REQUIRED_COLUMNS, GedSampleError, load_ged_sample
from tocsin.scenario.output import write_scenario

CAR_FILE = "ucdp/ged231_central_african_republic.csv"
# Optimiser and grid-search results can move in the last digits between library versions.
RELATIVE_TOLERANCE = 0.02


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}{key}."))
        return out
    if isinstance(value, list | tuple):
        out = {f"{prefix}len": len(value)}
        for i, inner in enumerate(value):
            out.update(_flatten(inner, f"{prefix}{i}."))
        return out
    return {prefix.rstrip("."): value}


@pytest.fixture(scope="module")
def fitted(shared_data: Path) -> Calibration:
    path = shared_data / CAR_FILE
    require(path.is_file(), f"shared data file missing: {path}")
    return fit_calibration(load_ged_sample(path))


def test_fitted_numbers_match_the_shipped_constants(fitted: Calibration) -> None:
    assert CAR_CALIBRATION is not None
    shipped = _flatten(asdict(CAR_CALIBRATION))
    derived = _flatten(asdict(fitted))
    assert shipped.keys() == derived.keys()
    for key, value in shipped.items():
        if isinstance(value, float):
            assert math.isclose(derived[key], value, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-4), key
        else:
            assert derived[key] == value, key


def test_fit_sees_the_published_counts(fitted: Calibration) -> None:
    assert fitted.country_iso3 == "CAF"
    assert (fitted.window_start, fitted.window_months) == ("2013-01", 120)
    assert fitted.events == 1564  # of the file's 1,848 events, 1991-2022
    assert 0 < fitted.process.branching_ratio < 1
    assert sum(fitted.type_shares.values()) == pytest.approx(1.0)
    assert fitted.type_shares["3"] > 0.5  # one-sided violence dominates in CAR


def test_the_printed_source_is_the_constant(fitted: Calibration) -> None:
    namespace: dict[str, object] = {}
    exec(  # noqa: S102 - our own generated source, to prove it round-trips
        "from tocsin.scenario.calibration import *\n" + calibration_source(fitted), namespace
    )
    printed = _flatten(asdict(namespace["CAR_CALIBRATION"]))
    derived = _flatten(asdict(fitted))
    assert printed.keys() == derived.keys()
    for key, value in derived.items():
        if isinstance(value, float):
            assert printed[key] == pytest.approx(value, rel=1e-5), key
        else:
            assert printed[key] == value, key


def test_ceil_lognormal_is_a_distribution() -> None:
    k = np.arange(1, 200_000, dtype=float)
    assert np.exp(ceil_lognormal_log_pmf(k, 1.0, 1.4)).sum() == pytest.approx(1.0, abs=1e-4)


def test_fatality_fit_recovers_known_parameters() -> None:
    rng = np.random.default_rng(4)
    draws = np.ceil(np.exp(rng.normal(1.2, 1.1, size=20_000)))
    draws[rng.random(draws.size) < 0.1] = 0
    model = fit_fatalities(draws)
    assert model.zero_share == pytest.approx(0.1, abs=0.01)
    assert model.log_mu == pytest.approx(1.2, abs=0.05)
    assert model.log_sigma == pytest.approx(1.1, abs=0.05)


def test_mark_persistence_separates_inheritance_from_chance() -> None:
    rng = np.random.default_rng(5)
    dyad = rng.integers(0, 10, size=5000)
    parent = np.arange(0, 2500)
    child = parent + 2500
    inherited = rng.random(child.size) < 0.4
    dyad[child[inherited]] = dyad[parent[inherited]]
    weight = np.ones(child.size)
    assert mark_persistence(dyad, child, parent, weight) == pytest.approx(0.4, abs=0.05)


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_sample_needs_the_full_layout(tmp_path: Path) -> None:
    reduced = _write(tmp_path / "reduced.csv", "id,year,month,day,country", ["1,2020,1,1,Chad"])
    with pytest.raises(GedSampleError, match="lacks the UCDP GED columns"):
        load_ged_sample(reduced)


def test_sample_errors(tmp_path: Path) -> None:
    with pytest.raises(GedSampleError, match="not found"):
        load_ged_sample(tmp_path / "missing.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage\x00")
    with pytest.raises(GedSampleError):
        load_ged_sample(binary)
    with pytest.raises(GedSampleError, match="12 to 1200"):
        load_ged_sample(binary, window_months=3)


def test_calibrate_cli_reports_bad_files(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.csv", "a,b", ["1,2"])
    result = CliRunner().invoke(app, ["scenario", "calibrate", "--ged", str(bad)])
    assert result.exit_code == 2
    assert "lacks the UCDP GED columns" in result.output


def test_calibrate_recovers_the_generator_parameters(long_scenario, tmp_path: Path) -> None:  # noqa: ANN001
    """Fit a scenario made with CAR_CALIBRATION: the fit must land near what made it.

    One 10-year realisation, and places snapped to towns and centroids as GED does, so the
    tolerances are wide; they still catch a fit that has lost track of the process.
    """
    assert CAR_CALIBRATION is not None
    events_file, _ = write_scenario(long_scenario, tmp_path / "scenario")
    result = CliRunner().invoke(app, ["scenario", "calibrate", "--ged", str(events_file), "--json"])
    assert result.exit_code == 0, result.output
    fitted = json.loads(result.stdout)
    truth = CAR_CALIBRATION.process
    process = fitted["process"]
    assert fitted["events"] == len(long_scenario.rows)
    assert process["background_per_day"] == pytest.approx(truth.background_per_day, rel=0.3)
    assert process["branching_ratio"] == pytest.approx(truth.branching_ratio, abs=0.2)
    assert 1 / process["slow_decay_per_day"] == pytest.approx(1 / truth.slow_decay_per_day, rel=0.5)
    assert process["near_sigma_km"] < 10 < process["far_sigma_km"]
    for code, share in CAR_CALIBRATION.type_shares.items():
        assert fitted["type_shares"][code] == pytest.approx(share, abs=0.05)
    for code, model in CAR_CALIBRATION.fatalities.items():
        assert fitted["fatalities"][code]["log_mu"] == pytest.approx(model.log_mu, abs=0.3)
        assert fitted["fatalities"][code]["log_sigma"] == pytest.approx(model.log_sigma, abs=0.3)
    assert fitted["dyad_zipf_exponent"] == pytest.approx(
        CAR_CALIBRATION.dyad_zipf_exponent, abs=0.4
    )


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tocsin.scenario import ged_sample

    monkeypatch.setattr(ged_sample, "MAX_FILE_BYTES", 10)
    big = _write(tmp_path / "big.csv", "id,best", ["1,2", "3,4"])
    with pytest.raises(GedSampleError, match="larger than 10 bytes"):
        load_ged_sample(big)


def test_several_countries_need_a_choice(tmp_path: Path) -> None:
    header = ",".join(REQUIRED_COLUMNS)
    row = {c: "1" for c in REQUIRED_COLUMNS}
    row.update(date_start="2020-01-01", date_end="2020-01-01", latitude="5", longitude="20")
    rows = []
    for gw in ("482", "483"):
        row["country_id"] = gw
        rows.append(",".join(row[c] for c in REQUIRED_COLUMNS))
    path = _write(tmp_path / "two.csv", header, rows)
    with pytest.raises(GedSampleError, match="2 countries: choose one with --country"):
        load_ged_sample(path)
    with pytest.raises(GedSampleError, match="only 1 events"):
        load_ged_sample(path, country="CAF")
