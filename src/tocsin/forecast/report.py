"""Evaluate a directory of backtests: scores, skill, a Markdown table, JSON and plots.

Input: the challenge layout ``DIR/<model>/window=Y..../predictions.parquet`` and the actual
outcomes, either VIEWS actuals files (``window=Y..../*.parquet`` with ``month_id``, unit id and
``outcome`` or the target column) or a panel and its target column.

"Active" units had at least one fatality in the ``active_months`` months up to the window's
cut-off, in the data given (panel, or the actuals of earlier windows); units without data in that
span count as inactive.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tocsin.forecast.errors import ForecastError
from tocsin.forecast.evaluate import (
    PROB_METRICS,
    ROW_METRICS,
    MetricSettings,
    score_draws,
    skill_with_ci,
    summarise,
)
from tocsin.forecast.panel import MONTH, Panel
from tocsin.forecast.registry import partitions
from tocsin.forecast.samples import PREDICTIONS_FILE, ForecastFileError, read_predictions

_WINDOW_DIR = re.compile(r"^window=(Y\d{4})$")
SCORE_CHUNK_ROWS = 20_000  # rows scored at once: bounds memory for PRIO-GRID forecasts


class EvaluationError(ForecastError):
    """Predictions and actuals that cannot be scored together; the message says why."""


@dataclass
class Evaluation:
    rows: pd.DataFrame  # one row per model, window, unit-month with every score
    unit: str
    settings: MetricSettings
    benchmark: str | None

    def by(self, keys: list[str]) -> pd.DataFrame:
        return summarise(self.rows, ["model", *keys], self.settings)

    def pooled(self) -> pd.DataFrame:
        return summarise(self.rows, ["model"], self.settings)

    def skill(self, metric: str = "crps", by: list[str] | None = None) -> pd.DataFrame:
        if self.benchmark is None:
            return pd.DataFrame()
        frames = [
            skill_with_ci(self.rows, m, self.benchmark, metric, self.unit, self.settings, by)
            for m in sorted(self.rows["model"].unique())
            if m != self.benchmark
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def discover(pred_dir: Path) -> dict[str, dict[str, Path]]:
    """``{model: {window: path}}`` in a challenge-layout directory."""
    if not pred_dir.is_dir():
        raise EvaluationError(f"predictions directory not found: {pred_dir}")
    found: dict[str, dict[str, Path]] = {}
    for model_dir in sorted(p for p in pred_dir.iterdir() if p.is_dir()):
        for window_dir in sorted(model_dir.iterdir()):
            match = _WINDOW_DIR.match(window_dir.name)
            if match and (window_dir / PREDICTIONS_FILE).is_file():
                found.setdefault(model_dir.name, {})[match.group(1)] = window_dir / PREDICTIONS_FILE
    if not found:
        raise EvaluationError(f"no DIR/<model>/window=Y..../{PREDICTIONS_FILE} under {pred_dir}")
    return found


def read_actuals_dir(path: Path, unit: str | None = None) -> pd.DataFrame:
    """VIEWS actuals: a Parquet file, or a directory of ``window=Y..../*.parquet`` files."""
    files = [path] if path.is_file() else sorted(path.glob("window=Y*/*.parquet"))
    if not files:
        raise EvaluationError(f"no actuals found at {path} (expected window=Y..../*.parquet)")
    frames = []
    for file in files:
        frame = pd.read_parquet(file)
        if frame.index.names != [None]:
            frame = frame.reset_index()
        frames.append(frame)
    actuals = pd.concat(frames, ignore_index=True)
    value = "outcome" if "outcome" in actuals.columns else None
    if value is None:
        candidates = [c for c in actuals.columns if c.startswith("ged_")]
        if len(candidates) != 1:
            raise EvaluationError(f"{path}: actuals need an 'outcome' (or one ged_*) column")
        value = candidates[0]
    if unit is None:
        others = [c for c in actuals.columns if c not in (MONTH, value)]
        if len(others) != 1:
            raise EvaluationError(f"{path}: cannot tell the unit column among {others}")
        unit = others[0]
    actuals = actuals[[MONTH, unit, value]].rename(columns={value: "outcome"})
    return _check_actuals(actuals.drop_duplicates(), unit, str(path))


def actuals_from_panel(panel: Panel, target: str) -> pd.DataFrame:
    if target not in panel.frame.columns:
        raise EvaluationError(f"target {target!r} is not a column of the panel")
    frame = panel.frame[[MONTH, panel.unit, target]].rename(columns={target: "outcome"})
    return _check_actuals(frame, panel.unit, "panel")


