"""Request bodies of ``/api/v1/reports``: strict (unknown fields are a 422), bounded, typed."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from tocsin.api.schemas.common import Strict
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
)
from tocsin.verify.workflow import MAX_COMMENT_CHARS, MAX_NOTE_CHARS

MAX_REPORT_TEXT = 20_000
MAX_SHORT = 500


def _no_controls(value: str | None) -> str | None:
    if value is not None and any(
        unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in value
    ):
        raise ValueError("contains control characters")
    return value


Text = Annotated[str, AfterValidator(_no_controls)]
ReportId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Version = Annotated[int, Field(ge=1, le=2**31)]


class ReportIn(Strict):
    """A field, patrol or partner report filed through the authenticated API."""

    text: Text = Field(min_length=1, max_length=MAX_REPORT_TEXT)
    channel: Literal["field", "partner"] | None = None
    client_reference: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Your own id for this report: sending it again returns the same report.",
    )
    occurred_on: date | None = None
    latitude: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    location_accuracy_m: float | None = Field(None, ge=0, le=1e7, allow_inf_nan=False)
    place_name: Text | None = Field(None, max_length=MAX_SHORT)
    threat: PocThreatCategory | None = None
    act_types: list[ActType] = Field(default_factory=list, max_length=20)
    perpetrator_kind: ActorKind | None = None
    perpetrator_name: Text | None = Field(None, max_length=MAX_SHORT)
    killed: int | None = Field(None, ge=0, le=1_000_000)
    injured: int | None = Field(None, ge=0, le=1_000_000)
    children_involved: bool | None = None
    source_type: Text | None = Field(None, max_length=64)
    language: str | None = Field(None, min_length=2, max_length=16, pattern=r"^[A-Za-z-]+$")

    @model_validator(mode="after")
    def _pair(self) -> ReportIn:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must come together")
        if self.occurred_on is not None and self.occurred_on.year < 1946:
            raise ValueError("occurred_on is before 1946")
        return self


class Versioned(Strict):
    expected_version: Version = Field(
        description="The version you read: if the report changed since, the answer is 409."
    )


class TriageIn(Versioned):
    case_class: CaseClass | None = None
    sensitivity: SensitivityTier | None = None


class AssignIn(Versioned):
    assignee_id: int = Field(ge=1, le=2**31)
    due: datetime | None = None


class CommentIn(Versioned):
    text: Text = Field(min_length=1, max_length=MAX_COMMENT_CHARS)


class GradeIn(Versioned):
    reliability: SourceReliability
    credibility: InformationCredibility


class ConcludeIn(Versioned):
    note: Text | None = Field(None, max_length=MAX_NOTE_CHARS)


class DiscardIn(Versioned):
    note: Text = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class ReopenIn(Versioned):
    reason: Text = Field(min_length=1, max_length=MAX_NOTE_CHARS)


class LinkIn(Versioned):
    incident: Literal["new", "existing"]
    incident_uid: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _uid_iff_existing(self) -> LinkIn:
        if (self.incident == "existing") != (self.incident_uid is not None):
            raise ValueError("give incident_uid exactly when incident is 'existing'")
        return self


class MergeIn(Strict):
    members: list[ReportId] = Field(min_length=1, max_length=20)
    reason: Text = Field(min_length=1, max_length=2000)


class UndoIn(Strict):
    force: bool = False
