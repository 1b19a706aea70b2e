"""Why a forecast is what it is: the features that raised or lowered it most.

LightGBM's ``pred_contrib=True`` gives exact TreeSHAP values: for one unit-month, each feature's
additive contribution, on top of the average forecast (``base_value``), to
- ``occurrence``: the log-odds that at least one person is killed, and
- ``intensity``: ``log1p`` of the number killed if anyone is.

A contribution > 0 raised the risk. "Why did risk rise here?" is answered by the largest positive
contributions (e.g. "fatalities in neighbouring cells, last 12 months"), in words from
:func:`describe_feature`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

PARTS = ("occurrence", "intensity")


@dataclass(frozen=True)
class Factor:
    part: str
    feature: str
    description: str
    contribution: float
    feature_value: float | None
    base_value: float


def contributions(booster, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """SHAP values ``(rows, features)`` and base values ``(rows,)`` of a LightGBM booster."""
    raw = booster.predict(x, pred_contrib=True)
    return raw[:, :-1], raw[:, -1]


def top_factors(
    shap: np.ndarray, base: np.ndarray, x: np.ndarray, names: list[str], part: str, k: int
) -> pd.DataFrame:
    """The ``k`` most positive and ``k`` most negative contributions of every row, long format:
    ``row, part, feature, contribution, feature_value, base_value``."""
    n_rows = shap.shape[0]
    k = min(k, shap.shape[1])
    order = np.argsort(shap, axis=1)
    picks = np.concatenate([order[:, -k:], order[:, :k]], axis=1)
    rows = np.repeat(np.arange(n_rows), picks.shape[1])
    cols = picks.ravel()
    frame = pd.DataFrame(
        {
            "row": rows,
            "part": part,
            "feature": np.asarray(names, dtype=object)[cols],
            "contribution": shap[rows, cols],
            "feature_value": x[rows, cols].astype(float),
            "base_value": base[rows],
        }
    )
    frame = frame[frame["contribution"] != 0].drop_duplicates(["row", "part", "feature"])
    frame["feature_value"] = frame["feature_value"].where(np.isfinite(frame["feature_value"]))
    return frame.reset_index(drop=True)


_SOURCES = {
    "y": "the forecast variable",
    "nb1": "the forecast variable in neighbouring units",
    "nb2": "the forecast variable in the second ring of neighbours",
    "ged_sb": "state-based fatalities",
    "ged_ns": "non-state fatalities",
    "ged_os": "one-sided (against civilians) fatalities",
    "events_sb": "state-based events",
    "events_ns": "non-state events",
    "events_os": "one-sided events",
}
_KINDS = {
    "sum": "total over the last {n} months",
    "active": "share of the last {n} months with any fatality",
    "max": "largest month in the last {n} months",
    "logstd": "volatility over the last {n} months",
    "ewm": "recent level (half-life {n} months)",
    "lag": "{n} month(s) before the last month",
    "decay": "recency of the last fatality (half-life {n} months)",
    "base": "average over the last {n} months",
}
_PATTERNS = [
    (
        re.compile(r"^(?P<src>.+)_decay25_(?P<n>\d+)$"),
        "recency of the last month with 25+ fatalities (half-life {n} months)",
    ),
    (
        re.compile(r"^(?P<src>.+)_decay(?P<n>\d+)_max$"),
        "most recent fatality among them (half-life {n} months)",
    ),
    (re.compile(r"^(?P<src>.+)_since25$"), "months since the last month with 25+ fatalities"),
    (re.compile(r"^(?P<src>.+)_since$"), "months since the last fatality"),
    (
        re.compile(r"^(?P<src>.+)_trend(?P<a>\d+)_(?P<n>\d+)$"),
        "trend, last {a} months against the last {n}",
    ),
    (re.compile(r"^(?P<src>.+)_lag0$"), "the last month"),
    (re.compile(r"^(?P<src>.+)_history$"), "months of history available"),
    (
        re.compile(r"^(?P<src>.+)_(?P<kind>sum|active|max|logstd|ewm|lag|decay|base)(?P<n>\d+)$"),
        None,
    ),
]


def describe_feature(name: str) -> str:
    """Plain words for a feature name (falls back on the name itself)."""
    if name == "step":
        return "months ahead of the last data"
    if name.startswith("cov_"):
        return f"covariate {name[4:]}"
    for pattern, text in _PATTERNS:
        match = pattern.match(name)
        if not match:
            continue
        parts = match.groupdict()
        source_key = parts.pop("src")
        if source_key.startswith("nb1_") and source_key[4:] in _SOURCES:
            source = f"{_SOURCES[source_key[4:]]} in neighbouring units"
        else:
            source = _SOURCES.get(source_key, source_key)
        template = text if text is not None else _KINDS[parts.pop("kind")]
        return f"{source}: {template.format(**parts)}"
    return name
