"""Controlled vocabularies, modelled on HURIDOCS ESF and the UCDP/ACLED codebooks."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ViolenceType(StrEnum):
    """UCDP's three types of organised violence."""

    STATE_BASED = "state_based"
    NON_STATE = "non_state"
    ONE_SIDED = "one_sided"  # violence against civilians

    @property
    def ucdp_code(self) -> int:
        return _UCDP_CODES[self]

    @classmethod
    def from_ucdp(cls, code: int | str) -> ViolenceType:
        try:
            return _FROM_UCDP[int(code)]
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"unknown UCDP type_of_violence {code!r} (expected 1, 2 or 3)"
            ) from exc


_UCDP_CODES = {ViolenceType.STATE_BASED: 1, ViolenceType.NON_STATE: 2, ViolenceType.ONE_SIDED: 3}
_FROM_UCDP = {v: k for k, v in _UCDP_CODES.items()}


class ActType(StrEnum):
    """What was done. An event may carry several."""

    KILLING = "killing"
    INJURY = "injury"
    ABDUCTION = "abduction"
    SEXUAL_VIOLENCE = "sexual_violence"
    LOOTING = "looting"
    ATTACK_ON_SCHOOL = "attack_on_school"
    ATTACK_ON_HEALTH_FACILITY = "attack_on_health_facility"
    ATTACK_ON_IDP_SITE = "attack_on_idp_site"
    ATTACK_ON_AID_WORKERS = "attack_on_aid_workers"
    FORCED_DISPLACEMENT = "forced_displacement"
    ARBITRARY_DETENTION = "arbitrary_detention"
    THREAT = "threat"
    ARMED_CLASH = "armed_clash"
    PROPERTY_DESTRUCTION = "property_destruction"
    OTHER = "other"


class PocThreatCategory(StrEnum):
    """Threat categories used in UN protection-of-civilians threat assessments."""

    ATTACK_ON_CIVILIANS = "attack_on_civilians"
    CONFLICT_RELATED_SEXUAL_VIOLENCE = "conflict_related_sexual_violence"
    GRAVE_VIOLATION_AGAINST_CHILDREN = "grave_violation_against_children"
    FORCED_DISPLACEMENT = "forced_displacement"
    ATTACK_ON_CIVILIAN_OBJECTS = "attack_on_civilian_objects"
    ATTACK_ON_HUMANITARIANS = "attack_on_humanitarians"
    ARMED_CONFLICT_NEAR_CIVILIANS = "armed_conflict_near_civilians"
    INTERCOMMUNAL_VIOLENCE = "intercommunal_violence"
    THREATS_AND_INTIMIDATION = "threats_and_intimidation"
    MISCONDUCT_BY_MISSION_PERSONNEL = "misconduct_by_mission_personnel"


class SensitivityTier(StrEnum):
    """Need-to-know tiers, ordered from least to most sensitive."""

    PUBLIC = "public"
    INTERNAL = "internal"
    RESTRICTED = "restricted"
    CONFIDENTIAL = "confidential"

    @property
    def rank(self) -> int:
        return _TIER_RANK[self]

    def __le__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, SensitivityTier):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, SensitivityTier):
            return NotImplemented
        return self.rank < other.rank

    def __ge__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, SensitivityTier):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, SensitivityTier):
            return NotImplemented
        return self.rank > other.rank


_TIER_RANK = {
    SensitivityTier.PUBLIC: 0,
    SensitivityTier.INTERNAL: 1,
    SensitivityTier.RESTRICTED: 2,
    SensitivityTier.CONFIDENTIAL: 3,
}


class CaseClass(StrEnum):
    """Case classes handled on a need-to-know basis by specialised roles."""

    GENERAL = "general"
    SEXUAL_VIOLENCE = "sexual_violence"
    CHILDREN = "children"
    MISSION_PERSONNEL_MISCONDUCT = "mission_personnel_misconduct"


class DatePrecision(IntEnum):
    """UCDP ``date_prec``: how well the date is known."""

    DAY = 1
    WITHIN_WEEK = 2  # 2-6 days
    WEEK = 3
    MONTH = 4  # 8-30 days, or only the month
    YEAR = 5  # more than a month, or only the year


class LocationPrecision(IntEnum):
    """UCDP ``where_prec``: how well the place is known."""

    EXACT = 1
    NEAR = 2  # within ~25 km
    ADMIN2 = 3
    ADMIN1 = 4
    AREA = 5  # a linear feature or a larger area
    COUNTRY = 6
    WATERS = 7  # international waters or airspace

    @property
    def is_precise(self) -> bool:
        return self <= LocationPrecision.NEAR


class ActorKind(StrEnum):
    STATE_FORCE = "state_force"
    ARMED_GROUP = "armed_group"
    MILITIA = "militia"
    CIVILIANS = "civilians"
    MISSION_PERSONNEL = "mission_personnel"
    OTHER = "other"
    UNKNOWN = "unknown"


class ActorRole(StrEnum):
    """The part an actor played in an event."""

    PERPETRATOR = "perpetrator"
    SIDE_A = "side_a"
    SIDE_B = "side_b"
    TARGET = "target"
