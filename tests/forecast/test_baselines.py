"""The VIEWS challenge baselines on hand-made panels, and against the official files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tocsin.forecast.baselines import BASELINES, avg60, boot, conflictology, last, zero
from tocsin.forecast.panel import make_panel, read_views_panel
from tocsin.forecast.registry.partitions import challenge_window


def history(values: dict[int, list[int]], first: int = 1):  # noqa: ANN201
    rows = [
        {"month_id": first + m, "country_id": unit, "ged_sb": v}
        for unit, series in values.items()
        for m, v in enumerate(series)
    ]
    return make_panel(pd.DataFrame(rows), "country_id", targets=["ged_sb"])


RNG = np.random.default_rng
SERIES = {1: list(range(1, 15)), 2: [0] * 14}  # unit 1: 1..14; unit 2: never violent


def test_zero_is_zero() -> None:
    f = zero(history(SERIES), "ged_sb", [17, 18], 50, RNG(0))
    assert f.draws.shape == (2, 2, 50) and not f.draws.any()


def test_last_is_poisson_around_the_last_month() -> None:
    f = last(history(SERIES), "ged_sb", [17], 20_000, RNG(0))
    assert abs(f.draws[0].mean() - 14) < 0.2 and f.draws[0].var() == pytest.approx(14, rel=0.05)
    assert not f.draws[1].any()


def test_boot_samples_every_units_last_12_months() -> None:
    f = boot(history(SERIES), "ged_sb", [17], 5000, RNG(0))
    pool = set(range(3, 15)) | {0}
    assert set(np.unique(f.draws)) <= pool
    # Both units draw from the same pool: half of it is unit 2's zeros.
    assert (f.draws[1] == 0).mean() == pytest.approx(0.5, abs=0.03)


def test_conflictology_is_the_units_own_last_12_months() -> None:
    f = conflictology(history(SERIES), "ged_sb", [17, 20], 1000, RNG(0))
    assert f.n_draws == 12
    assert sorted(f.draws[0, 0]) == list(range(3, 15))
    assert (f.draws[0, 0] == f.draws[0, 1]).all()


def test_conflictology_spreads_a_short_history_over_12_draws() -> None:
    f = conflictology(history({1: [0, 10, 20]}), "ged_sb", [5], 1000, RNG(0))
    assert sorted(f.draws[0, 0]) == [0] * 4 + [10] * 4 + [20] * 4


def test_avg60_is_poisson_around_the_mean() -> None:
    f = avg60(history(SERIES), "ged_sb", [17], 20_000, RNG(0))
    assert f.draws[0].mean() == pytest.approx(7.5, rel=0.03)


def test_baselines_are_deterministic_for_a_seed() -> None:
    panel = history(SERIES)
    for name, baseline in BASELINES.items():
        a = baseline(panel, "ged_sb", [17, 18], 30, RNG(4)).draws
        b = baseline(panel, "ged_sb", [17, 18], 30, RNG(4)).draws
        assert (a == b).all(), name


def test_only_units_present_at_the_cutoff_are_forecast() -> None:
    frame = pd.DataFrame({"month_id": [1, 2, 1], "country_id": [1, 1, 2], "ged_sb": [1, 2, 3]})
    panel = make_panel(frame, "country_id", targets=["ged_sb"])
    assert last(panel, "ged_sb", [3], 5, RNG(0)).units.tolist() == [1]


@pytest.mark.shared_data
def test_reimplementations_match_the_official_benchmarks(shared_file) -> None:  # noqa: ANN001
    """Same CRPS as the official Y2020 files: exactly for zero and conflictology, within
    Monte-Carlo noise for the sampled ones (few draws keep this test fast)."""
    import scoringrules as sr

    path = shared_file("views_cm/cm_panel_2018_2022.parquet")
    root = path.parent
    actual_file = shared_file("views_cm/actuals/window=Y2020/cm_actuals_2020.parquet")
    panel = read_views_panel([path], targets=["ged_sb"])
    window = challenge_window(2020)
    hist = panel.until(window.cutoff)
    truth = pd.read_parquet(actual_file)["outcome"]
    tolerance = {"zero": 1e-9, "conflictology": 1e-9, "last": 0.01, "boot": 0.02}
    for name, tol in tolerance.items():
        official = pd.read_parquet(root / f"benchmarks/window=Y2020/{name}.parquet")["outcome"]
        wide = official.unstack("draw")
        obs = truth.reindex(wide.index).to_numpy(float)
        expected = sr.crps_ensemble(obs, wide.to_numpy(float), estimator="qd").mean()
        mine = BASELINES[name](hist, "ged_sb", window.months, 300, RNG(1))
        index = pd.MultiIndex.from_product([mine.months, mine.units])
        mine_obs = truth.reindex(index).to_numpy(float).reshape(len(mine.months), -1).T
        got = sr.crps_ensemble(mine_obs, mine.draws.astype(float), estimator="qd").mean()
        assert got == pytest.approx(expected, rel=tol), name
