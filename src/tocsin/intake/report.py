"""The report every intake channel produces, before it is stored and queued for triage.

Contact details travel separately (``contact``) so the storing code can seal them into the vault
(tocsin.security.vault) before anything else touches the database; the rest of the report never
holds a phone number or a name the reporter gave for themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tocsin.domain.taxonomy import ActorKind, ActType, CaseClass, PocThreatCategory
from tocsin.intake.gateways import InboundSms
from tocsin.intake.sms_syntax import FreeText, ParseResult, StructuredAlert
from tocsin.security.vault import ContactDetails
from tocsin.verify.records import CandidateRecord, kinds_for
from tocsin.verify.workflow import classify_case

CHANNELS = frozenset({"web", "sms", "odk", "partner", "field"})


@dataclass(frozen=True, slots=True)
class IntakeReport:
    channel: str
    external_id: str  # gateway message id or ODK instanceID: makes re-delivery idempotent
    received_at: datetime
    text: str
    occurred_on: date | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_accuracy_m: float | None = None
    place_name: str | None = None
    threat: PocThreatCategory | None = None
    act_types: tuple[ActType, ...] = ()
    perpetrator_kind: ActorKind | None = None
    perpetrator_name: str | None = None
    killed: int | None = None
    injured: int | None = None
    children_involved: bool | None = None
    source_type: str | None = None
    attachments: tuple[str, ...] = ()
    language: str | None = None
    contact: ContactDetails | None = None

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")
        if self.received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must come together")

    def case_class(self) -> CaseClass:
        return classify_case(
            threat=self.threat,
            act_types=self.act_types,
            perpetrator_kinds=(self.perpetrator_kind,) if self.perpetrator_kind else (),
            children_involved=bool(self.children_involved),
        )

    def candidate(self, record_id: str, country_iso3: str | None = None) -> CandidateRecord:
        """The view the corroboration engine compares."""
        day = self.occurred_on or self.received_at.date()
        radius = None
        if self.latitude is not None:
            # A GPS fix with its accuracy, else a tapped point: assume a couple of km.
            radius = max((self.location_accuracy_m or 2000.0) / 1000.0, 0.5)
        text = " ".join(p for p in (self.place_name, self.text) if p)
        return CandidateRecord(
            id=record_id,
            source=self.channel,
            date_start=day,
            date_end=day,
            latitude=self.latitude,
            longitude=self.longitude,
            location_radius_km=radius,
            country_iso3=country_iso3,
            actors=(self.perpetrator_name,) if self.perpetrator_name else (),
            kinds=kinds_for(self.act_types, self.threat),
            fatalities=self.killed,
            text=text,
        )


def report_from_sms(inbound: InboundSms, parsed: ParseResult) -> IntakeReport | None:
    """The report for a parsed SMS; ``None`` for help requests and rejected messages."""
    contact = ContactDetails(phone=inbound.sender) if inbound.sender else None
    if isinstance(parsed, StructuredAlert):
        return IntakeReport(
            channel="sms",
            external_id=f"{inbound.gateway}:{inbound.message_id}",
            received_at=inbound.received_at,
            text=parsed.text,
            place_name=parsed.place,
            threat=parsed.threat,
            act_types=parsed.act_types,
            killed=parsed.count if ActType.KILLING in parsed.act_types else None,
            language=parsed.language,
            contact=contact,
        )
    if isinstance(parsed, FreeText):
        return IntakeReport(
            channel="sms",
            external_id=f"{inbound.gateway}:{inbound.message_id}",
            received_at=inbound.received_at,
            text=parsed.text,
            language=parsed.language,
            contact=contact,
        )
    return None
