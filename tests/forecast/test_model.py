"""The Tocsin model: shapes, determinism, short histories, draws and explanations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from tocsin.forecast import explain, features, model
from tocsin.forecast.panel import HistoryTooShortError, make_panel
from tocsin.forecast.registry.partitions import forecast_window


def test_forecast_has_every_unit_month_and_draw(panel, fast_config) -> None:  # noqa: ANN001
    window = forecast_window(panel.last_month, 6)
    forecast, fitted, design = model.forecast(
        panel, "ged_os", window.months, 200, 7, config=fast_config
    )
    assert forecast.draws.shape == (12, 6, 200)
    assert forecast.draws.dtype == np.int64 and forecast.draws.min() >= 0
    assert forecast.units.tolist() == list(range(1, 13))
    assert design.shape[:2] == (12, 6) and design.shape[2] == len(fitted.feature_names)
    # Violent units (every third) get a higher forecast than quiet ones.
    means = forecast.draws.mean(axis=(1, 2))
    assert means[::3].mean() > 3 * np.delete(means, np.arange(0, 12, 3)).mean()


def test_same_seed_same_forecast_other_seed_other_order(panel, fast_config) -> None:  # noqa: ANN001
    months = forecast_window(panel.last_month, 3).months
    a, _, _ = model.forecast(panel, "ged_os", months, 100, 1, config=fast_config)
    b, _, _ = model.forecast(panel, "ged_os", months, 100, 1, config=fast_config)
    c, _, _ = model.forecast(panel, "ged_os", months, 100, 2, config=fast_config)
    assert (a.draws == b.draws).all()
    assert not (a.draws == c.draws).all()


def test_a_history_too_short_to_train_on_is_refused(frame, fast_config) -> None:  # noqa: ANN001
    short = make_panel(frame[frame.month_id < 460], "country_id", targets=["ged_os"])
    with pytest.raises(HistoryTooShortError, match="too short"):
        model.forecast(short, "ged_os", [461], 10, 0, config=fast_config)


def test_a_history_without_fatalities_is_refused(frame, fast_config) -> None:  # noqa: ANN001
    quiet = make_panel(frame.assign(ged_os=0), "country_id", targets=["ged_os"])
    with pytest.raises(HistoryTooShortError, match="fatalities"):
        model.forecast(quiet, "ged_os", [quiet.last_month + 1], 10, 0, config=fast_config)


def test_months_must_follow_the_history(panel, fast_config) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="after the history"):
        model.forecast(panel, "ged_os", [panel.last_month], 10, 0, config=fast_config)


def test_hurdle_quantiles_respect_the_zero_probability() -> None:
    bins = model.ResidualBins(np.array([]), (np.array([-0.5, 0.0, 0.5]),))
    draws = model.hurdle_quantiles(np.array([0.0, 1.0, 0.3]), np.array([2.0, 2.0, 2.0]), bins, 100)
    assert not draws[0].any()
    assert draws[1].min() >= 1
    assert (draws[2] == 0).mean() == pytest.approx(0.7)
    assert np.median(draws[1]) == pytest.approx(np.expm1(2.0), abs=1)


def test_mixture_keeps_a_share_of_the_units_own_history() -> None:
    base = np.zeros((1, 100))
    conf = np.arange(12.0)[None, :] + 100
    mixed = model.mixture_draws(base, conf, 0.3)
    assert mixed.shape == (1, 100)
    assert (mixed >= 100).sum() == 30
    assert (model.mixture_draws(base, conf, 0.0) == base).all()


def test_residual_bins_keep_the_spread_of_each_level_but_not_its_bias() -> None:
    mu = np.concatenate([np.zeros(300), np.full(300, 5.0)])
    wide = np.linspace(-2.0, 2.0, 300)
    narrow = np.linspace(0.9, 1.1, 300)  # biased by +1: the bias is dropped, the spread kept
    bins = model.ResidualBins.from_validation(mu, np.concatenate([wide, narrow]), per_bin=300)
    low = bins.quantiles(np.array([0.0, 0.0]), np.array([0.05, 0.95]))
    high = bins.quantiles(np.array([5.0, 5.0]), np.array([0.05, 0.95]))
    assert low == pytest.approx([-1.8, 1.8], abs=0.01)
    assert high == pytest.approx([-0.09, 0.09], abs=0.01)


def test_features_read_nothing_after_the_origin(frame) -> None:  # noqa: ANN001
    full = make_panel(frame, "country_id", targets=["ged_os"])
    cut = make_panel(frame[frame.month_id <= 480], "country_id", targets=["ged_os"])
    a = features.build_features(full, "ged_os").at(480)
    b = features.build_features(cut, "ged_os").at(480)
    assert np.array_equal(a, b, equal_nan=True)


def test_features_include_spatial_lags_and_other_violence(frame) -> None:  # noqa: ANN001
    panel = make_panel(frame, "country_id", targets=["ged_os"])
    cube = features.build_features(panel, "ged_os", neighbours={1: [2], 2: [1]})
    assert {
        "y_lag0",
        "y_sum12",
        "y_since",
        "y_decay12",
        "ged_sb_sum12",
        "nb1_sum12",
        "cov_cov_x",
    } <= set(cube.names)
    sb = cube.values[:, :, cube.names.index("nb1_lag0")]
    os_, _ = panel.dense("ged_os")
    assert np.array_equal(sb[0], os_[1])  # unit 1's neighbour sum is unit 2's value


def test_explanations_add_up_to_the_models_raw_prediction(panel, fast_config) -> None:  # noqa: ANN001
    months = forecast_window(panel.last_month, 2).months
    _, fitted, design = model.forecast(panel, "ged_os", months, 50, 0, config=fast_config)
    x = design.reshape(-1, design.shape[2])
    shap, base = explain.contributions(fitted.classifier, x)
    raw = fitted.classifier.predict(x, raw_score=True)
    assert np.allclose(shap.sum(axis=1) + base, raw, atol=1e-6)
    top = explain.top_factors(shap, base, x, fitted.feature_names, "occurrence", 2)
    assert set(top["part"]) == {"occurrence"}
    assert (top.groupby("row").size() <= 4).all()


def test_features_are_described_in_words() -> None:
    assert explain.describe_feature("nb1_sum12") == (
        "the forecast variable in neighbouring units: total over the last 12 months"
    )
    assert "25+" in explain.describe_feature("y_decay25_3")
    assert explain.describe_feature("cov_vdem_x") == "covariate vdem_x"
    assert explain.describe_feature("step") == "months ahead of the last data"


def test_an_unbalanced_panel_is_forecast_for_units_present_at_the_end(frame, fast_config) -> None:  # noqa: ANN001
    gone = frame[~((frame.country_id == 5) & (frame.month_id > 470))]
    panel = make_panel(pd.DataFrame(gone), "country_id", targets=["ged_os"])
    forecast, _, _ = model.forecast(
        panel, "ged_os", [panel.last_month + 1], 20, 0, config=fast_config
    )
    assert 5 not in forecast.units.tolist() and len(forecast.units) == 11


def test_platt_scaling_corrects_overconfident_probabilities() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.6, 0.99, 4000)
    truth = rng.random(4000) < p / 2  # the model says twice the real chance
    a, b = model._platt(p, truth, np.ones(4000))
    calibrated = model.Calibration(a, b).probability(p)
    assert calibrated.mean() == pytest.approx(truth.mean(), abs=0.02)
    assert model.Calibration().probability(p) is p  # the identity changes nothing


def test_spread_factor_scales_residuals() -> None:
    bins = model.ResidualBins(np.array([]), (np.array([-1.0, 0.0, 1.0]),))
    scaled = model.Calibration(spread=0.5).residuals(bins)
    assert scaled.residuals[0].tolist() == [-0.5, 0.0, 0.5]


def test_prio_grid_panels_get_neighbour_rings() -> None:
    from tocsin.forecast import neighbours
    from tocsin.geo.prio_grid import COLUMNS

    centre = 100 * COLUMNS + 300
    cells = [centre + dr * COLUMNS + dc for dr in range(-3, 4) for dc in range(-3, 4)]
    rows = [
        {"month_id": m, "priogrid_gid": g, "ged_os": int(g == centre and m % 2 == 0)}
        for m in range(1, 25)
        for g in cells
    ]
    panel = make_panel(pd.DataFrame(rows), "priogrid_gid", targets=["ged_os"])
    first, second = neighbours.for_panel(panel)
    assert len(first[centre]) == 8 and len(second[centre]) == 16
    cube = features.build_features(panel, "ged_os", neighbours=first, second_ring=second)
    at = cube.at(24)
    index = {u: i for i, u in enumerate(cube.units.tolist())}
    # Two cells away: in the second ring, not the first.
    two_away = index[centre + 2 * COLUMNS + 1]
    assert at[two_away, cube.names.index("nb1_sum12")] == 0
    assert at[two_away, cube.names.index("nb2_sum12")] == 6
    assert at[index[centre + 1], cube.names.index("nb1_sum12")] == 6


def test_split_model_calibrates_units_with_recent_violence_apart(
    hot_and_sporadic_panel,  # noqa: ANN001
    fast_config,  # noqa: ANN001
) -> None:
    panel = hot_and_sporadic_panel
    config = replace(fast_config, split_recent=True)
    months = forecast_window(panel.last_month, 6).months
    forecast, fitted, design = model.forecast(panel, "ged_os", months, 100, 0, config=config)
    again, _, _ = model.forecast(panel, "ged_os", months, 100, 0, config=config)
    assert (forecast.draws == again.draws).all()
    assert fitted.recent is not None
    assert {"other", "recent", "folds"} <= set(fitted.validation)
    chosen = fitted.validation["recent"]
    # The recent units' own pair is used only where the inner validation preferred it.
    if chosen["separate_pair"]:
        assert chosen["crps_separate_pair"] < chosen["crps_shared_pair"]
    else:
        assert chosen["crps_separate_pair"] is None or (
            chosen["crps_separate_pair"] >= chosen["crps_shared_pair"]
        )
    # "Recent" means the target in the last 36 months, as in the evaluation's active units.
    os_, _ = panel.dense("ged_os")
    had_os = np.nansum(os_[:, -36:], axis=1) > 0
    assert (fitted.recent_rows(design[:, 0, :]) == had_os).all()
    means = forecast.draws.mean(axis=(1, 2))
    assert means[::4].mean() > 10 * np.delete(means, np.arange(0, 60, 4)).mean()


def test_only_large_panels_are_split_by_recent_violence(panel) -> None:  # noqa: ANN001
    assert not model.default_config(panel).split_recent  # country-month panels: unchanged
    assert model.ModelConfig(**model.LARGE_PANEL_SETTINGS).split_recent
