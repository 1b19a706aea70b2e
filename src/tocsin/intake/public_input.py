"""What the public may send: one validated shape for the web form and the public JSON API.

Strict on purpose: unknown fields are refused, every text has a length limit, control
characters are refused, a date cannot be in the future, coordinates come in pairs and in range.
Contact details are optional and only ever reach the vault (``IntakeReport.contact``).

The status a reporter sees with their receipt code is deliberately coarse (:func:`public_status`):
received, being reviewed, or review completed. Never the verification outcome, the case class,
an assignee, a note, nor anything of the report itself.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tocsin.domain.taxonomy import PocThreatCategory
from tocsin.intake.report import IntakeReport
from tocsin.security.vault import ContactDetails
from tocsin.verify.workflow import ReportState

MAX_TEXT = 5000
MAX_PLACE = 200
MAX_NAME = 120
MAX_PHONE = 40
MAX_EMAIL = 200
PUBLIC_LANGUAGE_CODES = ("en", "fr", "ar")

# The kinds of harm a reporter can pick (optional); they decide who handles the report.
PUBLIC_THREATS: tuple[PocThreatCategory, ...] = (
    PocThreatCategory.ATTACK_ON_CIVILIANS,
    PocThreatCategory.THREATS_AND_INTIMIDATION,
    PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE,
    PocThreatCategory.GRAVE_VIOLATION_AGAINST_CHILDREN,
    PocThreatCategory.FORCED_DISPLACEMENT,
    PocThreatCategory.ATTACK_ON_CIVILIAN_OBJECTS,
    PocThreatCategory.ATTACK_ON_HUMANITARIANS,
    PocThreatCategory.MISCONDUCT_BY_MISSION_PERSONNEL,
)

PublicStatus = Literal["received", "in_review", "closed"]


def _no_control_chars(value: str | None, *, newlines: bool) -> str | None:
    if value is None:
        return None
    allowed = "\n\r\t" if newlines else ""
    if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
        raise ValueError("contains control characters")
    return value


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class PublicContact(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: Annotated[str | None, Field(max_length=MAX_PHONE, pattern=r"^\+?[0-9 ()./-]{4,40}$")] = (
        None
    )
    name: Annotated[str | None, Field(max_length=MAX_NAME)] = None
    email: Annotated[
        str | None, Field(max_length=MAX_EMAIL, pattern=r"^[^@\s]{1,100}@[^@\s]{1,100}$")
    ] = None

    @field_validator("phone", "name", "email", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("name")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return _no_control_chars(value, newlines=False)

    def details(self) -> ContactDetails | None:
        if not (self.phone or self.name or self.email):
            return None
        return ContactDetails(phone=self.phone, name=self.name, email=self.email)


class PublicFollowUp(BaseModel):
    """More information added to a report by its receipt code."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    receipt_code: Annotated[str, Field(min_length=16, max_length=40)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    language: Literal["en", "fr", "ar"] | None = None

    @field_validator("text")
    @classmethod
    def _clean(cls, value: str) -> str:
        return _no_control_chars(value, newlines=True) or value


class PublicStatusQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    receipt_code: Annotated[str, Field(min_length=16, max_length=40)]


class PublicReport(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    occurred_on: date | None = None
    place_name: Annotated[str | None, Field(max_length=MAX_PLACE)] = None
    latitude: Annotated[float | None, Field(ge=-90, le=90, allow_inf_nan=False)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180, allow_inf_nan=False)] = None
    threat: PocThreatCategory | None = None
    children_involved: bool = False
    language: Literal["en", "fr", "ar"] | None = None
    contact: PublicContact | None = None
    # An offline app's own id for the report: re-sending it after a lost answer stores nothing
    # twice (the answer then says "duplicate" and carries no new receipt code).
    client_report_id: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")] = None

    @field_validator("place_name", "occurred_on", "latitude", "longitude", "threat", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        return _no_control_chars(value, newlines=True) or value

    @field_validator("place_name")
    @classmethod
    def _place(cls, value: str | None) -> str | None:
        return _no_control_chars(value, newlines=False)

    @field_validator("threat")
    @classmethod
    def _offered(cls, value: PocThreatCategory | None) -> PocThreatCategory | None:
        if value is not None and value not in PUBLIC_THREATS:
            raise ValueError("not one of the kinds offered")
        return value

    @field_validator("occurred_on")
    @classmethod
    def _date(cls, value: date | None) -> date | None:
        if value is None:
            return None
        # Tomorrow in UTC is still today somewhere: allow one day of time-zone slack.
        if value > (datetime.now(UTC) + timedelta(days=1)).date():
            raise ValueError("is in the future")
        if value.year < 1946:
            raise ValueError("is too far in the past")
        return value

    @model_validator(mode="after")
    def _pair(self) -> PublicReport:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self

    def to_report(self, *, channel: str, received_at: datetime) -> IntakeReport:
        external = f"client:{self.client_report_id}" if self.client_report_id else uuid.uuid4().hex
        return IntakeReport(
            channel=channel,
            external_id=external,
            received_at=received_at,
            text=self.text,
            occurred_on=self.occurred_on,
            latitude=self.latitude,
            longitude=self.longitude,
            place_name=self.place_name or None,
            threat=self.threat,
            children_involved=self.children_involved or None,
            source_type="public_report",
            language=self.language,
            contact=self.contact.details() if self.contact else None,
        )


def follow_up_report(
    follow: PublicFollowUp, *, channel: str, received_at: datetime
) -> IntakeReport:
    return IntakeReport(
        channel=channel,
        external_id=uuid.uuid4().hex,
        received_at=received_at,
        text=follow.text,
        source_type="public_follow_up",
        language=follow.language,
    )


def public_status(state: ReportState) -> PublicStatus:
    if state is ReportState.RECEIVED:
        return "received"
    if state.concluded:
        return "closed"
    return "in_review"
