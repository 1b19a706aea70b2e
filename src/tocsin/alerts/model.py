"""What a trigger produces: an ``AlertCandidate`` with a tiered, human-readable explanation.

Every piece of text that can leave the system carries its own sensitivity tier (``Passage``), and
so does every area (``AlertArea``): a forecast for a prefecture is internal, the position of an
IDP site next to a killing may be restricted. Channels of a lower tier get only what their tier
allows (see ``tocsin.alerts.cap.redact_for_tier``), so the rule "sensitive details never leave
through a lower-tier channel" is enforced on data, not on good intentions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tocsin.domain.taxonomy import CaseClass, PocThreatCategory, SensitivityTier


class TriggerKind(StrEnum):
    FORECAST_RISK = "forecast_risk"
    SURGE = "surge"
    PROXIMITY = "proximity"
    KEYWORDS = "keywords"


# The three CAP 1.2 scales, with the CAP spelling as value so that they serialise directly.
class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Passage:
    """One sentence of an explanation, visible only at ``tier`` and above."""

    text: str
    tier: SensitivityTier = SensitivityTier.INTERNAL


@dataclass(frozen=True)
class AlertArea:
    """Where an alert applies, in the forms CAP 1.2 knows.

    Coordinates are (lat, lon) in WGS 84, as CAP writes them. ``polygon`` is a closed ring;
    ``circle`` is (lat, lon, radius_km). ``tier`` is the sensitivity of the *geometry*: a channel
    below it receives ``description`` and geocodes only if ``generalised`` says so, else nothing.
    """

    description: str
    tier: SensitivityTier = SensitivityTier.INTERNAL
    geocodes: tuple[tuple[str, str], ...] = ()
    polygon: tuple[tuple[float, float], ...] | None = None
    circle: tuple[float, float, float] | None = None
    generalised: AlertArea | None = None  # what a lower-tier channel may see instead

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise ValueError("an alert area needs a description")
        if self.polygon is not None:
            if len(self.polygon) < 4 or self.polygon[0] != self.polygon[-1]:
                raise ValueError(
                    "a CAP polygon needs at least 4 points, the first equal to the last"
                )
            for lat, lon in self.polygon:
                _check_lat_lon(lat, lon)
        if self.circle is not None:
            lat, lon, radius = self.circle
            _check_lat_lon(lat, lon)
            if not (math.isfinite(radius) and radius >= 0):
                raise ValueError(f"circle radius must be a non-negative number of km, not {radius}")
        if self.generalised is not None and self.generalised.tier > self.tier:
            raise ValueError("the generalised form of an area cannot be more sensitive than it")


def _check_lat_lon(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"coordinates out of range: lat={lat}, lon={lon}")


@dataclass(frozen=True)
class AlertCandidate:
    """A trigger fired. Not yet an alert: lifecycle decides whether it is issued or suppressed.

    ``area_key`` and ``period_start``/``period_end`` are what duplicate suppression compares
    (same trigger, same area, overlapping period). ``measures`` holds the numbers behind the
    explanation so that the UI and the backtest can use them without parsing text.
    """

    trigger_id: str
    kind: TriggerKind
    area_key: str
    period_start: datetime
    period_end: datetime
    headline: str
    explanation: tuple[Passage, ...]
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    tier: SensitivityTier
    areas: tuple[AlertArea, ...] = ()
    threat_category: PocThreatCategory | None = None
    measures: Mapping[str, float] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()
    requires_confirmation: bool = False
    instruction: str | None = None  # what recipients should do; written by the trigger's owner
    # The need-to-know case class of what the alert was derived from (a threat report of a
    # sexual-violence case stays sexual-violence): only channels and people cleared for the
    # class receive the alert's details.
    case_class: CaseClass = CaseClass.GENERAL

    def __post_init__(self) -> None:
        if self.period_end <= self.period_start:
            raise ValueError("an alert's period must end after it starts")
        if self.period_start.tzinfo is None or self.period_end.tzinfo is None:
            raise ValueError("alert periods must be timezone-aware")
        if not self.explanation:
            raise ValueError("an alert candidate needs an explanation")

    @property
    def explanation_text(self) -> str:
        return " ".join(p.text for p in self.explanation)


def highest_tier(tiers: Iterable[SensitivityTier]) -> SensitivityTier:
    return max(tiers, key=lambda t: t.rank, default=SensitivityTier.PUBLIC)


def fmt_pct(p: float) -> str:
    """0.4123 -> '41%'; small values keep a decimal so that 0.4% does not read as 0%."""
    pct = 100 * p
    return f"{pct:.1f}%" if 0 < pct < 10 else f"{pct:.0f}%"
