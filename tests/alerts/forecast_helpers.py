"""Stored forecast runs written from hand-made draws (no model fit: milliseconds)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Engine

from tocsin.forecast import runs
from tocsin.forecast.registry.partitions import month_id
from tocsin.forecast.samples import SampleForecast

CUTOFF = month_id(2024, 4)  # data to April 2024: "next month" is May 2024


def draws_with(p_ge1: float, p_ge25: float, n: int = 100) -> np.ndarray:
    """``n`` draws with exactly these shares of >= 1 and >= 25."""
    big, some = round(n * p_ge25), round(n * p_ge1)
    return np.array([30] * big + [2] * (some - big) + [0] * (n - some))


def save_probabilities(
    engine: Engine,
    probabilities: dict[str, list[tuple[float, float]]],
    *,
    cutoff: int = CUTOFF,
    level: str = "adm1",
    target: str = "ged_os",
) -> int:
    """One run: per unit, (P>=1, P>=25) for each month after ``cutoff``."""
    units = sorted(probabilities)
    n_months = len(next(iter(probabilities.values())))
    draws = np.stack(
        [np.stack([draws_with(a, b) for a, b in probabilities[u]]) for u in units]
    ).astype(np.int64)
    forecast = SampleForecast(
        "adm1_pcode",
        np.array(units, dtype=object),
        np.arange(cutoff + 1, cutoff + 1 + n_months),
        draws,
    )
    return runs.save_run(
        engine,
        forecast=forecast,
        model_name="tocsin",
        model_version="test-1",
        level=level,
        target=target,
        data_cutoff=cutoff,
        seed=0,
        input_hash="ab" * 32,
        config={},
    )
