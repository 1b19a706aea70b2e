"""Backtest of alert triggers on real UCDP GED data (CAR, South Sudan), month by month.

    .venv/bin/python bench/alerts_backtest.py

Target: admin-1 area-months with >= 25 civilian deaths (GED ``deaths_civilians`` summed over
all event types: civilians killed in state-based, non-state and one-sided events alike). Its
*onset* is the day on which the month's running total of civilian deaths reached 25.

Rules compared in the same run, all fed only with data available at their issue time:

- **forecast**: the real ``evaluate_forecast_risk`` evaluator on the real Tocsin forecaster
  (``tocsin.forecast.model.forecast``: LightGBM hurdle model with calibrated draws), fitted on an
  admin-1 panel built from GED (``tocsin.forecast.panel.make_panel``; units are GED ``adm_1``
  names, since no South Sudan admin-1 polygons are in the shared data) and refitted every month
  on the data up to the end of the previous month; alert when P(>= 25 civilian deaths next
  month) >= level. Issued on the 1st of the month, covers that month.
- **surge**: the real ``SurgeSeries`` evaluator (negative binomial, Poisson, CUSUM), evaluated
  every 7 days on the incidents up to that day; duplicates suppressed by the real
  ``lifecycle.admit``. Issued the next day; covers the 30 days from issue.
- **naive**: alert for every area that had at least one GED event (any type) last month.
  Issued on the 1st, covers the month.

Scores: an onset is *hit* when an alert for its area was issued on or before the onset day and
covers it. *Lead time*: onset minus the first issue date of the unbroken run of covering alerts
(a "warning episode"). A *false alarm* is an issued alert whose coverage contains no onset in its
area; false alarms are given per area-year of the evaluation period.

The forecaster's target here is the evaluation target itself (civilian deaths of all event
types per area-month, column ``civ``), with GED best fatalities and event counts by violence type
as covariates. To keep the replay to minutes on a shared 2-core machine it uses a lighter
``ModelConfig`` than ``tocsin forecast run`` (fewer trees, one validation fold, fewer mixture
weights; see ``FAST_CONFIG``); ``--refit-every N`` refits every N months and forecasts the N
months after each cut-off (steps 1..N) when even that is too slow.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_info, write_section  # noqa: E402
from tocsin.alerts.lifecycle import Alert, admit  # noqa: E402
from tocsin.alerts.triggers.config import ForecastRiskTrigger, SurgeTrigger  # noqa: E402
from tocsin.alerts.triggers.forecast_risk import (  # noqa: E402
    ForecastRun,
    UnitRisk,
    evaluate_forecast_risk,
)
from tocsin.alerts.triggers.surge import IncidentObservation, SurgeSeries  # noqa: E402
from tocsin.config import shared_data_dir  # noqa: E402
from tocsin.domain.taxonomy import ViolenceType  # noqa: E402
from tocsin.forecast import model  # noqa: E402
from tocsin.forecast.panel import MONTH, HistoryTooShortError, Panel, make_panel  # noqa: E402
from tocsin.forecast.registry.partitions import month_id  # noqa: E402

COUNTRIES = {
    "Central African Republic": ("ucdp/ged231_central_african_republic.csv", 2005, 2022),
    "South Sudan": ("ucdp/ged_api_south_sudan.csv", 2013, 2022),
}
THRESHOLD = 25
FORECAST_LEVELS = (0.02, 0.05, 0.1, 0.2)
DRAWS = 500
FAST_CONFIG = model.ModelConfig(
    n_estimators=120,
    validation_folds=1,
    mix_weights=(0.0, 0.2, 0.4),
    spread_factors=(0.75, 1.0),
    threads=2,
)
KINDS = {1: "sb", 2: "ns", 3: "os"}
SURGE_RULES = {
    "surge NB incidents": {"method": "negative_binomial", "measure": "incidents"},
    "surge Poisson incidents": {"method": "poisson", "measure": "incidents"},
    "surge CUSUM incidents": {
        "method": "cusum",
        "measure": "incidents",
        "window_days": 28,
        "history_days": 364,
    },
    "surge NB civ. deaths": {"method": "negative_binomial", "measure": "fatalities"},
}


@dataclass(frozen=True)
class Issued:
    area: str
    issued: date
    cover_start: date
    cover_end: date  # exclusive


def month_start(d: pd.Timestamp | date) -> date:
    return date(d.year, d.month, 1)


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def load(path: Path) -> tuple[pd.DataFrame, int]:
    raw = pd.read_csv(
        path, usecols=["date_start", "adm_1", "type_of_violence", "deaths_civilians", "best"]
    )
    raw["day"] = pd.to_datetime(raw["date_start"], format="mixed").dt.date
    missing = int(raw["adm_1"].isna().sum())
    raw = raw.dropna(subset=["adm_1"]).copy()
    raw["area"] = raw["adm_1"].str.replace(r"\s+(province|state|prefecture)$", "", regex=True)
    raw["month"] = raw["day"].map(month_start)
    return raw, missing


def onsets(df: pd.DataFrame) -> dict[tuple[str, date], date]:
    """(area, month) -> the day on which the month's civilian deaths reached THRESHOLD."""
    out = {}
    for (area, month), g in df.sort_values("day").groupby(["area", "month"]):
        cum = g["deaths_civilians"].cumsum()
        reached = g.loc[cum >= THRESHOLD, "day"]
        if len(reached):
            out[(area, month)] = reached.iloc[0]
    return out