def _check_actuals(actuals: pd.DataFrame, unit: str, source: str) -> pd.DataFrame:
    outcome = pd.to_numeric(actuals["outcome"], errors="coerce")
    if outcome.isna().any() or (outcome < 0).any():
        raise EvaluationError(f"{source}: actual outcomes must be non-negative numbers")
    if actuals.duplicated([MONTH, unit]).any():
        raise EvaluationError(f"{source}: a unit-month appears twice with different outcomes")
    return actuals.assign(outcome=outcome)


def evaluate_directory(
    pred_dir: Path,
    actuals: pd.DataFrame,
    unit: str,
    *,
    settings: MetricSettings | None = None,
    benchmark: str | None = "conflictology",
    models: list[str] | None = None,
) -> Evaluation:
    settings = settings or MetricSettings()
    found = discover(pred_dir)
    if models:
        missing = sorted(set(models) - set(found))
        if missing:
            raise EvaluationError(f"no predictions for model(s) {missing} in {pred_dir}")
        found = {m: found[m] for m in models}
    truth = actuals.set_index([unit, MONTH])["outcome"]
    parts = []
    for model_name, windows in found.items():
        for window_name, path in windows.items():
            window = partitions.parse_window(window_name)
            try:
                forecast = read_predictions(path, unit)
            except ForecastFileError as exc:
                raise EvaluationError(str(exc)) from exc
            parts.append(
                _score_forecast(forecast, truth, actuals, unit, model_name, window, settings, path)
            )
    rows = pd.concat(parts, ignore_index=True)
    if benchmark is not None and benchmark not in rows["model"].unique():
        benchmark = None
    return Evaluation(rows, unit, settings, benchmark)


def _score_forecast(forecast, truth, actuals, unit, model_name, window, settings, path):  # noqa: ANN001, ANN202, PLR0913
    months_outside = sorted(set(forecast.months.tolist()) - set(window.months))
    if months_outside:
        raise EvaluationError(
            f"{path}: months {months_outside[:3]} are not in window {window.name}"
        )
    idx = pd.MultiIndex.from_product([forecast.units, forecast.months])
    obs = truth.reindex(idx)
    missing = obs.isna()
    if missing.all():
        raise EvaluationError(
            f"{path}: no actual outcome for any forecast unit-month (unknown units or months?)"
        )
    if missing.any():
        unknown = sorted({str(u) for u, _ in idx[missing.to_numpy()]})[:5]
        raise EvaluationError(
            f"{path}: {int(missing.sum())} forecast unit-month(s) have no actual outcome, e.g. "
            f"units {unknown}; pass actuals that cover the window"
        )
    draws = forecast.draws.reshape(-1, forecast.n_draws)
    obs_values = obs.to_numpy(dtype=float)
    pieces = [
        score_draws(draws[i : i + SCORE_CHUNK_ROWS], obs_values[i : i + SCORE_CHUNK_ROWS], settings)
        for i in range(0, len(obs_values), SCORE_CHUNK_ROWS)
    ]
    scores = pd.concat(pieces, ignore_index=True)
    scores.insert(0, "model", model_name)
    scores.insert(1, "window", window.name)
    scores.insert(2, unit, np.repeat(forecast.units, len(forecast.months)))
    scores.insert(3, MONTH, np.tile(forecast.months, len(forecast.units)))
    scores.insert(4, "step", scores[MONTH] - window.cutoff)
    scores.insert(5, "obs", obs_values)
    scores.insert(
        6,
        "active",
        _active(actuals, unit, forecast.units, window.cutoff, settings.active_months).repeat(
            len(forecast.months)
        ),
    )
    return scores


def _active(actuals: pd.DataFrame, unit: str, units: np.ndarray, cutoff: int, span: int):  # noqa: ANN202
    first, last = partitions.months_before(cutoff, span)
    recent = actuals[(actuals[MONTH] >= first) & (actuals[MONTH] <= last)]
    positive = set(recent.loc[recent["outcome"] > 0, unit].tolist())
    return np.array([u in positive for u in units.tolist()])


# --- outputs ----------------------------------------------------------------------------------


def tables(evaluation: Evaluation) -> dict[str, pd.DataFrame]:
    out = {
        "by_window": evaluation.by(["window"]),
        "pooled": evaluation.pooled(),
        "by_step": evaluation.by(["step"]),
        "by_activity": evaluation.by(["active"]),
    }
    if evaluation.benchmark:
        out["skill_pooled"] = evaluation.skill()
        out["skill_by_window"] = evaluation.skill(by=["window"])
        out["skill_by_step"] = evaluation.skill(by=["step"])
        out["skill_by_activity"] = evaluation.skill(by=["active"])
    return out


