"""The tier rule: what a channel cleared for tier T may receive of an alert.

- A channel below the alert's own tier receives nothing (``TierError``).
- Explanation passages above T are dropped.
- Areas above T are replaced by their ``generalised`` form if that is at or below T, else dropped.
- Numbers behind the explanation (``measures``) go out only when nothing was withheld, since a
  distance or a count can give away what a dropped sentence said.

Every outbound format (CAP, email, SMS, webhook) renders from a ``RedactedView``, never from
the alert itself, so a new channel cannot forget the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tocsin.alerts.model import AlertArea, AlertCandidate
from tocsin.domain.taxonomy import SensitivityTier


class TierError(PermissionError):
    pass


@dataclass(frozen=True)
class RedactedView:
    tier: SensitivityTier
    headline: str
    passages: tuple[str, ...]
    areas: tuple[AlertArea, ...]
    instruction: str | None
    complete: bool  # True when nothing was withheld
    measures: Mapping[str, float] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return " ".join(self.passages)


def may_receive(candidate: AlertCandidate, channel_tier: SensitivityTier) -> bool:
    return channel_tier >= candidate.tier


def redact_for_tier(candidate: AlertCandidate, channel_tier: SensitivityTier) -> RedactedView:
    if not may_receive(candidate, channel_tier):
        raise TierError(
            f"a {channel_tier.value} channel may not receive a {candidate.tier.value} alert"
        )
    passages = tuple(p.text for p in candidate.explanation if p.tier <= channel_tier)
    complete = len(passages) == len(candidate.explanation)
    areas: list[AlertArea] = []
    for area in candidate.areas:
        shown = _area_for(area, channel_tier)
        if shown is not area:
            complete = False
        if shown is not None:
            areas.append(shown)
    return RedactedView(
        tier=channel_tier,
        headline=candidate.headline,
        passages=passages,
        areas=tuple(areas),
        instruction=candidate.instruction,
        complete=complete,
        measures=dict(candidate.measures) if complete else {},
    )


def _area_for(area: AlertArea, tier: SensitivityTier) -> AlertArea | None:
    while area is not None and area.tier > tier:
        area = area.generalised  # type: ignore[assignment]
    return area
