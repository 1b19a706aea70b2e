"""The demo's forecast: the steps of ``tocsin forecast run``, with few draws and months.

The same public functions as the command (read the store, build the panel, fit and forecast,
save the run), so ``/forecast``, the map's choropleth and the forecast-risk alert triggers have a
run to show. A run is only added when the input changed: re-running the demo on the same data
keeps the run it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Engine

from tocsin.forecast.errors import ForecastError
from tocsin.forecast.panel import MONTH

TARGET = "ged_os"  # one-sided violence: violence against civilians


@dataclass(frozen=True, slots=True)
class DemoForecast:
    run_id: int
    level: str
    units: int
    first_month: int
    last_month: int
    reused: bool


def last_complete_month(now: datetime | None = None) -> int:
    from tocsin.forecast.registry import partitions

    now = now or datetime.now(UTC)
    return partitions.month_id(now.year, now.month) - 1


def run_demo_forecast(
    engine: Engine,
    *,
    datasets: Sequence[str],
    level: str = "pgm",
    countries: Sequence[str] | None = None,
    draws: int = 200,
    steps: int = 6,
    seed: int = 0,
) -> DemoForecast:
    """Forecasts ``TARGET`` for every unit of ``level`` from the store's ``datasets``; raises
    ``ForecastError`` (with a reason to show) when there is nothing to forecast from."""
    from tocsin.forecast import events, model, panel_build, runs
    from tocsin.forecast.registry import partitions
    from tocsin.forecast.store_run import forecast_and_save

    frame = events.read_store_events(engine, datasets=list(datasets))
    if frame.empty:
        raise ForecastError("no public events of organised violence in the loaded datasets")
    cutoff = last_complete_month()
    built, _ = panel_build.build_panel(
        frame,
        level,
        country_codes=list(countries) if countries else None,
        first_month=int(frame[MONTH].min()),
        last_month=cutoff,
    )
    input_hash = runs.panel_hash(built, TARGET)
    window = partitions.forecast_window(cutoff, steps)
    previous = runs.latest_run(engine, level=level, target=TARGET)
    if (
        previous is not None
        and previous.input_hash == input_hash
        and previous.data_cutoff == cutoff
        and previous.model_version == model.MODEL_VERSION
    ):
        return DemoForecast(
            previous.id, level, previous.n_units, previous.first_month, previous.last_month, True
        )
    # Lighter than the command's defaults, so the demo stays quick on a laptop; the run records
    # the settings it used, and `tocsin forecast run` makes a full one.
    cfg = replace(model.default_config(built), n_estimators=100, steps_per_origin=min(steps, 4))
    saved = forecast_and_save(
        engine,
        built,
        level=level,
        target=TARGET,
        cutoff=cutoff,
        steps=steps,
        draws=draws,
        seed=seed,
        config=cfg,
        notes={"made_by": "tocsin demo"},
    )
    return DemoForecast(saved.run_id, level, saved.n_units, window.first, window.last, reused=False)