def monthly_panel(df: pd.DataFrame, months: list[date], areas: list[str]) -> pd.DataFrame:
    civ = df.groupby(["area", "month"])["deaths_civilians"].sum()
    n = df.groupby(["area", "month"]).size()
    idx = pd.MultiIndex.from_product([areas, months], names=["area", "month"])
    return pd.DataFrame(
        {"civ": civ.reindex(idx, fill_value=0), "events": n.reindex(idx, fill_value=0)}
    )


def month_date(mid: int) -> date:
    year, month0 = divmod(mid - 1, 12)
    return date(1980 + year, month0 + 1, 1)


def tocsin_panel(df: pd.DataFrame, areas: list[str]) -> Panel:
    """Admin-1 x month panel for the forecaster: ``civ`` (the target) and GED best fatalities
    and event counts by violence type, zero-filled from 1989 to 2022."""
    mids = df["month"].map(lambda d: month_id(d.year, d.month))
    df = df.assign(month_id=mids, kind=df["type_of_violence"].map(KINDS))
    months = np.arange(month_id(1989, 1), month_id(2022, 12) + 1)
    idx = pd.MultiIndex.from_product([areas, months], names=["area", MONTH])
    frame = pd.DataFrame(index=idx)
    by = ["area", MONTH]
    frame["civ"] = df.groupby(by)["deaths_civilians"].sum().reindex(idx, fill_value=0)
    for kind in KINDS.values():
        part = df[df["kind"] == kind]
        frame[f"ged_{kind}"] = part.groupby(by)["best"].sum().reindex(idx, fill_value=0)
        frame[f"events_{kind}"] = part.groupby(by).size().reindex(idx, fill_value=0)
    return make_panel(frame.astype("int64").reset_index(), "area", targets=["civ"])


@dataclass
class ModelTimes:
    refits: int = 0
    too_short: int = 0  # months without a forecast: history too short to fit
    seconds: list[float] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.seconds = []


