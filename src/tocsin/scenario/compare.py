"""Generated vs real: the table in docs/scenario.md, produced by ``tocsin scenario compare``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tocsin.scenario.calibration import CAR_CALIBRATION, Calibration
from tocsin.scenario.ged_sample import load_ged_sample
from tocsin.scenario.generator import build_scenario
from tocsin.scenario.stats import (
    NEAR_DAYS,
    NEAR_KM,
    compute_stats,
    frame_from_rows,
    homogeneous_baseline,
)

ROWS = (
    ("events", "events in the window", "{:,.0f}"),
    ("monthly_mean", "monthly events: mean", "{:.1f}"),
    ("monthly_variance", "monthly events: variance", "{:.0f}"),
    ("monthly_dispersion", "monthly events: variance / mean", "{:.1f}"),
    ("monthly_max", "monthly events: max", "{:.0f}"),
    ("fatalities_median", "fatalities per event: median", "{:.0f}"),
    ("fatalities_p90", "fatalities per event: 90th percentile", "{:.0f}"),
    ("fatalities_p99", "fatalities per event: 99th percentile", "{:.0f}"),
    ("fatalities_max", "fatalities per event: max", "{:,.0f}"),
    ("fatalities_zero_share", "share of events with 0 fatalities", "{:.3f}"),
    ("one_sided_share", "share one-sided (type 3)", "{:.3f}"),
    ("state_based_share", "share state-based (type 1)", "{:.3f}"),
    ("non_state_share", "share non-state (type 2)", "{:.3f}"),
    ("precise_share", "share where_prec 1-2", "{:.3f}"),
    (
        "near_share",
        f"share with another event within {NEAR_KM:.0f} km and {NEAR_DAYS} days",
        "{:.3f}",
    ),
    ("nearest_median_km", "distance to nearest other event: median km", "{:.1f}"),
)


def compare_frame(
    ged: Path, *, seeds: int, country: str | None = None, calibration: Calibration | None = None
) -> tuple[pd.DataFrame, Calibration]:
    """One row per statistic: real, generated median / 10th / 90th percentile, Poisson."""
    calibration = calibration or CAR_CALIBRATION
    assert calibration is not None
    sample = load_ged_sample(
        ged,
        country=country or calibration.country_iso3,
        window_start=calibration.window_start,
        window_months=calibration.window_months,
    )
    real = compute_stats(sample.frame, sample.window_start, sample.window_months).as_dict()
    generated = pd.DataFrame(
        [
            compute_stats(
                frame_from_rows(
                    build_scenario(
                        sample.country.iso3,
                        sample.window_months,
                        seed,
                        start=sample.window_start.date(),
                        calibration=calibration,
                    ).rows
                ),
                sample.window_start,
                sample.window_months,
            ).as_dict()
            for seed in range(1, seeds + 1)
        ]
    )
    baseline_frame = homogeneous_baseline(
        sample.country.iso3,
        len(sample.frame),
        sample.window_start,
        sample.window_months,
        np.random.default_rng(0),
    )
    baseline = compute_stats(baseline_frame, sample.window_start, sample.window_months).as_dict()
    table = pd.DataFrame(
        {
            "real": pd.Series(real),
            "median": generated.median(),
            "p10": generated.quantile(0.1),
            "p90": generated.quantile(0.9),
            "poisson": pd.Series(baseline),
        }
    )
    return table, calibration


def compare_markdown(ged: Path, *, seeds: int, country: str | None = None) -> str:
    table, calibration = compare_frame(ged, seeds=seeds, country=country)
    header = (
        f"| statistic | real ({calibration.country_iso3}, {calibration.window_start}, "
        f"{calibration.window_months} months) | generated: median (10th-90th pct) over "
        f"{seeds} seeds | homogeneous Poisson |\n|---|---:|---:|---:|\n"
    )
    lines = []
    for key, label, fmt in ROWS:
        row = table.loc[key]
        poisson = fmt.format(row["poisson"]) if key.startswith(("near", "nearest")) else "-"
        if key in ("events", "monthly_mean", "monthly_variance", "monthly_dispersion"):
            poisson = fmt.format(row["poisson"])
        lines.append(
            f"| {label} | {fmt.format(row['real'])} | {fmt.format(row['median'])} "
            f"({fmt.format(row['p10'])}-{fmt.format(row['p90'])}) | {poisson} |"
        )
    return header + "\n".join(lines) + "\n"
