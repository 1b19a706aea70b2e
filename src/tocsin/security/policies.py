"""Who may see and do what: the role policy table, as data.

Every decision about records and fields is taken from ``ROLE_POLICIES`` below. It is applied
twice: once to build the query scope (``AccessScope``: tiers, case classes, own records), and
once more where a record is serialized (``tocsin.security.redaction``), where a record outside
the scope is dropped and a forbidden field is removed (absent, never blanked).

Each user holds exactly one role. Policies are then plain products (tier x case class x owner)
that a SQL ``WHERE`` can express exactly; unions of several roles could not be, and a person who
wears two hats gets two accounts, each audited on its own.

Which roles handle which restricted case class is the ``case_classes`` column: to give
misconduct cases to a separate conduct-and-discipline role, add a policy for it and take the
class out of the protection officer's set. Nothing else needs to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tocsin.domain.taxonomy import CaseClass, SensitivityTier


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    HUMAN_RIGHTS_OFFICER = "human_rights_officer"
    PROTECTION_OFFICER = "protection_officer"
    COMMANDER = "commander"
    FIELD_REPORTER = "field_reporter"
    PARTNER = "partner"
    PUBLIC = "public"


class Permission(StrEnum):
    EVENTS_READ = "events:read"  # records, and the actors/places/sources they reference
    EVENTS_CREATE = "events:create"
    EVENTS_UPDATE = "events:update"
    EVENTS_DELETE = "events:delete"
    AGGREGATES_READ = "aggregates:read"
    EXPORT = "export"
    IMPORT = "import"
    REFERENCE_WRITE = "reference:write"  # actors and gazetteer
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    INTAKE_SUBMIT = "intake:submit"
    TOKENS_OWN = "tokens:own"  # may hold personal API tokens


class FieldGroup(StrEnum):
    """Identifying data, each group a set of record keys (see ``FIELD_GROUP_KEYS``)."""

    PERSONS = "persons"  # victim and witness names and contacts: protected on every record
    PRECISE_LOCATION = "precise_location"  # coordinates and place name of a restricted case
    SOURCES = "sources"  # who reported a restricted case (informants, witnesses as sources)
    NARRATIVE = "narrative"  # free text of a restricted case: title, description, victims


# Record keys per field group; the API record, the export records and GeoJSON properties all
# use these names, so a single table drives every output.
FIELD_GROUP_KEYS: Mapping[FieldGroup, tuple[str, ...]] = {
    FieldGroup.PERSONS: ("persons",),
    FieldGroup.PRECISE_LOCATION: ("latitude", "longitude", "place_name"),
    FieldGroup.SOURCES: ("sources",),  # names and references; the Admiralty grades stay
    FieldGroup.NARRATIVE: ("title", "description", "victim_groups"),
}

# Groups that may never leave in a bulk export, whatever the role: a list of names is the one
# file an armed group looking for informants wants most (threat model TM-07).
NEVER_EXPORTED: frozenset[FieldGroup] = frozenset({FieldGroup.PERSONS})

RESTRICTED_CASE_CLASSES: frozenset[CaseClass] = frozenset(
    c for c in CaseClass if c is not CaseClass.GENERAL
)


def is_restricted_case(tier: SensitivityTier | str, case_class: CaseClass | str) -> bool:
    """A restricted case: a restricted or confidential tier, or a restricted case class.

    Reads of such records are audited one by one, and their identifying fields are protected.
    """
    try:
        # A table of the 16 answers: asked twice per record of every page, and converting
        # two Enums each time cost more than the redaction itself. Members hash and compare
        # as their values, so members and stored strings find the same entry.
        return _RESTRICTED_CASES[(tier, case_class)]
    except (KeyError, TypeError):
        return SensitivityTier(tier) >= SensitivityTier.RESTRICTED or (
            CaseClass(case_class) in RESTRICTED_CASE_CLASSES
        )


_RESTRICTED_CASES: dict[tuple[str, str], bool] = {
    (t.value, c.value): t >= SensitivityTier.RESTRICTED or c in RESTRICTED_CASE_CLASSES
    for t in SensitivityTier
    for c in CaseClass
}


def protected_groups(tier: SensitivityTier | str, case_class: CaseClass | str) -> set[FieldGroup]:
    """The field groups that need an explicit grant on a record of this tier and class."""
    if is_restricted_case(tier, case_class):
        return set(FieldGroup)
    return {FieldGroup.PERSONS}


def tiers_up_to(tier: SensitivityTier | None) -> frozenset[SensitivityTier]:
    if tier is None:
        return frozenset()
    return frozenset(t for t in SensitivityTier if t <= tier)


@dataclass(frozen=True, slots=True)
class RolePolicy:
    role: Role
    title: str
    max_tier: SensitivityTier | None  # None: no record-level access at all
    case_classes: frozenset[CaseClass]
    fields: frozenset[FieldGroup]
    permissions: frozenset[Permission]
    own_records_only: bool = False
    # Aggregates may be computed over a wider set than the records shown, with small counts
    # suppressed (partners see totals of internal data, never single cases).
    aggregate_max_tier: SensitivityTier | None = None
    small_count_threshold: int = 0
    description: str = ""

    @property
    def tiers(self) -> frozenset[SensitivityTier]:
        return tiers_up_to(self.max_tier)

    @property
    def requires_2fa(self) -> bool:
        """Admins, and every role that can see a restricted tier, must use TOTP."""
        return self.role is Role.ADMIN or (
            self.max_tier is not None and self.max_tier >= SensitivityTier.RESTRICTED
        )

    @property
    def sees_restricted_cases(self) -> bool:
        return bool(self.tiers) and any(
            is_restricted_case(t, c) for t in self.tiers for c in self.case_classes
        )

    def allows(self, permission: Permission) -> bool:
        return permission in self.permissions


_READ = frozenset({Permission.EVENTS_READ, Permission.AGGREGATES_READ, Permission.TOKENS_OWN})
_WRITE = frozenset({Permission.EVENTS_CREATE, Permission.EVENTS_UPDATE})
_ALL_CLASSES = frozenset(CaseClass)
_GENERAL = frozenset({CaseClass.GENERAL})

ROLE_POLICIES: Mapping[Role, RolePolicy] = {
    p.role: p
    for p in (
        RolePolicy(
            Role.ADMIN,
            "Administrator",
            SensitivityTier.CONFIDENTIAL,
            _ALL_CLASSES,
            frozenset(FieldGroup),
            frozenset(Permission) - {Permission.INTAKE_SUBMIT},
            description="Manages users and reads the audit log; every restricted read is "
            "audited like anyone else's.",
        ),
        RolePolicy(
            Role.ANALYST,
            "Analyst",
            SensitivityTier.RESTRICTED,
            _GENERAL,
            frozenset({FieldGroup.PRECISE_LOCATION, FieldGroup.NARRATIVE}),
            _READ
            | _WRITE
            | {
                Permission.EVENTS_DELETE,
                Permission.EXPORT,
                Permission.IMPORT,
                Permission.REFERENCE_WRITE,
            },
            description="Curates and analyses the event data; never sees names or the "
            "identity of sources of restricted cases.",
        ),
        RolePolicy(
            Role.HUMAN_RIGHTS_OFFICER,
            "Human-rights officer",
            SensitivityTier.CONFIDENTIAL,
            _GENERAL,
            frozenset(FieldGroup),
            _READ | _WRITE | {Permission.EXPORT},
            description="Documents violations, with victims and witnesses, in general cases.",
        ),
        RolePolicy(
            Role.PROTECTION_OFFICER,
            "Protection officer",
            SensitivityTier.CONFIDENTIAL,
            _ALL_CLASSES,
            frozenset(FieldGroup),
            _READ | _WRITE | {Permission.EXPORT},
            description="Handles restricted cases: sexual violence, children, misconduct by "
            "mission personnel.",
        ),
        RolePolicy(
            Role.COMMANDER,
            "Commander / viewer",
            SensitivityTier.RESTRICTED,
            _GENERAL,
            frozenset(),
            _READ,
            description="Reads the picture to act on it: restricted incidents appear without "
            "coordinates, narrative, sources or names.",
        ),
        RolePolicy(
            Role.FIELD_REPORTER,
            "Field reporter",
            SensitivityTier.INTERNAL,
            _GENERAL,
            frozenset(),
            frozenset({Permission.EVENTS_READ, Permission.TOKENS_OWN}) | _WRITE,
            own_records_only=True,
            description="Files reports at any tier but reads back only their own general "
            "records up to internal: a seized phone gives away as little as possible.",
        ),
        RolePolicy(
            Role.PARTNER,
            "Partner organisation",
            SensitivityTier.PUBLIC,
            _GENERAL,
            frozenset(),
            _READ | {Permission.EXPORT},
            aggregate_max_tier=SensitivityTier.INTERNAL,
            small_count_threshold=5,
            description="Shareable (public-tier) records, and aggregates of internal data "
            "with counts under 5 suppressed.",
        ),
        RolePolicy(
            Role.PUBLIC,
            "Public",
            SensitivityTier.PUBLIC,
            _GENERAL,
            frozenset(),
            frozenset({Permission.INTAKE_SUBMIT}),
            description="Anyone without an account: the public overview and intake only.",
        ),
    )
}


def policy_for(role: Role | str) -> RolePolicy:
    try:
        return ROLE_POLICIES[Role(role)]
    except ValueError as exc:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {role!r}; known roles: {known}") from exc


@dataclass(frozen=True, slots=True)
class AccessScope:
    """The records a principal may see: tier in ``tiers``, class in ``case_classes`` and, when
    ``owner_user_id`` is set, only records that user created. Empty sets mean nothing."""

    tiers: frozenset[SensitivityTier]
    case_classes: frozenset[CaseClass]
    owner_user_id: int | None = None
    fields: frozenset[FieldGroup] = field(default_factory=frozenset)

    @property
    def is_empty(self) -> bool:
        return not self.tiers or not self.case_classes

    def admits(self, tier: str, case_class: str, owner_user_id: int | None = None) -> bool:
        if SensitivityTier(tier) not in self.tiers or CaseClass(case_class) not in (
            self.case_classes
        ):
            return False
        return self.owner_user_id is None or owner_user_id == self.owner_user_id

    @property
    def may_include_restricted(self) -> bool:
        return any(is_restricted_case(t, c) for t in self.tiers for c in self.case_classes)


NO_ACCESS = AccessScope(frozenset(), frozenset())


def record_scope(policy: RolePolicy, user_id: int | None) -> AccessScope:
    """The scope for reading records with this role."""
    if policy.max_tier is None:
        return NO_ACCESS
    owner = user_id if policy.own_records_only else None
    if policy.own_records_only and user_id is None:
        return NO_ACCESS
    return AccessScope(policy.tiers, policy.case_classes, owner, policy.fields)


def aggregate_scope(policy: RolePolicy, user_id: int | None) -> AccessScope:
    """The scope aggregates are computed over: at least the record scope, wider for partners."""
    if policy.aggregate_max_tier is None:
        return record_scope(policy, user_id)
    return AccessScope(tiers_up_to(policy.aggregate_max_tier), policy.case_classes, None)
