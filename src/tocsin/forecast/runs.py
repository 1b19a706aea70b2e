"""Stored forecast runs: save one atomically, read it back for alerts, the interface and analysts.

A run is written in two places: the full draws as a Parquet artefact under
``$TOCSIN_HOME/forecasts/`` (checked by SHA-256 when read back), and, in one database transaction,
the run row, the per-unit-month summaries and the explanations. If the transaction fails the
artefact is deleted, so nothing is half-written.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from tocsin import config as tocsin_config
from tocsin.forecast import explain
from tocsin.forecast.errors import ForecastError
from tocsin.forecast.model import FittedModel
from tocsin.forecast.panel import MONTH, Panel
from tocsin.forecast.registry import partitions
from tocsin.forecast.samples import SampleForecast, read_predictions
from tocsin.store.schema_forecast import forecast_explanations, forecast_runs, forecast_values

ARTEFACT_DIR = "forecasts"
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HIGH = 25
INSERT_BATCH = 5_000


class RunNotFoundError(ForecastError, LookupError):
    """No stored run (or unit-month of a run) with that id."""


class ArtefactError(ForecastError):
    """A run's draws file is missing or does not match its recorded SHA-256."""


@dataclass(frozen=True)
class RunInfo:
    id: int
    model: str
    model_version: str
    level: str
    unit_column: str
    target: str
    data_cutoff: int
    first_month: int
    last_month: int
    n_units: int
    n_draws: int
    seed: int
    input_hash: str
    draws_path: str
    draws_sha256: str
    created_at: datetime
    config: dict


