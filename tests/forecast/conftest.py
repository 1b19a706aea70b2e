"""Small hand-made panels for forecasting tests (no shared data needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tocsin.forecast.model import ModelConfig
from tocsin.forecast.panel import make_panel

# Light LightGBM settings: the tests check behaviour, not accuracy.
FAST = ModelConfig(
    n_estimators=15,
    num_leaves=7,
    min_child_samples=5,
    threads=1,
    min_positive_rows=5,
    validation_months=6,
)


def synthetic_frame(
    n_units: int = 12, n_months: int = 48, first: int = 457, seed: int = 3
) -> pd.DataFrame:
    """Self-exciting counts: some units violent, most quiet; ged_sb drives ged_os a little."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_units):
        level = 0.05 if u % 3 else 3.0
        sb = os_ = 0
        for m in range(n_months):
            lam = level + 0.6 * sb
            sb = int(rng.poisson(lam))
            os_ = int(rng.poisson(0.2 * sb + (0.5 if u % 3 == 0 else 0.02)))
            rows.append(
                {
                    "month_id": first + m,
                    "country_id": u + 1,
                    "ged_sb": sb,
                    "ged_ns": 0,
                    "ged_os": os_,
                    "cov_x": float(u % 3),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def frame() -> pd.DataFrame:
    return synthetic_frame()


@pytest.fixture
def panel(frame: pd.DataFrame):  # noqa: ANN201
    return make_panel(frame, "country_id", targets=["ged_os"])


@pytest.fixture
def fast_config() -> ModelConfig:
    return FAST


@pytest.fixture
def hot_and_sporadic_panel():  # noqa: ANN201
    """60 units, 8 years: every fourth unit violent every month, the others with rare onsets."""
    rng = np.random.default_rng(5)
    rows = [
        {
            "month_id": 400 + m,
            "country_id": u + 1,
            "ged_sb": 0,
            "ged_ns": 0,
            "ged_os": int(rng.poisson(2.0 if u % 4 == 0 else 0.015)),
        }
        for u in range(60)
        for m in range(96)
    ]
    return make_panel(pd.DataFrame(rows), "country_id", targets=["ged_os"])
