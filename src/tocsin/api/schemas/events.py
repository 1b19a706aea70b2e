"""Event (incident) models: input, partial update, search filters, output."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from tocsin.api.schemas.common import Out, Strict
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActorRole,
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.security.persons import PersonRole
from tocsin.store.queries import EventQuery, SortOrder

# Control characters other than tab/newline break exports, terminals and PostgreSQL (NUL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_COUNT = 10_000_000


def _clean(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("text must not contain control characters")
    return value


Text = Annotated[str, AfterValidator(_clean)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]


class ActorIn(Strict):
    name: Text = Field(min_length=1, max_length=255)
    role: ActorRole = ActorRole.PERPETRATOR
    kind: ActorKind = ActorKind.UNKNOWN


class VictimGroupIn(Strict):
    description: Text = Field(min_length=1, max_length=500)
    count: Count | None = None
    female: Count | None = None
    male: Count | None = None
    children: Count | None = None
    adults: Count | None = None


class SourceIn(Strict):
    name: Text = Field(min_length=1, max_length=500)
    reference: Text | None = Field(default=None, max_length=2000)
    published: date | None = None
    reliability: SourceReliability = SourceReliability.F
    credibility: InformationCredibility = InformationCredibility.CANNOT_BE_JUDGED


class PersonIn(Strict):
    role: PersonRole
    name: Text = Field(min_length=1, max_length=200)
    contact: Text | None = Field(default=None, max_length=300)


Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Pcode = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{2,32}$")]
Iso3 = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]


class EventFields(Strict):
    """Fields common to creation and update (all optional here)."""

    date_end: date | None = None
    date_precision: int | None = Field(default=None, ge=1, le=5)
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    location_precision: int | None = Field(default=None, ge=1, le=7)
    country_iso3: Iso3 | None = None
    country_name: Text | None = Field(default=None, max_length=128)
    admin1_pcode: Pcode | None = None
    admin1_name: Text | None = Field(default=None, max_length=128)
    admin2_pcode: Pcode | None = None
    admin2_name: Text | None = Field(default=None, max_length=128)
    place_name: Text | None = Field(default=None, max_length=255)
    priogrid_gid: int | None = Field(default=None, ge=1, le=259200)
    violence_type: ViolenceType | None = None
    threat_category: PocThreatCategory | None = None
    act_types: list[ActType] | None = Field(default=None, max_length=len(ActType))
    actors: list[ActorIn] | None = Field(default=None, max_length=50)
    victims: list[VictimGroupIn] | None = Field(default=None, max_length=50)
    fatalities_best: Count | None = None
    fatalities_low: Count | None = None
    fatalities_high: Count | None = None
    civilian_fatalities: Count | None = None
    sources: list[SourceIn] | None = Field(default=None, max_length=50)
    title: Text | None = Field(default=None, max_length=300)
    description: Text | None = Field(default=None, max_length=20_000)
    persons: list[PersonIn] | None = Field(default=None, max_length=100)


class EventIn(EventFields):
    """A new incident. Records created through the API default to the internal tier."""

    date_start: date
    sensitivity: SensitivityTier = SensitivityTier.INTERNAL
    case_class: CaseClass = CaseClass.GENERAL


class EventPatch(EventFields):
    """A partial update: only the fields given change; ``null`` clears a field."""

    date_start: date | None = None
    sensitivity: SensitivityTier | None = None
    case_class: CaseClass | None = None


class EventReceipt(Out):
    uid: str
    url: str
    sensitivity: str
    case_class: str
    readable: bool = Field(description="false when the record is now outside your own scope")


class ActorOut(Out):
    name: str
    role: str
    kind: str


class VictimCountsOut(Out):
    count: int | None
    female: int | None
    male: int | None
    children: int | None
    adults: int | None


class SourceOut(Out):
    name: str
    reference: str | None
    published: date | None
    reliability: str
    credibility: str


class PersonOut(Out):
    role: str
    name: str
    contact: str | None


class EventOut(Out):
    """An event as the caller may see it. Fields the caller may not see are *absent*."""

    uid: str
    dataset: str
    dataset_version: str | None = None
    original_id: str
    date_start: date
    date_end: date
    date_precision: int
    country_iso3: str | None = None
    country_name: str | None = None
    admin1_pcode: str | None = None
    admin1_name: str | None = None
    admin2_pcode: str | None = None
    admin2_name: str | None = None
    place_name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_precision: int | None = None
    priogrid_gid: int | None = None
    violence_type: str | None = None
    threat_category: str | None = None
    act_types: list[str]
    title: str | None = None
    description: str | None = None
    actors: list[ActorOut]
    fatalities_best: int | None = None
    fatalities_low: int | None = None
    fatalities_high: int | None = None
    civilian_fatalities: int | None = None
    victims: list[VictimCountsOut]
    victim_groups: list[str] | None = None
    sources: list[SourceOut] | None = None
    source_grades: list[str]
    sensitivity: str
    case_class: str
    persons: list[PersonOut] | None = None
    created_at: datetime
    updated_at: datetime


class EventPage(Out):
    items: list[EventOut]
    total: int
    next_cursor: str | None


def _floats(text: str, n: int, what: str) -> tuple[float, ...]:
    parts = text.split(",")
    if len(parts) != n:
        raise ValueError(f"{what} needs {n} comma-separated numbers")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError as exc:
        raise ValueError(f"{what} needs {n} comma-separated numbers") from exc
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{what} must be finite numbers")
    return values


class EventFilter(Strict):
    """Search filters (query string). All combine with AND."""

    bbox: str | None = Field(
        default=None, max_length=200, description="min_lon,min_lat,max_lon,max_lat"
    )
    near: str | None = Field(default=None, max_length=100, description="lat,lon (with radius_km)")
    radius_km: float | None = Field(default=None, gt=0, le=20_000, allow_inf_nan=False)
    pcode: Pcode | None = None
    country_iso3: Iso3 | None = None
    start: date | None = None
    end: date | None = None
    violence_type: list[ViolenceType] = Field(default_factory=list, max_length=3)
    act_type: list[ActType] = Field(default_factory=list, max_length=len(ActType))
    threat_category: list[PocThreatCategory] = Field(
        default_factory=list, max_length=len(PocThreatCategory)
    )
    actor: Text | None = Field(default=None, min_length=1, max_length=255)
    actor_role: ActorRole | None = None
    min_fatalities: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    dataset: Text | None = Field(default=None, min_length=1, max_length=64)
    sort: SortOrder = SortOrder.DATE_DESC

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, v: str | None) -> str | None:
        if v is not None:
            _floats(v, 4, "bbox")
        return v

    @field_validator("near")
    @classmethod
    def _near(cls, v: str | None) -> str | None:
        if v is not None:
            _floats(v, 2, "near")
        return v

    def to_query(self, polygon: dict[str, Any] | None = None) -> EventQuery:
        """Raises the store's QueryError for combinations it refuses."""
        from tocsin.store.query_geometry import QueryError

        radius = None
        if (self.near is None) != (self.radius_km is None):
            raise QueryError("near and radius_km go together")
        if self.near is not None and self.radius_km is not None:
            lat, lon = _floats(self.near, 2, "near")
            radius = (lat, lon, self.radius_km)
        bbox = _floats(self.bbox, 4, "bbox") if self.bbox is not None else None
        return EventQuery(
            bbox=bbox,  # type: ignore[arg-type]
            radius=radius,
            polygon=polygon,
            pcode=self.pcode,
            country_iso3=self.country_iso3,
            start=self.start,
            end=self.end,
            violence_types=tuple(self.violence_type),
            act_types=tuple(self.act_type),
            threat_categories=tuple(self.threat_category),
            actor=self.actor,
            actor_role=self.actor_role,
            min_fatalities=self.min_fatalities,
            dataset=self.dataset,
            sort=self.sort,
        )


class EventListParams(EventFilter):
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=256)


class GeoJSONPolygon(Strict):
    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list[Any] = Field(max_length=10_000)


class EventSearchIn(EventFilter):
    """The same filters as the query string, plus a GeoJSON polygon."""

    polygon: GeoJSONPolygon | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=256)
