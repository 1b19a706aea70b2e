"""Surge trigger: more incidents or fatalities in an area's last N days than its history predicts.

Three detectors, all on counts per area:

- **Poisson exceedance**: P(X >= observed) under a Poisson with the historical mean per window.
  Right for rare, independent incidents; far too eager on fatalities, which come in clusters.
- **Negative-binomial exceedance**: the same with a dispersion fitted by maximum likelihood on the
  history windows (mean fixed at the sample mean, which is its MLE). Falls back to Poisson when
  the history shows no over-dispersion.
- **Poisson CUSUM** (Lucas 1985) on counts per ``bin_days``: accumulates evidence of a shift of
  the rate by a factor ``shift`` over the monitoring window; alarms above ``threshold``.

History is the ``history_days`` before the current window, cut into whole windows of the same
length, so that "expected" and "observed" are counts over the same span.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, stats

from tocsin.alerts.model import AlertArea, AlertCandidate, Passage, TriggerKind
from tocsin.domain.taxonomy import ViolenceType

if TYPE_CHECKING:
    from tocsin.alerts.triggers.config import SurgeTrigger


# ---------------------------------------------------------------------------- statistics


def poisson_exceedance(observed: int, expected: float) -> float:
    """P(X >= observed) for X ~ Poisson(expected)."""
    if observed <= 0:
        return 1.0
    return float(stats.poisson.sf(observed - 1, expected))


@dataclass(frozen=True)
class NegBinFit:
    """Mean and size (``r``; variance = mean + mean^2 / r). ``r`` is inf when Poisson fits."""

    mean: float
    size: float
    n_windows: int

    @property
    def variance(self) -> float:
        return self.mean if math.isinf(self.size) else self.mean + self.mean**2 / self.size


def fit_negative_binomial(counts: Sequence[float]) -> NegBinFit:
    """Maximum-likelihood size for counts with their sample mean as the mean."""
    x = np.asarray(counts, dtype=float)
    if x.size == 0:
        raise ValueError("cannot fit a distribution to no history")
    if np.any(x < 0) or not np.all(np.isfinite(x)):
        raise ValueError("counts must be finite and non-negative")
    x = np.round(x)
    mean = float(x.mean())
    if mean == 0 or x.size < 2 or float(x.var(ddof=1)) <= mean:
        return NegBinFit(mean, math.inf, int(x.size))

    def negloglik(log_r: float) -> float:
        r = math.exp(log_r)
        return -float(stats.nbinom.logpmf(x, r, r / (r + mean)).sum())

    # log r in [-6, 8]: from extreme clustering to practically Poisson.
    res = optimize.minimize_scalar(negloglik, bounds=(-6.0, 8.0), method="bounded")
    size = math.exp(float(res.x))
    if size > math.exp(7.9):  # hit the Poisson end of the bracket
        size = math.inf
    return NegBinFit(mean, size, int(x.size))


def negbin_exceedance(observed: int, fit: NegBinFit, *, min_mean: float = 0.0) -> float:
    """P(X >= observed) under the fitted negative binomial (or Poisson if ``size`` is inf)."""
    mean = max(fit.mean, min_mean)
    if observed <= 0:
        return 1.0
    if math.isinf(fit.size):
        return poisson_exceedance(observed, mean)
    r = fit.size
    return float(stats.nbinom.sf(observed - 1, r, r / (r + mean)))


@dataclass(frozen=True)
class CusumResult:
    statistics: tuple[float, ...]
    alarms: tuple[int, ...]  # indices where the statistic exceeded the threshold (then reset)
    k: float


def poisson_cusum(
    counts: Sequence[float], mu0: float, shift: float, threshold: float
) -> CusumResult:
    """Upper Poisson CUSUM: S_t = max(0, S_{t-1} + x_t - k), k = (mu1 - mu0) / ln(mu1 / mu0)."""
    if mu0 <= 0 or shift <= 1 or threshold <= 0:
        raise ValueError("need mu0 > 0, shift > 1, threshold > 0")
    mu1 = shift * mu0
    k = (mu1 - mu0) / math.log(mu1 / mu0)
    s = 0.0
    out: list[float] = []
    alarms: list[int] = []
    for i, x in enumerate(counts):
        s = max(0.0, s + float(x) - k)
        out.append(s)
        if s > threshold:
            alarms.append(i)
            s = 0.0  # restart after an alarm, as an operator would after acting on it
    return CusumResult(tuple(out), tuple(alarms), k)


# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class IncidentObservation:
    """One verified incident, reduced to what the surge trigger counts."""

    area_key: str
    area_name: str
    day: date
    fatalities: float = 0.0
    violence_type: ViolenceType | None = None


class SurgeSeries:
    """Daily counts per area, built once and evaluated at many dates (the backtest does)."""

    def __init__(self, observations: Iterable[IncidentObservation]) -> None:
        by_area: dict[str, list[IncidentObservation]] = defaultdict(list)
        for obs in observations:
            if not (math.isfinite(obs.fatalities) and obs.fatalities >= 0):
                raise ValueError(f"incident in {obs.area_key!r} on {obs.day}: bad fatalities")
            by_area[obs.area_key].append(obs)
        self.names = {key: obs[0].area_name for key, obs in by_area.items()}
        self._obs = dict(by_area)
        days = [o.day for obs in by_area.values() for o in obs]
        self.first_day = min(days) if days else date(1970, 1, 1)
        self.last_day = max(days) if days else date(1970, 1, 1)
        self._cache: dict[tuple, dict[str, tuple[np.ndarray, np.ndarray]]] = {}

    def _daily(self, violence_types: tuple[ViolenceType, ...] | None) -> dict[str, tuple]:
        """Per area: cumulative incident counts and fatalities by day index (from first_day)."""
        key = tuple(sorted(violence_types)) if violence_types else ()
        if key in self._cache:
            return self._cache[key]
        n = (self.last_day - self.first_day).days + 1
        result = {}
        for area, obs in self._obs.items():
            inc = np.zeros(n + 1)
            fat = np.zeros(n + 1)
            for o in obs:
                if violence_types and o.violence_type not in violence_types:
                    continue
                i = (o.day - self.first_day).days + 1
                inc[i] += 1
                fat[i] += o.fatalities
            result[area] = (np.cumsum(inc), np.cumsum(fat))
        self._cache[key] = result
        return result

    def _sum(self, cum: np.ndarray, start: date, end: date) -> float:
        """Sum over days in (start, end]."""

        def idx(d: date) -> int:
            return min(max((d - self.first_day).days + 1, 0), len(cum) - 1)

        return float(cum[idx(end)] - cum[idx(start)])

    def evaluate(self, rule: SurgeTrigger, as_of: date) -> list[AlertCandidate]:
        out = []
        for area, (inc, fat) in sorted(self._daily(rule.violence_types).items()):
            cum = inc if rule.measure == "incidents" else fat
            candidate = self._evaluate_area(rule, area, cum, as_of)
            if candidate is not None:
                out.append(candidate)
        return out

    def _evaluate_area(
        self, rule: SurgeTrigger, area: str, cum: np.ndarray, as_of: date
    ) -> AlertCandidate | None:
        w = timedelta(days=rule.window_days)
        window_start = as_of - w
        observed = round(self._sum(cum, window_start, as_of))
        if observed < rule.min_count:
            return None
        n_hist = rule.history_days // rule.window_days
        history = [
            self._sum(cum, window_start - (i + 1) * w, window_start - i * w) for i in range(n_hist)
        ]
        unit = "incidents" if rule.measure == "incidents" else "fatalities"
        name = self.names[area]
        span = f"the {rule.window_days} days to {as_of:%Y-%m-%d}"
        if rule.method == "cusum":
            return self._cusum_candidate(rule, area, cum, as_of, observed, history, span, unit)
        if rule.method == "poisson":
            expected = max(float(np.mean(history)), rule.min_expected)
            p = poisson_exceedance(observed, expected)
            model = "Poisson"
            measures = {"observed": observed, "expected": expected, "p_value": p}
        else:
            fit = fit_negative_binomial(history)
            expected = max(fit.mean, rule.min_expected)
            p = negbin_exceedance(observed, fit, min_mean=rule.min_expected)
            model = (
                "negative binomial, no over-dispersion in history so Poisson"
                if math.isinf(fit.size)
                else f"negative binomial, fitted size {fit.size:.2f}"
            )
            measures = {"observed": observed, "expected": expected, "p_value": p}
            if not math.isinf(fit.size):
                measures["nb_size"] = fit.size
        if p >= rule.p_value:
            return None
        text = (
            f"{name}: {observed} {unit} in {span}, against {expected:.1f} expected from the "
            f"previous {n_hist * rule.window_days} days ({n_hist} windows; {model}): "
            f"P(>= {observed}) = {p:.2g}, below the trigger's {rule.p_value:g}. That is "
            f"{observed / expected:.1f} times the usual level."
        )
        return self._candidate(rule, area, as_of, text, measures)

    def _cusum_candidate(
        self,
        rule: SurgeTrigger,
        area: str,
        cum: np.ndarray,
        as_of: date,
        observed: int,
        history: list[float],
        span: str,
        unit: str,
    ) -> AlertCandidate | None:
        b = timedelta(days=rule.cusum.bin_days)
        n_bins = max(1, math.ceil(rule.window_days / rule.cusum.bin_days))
        bins = [self._sum(cum, as_of - (i + 1) * b, as_of - i * b) for i in range(n_bins)][::-1]
        per_bin = rule.cusum.bin_days / rule.window_days
        mu0 = max(float(np.mean(history)), rule.min_expected) * per_bin
        result = poisson_cusum(bins, mu0, rule.cusum.shift, rule.cusum.threshold)
        if not result.alarms:
            return None
        peak = max(result.statistics[: result.alarms[0] + 1])
        text = (
            f"{self.names[area]}: {observed} {unit} in {span}; the Poisson CUSUM over "
            f"{rule.cusum.bin_days}-day bins ({', '.join(f'{x:g}' for x in bins)}) reached "
            f"{peak:.1f}, above its threshold {rule.cusum.threshold:g}, against a usual "
            f"{mu0:.2f} per bin and a reference value k = {result.k:.2f} (tuned to a "
            f"x{rule.cusum.shift:g} rise)."
        )
        measures = {"observed": observed, "expected": mu0 * n_bins, "cusum": peak}
        return self._candidate(rule, area, as_of, text, measures)

    def _candidate(
        self, rule: SurgeTrigger, area: str, as_of: date, text: str, measures: dict[str, float]
    ) -> AlertCandidate:
        end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
        name = self.names[area]
        return AlertCandidate(
            trigger_id=rule.id,
            kind=TriggerKind.SURGE,
            area_key=area,
            period_start=end - timedelta(days=rule.window_days),
            period_end=end,
            headline=f"{rule.name}: surge of {rule.measure} in {name}",
            explanation=(Passage(text, rule.tier),),
            severity=rule.severity,
            urgency=rule.urgency,
            certainty=rule.certainty,
            tier=rule.tier,
            areas=(AlertArea(name, rule.tier),),
            threat_category=rule.threat_category,
            instruction=rule.instruction,
            measures=measures,
        )


def evaluate_surge(
    rule: SurgeTrigger, observations: Iterable[IncidentObservation], as_of: date
) -> list[AlertCandidate]:
    """Surge candidates for every area with enough incidents in the window ending ``as_of``."""
    return SurgeSeries(observations).evaluate(rule, as_of)
