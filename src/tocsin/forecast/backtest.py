"""Backtests: forecast past windows exactly as the forecaster would have then.

For every window the forecaster receives ``panel.until(window.cutoff)``: a copy of the panel
without any later row. That truncation is the only path from the panel to a model, so nothing
after October of the year before a window can be read (tested in
``tests/forecast/test_backtest.py`` with poisoned future rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tocsin.forecast import baselines, model
from tocsin.forecast.errors import ForecastError
from tocsin.forecast.panel import Panel
from tocsin.forecast.registry.partitions import Window
from tocsin.forecast.samples import SampleForecast, window_path

MODEL_NAMES = (model.MODEL_NAME, *baselines.BASELINES)


class UnknownModelError(ForecastError):
    """A model name that is neither ``tocsin`` nor a baseline."""


@dataclass(frozen=True)
class ForecastRequest:
    target: str
    n_draws: int = 1000
    seed: int = 0
    config: model.ModelConfig | None = None
    neighbours: Mapping[object, Sequence[object]] | None = None
    second_ring: Mapping[object, Sequence[object]] | None = None
    # Histories the Tocsin model also learns from (never forecast); cut like the main one.
    extra: tuple[model.ExtraHistory, ...] = ()

    def until(self, cutoff: int) -> ForecastRequest:
        kept = tuple(
            replace(e, panel=e.panel.until(cutoff))
            for e in self.extra
            if e.panel.first_month <= cutoff
        )
        return replace(self, extra=kept)


def check_model_name(name: str) -> str:
    if name not in MODEL_NAMES:
        raise UnknownModelError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    return name


def run_model(
    name: str, history: Panel, months: Sequence[int], request: ForecastRequest
) -> tuple[SampleForecast, model.FittedModel | None, np.ndarray | None]:
    """Forecast ``months`` from ``history`` (already truncated) with model ``name``."""
    check_model_name(name)
    if request.target not in history.frame.columns:
        raise ForecastError(f"target {request.target!r} is not a column of the panel")
    if name == model.MODEL_NAME:
        return model.forecast(
            history,
            request.target,
            months,
            request.n_draws,
            request.seed,
            config=request.config,
            neighbours=request.neighbours,
            second_ring=request.second_ring,
            extra=request.extra,
        )
    rng = np.random.default_rng(request.seed)
    return (
        baselines.BASELINES[name](history, request.target, months, request.n_draws, rng),
        None,
        None,
    )


def backtest(
    panel: Panel,
    windows: Iterable[Window],
    name: str,
    request: ForecastRequest,
    *,
    out_dir: Path | None = None,
    on_window: Callable[[Window, SampleForecast], None] | None = None,
) -> dict[str, SampleForecast]:
    """Forecast each window from the panel truncated at its cut-off; optionally write the
    challenge layout ``out_dir/name/window=Y..../predictions.parquet``."""
    check_model_name(name)
    results = {}
    for window in windows:
        history = panel.until(window.cutoff)
        forecast, _, _ = run_model(name, history, window.months, request.until(window.cutoff))
        if out_dir is not None:
            forecast.write(window_path(out_dir, name, window.name))
        if on_window is not None:
            on_window(window, forecast)
        results[window.name] = forecast
    return results
