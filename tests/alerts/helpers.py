"""Small builders shared by the alert tests (rows written here, never real data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tocsin.alerts.lifecycle import EscalationLadder, EscalationStep
from tocsin.alerts.model import (
    AlertArea,
    AlertCandidate,
    Certainty,
    Passage,
    Severity,
    TriggerKind,
    Urgency,
)
from tocsin.domain.taxonomy import PocThreatCategory, SensitivityTier

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
SECRET = "Elevage-site-behind-the-mosque"


def candidate(
    *,
    trigger_id: str = "prox",
    area_key: str = "site:idp-1",
    start: datetime = T0,
    days: float = 7,
    requires_confirmation: bool = False,
    urgency: Urgency = Urgency.IMMEDIATE,
    tier: SensitivityTier = SensitivityTier.INTERNAL,
) -> AlertCandidate:
    return AlertCandidate(
        trigger_id=trigger_id,
        kind=TriggerKind.PROXIMITY,
        area_key=area_key,
        period_start=start,
        period_end=start + timedelta(days=days),
        headline="Violence near a protected IDP site in Ouaka",
        explanation=(
            Passage("A verified incident was reported within 10 km of an IDP site in Ouaka.", tier),
            Passage(
                f"Incident ev-1 is 3.2 km from IDP site '{SECRET}'.", SensitivityTier.RESTRICTED
            ),
        ),
        severity=Severity.EXTREME,
        urgency=urgency,
        certainty=Certainty.OBSERVED,
        tier=tier,
        areas=(
            AlertArea(
                f"10 km around IDP site {SECRET}",
                SensitivityTier.RESTRICTED,
                circle=(5.76, 20.67, 10),
                generalised=AlertArea("Ouaka", tier, geocodes=(("PCODE", "CF52"),)),
            ),
            AlertArea(
                "Bambari town",
                tier,
                polygon=((5.70, 20.60), (5.70, 20.75), (5.82, 20.75), (5.82, 20.60), (5.70, 20.60)),
            ),
        ),
        threat_category=PocThreatCategory.ATTACK_ON_CIVILIANS,
        measures={"distance_km": 3.2, "radius_km": 10},
        evidence=("ev-1",),
        requires_confirmation=requires_confirmation,
        instruction="Contact the site focal point.",
    )


LADDER = EscalationLadder(
    default_ack_deadline=timedelta(hours=4),
    ack_deadline_by_urgency={Urgency.IMMEDIATE: timedelta(hours=1)},
    steps=(
        EscalationStep(timedelta(0), ("duty_officer",)),
        EscalationStep(timedelta(hours=2), ("head_of_office",)),
        EscalationStep(timedelta(hours=12), ("chief_of_staff",)),
    ),
)