def forecast_alerts(
    panels: dict[str, Panel],
    countries: dict[str, tuple[date, date]],
    refit_every: int,
    times: ModelTimes,
) -> dict[float, dict[str, list[Issued]]]:
    """level -> country -> alerts, from a month-by-month replay of the real forecaster."""
    out: dict[float, dict[str, list[Issued]]] = {lvl: defaultdict(list) for lvl in FORECAST_LEVELS}
    rules = {
        lvl: ForecastRiskTrigger(
            id=f"fc{lvl}", kind="forecast_risk", name="P25", outcome="p_ge_25", level=lvl
        )
        for lvl in FORECAST_LEVELS
    }
    total = sum(
        -(-((end.year - start.year) * 12 + end.month - start.month + 1) // refit_every)
        for start, end in countries.values()
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn()) as progress:
        task = progress.add_task("forecaster refits", total=total)
        for country, (start, end) in countries.items():
            panel = panels[country]
            previous: ForecastRun | None = None
            first, last = month_id(start.year, start.month), month_id(end.year, end.month)
            for cut in range(first - 1, last, refit_every):
                months = [m for m in range(cut + 1, cut + 1 + refit_every) if m <= last]
                t0 = time.perf_counter()
                progress.update(task, advance=1, description=f"{country} {month_date(cut + 1)}")
                try:
                    fc, _fitted, _design = model.forecast(
                        panel.until(cut), "civ", months, DRAWS, cut, config=FAST_CONFIG
                    )
                except HistoryTooShortError:
                    # Too few area-months with deaths yet to learn from: no forecast, no alert
                    # (counted against the forecast's hit rate like any silent month).
                    times.too_short += len(months)
                    continue
                times.seconds.append(time.perf_counter() - t0)
                times.refits += 1
                for j, mid in enumerate(months):
                    target = month_date(mid)
                    draws = fc.draws[:, j, :]
                    p1, p25 = (draws >= 1).mean(axis=1), (draws >= THRESHOLD).mean(axis=1)
                    risks = {
                        str(a): UnitRisk(str(a), str(a), float(x1), float(min(x25, x1)))
                        for a, x1, x25 in zip(fc.units, p1, p25, strict=True)
                    }
                    made = datetime.combine(target, datetime.min.time(), tzinfo=UTC)
                    run = ForecastRun(
                        f"{country}-{target:%Y-%m}",
                        made,
                        made,
                        datetime.combine(add_months(target, 1), datetime.min.time(), tzinfo=UTC),
                        risks,
                        model=f"{model.MODEL_NAME} {model.MODEL_VERSION}",
                    )
                    for lvl, rule in rules.items():
                        for cand in evaluate_forecast_risk(rule, run, previous):
                            area = cand.area_key.removeprefix("unit:")
                            out[lvl][country].append(
                                Issued(area, target, target, add_months(target, 1))
                            )
                    previous = run
    return out


def naive_alerts(panel: pd.DataFrame, start: date, end: date) -> list[Issued]:
    out = []
    for (area, month), row in panel.iterrows():
        target = add_months(month, 1)
        if start <= target <= end and row["events"] > 0:
            out.append(Issued(area, target, target, add_months(target, 1)))
    return out


def surge_alerts(df: pd.DataFrame, rule: SurgeTrigger, start: date, end: date) -> list[Issued]:
    obs = [
        IncidentObservation(
            r.area,
            r.area,
            r.day,
            float(r.deaths_civilians),
            ViolenceType.from_ucdp(r.type_of_violence),
        )
        for r in df.itertuples()
    ]
    series = SurgeSeries(obs)
    existing: dict[str, list[Alert]] = defaultdict(list)
    out = []
    as_of = start - timedelta(days=1)
    last_day = add_months(end, 1) - timedelta(days=2)
    while as_of <= last_day:
        for cand in series.evaluate(rule, as_of):
            at = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            alert, _ = admit(cand, existing[cand.area_key][-5:], mission="backtest", at=at)
            existing[cand.area_key].append(alert)
            if alert.duplicate_of is None:
                issued = as_of + timedelta(days=1)
                out.append(Issued(cand.area_key, issued, issued, issued + timedelta(days=30)))
        as_of += timedelta(days=7)
    return out


@dataclass(frozen=True)
class Score:
    alerts: int
    events: int
    hits: int
    lead_days: list[int]
    false_alarms: int
    area_years: float

    @property
    def hit_rate(self) -> float:
        return self.hits / self.events if self.events else float("nan")

    @property
    def fa_per_area_year(self) -> float:
        return self.false_alarms / self.area_years

    @property
    def median_lead(self) -> float:
        return float(np.median(self.lead_days)) if self.lead_days else float("nan")


def score(alerts: list[Issued], events: dict[tuple[str, date], date], area_years: float) -> Score:
    by_area: dict[str, list[Issued]] = defaultdict(list)
    for a in alerts:
        by_area[a.area].append(a)
    onset_by_area: dict[str, list[date]] = defaultdict(list)
    for (area, _), onset in events.items():
        onset_by_area[area].append(onset)
    hits, leads = 0, []
    for area, onset_days in onset_by_area.items():
        issued = sorted(by_area.get(area, []), key=lambda a: a.issued)
        for onset in onset_days:
            covering = [
                a for a in issued if a.issued <= onset and a.cover_start <= onset < a.cover_end
            ]
            if not covering:
                continue
            hits += 1
            # Walk back through the unbroken run of alerts that leads to the covering one.
            episode_start = min(a.issued for a in covering)
            changed = True
            while changed:
                changed = False
                for a in issued:
                    if a.issued < episode_start and a.cover_end >= episode_start:
                        episode_start, changed = a.issued, True
            leads.append((onset - episode_start).days)
    false = sum(
        1
        for a in alerts
        if not any(a.cover_start <= d < a.cover_end for d in onset_by_area.get(a.area, []))
    )
    return Score(len(alerts), len(events), hits, leads, false, area_years)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--refit-every",
        type=int,
        default=1,
        help="months between forecaster refits (1: every month; N: steps 1..N from each fit)",
    )
    args = parser.parse_args()
    if not 1 <= args.refit_every <= 12:
        parser.error("--refit-every must be between 1 and 12")
    t0 = time.perf_counter()
    data = shared_data_dir()
    frames, windows, missing = [], {}, {}
    for country, (rel, y0, y1) in COUNTRIES.items():
        df, n_missing = load(data / rel)
        df["country"] = country
        frames.append(df)
        windows[country] = (date(y0, 1, 1), date(y1, 12, 1))
        missing[country] = n_missing
    all_events = pd.concat(frames, ignore_index=True)
    panels, fc_panels, targets = {}, {}, {}
    for country, df in all_events.groupby("country"):
        months = [add_months(date(1989, 1, 1), i) for i in range(12 * 34)]
        areas = sorted(df["area"].unique())
        panels[country] = monthly_panel(df, months, areas)
        fc_panels[country] = tocsin_panel(df, areas)
        start, end = windows[country]
        targets[country] = {k: v for k, v in onsets(df).items() if start <= k[1] <= end}
    times = ModelTimes()
    fc = forecast_alerts(fc_panels, windows, args.refit_every, times)

    rows = []
    for country, df in all_events.groupby("country"):
        start, end = windows[country]
        n_areas = df["area"].nunique()
        area_years = n_areas * (end.year - start.year + 1)
        ev = targets[country]
        results = {"naive (violence last month)": naive_alerts(panels[country], start, end)}
        for lvl in FORECAST_LEVELS:
            results[f"forecast P(>=25) >= {lvl:g}"] = fc[lvl][country]
        for name, kw in SURGE_RULES.items():
            rule = SurgeTrigger.model_validate({"id": "s", "kind": "surge", "name": name, **kw})
            results[name] = surge_alerts(df, rule, start, end)
        for name, alerts in results.items():
            s = score(alerts, ev, area_years)
            rows.append((country, name, n_areas, start.year, end.year, s))
        print(
            f"{country}: {len(ev)} target area-months, {n_areas} areas, "
            f"{missing[country]} events without adm_1"
        )
    elapsed = time.perf_counter() - t0

    lines = [
        "## Alerts backtest (`bench/alerts_backtest.py`)",
        "",
        f"Machine: {machine_info()}. Runtime: {elapsed:.1f} s.",
        "",
        "UCDP GED (CC BY 4.0) for the Central African Republic (v23.1) and South Sudan (API "
        "layout), replayed month by month with no look-ahead. Target: admin-1 (GED `adm_1`) "
        f"area-months with >= {THRESHOLD} civilian deaths (`deaths_civilians`, all event types); "
        "onset = the day the month's running total reached the threshold. Hit: an alert for the "
        "area issued on or before the onset day whose coverage includes it. Lead time: onset "
        "minus the start of the unbroken run of alerts covering it (median over hits). False "
        "alarm: an alert whose coverage holds no onset in its area. Events without `adm_1` are "
        f"left out ({', '.join(f'{c}: {n}' for c, n in missing.items())}).",
        "",
        f"**Forecast rows: the Tocsin forecaster** (`tocsin.forecast.model`, "
        f"{model.MODEL_VERSION}) on an admin-1 panel of GED `adm_1` areas, "
        "target = civilian deaths per area-month, "
        + (
            "refitted every month on the data to the end of the previous month and forecasting "
            "one month ahead"
            if args.refit_every == 1
            else f"refitted every {args.refit_every} months, forecasting steps 1-"
            f"{args.refit_every} from each fit"
        )
        + f", {DRAWS} draws; lighter settings than `tocsin forecast run` (120 trees, one "
        f"validation fold) to fit the replay in minutes: {times.refits} refits, median "
        f"{np.median(times.seconds):.1f} s each, {sum(times.seconds):.0f} s in all; "
        f"{times.too_short} country-month(s) had no forecast because the history before them "
        "held too few area-months with deaths to fit the model (no alert then).",
        "",
        "| country | rule | alerts | target months | hits | hit rate | median lead (days) "
        "| false alarms | per area-year |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for country, name, n_areas, y0, y1, s in rows:
        lines.append(
            f"| {country} ({n_areas} areas, {y0}-{y1}) | {name} | {s.alerts} | {s.events} "
            f"| {s.hits} | {s.hit_rate:.0%} | {s.median_lead:.0f} | {s.false_alarms} "
            f"| {s.fa_per_area_year:.2f} |"
        )
    lines += ["", "Reading (computed from the rows above):"]
    for country in windows:
        mine = [(name, sc) for c, name, *_, sc in rows if c == country]
        naive = next(sc for name, sc in mine if name.startswith("naive"))
        parts = []
        for family in ("forecast", "surge"):
            # Compared at no more false alarms than the naive rule: hit rate alone rewards noise.
            fair = [
                (name, sc)
                for name, sc in mine
                if name.startswith(family) and sc.fa_per_area_year <= naive.fa_per_area_year
            ]
            if fair:
                name, best = max(fair, key=lambda x: (x[1].hit_rate, -x[1].fa_per_area_year))
                parts.append(
                    f"{name} hits {best.hit_rate:.0%} with {best.fa_per_area_year:.2f} "
                    f"(median lead {best.median_lead:.0f} days)"
                )
        lines.append(
            f"- {country}: the naive rule hits {naive.hit_rate:.0%} with "
            f"{naive.fa_per_area_year:.2f} false alarms per area-year (median lead "
            f"{naive.median_lead:.0f} days); at no more false alarms than that, "
            + "; ".join(parts)
            + "."
        )
    surge_lead = np.median([sc.median_lead for _, name, *_, sc in rows if name.startswith("surge")])
    fc_lead = np.median([sc.median_lead for _, name, *_, sc in rows if name.startswith("forecast")])
    lines.append(
        f"- Median of the median lead times: surge rules {surge_lead:.0f} days, forecast rules "
        f"{fc_lead:.0f} days. Compare rules at equal false-alarm rates, not by hit rate alone."
    )
    text = "\n".join(lines)
    write_section("alerts_backtest", text)
    print(text)


if __name__ == "__main__":
    main()
