"""Fit the Tocsin model on a panel, forecast a window and save it as a run: the one path shared
by ``tocsin forecast run`` and the demo, so both record the same settings in the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine

from tocsin.forecast import model, neighbours, runs
from tocsin.forecast.panel import Panel
from tocsin.forecast.registry import partitions


@dataclass(frozen=True, slots=True)
class SavedRun:
    run_id: int
    window: partitions.Window
    n_units: int


def forecast_and_save(
    engine: Engine,
    panel: Panel,
    *,
    level: str,
    target: str,
    cutoff: int,
    steps: int,
    draws: int,
    seed: int,
    config: model.ModelConfig | None = None,
    explain_top: int = 3,
    notes: Mapping[str, Any] | None = None,
) -> SavedRun:
    """Forecasts months ``cutoff+1 .. cutoff+steps`` of ``target`` for every unit of ``panel``
    and stores draws, summaries and explanations with the model version, cut-off and input
    hash. ``config`` defaults to the model's settings for this panel; ``notes`` are recorded
    with the run (e.g. who made it)."""
    cfg = config or model.default_config(panel)
    first, second = neighbours.for_panel(panel)
    window = partitions.forecast_window(cutoff, steps)
    forecast, fitted, design = model.forecast(
        panel,
        target,
        window.months,
        draws,
        seed,
        config=cfg,
        neighbours=first,
        second_ring=second,
    )
    run_id = runs.save_run(
        engine,
        forecast=forecast,
        model_name=model.MODEL_NAME,
        model_version=model.MODEL_VERSION,
        level=level,
        target=target,
        data_cutoff=cutoff,
        seed=seed,
        input_hash=runs.panel_hash(panel, target),
        config={
            "model": asdict(cfg),
            "steps": steps,
            "draws": draws,
            "mix_weight": fitted.mix_weight,
            "calibration": asdict(fitted.calibration),
            "recent_part": None
            if fitted.recent is None
            else {
                "separate_pair": fitted.recent.separate,
                "mix_weight": fitted.recent.mix_weight,
                "calibration": asdict(fitted.recent.calibration),
            },
            **(notes or {}),
        },
        fitted=fitted,
        design=design,
        explain_top=explain_top,
    )
    return SavedRun(run_id, window, len(forecast.units))