def panel_hash(panel: Panel, target: str) -> str:
    """SHA-256 of what the model read: month, unit and the count columns, in canonical order."""
    columns = [MONTH, panel.unit, *sorted(c for c in panel.count_columns if c != target), target]
    frame = panel.frame[list(dict.fromkeys(columns))].sort_values([panel.unit, MONTH])
    digest = hashlib.sha256()
    digest.update(json.dumps(list(frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def summarise_draws(forecast: SampleForecast) -> pd.DataFrame:
    draws = forecast.draws.astype(np.float64)
    qs = np.quantile(draws, QUANTILES, axis=2)
    frame = pd.DataFrame(
        {
            "unit": np.repeat(forecast.units.astype(str), len(forecast.months)),
            MONTH: np.tile(forecast.months.astype(int), len(forecast.units)),
            "mean": draws.mean(axis=2).ravel(),
            "q05": qs[0].ravel(),
            "q25": qs[1].ravel(),
            "q50": qs[2].ravel(),
            "q75": qs[3].ravel(),
            "q95": qs[4].ravel(),
            "p_ge1": (draws >= 1).mean(axis=2).ravel(),
            "p_ge25": (draws >= HIGH).mean(axis=2).ravel(),
        }
    )
    return frame


def explanation_rows(
    forecast: SampleForecast, fitted: FittedModel, design: np.ndarray, k: int
) -> pd.DataFrame:
    """Top ``k`` raising and lowering features of both model parts, per unit-month."""
    n_units, n_months, n_features = design.shape
    x = design.reshape(-1, n_features)
    frames = []
    # A model split by recent violence explains each row with the boosters that forecast it.
    for rows_in, classifier, regressor in fitted.boosters(x):
        index = np.flatnonzero(rows_in)
        for part, booster in (("occurrence", classifier), ("intensity", regressor)):
            shap, base = explain.contributions(booster, x[index])
            top = explain.top_factors(shap, base, x[index], fitted.feature_names, part, k)
            frames.append(top.assign(row=index[top["row"].to_numpy()]))
    rows = pd.concat(frames, ignore_index=True)
    rows["unit"] = np.repeat(forecast.units.astype(str), n_months)[rows["row"]]
    rows[MONTH] = np.tile(forecast.months.astype(int), n_units)[rows["row"]]
    return rows.drop(columns=["row"])


def save_run(
    engine: Engine,
    *,
    forecast: SampleForecast,
    model_name: str,
    model_version: str,
    level: str,
    target: str,
    data_cutoff: int,
    seed: int,
    input_hash: str,
    config: dict,
    fitted: FittedModel | None = None,
    design: np.ndarray | None = None,
    explain_top: int = 3,
) -> int:
    home = tocsin_config.home()
    folder = home / ARTEFACT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    artefact = folder / f"{uuid.uuid4().hex}.parquet"
    forecast.write(artefact)
    try:
        digest = _sha256(artefact)
        values = summarise_draws(forecast)
        reasons = (
            explanation_rows(forecast, fitted, design, explain_top)
            if fitted is not None and design is not None
            else None
        )
        with engine.begin() as conn:
            run_id = conn.execute(
                insert(forecast_runs)
                .values(
                    model=model_name,
                    model_version=model_version,
                    level=level,
                    unit_column=forecast.unit,
                    target=target,
                    data_cutoff=int(data_cutoff),
                    first_month=int(forecast.months.min()),
                    last_month=int(forecast.months.max()),
                    n_units=len(forecast.units),
                    n_draws=forecast.n_draws,
                    seed=int(seed),
                    input_hash=input_hash,
                    draws_path=str(artefact.relative_to(home)),
                    draws_sha256=digest,
                    config_json=json.dumps(config, sort_keys=True, default=str),
                    created_at=datetime.now(UTC),
                )
                .returning(forecast_runs.c.id)
            ).scalar_one()
            _insert(conn, forecast_values, values.assign(run_id=run_id))
            if reasons is not None and not reasons.empty:
                _insert(conn, forecast_explanations, reasons.assign(run_id=run_id))
    except BaseException:
        artefact.unlink(missing_ok=True)
        raise
    return int(run_id)


def _insert(conn, table, frame: pd.DataFrame) -> None:  # noqa: ANN001
    columns = [c.name for c in table.columns]
    records = frame[columns].astype(object).where(frame[columns].notna(), None)
    rows = records.to_dict("records")
    for i in range(0, len(rows), INSERT_BATCH):
        conn.execute(insert(table), rows[i : i + INSERT_BATCH])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- reading ------------------------------------------------------------------------------------


def get_run(engine: Engine, run_id: int) -> RunInfo:
    with engine.connect() as conn:
        row = conn.execute(select(forecast_runs).where(forecast_runs.c.id == run_id)).first()
    if row is None:
        raise RunNotFoundError(f"no forecast run {run_id}")
    return _info(row._mapping)


def list_runs(
    engine: Engine, *, level: str | None = None, target: str | None = None, limit: int = 50
) -> list[RunInfo]:
    query = (
        select(forecast_runs)
        .order_by(forecast_runs.c.created_at.desc(), forecast_runs.c.id.desc())
        .limit(limit)
    )
    if level:
        query = query.where(forecast_runs.c.level == level)
    if target:
        query = query.where(forecast_runs.c.target == target)
    with engine.connect() as conn:
        return [_info(r._mapping) for r in conn.execute(query)]


def latest_run(engine: Engine, *, level: str, target: str) -> RunInfo | None:
    runs = list_runs(engine, level=level, target=target, limit=1)
    return runs[0] if runs else None


def run_values(
    engine: Engine, run_id: int, *, month_id: int | None = None, unit: str | None = None
) -> pd.DataFrame:
    """Summaries of a run: ``unit, month_id, mean, q05..q95, p_ge1, p_ge25``."""
    get_run(engine, run_id)
    query = select(forecast_values).where(forecast_values.c.run_id == run_id)
    if month_id is not None:
        query = query.where(forecast_values.c.month_id == month_id)
    if unit is not None:
        query = query.where(forecast_values.c.unit == str(unit))
    with engine.connect() as conn:
        rows = conn.execute(
            query.order_by(forecast_values.c.unit, forecast_values.c.month_id)
        ).fetchall()
    frame = pd.DataFrame(rows, columns=[c.name for c in forecast_values.columns])
    return frame.drop(columns=["run_id"])


def load_draws(engine: Engine, run_id: int) -> SampleForecast:
    info = get_run(engine, run_id)
    path = tocsin_config.home() / info.draws_path
    if not path.is_file():
        raise ArtefactError(f"run {run_id}: draws file {path} is missing")
    if _sha256(path) != info.draws_sha256:
        raise ArtefactError(f"run {run_id}: draws file {path} does not match its SHA-256")
    return read_predictions(path, info.unit_column)


def delete_run(engine: Engine, run_id: int) -> None:
    info = get_run(engine, run_id)
    with engine.begin() as conn:
        conn.execute(delete(forecast_explanations).where(forecast_explanations.c.run_id == run_id))
        conn.execute(delete(forecast_values).where(forecast_values.c.run_id == run_id))
        conn.execute(delete(forecast_runs).where(forecast_runs.c.id == run_id))
    (tocsin_config.home() / info.draws_path).unlink(missing_ok=True)


@dataclass(frozen=True)
class Explanation:
    run_id: int
    unit: str
    month_id: int
    month: str
    summary: dict
    raising: list[explain.Factor]
    lowering: list[explain.Factor]

    def as_dict(self) -> dict:
        out = asdict(self)
        out["raising"] = [asdict(f) for f in self.raising]
        out["lowering"] = [asdict(f) for f in self.lowering]
        return out


def explanation(engine: Engine, run_id: int, unit: str, month_id: int) -> Explanation:
    """The stored summary and the features that raised and lowered this unit-month's risk."""
    values = run_values(engine, run_id, month_id=month_id, unit=str(unit))
    if values.empty:
        raise RunNotFoundError(
            f"run {run_id} has no forecast for unit {unit!r} in "
            f"{partitions.month_label(month_id)} (month_id {month_id})"
        )
    query = (
        select(forecast_explanations)
        .where(forecast_explanations.c.run_id == run_id)
        .where(forecast_explanations.c.unit == str(unit))
        .where(forecast_explanations.c.month_id == month_id)
    )
    with engine.connect() as conn:
        rows = [r._mapping for r in conn.execute(query)]
    factors = [
        explain.Factor(
            r["part"],
            r["feature"],
            explain.describe_feature(r["feature"]),
            float(r["contribution"]),
            r["feature_value"],
            float(r["base_value"]),
        )
        for r in rows
    ]
    raising = sorted((f for f in factors if f.contribution > 0), key=lambda f: -f.contribution)
    lowering = sorted((f for f in factors if f.contribution < 0), key=lambda f: f.contribution)
    summary = values.iloc[0].drop(labels=["unit", MONTH]).astype(float).to_dict()
    return Explanation(
        run_id,
        str(unit),
        int(month_id),
        partitions.month_label(month_id),
        summary,
        raising,
        lowering,
    )


def _info(row) -> RunInfo:  # noqa: ANN001
    return RunInfo(
        id=row["id"],
        model=row["model"],
        model_version=row["model_version"],
        level=row["level"],
        unit_column=row["unit_column"],
        target=row["target"],
        data_cutoff=row["data_cutoff"],
        first_month=row["first_month"],
        last_month=row["last_month"],
        n_units=row["n_units"],
        n_draws=row["n_draws"],
        seed=row["seed"],
        input_hash=row["input_hash"],
        draws_path=row["draws_path"],
        draws_sha256=row["draws_sha256"],
        created_at=row["created_at"],
        config=json.loads(row["config_json"]),
    )
