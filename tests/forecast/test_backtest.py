"""Backtests train only on data up to the cut-off: later rows cannot be read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tocsin.forecast import backtest as bt
from tocsin.forecast import model, report
from tocsin.forecast.evaluate import MetricSettings
from tocsin.forecast.panel import make_panel
from tocsin.forecast.registry.partitions import parse_windows
from tocsin.forecast.samples import read_predictions, window_path

# The synthetic panel covers 2018-01 .. 2021-12 (month ids 457-504); Y2021 reads to 2020-10.
WINDOW = parse_windows("Y2021")[0]


def poisoned(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows after the cut-off replaced by absurd values a leaking model would react to."""
    out = frame.copy()
    later = out["month_id"] > WINDOW.cutoff
    out.loc[later, ["ged_sb", "ged_os"]] = 1_000_000
    out.loc[later, "cov_x"] = -1e9
    return out


@pytest.mark.parametrize("name", ["tocsin", "last", "boot", "conflictology", "avg60"])
def test_nothing_after_the_cutoff_changes_a_backtest(frame, fast_config, name: str) -> None:  # noqa: ANN001
    request = bt.ForecastRequest("ged_os", 50, 3, fast_config)
    clean = make_panel(frame, "country_id", targets=["ged_os"])
    dirty = make_panel(poisoned(frame), "country_id", targets=["ged_os"])
    cut = make_panel(frame[frame.month_id <= WINDOW.cutoff], "country_id", targets=["ged_os"])
    a = bt.backtest(clean, [WINDOW], name, request)["Y2021"]
    b = bt.backtest(dirty, [WINDOW], name, request)["Y2021"]
    c = bt.backtest(cut, [WINDOW], name, request)["Y2021"]
    assert (a.draws == b.draws).all() and (a.draws == c.draws).all()
    assert a.months.tolist() == WINDOW.months


def test_the_model_is_handed_a_panel_that_ends_at_the_cutoff(frame, monkeypatch) -> None:  # noqa: ANN001
    seen = []

    def spy(history, target, months, n_draws, seed, **kwargs):  # noqa: ANN001, ANN202, ARG001
        seen.append((history.last_month, int(history.frame["month_id"].max()), min(months)))
        raise RuntimeError("stop here")

    monkeypatch.setattr(model, "forecast", spy)
    panel = make_panel(frame, "country_id", targets=["ged_os"])
    with pytest.raises(RuntimeError, match="stop here"):
        bt.backtest(panel, [WINDOW], "tocsin", bt.ForecastRequest("ged_os"))
    assert seen == [(WINDOW.cutoff, WINDOW.cutoff, WINDOW.first)]


def test_unknown_models_and_targets_are_refused(panel) -> None:  # noqa: ANN001
    with pytest.raises(bt.UnknownModelError):
        bt.backtest(panel, [WINDOW], "prophet", bt.ForecastRequest("ged_os"))
    with pytest.raises(ValueError, match="target"):
        bt.run_model("zero", panel, WINDOW.months, bt.ForecastRequest("ged_xx"))


def test_challenge_layout_round_trips_and_evaluates(tmp_path: Path, panel, fast_config) -> None:  # noqa: ANN001
    request = bt.ForecastRequest("ged_os", 40, 0, fast_config)
    windows = parse_windows("Y2020,Y2021")
    for name in ("tocsin", "conflictology", "zero"):
        bt.backtest(panel, windows, name, request, out_dir=tmp_path)
    path = window_path(tmp_path, "tocsin", "Y2021")
    assert path.is_file()
    back = read_predictions(path, "country_id")
    assert back.draws.shape == (12, 12, 40)
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["month_id", "country_id", "draw", "outcome"]

    truth = report.actuals_from_panel(panel, "ged_os")
    evaluation = report.evaluate_directory(
        tmp_path, truth, "country_id", settings=MetricSettings(bootstrap_samples=50)
    )
    tables = report.tables(evaluation)
    assert set(tables["by_window"]["window"]) == {"Y2020", "Y2021"}
    assert set(tables["by_step"]["step"]) == set(range(3, 15))
    assert evaluation.benchmark == "conflictology"
    zero = tables["pooled"].set_index("model").loc["zero"]
    # The zero forecast's CRPS is the mean observed count.
    months = set(windows[0].months) | set(windows[1].months)
    assert zero["crps"] == pytest.approx(truth[truth.month_id.isin(months)]["outcome"].mean())
    paths = report.write_outputs(evaluation, tmp_path / "eval")
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths.values())
    assert "CRPS by window" in paths["markdown"].read_text()


def test_evaluation_refuses_actuals_that_miss_forecast_units(tmp_path: Path, panel) -> None:  # noqa: ANN001
    bt.backtest(panel, [WINDOW], "zero", bt.ForecastRequest("ged_os", 5), out_dir=tmp_path)
    truth = report.actuals_from_panel(panel, "ged_os")
    partial = truth[truth.country_id != 3]
    with pytest.raises(report.EvaluationError, match="no actual outcome"):
        report.evaluate_directory(tmp_path, partial, "country_id")
    with pytest.raises(report.EvaluationError, match="not found"):
        report.evaluate_directory(tmp_path / "nope", truth, "country_id")


def test_draws_are_integers_and_deterministic_across_backtests(panel, fast_config) -> None:  # noqa: ANN001
    request = bt.ForecastRequest("ged_os", 30, 9, fast_config)
    a = bt.backtest(panel, [WINDOW], "tocsin", request)["Y2021"].draws
    b = bt.backtest(panel, [WINDOW], "tocsin", request)["Y2021"].draws
    assert np.array_equal(a, b) and a.dtype == np.int64


def test_extra_histories_are_cut_at_the_cutoff_too(frame, fast_config) -> None:  # noqa: ANN001
    main = make_panel(frame, "country_id", targets=["ged_os"])
    other = frame.assign(country_id=frame.country_id + 100)
    clean = model.ExtraHistory(make_panel(other, "country_id", targets=["ged_os"]))
    dirty = model.ExtraHistory(make_panel(poisoned(other), "country_id", targets=["ged_os"]))
    with_clean = bt.ForecastRequest("ged_os", 40, 0, fast_config, extra=(clean,))
    with_dirty = bt.ForecastRequest("ged_os", 40, 0, fast_config, extra=(dirty,))
    without = bt.ForecastRequest("ged_os", 40, 0, fast_config)
    a = bt.backtest(main, [WINDOW], "tocsin", with_clean)["Y2021"].draws
    b = bt.backtest(main, [WINDOW], "tocsin", with_dirty)["Y2021"].draws
    c = bt.backtest(main, [WINDOW], "tocsin", without)["Y2021"].draws
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)  # the extra history is learnt from
    # ... but never forecast: only the main panel's units come out.
    assert bt.backtest(main, [WINDOW], "tocsin", with_clean)["Y2021"].units.max() == 12
