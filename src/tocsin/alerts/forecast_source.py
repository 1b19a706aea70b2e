"""Stored forecast runs -> the forecast-risk trigger's inputs (``ForecastRun`` of ``UnitRisk``).

What the trigger needs is, per unit, P(at least 1) and P(at least 25) civilians killed in
one-sided violence *next month*: the first month of the latest stored run of target ``ged_os``
(``tocsin forecast run``), i.e. the month after its data cut-off. "Rises sharply" compares with
the run stored before it, at the same level and target: its forecast for that *same* month when
it covers it (so the change is what new data taught the model), else its own first month.

Everything is read through ``tocsin.forecast.runs``' public functions; the only query of our
own is for readable admin names, taken from the events' admin names like the web pages do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from tocsin.alerts.triggers.forecast_risk import ForecastRun, UnitRisk
from tocsin.forecast.registry.partitions import month_label, year_month
from tocsin.forecast.runs import RunInfo, list_runs, run_values
from tocsin.store import schema as s

ONE_SIDED_TARGET = "ged_os"  # UCDP one-sided violence: deaths of civilians
RUNS_SCANNED = 2


@dataclass(frozen=True)
class ForecastInputs:
    current: ForecastRun
    previous: ForecastRun | None
    level: str
    month_id: int


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def month_bounds(month_id: int) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in UTC."""
    year, month = year_month(month_id)
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def unit_names(engine: Engine, level: str, units: list[str]) -> dict[str, str]:
    """'Ouaka (CF52)' for admin P-codes (from the events' own admin names); the id otherwise."""
    if level not in ("adm1", "adm2") or not units:
        return {u: u for u in units}
    code, name = (
        (s.events.c.admin1_pcode, s.events.c.admin1_name)
        if level == "adm1"
        else (s.events.c.admin2_pcode, s.events.c.admin2_name)
    )
    found: dict[str, str] = {}
    with engine.connect() as conn:
        for i in range(0, len(units), 500):
            chunk = units[i : i + 500]
            rows = conn.execute(
                select(code, func.max(name)).where(code.in_(chunk)).group_by(code)
            ).all()
            found.update({c: f"{n} ({c})" for c, n in rows if n})
    return {u: found.get(u, u) for u in units}


def _describe(run: RunInfo) -> str:
    return (
        f"{run.model} {run.model_version} at level {run.level}, data to "
        f"{month_label(run.data_cutoff)}, input {run.input_hash[:12]}"
    )


def forecast_run_for_month(
    engine: Engine, run: RunInfo, month_id: int, names: dict[str, str] | None = None
) -> ForecastRun:
    """One stored run's probabilities for one month, as the trigger reads them."""
    values = run_values(engine, run.id, month_id=month_id)
    units = [str(u) for u in values["unit"]]
    names = names if names is not None else unit_names(engine, run.level, units)
    risks = {}
    for unit, p1, p25 in zip(units, values["p_ge1"], values["p_ge25"], strict=True):
        p1 = float(p1)
        # Both come from the same draws, so P(>=25) <= P(>=1) up to float rounding.
        risks[unit] = UnitRisk(unit, names.get(unit, unit), p1, min(float(p25), p1))
    start, end = month_bounds(month_id)
    return ForecastRun(
        run_id=str(run.id),
        made_at=_aware(run.created_at),
        target_start=start,
        target_end=end,
        risks=risks,
        model=_describe(run),
    )


def latest_forecast_inputs(
    engine: Engine, *, level: str | None = None, target: str = ONE_SIDED_TARGET
) -> ForecastInputs | None:
    """The latest run's next-month probabilities and the previous run's for comparison, or
    ``None`` when no run of ``target`` (at ``level``, if given) is stored."""
    newest = list_runs(engine, level=level, target=target, limit=1)
    if not newest:
        return None
    run = newest[0]
    pair = list_runs(engine, level=run.level, target=target, limit=RUNS_SCANNED)
    month = run.first_month  # the month after the data cut-off: "next month"
    current = forecast_run_for_month(engine, run, month)
    previous = None
    older = [r for r in pair if r.id != run.id]
    if older:
        prev = older[0]
        prev_month = month if prev.first_month <= month <= prev.last_month else prev.first_month
        names = {k: r.unit_name for k, r in current.risks.items()}
        previous = forecast_run_for_month(engine, prev, prev_month, names)
    return ForecastInputs(current, previous, run.level, month)
