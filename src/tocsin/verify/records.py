"""The comparable view of a report or event that the corroboration engine works on.

Reports from the public form, SMS, ODK and partner datasets all reduce to this shape, so one
engine compares them across channels. Fields that a channel does not know are ``None`` or empty;
the scoring model treats "missing" as its own signal rather than as disagreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from tocsin.domain.entities import Event
from tocsin.domain.taxonomy import ActType, LocationPrecision, PocThreatCategory, ViolenceType

# Uncertainty radius (km) implied by a location precision. Coarser than ADMIN1 is "coarse":
# such a record only says which country, so it is compared by country and time alone.
PRECISION_RADIUS_KM: dict[LocationPrecision, float | None] = {
    LocationPrecision.EXACT: 2.0,
    LocationPrecision.NEAR: 25.0,
    LocationPrecision.ADMIN2: 50.0,
    LocationPrecision.ADMIN1: 150.0,
    LocationPrecision.AREA: 100.0,
    LocationPrecision.COUNTRY: None,
    LocationPrecision.WATERS: None,
}

# Radii above this are too vague for the spatial index; see blocking.py.
COARSE_RADIUS_KM = 120.0


class Kind:
    """Coarse incident kinds shared by every vocabulary (acts, PoC threats, UCDP types).

    Comparing at this level lets a UCDP "one-sided violence" row agree with an SMS "ATK" alert
    and an ODK "killing" report, which name the same thing at different grains.
    """

    LETHAL_VIOLENCE = "lethal_violence"
    INJURY = "injury"
    SEXUAL_VIOLENCE = "sexual_violence"
    ABDUCTION = "abduction"
    ARMED_CLASH = "armed_clash"
    PROPERTY = "property"
    DISPLACEMENT = "displacement"
    AID_ATTACK = "aid_attack"
    EDUCATION_ATTACK = "education_attack"
    HEALTH_ATTACK = "health_attack"
    THREAT = "threat"
    DETENTION = "detention"
    MISCONDUCT = "misconduct"
    CHILDREN = "children"


KINDS_BY_ACT: dict[ActType, frozenset[str]] = {
    ActType.KILLING: frozenset({Kind.LETHAL_VIOLENCE}),
    ActType.INJURY: frozenset({Kind.INJURY}),
    ActType.ABDUCTION: frozenset({Kind.ABDUCTION}),
    ActType.SEXUAL_VIOLENCE: frozenset({Kind.SEXUAL_VIOLENCE}),
    ActType.LOOTING: frozenset({Kind.PROPERTY}),
    ActType.ATTACK_ON_SCHOOL: frozenset({Kind.EDUCATION_ATTACK}),
    ActType.ATTACK_ON_HEALTH_FACILITY: frozenset({Kind.HEALTH_ATTACK}),
    ActType.ATTACK_ON_IDP_SITE: frozenset({Kind.DISPLACEMENT, Kind.LETHAL_VIOLENCE}),
    ActType.ATTACK_ON_AID_WORKERS: frozenset({Kind.AID_ATTACK}),
    ActType.FORCED_DISPLACEMENT: frozenset({Kind.DISPLACEMENT}),
    ActType.ARBITRARY_DETENTION: frozenset({Kind.DETENTION}),
    ActType.THREAT: frozenset({Kind.THREAT}),
    ActType.ARMED_CLASH: frozenset({Kind.ARMED_CLASH}),
    ActType.PROPERTY_DESTRUCTION: frozenset({Kind.PROPERTY}),
    ActType.OTHER: frozenset(),
}

KINDS_BY_THREAT: dict[PocThreatCategory, frozenset[str]] = {
    PocThreatCategory.ATTACK_ON_CIVILIANS: frozenset({Kind.LETHAL_VIOLENCE, Kind.INJURY}),
    PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE: frozenset({Kind.SEXUAL_VIOLENCE}),
    PocThreatCategory.GRAVE_VIOLATION_AGAINST_CHILDREN: frozenset({Kind.CHILDREN}),
    PocThreatCategory.FORCED_DISPLACEMENT: frozenset({Kind.DISPLACEMENT}),
    PocThreatCategory.ATTACK_ON_CIVILIAN_OBJECTS: frozenset({Kind.PROPERTY}),
    PocThreatCategory.ATTACK_ON_HUMANITARIANS: frozenset({Kind.AID_ATTACK}),
    PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS: frozenset({Kind.ARMED_CLASH}),
    PocThreatCategory.INTERCOMMUNAL_VIOLENCE: frozenset({Kind.LETHAL_VIOLENCE}),
    PocThreatCategory.THREATS_AND_INTIMIDATION: frozenset({Kind.THREAT}),
    PocThreatCategory.MISCONDUCT_BY_MISSION_PERSONNEL: frozenset({Kind.MISCONDUCT}),
}

KINDS_BY_VIOLENCE: dict[ViolenceType, frozenset[str]] = {
    ViolenceType.STATE_BASED: frozenset({Kind.ARMED_CLASH}),
    ViolenceType.NON_STATE: frozenset({Kind.ARMED_CLASH}),
    ViolenceType.ONE_SIDED: frozenset({Kind.LETHAL_VIOLENCE}),
}


def kinds_for(
    act_types: tuple[ActType, ...] = (),
    threat: PocThreatCategory | None = None,
    violence: ViolenceType | None = None,
) -> frozenset[str]:
    out: set[str] = set()
    for act in act_types:
        out |= KINDS_BY_ACT[act]
    if threat is not None:
        out |= KINDS_BY_THREAT[threat]
    if violence is not None:
        out |= KINDS_BY_VIOLENCE[violence]
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """One report or event as the corroboration engine sees it.

    ``source`` names the channel or dataset ("sms", "odk", "ucdp_ged", ...): two matching records
    from different sources corroborate each other, two from the same source are duplicates.
    ``location_radius_km`` is how uncertain the point is (``None`` = unknown or country-wide).
    """

    id: str
    source: str
    date_start: date
    date_end: date | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_radius_km: float | None = None
    country_iso3: str | None = None
    actors: tuple[str, ...] = ()
    kinds: frozenset[str] = field(default_factory=frozenset)
    fatalities: int | None = None
    text: str = ""
    place: str | None = None  # the place as named ("Ndélé", "Kubri Haboba, Juba"), if any

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a candidate record needs an id")
        if self.date_end is not None and self.date_end < self.date_start:
            raise ValueError(f"record {self.id}: date_end {self.date_end} before date_start")
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError(f"record {self.id}: latitude and longitude must come together")
        if self.latitude is not None and not (
            -90.0 <= self.latitude <= 90.0 and -180.0 <= self.longitude <= 180.0  # type: ignore[operator]
        ):
            raise ValueError(f"record {self.id}: coordinates out of range")
        if self.fatalities is not None and self.fatalities < 0:
            raise ValueError(f"record {self.id}: negative fatalities")

    @property
    def last_date(self) -> date:
        return self.date_end or self.date_start

    @property
    def has_point(self) -> bool:
        return self.latitude is not None

    @property
    def is_spatially_coarse(self) -> bool:
        """True when the point is missing or too vague for the spatial index."""
        return (
            self.latitude is None
            or self.location_radius_km is None
            or self.location_radius_km > COARSE_RADIUS_KM
        )


def record_from_event(event: Event, source: str | None = None) -> CandidateRecord:
    """The candidate view of a stored event (any dataset, any channel)."""
    radius = (
        PRECISION_RADIUS_KM[event.location_precision]
        if event.location_precision is not None
        else 25.0  # a point with unknown precision: assume "near", the commonest case
    )
    actors = tuple(a.name for a in event.actors if a.name)
    text = " ".join(part for part in (event.title, event.place_name, event.description) if part)
    return CandidateRecord(
        id=event.uid,
        source=source or event.provenance.dataset,
        date_start=event.date_start,
        date_end=event.date_end,
        latitude=event.latitude,
        longitude=event.longitude,
        location_radius_km=radius if event.latitude is not None else None,
        country_iso3=event.country_iso3,
        actors=actors,
        kinds=kinds_for(event.act_types, event.threat_category, event.violence_type),
        fatalities=event.fatalities_best,
        text=text,
        place=event.place_name or event.admin2_name or event.admin1_name,
    )