def markdown(evaluation: Evaluation, tabs: dict[str, pd.DataFrame]) -> str:
    lines = []
    by_window = tabs["by_window"].pivot(index="model", columns="window", values="crps")
    by_window["pooled"] = tabs["pooled"].set_index("model")["crps"]
    lines.append("CRPS by window (lower is better)\n")
    lines.append(_md_table(by_window.reset_index(), floatfmt=3))
    metrics = tabs["pooled"][["model", *ROW_METRICS, *PROB_METRICS, "n"]]
    lines.append("\nAll scores, pooled over windows\n")
    lines.append(_md_table(metrics, floatfmt=3))
    if evaluation.benchmark and not tabs["skill_pooled"].empty:
        lines.append(f"\nCRPS skill against `{evaluation.benchmark}` (95% unit-block bootstrap)\n")
        skill = tabs["skill_pooled"][["model", "skill", "ci_low", "ci_high", "n_units"]]
        lines.append(_md_table(skill, floatfmt=3))
    activity = tabs["by_activity"].pivot(index="model", columns="active", values="crps")
    activity.columns = [("active" if c else "inactive") for c in activity.columns]
    lines.append("\nCRPS for active vs inactive units\n")
    lines.append(_md_table(activity.reset_index(), floatfmt=3))
    return "\n".join(lines) + "\n"


def _md_table(frame: pd.DataFrame, floatfmt: int = 3) -> str:
    cols = [str(c) for c in frame.columns]
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, float | np.floating):
                cells.append("" if np.isnan(value) else f"{value:.{floatfmt}f}")
            else:
                cells.append(str(value))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def write_outputs(evaluation: Evaluation, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    tabs = tables(evaluation)
    text = markdown(evaluation, tabs)
    paths = {"markdown": out_dir / "evaluation.md", "json": out_dir / "evaluation.json"}
    paths["markdown"].write_text(text, encoding="utf-8")
    payload = {
        "settings": evaluation.settings.as_dict(),
        "benchmark": evaluation.benchmark,
        "unit": evaluation.unit,
        "tables": {name: json.loads(t.to_json(orient="records")) for name, t in tabs.items()},
    }
    paths["json"].write_text(json.dumps(payload, indent=1), encoding="utf-8")
    paths.update(plots(evaluation, tabs, out_dir))
    return paths


def plots(evaluation: Evaluation, tabs: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt

    paths = {}
    models = sorted(evaluation.rows["model"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(3 * len(models), 2.8), squeeze=False)
    for ax, name in zip(axes[0], models, strict=True):
        pit = evaluation.rows.loc[evaluation.rows["model"] == name, "pit"]
        ax.hist(pit, bins=10, range=(0, 1), density=True, color="#4c72b0")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("PIT")
    fig.suptitle("Calibration: randomised PIT histograms (flat = calibrated)", fontsize=10)
    fig.tight_layout()
    paths["pit"] = out_dir / "pit.png"
    fig.savefig(paths["pit"], dpi=110)
    plt.close(fig)

    if evaluation.benchmark and not tabs["skill_by_step"].empty:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name, group in tabs["skill_by_step"].groupby("model"):
            ax.plot(group["step"], group["skill"], marker="o", label=name)
            ax.fill_between(group["step"], group["ci_low"], group["ci_high"], alpha=0.15)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("step (months after the cut-off)")
        ax.set_ylabel(f"CRPS skill vs {evaluation.benchmark}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths["skill_by_step"] = out_dir / "skill_by_step.png"
        fig.savefig(paths["skill_by_step"], dpi=110)
        plt.close(fig)

    paths["top_units"] = _top_units_plot(evaluation, out_dir, plt)
    return paths


def _top_units_plot(evaluation: Evaluation, out_dir: Path, plt) -> Path:  # noqa: ANN001
    rows = evaluation.rows
    last_window = sorted(rows["window"].unique())[-1]
    chosen = "tocsin" if "tocsin" in rows["model"].unique() else sorted(rows["model"].unique())[0]
    sel = rows[(rows["window"] == last_window) & (rows["model"] == chosen)]
    per_unit = sel.groupby(evaluation.unit)[["mean", "obs", "p_gt0"]].sum()
    top = per_unit.sort_values("mean", ascending=False).head(15)[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    y = np.arange(len(top))
    ax.barh(y - 0.2, top["mean"], height=0.4, label="forecast (sum of monthly means)")
    ax.barh(y + 0.2, top["obs"], height=0.4, label="observed")
    ax.set_yticks(y, [str(u) for u in top.index])
    ax.set_xscale("symlog")
    ax.set_xlabel("fatalities in the window")
    ax.set_title(f"Top units by forecast, {chosen}, {last_window}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / "top_units.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
