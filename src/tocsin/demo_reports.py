"""Fictional civilian reports for the demo's triage queue (``/reports``).

Every report goes through ``IntakeService`` like a real one (validated, contact sealed in the
vault, audited). Their external ids are fixed, so re-running the demo stores nothing twice. The
texts are invented for the demo; the places are towns of the scenario country, the people and
events are not real.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from tocsin.domain.taxonomy import ActorKind, ActType, CaseClass, PocThreatCategory
from tocsin.intake.report import IntakeReport
from tocsin.intake.service import IntakeService, load_intake_keys
from tocsin.security.vault import ContactDetails

# +999 is not assigned to any country: these numbers can never reach a real person.
_FAKE_PHONE = "+99900000{:03d}"


@dataclass(frozen=True, slots=True)
class DemoReports:
    stored: int
    duplicates: int
    by_case_class: dict[str, int]


def demo_reports(now: datetime) -> list[IntakeReport]:
    """Six invented reports over the last days: web and SMS, one about children (a restricted
    case class, routed to child protection)."""
    day = now.date()

    def at(hours: int) -> datetime:
        return now - timedelta(hours=hours)

    return [
        IntakeReport(
            channel="web",
            external_id="demo-web-1",
            received_at=at(30),
            text="[DEMO] Armed men on motorbikes took goats and burned two granaries at the "
            "edge of the village last night. Nobody was hurt. People are afraid to go to the "
            "fields.",
            occurred_on=day - timedelta(days=2),
            latitude=5.7612,
            longitude=20.6801,
            location_accuracy_m=500,
            place_name="Bambari",
            threat=PocThreatCategory.ATTACK_ON_CIVILIAN_OBJECTS,
            act_types=(ActType.LOOTING, ActType.PROPERTY_DESTRUCTION),
            perpetrator_kind=ActorKind.ARMED_GROUP,
            language="en",
        ),
        IntakeReport(
            channel="web",
            external_id="demo-web-2",
            received_at=at(20),
            text="[DEMO] A group of armed men gave the market traders an ultimatum: pay by "
            "Friday or they will burn the village. Families are already leaving.",
            occurred_on=day - timedelta(days=1),
            place_name="Kaga-Bandoro",
            threat=PocThreatCategory.THREATS_AND_INTIMIDATION,
            act_types=(ActType.THREAT,),
            language="en",
            contact=ContactDetails(email="demo.reporter@example.invalid"),
        ),
        IntakeReport(
            channel="web",
            external_id="demo-web-3",
            received_at=at(12),
            text="[DEMO] Two boys from the camp were taken by an armed group near the school "
            "and have not come back. Their families ask for help.",
            occurred_on=day - timedelta(days=1),
            latitude=6.5423,
            longitude=21.9871,
            location_accuracy_m=1500,
            place_name="Bria",
            threat=PocThreatCategory.GRAVE_VIOLATION_AGAINST_CHILDREN,
            act_types=(ActType.ABDUCTION,),
            children_involved=True,
            language="en",
        ),
        IntakeReport(
            channel="sms",
            external_id="demo-gw:demo-sms-1",
            received_at=at(8),
            text="[DEMO] Attaque prévue ce soir sur le quartier nord, les gens fuient vers la "
            "mission.",
            place_name="Paoua",
            threat=PocThreatCategory.ATTACK_ON_CIVILIANS,
            act_types=(ActType.THREAT,),
            language="fr",
            contact=ContactDetails(phone=_FAKE_PHONE.format(1)),
        ),
        IntakeReport(
            channel="sms",
            external_id="demo-gw:demo-sms-2",
            received_at=at(5),
            text="[DEMO] KILL 3 Ndele - three civilians killed on the road to the market.",
            occurred_on=day,
            place_name="Ndélé",
            threat=PocThreatCategory.ATTACK_ON_CIVILIANS,
            act_types=(ActType.KILLING,),
            killed=3,
            language="en",
            contact=ContactDetails(phone=_FAKE_PHONE.format(2)),
        ),
        IntakeReport(
            channel="sms",
            external_id="demo-gw:demo-sms-3",
            received_at=at(2),
            text="[DEMO] Coups de feu entendus près du centre de santé depuis une heure.",
            place_name="Bangassou",
            threat=PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS,
            act_types=(ActType.ARMED_CLASH,),
            language="fr",
        ),
    ]


def submit_demo_reports(engine: Engine, home: Path, now: datetime | None = None) -> DemoReports:
    now = now or datetime.now(UTC)
    keyring, pseudonymizer = load_intake_keys(home)
    service = IntakeService(engine, keyring, pseudonymizer)
    stored = duplicates = 0
    classes: dict[str, int] = {}
    try:
        for report in demo_reports(now):
            result = service.accept(report)
            if result.duplicate:
                duplicates += 1
            else:
                stored += 1
            case: CaseClass = report.case_class()
            classes[case.value] = classes.get(case.value, 0) + 1
    finally:
        service.close()
    return DemoReports(stored, duplicates, classes)
