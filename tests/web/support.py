"""Helpers of the web tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from tocsin.store.schema_forecast import forecast_runs, forecast_values


def store_forecast(
    engine: Engine, level: str, values: dict[str, float], first: int, last: int
) -> int:
    """A stored forecast run with P(at least 1) = ``values[unit]`` for every month."""
    with engine.begin() as conn:
        run_id = conn.execute(
            forecast_runs.insert().returning(forecast_runs.c.id),
            {
                "model": "lgbm",
                "model_version": "test-1",
                "level": level,
                "unit_column": "unit",
                "target": "ged_sb",
                "data_cutoff": first - 3,
                "first_month": first,
                "last_month": last,
                "n_units": len(values),
                "n_draws": 100,
                "seed": 1,
                "input_hash": "0" * 64,
                "draws_path": "forecasts/x.parquet",
                "draws_sha256": "0" * 64,
                "config_json": "{}",
                "created_at": datetime(2024, 5, 20, tzinfo=UTC),
            },
        ).scalar_one()
        conn.execute(
            forecast_values.insert(),
            [
                {
                    "run_id": run_id,
                    "unit": unit,
                    "month_id": m,
                    "mean": 10 * p,
                    "q05": 0.0,
                    "q25": 1.0,
                    "q50": 2.0,
                    "q75": 5.0,
                    "q95": 40 * p,
                    "p_ge1": p,
                    "p_ge25": p / 4,
                }
                for unit, p in values.items()
                for m in range(first, last + 1)
            ],
        )
    return run_id
