"""Forecast-risk trigger: a unit's probability of civilian deaths next month crosses a level, or
rises sharply against the previous run.

Inputs are plain per-unit probabilities (``ForecastRun``), so any forecaster can feed it; the
adapter for the project's forecast tables is ``tocsin.alerts.forecast_source``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tocsin.alerts.model import AlertArea, AlertCandidate, Passage, TriggerKind, fmt_pct

if TYPE_CHECKING:
    from tocsin.alerts.triggers.config import ForecastRiskTrigger

OUTCOME_LABEL = {
    "p_ge_1": "P(at least 1 civilian killed)",
    "p_ge_25": "P(at least 25 civilians killed)",
}


@dataclass(frozen=True)
class UnitRisk:
    unit_id: str
    unit_name: str
    p_ge_1: float
    p_ge_25: float

    def __post_init__(self) -> None:
        for name in ("p_ge_1", "p_ge_25"):
            p = getattr(self, name)
            if not (isinstance(p, int | float) and math.isfinite(p) and 0 <= p <= 1):
                raise ValueError(f"unit {self.unit_id!r}: {name} must be a probability, not {p!r}")
        if self.p_ge_25 > self.p_ge_1 + 1e-9:
            raise ValueError(
                f"unit {self.unit_id!r}: P(>=25) = {self.p_ge_25} exceeds P(>=1) = {self.p_ge_1}"
            )


@dataclass(frozen=True)
class ForecastRun:
    """One forecast run: per-unit probabilities for the period [target_start, target_end)."""

    run_id: str
    made_at: datetime
    target_start: datetime
    target_end: datetime
    risks: Mapping[str, UnitRisk] = field(default_factory=dict)
    model: str = ""

    def __post_init__(self) -> None:
        if self.target_end <= self.target_start:
            raise ValueError(f"forecast run {self.run_id!r}: target period is empty")
        for key, risk in self.risks.items():
            if key != risk.unit_id:
                raise ValueError(f"forecast run {self.run_id!r}: key {key!r} != {risk.unit_id!r}")


def evaluate_forecast_risk(
    rule: ForecastRiskTrigger, current: ForecastRun, previous: ForecastRun | None = None
) -> list[AlertCandidate]:
    """At most one candidate per unit; the explanation says which conditions fired and why."""
    label = OUTCOME_LABEL[rule.outcome]
    month = f"{current.target_start:%Y-%m-%d} to {current.target_end:%Y-%m-%d}"
    out: list[AlertCandidate] = []
    for unit_id, risk in sorted(current.risks.items()):
        p = getattr(risk, rule.outcome)
        prev_risk = previous.risks.get(unit_id) if previous is not None else None
        prev = getattr(prev_risk, rule.outcome) if prev_risk is not None else None
        passages: list[Passage] = []
        measures: dict[str, float] = {"probability": p}
        if prev is not None:
            measures["previous_probability"] = prev
        above = rule.level is not None and p >= rule.level
        if above:
            assert rule.level is not None
            if prev is None:
                history = "no previous run covers this unit"
            elif prev < rule.level:
                history = f"it crossed the level since the previous run ({fmt_pct(prev)})"
            else:
                history = f"it was already above it in the previous run ({fmt_pct(prev)})"
            passages.append(
                Passage(
                    f"{label} in {risk.unit_name} for {month} is {fmt_pct(p)}, at or above the "
                    f"alert level of {fmt_pct(rule.level)} by {100 * (p - rule.level):.0f} "
                    f"percentage points; {history}.",
                    rule.tier,
                )
            )
            measures["level"] = rule.level
        rose = False
        if rule.rise is not None and prev is not None:
            increase = p - prev
            ratio = p / prev if prev > 0 else math.inf
            rose = increase >= rule.rise.min_increase and (
                rule.rise.min_ratio is None or ratio >= rule.rise.min_ratio
            )
            if rose:
                ratio_text = f", x{ratio:.1f}" if math.isfinite(ratio) else ", from zero"
                need = f"+{100 * rule.rise.min_increase:.0f} points"
                if rule.rise.min_ratio is not None:
                    need += f" and x{rule.rise.min_ratio:g}"
                assert previous is not None
                passages.append(
                    Passage(
                        f"{label} in {risk.unit_name} rose from {fmt_pct(prev)} to {fmt_pct(p)} "
                        f"(+{100 * increase:.0f} points{ratio_text}) since run {previous.run_id} "
                        f"of {previous.made_at:%Y-%m-%d}; the trigger needs {need}.",
                        rule.tier,
                    )
                )
                measures["increase"] = increase
        if not (above or rose):
            continue
        model = f" Model: {current.model}." if current.model else ""
        passages.append(
            Passage(
                f"Forecast run {current.run_id} of {current.made_at:%Y-%m-%d}.{model}", rule.tier
            )
        )
        out.append(
            AlertCandidate(
                trigger_id=rule.id,
                kind=TriggerKind.FORECAST_RISK,
                area_key=f"unit:{unit_id}",
                period_start=current.target_start,
                period_end=current.target_end,
                headline=f"{rule.name}: {label} {fmt_pct(p)} in {risk.unit_name}",
                explanation=tuple(passages),
                severity=rule.severity,
                urgency=rule.urgency,
                certainty=rule.certainty,
                tier=rule.tier,
                areas=(AlertArea(risk.unit_name, rule.tier, geocodes=(("tocsin-unit", unit_id),)),),
                threat_category=rule.threat_category,
                instruction=rule.instruction,
                measures=measures,
                evidence=(f"forecast-run:{current.run_id}",),
            )
        )
    return out
