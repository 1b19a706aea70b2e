"""The verification workflow of a report, as a pure state machine.

    received -> triaged -> under_verification -> verified | unverified | discarded
    (a concluded report can be reopened with a reason; verified and unverified reports are
    then linked to an incident, new or existing)

Every action takes the current :class:`Case` and returns the new case plus the
:class:`~tocsin.verify.audit.AuditEvent` describing it; nothing is mutated, nothing is stored
here. The caller writes the case and appends the audit event in one transaction.

Restricted case classes are routed only to their roles (:class:`RoutingTable`, plain data):
an officer outside those roles can neither act on the case nor be assigned to it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from tocsin.domain.grading import InformationCredibility, SourceReliability, format_grade
from tocsin.domain.taxonomy import (
    ActorKind,
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
)
from tocsin.verify.audit import AuditEvent, DetailValue

MAX_COMMENT_CHARS = 10_000
MAX_NOTE_CHARS = 2_000


class ReportState(StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    UNDER_VERIFICATION = "under_verification"
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    DISCARDED = "discarded"

    @property
    def concluded(self) -> bool:
        return self in _CONCLUDED


_CONCLUDED = frozenset({ReportState.VERIFIED, ReportState.UNVERIFIED, ReportState.DISCARDED})

# Forward moves. Reopening (concluded -> under_verification / triaged) is a separate action
# because it needs a reason.
TRANSITIONS: Mapping[ReportState, frozenset[ReportState]] = {
    ReportState.RECEIVED: frozenset({ReportState.TRIAGED, ReportState.DISCARDED}),
    ReportState.TRIAGED: frozenset({ReportState.UNDER_VERIFICATION, ReportState.DISCARDED}),
    ReportState.UNDER_VERIFICATION: frozenset(
        {ReportState.VERIFIED, ReportState.UNVERIFIED, ReportState.DISCARDED}
    ),
    ReportState.VERIFIED: frozenset(),
    ReportState.UNVERIFIED: frozenset(),
    ReportState.DISCARDED: frozenset(),
}


class Role(StrEnum):
    """Role names as used by the access-control layer (issue 4) plus conduct and discipline."""

    ADMIN = "admin"
    ANALYST = "analyst"
    HUMAN_RIGHTS_OFFICER = "human_rights_officer"
    PROTECTION_OFFICER = "protection_officer"
    CONDUCT_DISCIPLINE = "conduct_discipline"
    COMMANDER = "commander"
    FIELD_REPORTER = "field_reporter"
    PARTNER = "partner"


class WorkflowError(ValueError):
    """The action is not possible in the case's current state or with these arguments."""


class NotPermitted(PermissionError):
    """The officer's roles do not allow this action on this case class."""


@dataclass(frozen=True, slots=True)
class Officer:
    user_id: str
    roles: frozenset[str]

    def __post_init__(self) -> None:
        if not self.user_id:
            raise ValueError("an officer needs a user id")


@dataclass(frozen=True, slots=True)
class Route:
    """Who handles a case class, how sensitive its records are at least, and how fast."""

    roles: frozenset[str]
    min_sensitivity: SensitivityTier
    due_within: timedelta


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """Case class -> route. Data, so a mission can change it without touching code."""

    routes: Mapping[CaseClass, Route]

    def __post_init__(self) -> None:
        missing = set(CaseClass) - set(self.routes)
        if missing:
            raise ValueError(f"routing table has no route for {sorted(c.value for c in missing)}")
        for case_class, route in self.routes.items():
            if not route.roles:
                raise ValueError(f"route for {case_class.value} names no role")

    def route(self, case_class: CaseClass) -> Route:
        return self.routes[case_class]

    def can_handle(self, officer: Officer, case_class: CaseClass) -> bool:
        return bool(officer.roles & self.routes[case_class].roles)


DEFAULT_ROUTING = RoutingTable(
    routes={
        CaseClass.GENERAL: Route(
            roles=frozenset({Role.ANALYST, Role.HUMAN_RIGHTS_OFFICER, Role.PROTECTION_OFFICER}),
            min_sensitivity=SensitivityTier.INTERNAL,
            due_within=timedelta(hours=72),
        ),
        CaseClass.SEXUAL_VIOLENCE: Route(
            roles=frozenset({Role.PROTECTION_OFFICER}),
            min_sensitivity=SensitivityTier.RESTRICTED,
            due_within=timedelta(hours=24),
        ),
        CaseClass.CHILDREN: Route(
            roles=frozenset({Role.PROTECTION_OFFICER}),
            min_sensitivity=SensitivityTier.RESTRICTED,
            due_within=timedelta(hours=24),
        ),
        # Misconduct by mission personnel goes to conduct and discipline only: the people who
        # might be implicated (the mission's own staff) must not see the report.
        CaseClass.MISSION_PERSONNEL_MISCONDUCT: Route(
            roles=frozenset({Role.CONDUCT_DISCIPLINE}),
            min_sensitivity=SensitivityTier.CONFIDENTIAL,
            due_within=timedelta(hours=24),
        ),
    }
)


def classify_case(
    *,
    threat: PocThreatCategory | None = None,
    act_types: Iterable[ActType] = (),
    perpetrator_kinds: Iterable[ActorKind] = (),
    children_involved: bool = False,
) -> CaseClass:
    """The case class a report's content implies (a triage officer may still change it).

    Misconduct by mission personnel comes first, even when it is sexual exploitation or involves
    children: in UN missions those allegations go to conduct and discipline.
    """
    acts = set(act_types)
    if threat is PocThreatCategory.MISCONDUCT_BY_MISSION_PERSONNEL or (
        ActorKind.MISSION_PERSONNEL in set(perpetrator_kinds)
    ):
        return CaseClass.MISSION_PERSONNEL_MISCONDUCT
    if threat is PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE or (
        ActType.SEXUAL_VIOLENCE in acts
    ):
        return CaseClass.SEXUAL_VIOLENCE
    if (
        threat is PocThreatCategory.GRAVE_VIOLATION_AGAINST_CHILDREN
        or children_involved
        or ActType.ATTACK_ON_SCHOOL in acts
    ):
        return CaseClass.CHILDREN
    return CaseClass.GENERAL


@dataclass(frozen=True, slots=True)
class Comment:
    author: str
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Case:
    """The verification state of one report."""

    report_id: str
    state: ReportState
    case_class: CaseClass
    sensitivity: SensitivityTier
    received_at: datetime
    assignee: str | None = None
    due: datetime | None = None
    reliability: SourceReliability | None = None
    credibility: InformationCredibility | None = None
    comments: tuple[Comment, ...] = ()
    incident_id: str | None = None
    conclusion_note: str | None = None
    version: int = 1  # bumped by every action: the store uses it for optimistic locking

    @property
    def grade(self) -> str | None:
        if self.reliability is None or self.credibility is None:
            return None
        return format_grade(self.reliability, self.credibility)


@dataclass(frozen=True, slots=True)
class Workflow:
    """The actions, bound to a routing table."""

    routing: RoutingTable = field(default=DEFAULT_ROUTING)

    # -- creation -----------------------------------------------------------------------------

    def receive(
        self,
        report_id: str,
        *,
        received_at: datetime,
        case_class: CaseClass = CaseClass.GENERAL,
        sensitivity: SensitivityTier = SensitivityTier.INTERNAL,
        channel: str = "unknown",
    ) -> tuple[Case, AuditEvent]:
        """A new case for a just-committed report, routed by its (provisional) case class."""
        _aware(received_at)
        if not report_id:
            raise WorkflowError("a case needs a report id")
        route = self.routing.route(case_class)
        case = Case(
            report_id=report_id,
            state=ReportState.RECEIVED,
            case_class=case_class,
            sensitivity=_at_least(sensitivity, route.min_sensitivity),
            received_at=received_at,
            due=received_at + route.due_within,
        )
        return case, self._audit(
            "report.received",
            "system:intake",
            case,
            received_at,
            to_state=case.state.value,
            case_class=case_class.value,
            channel=channel,
        )

    # -- transitions --------------------------------------------------------------------------

    def triage(
        self,
        case: Case,
        by: Officer,
        *,
        now: datetime,
        case_class: CaseClass | None = None,
        sensitivity: SensitivityTier | None = None,
    ) -> tuple[Case, AuditEvent]:
        """Confirms or corrects the case class and tier; the due date follows the new route."""
        self._check_can_act(by, case)
        self._check_move(case, ReportState.TRIAGED)
        new_class = case_class or case.case_class
        route = self.routing.route(new_class)
        tier = _at_least(sensitivity or case.sensitivity, route.min_sensitivity)
        due = case.due
        if new_class is not case.case_class:
            due = min(d for d in (case.due, now + route.due_within) if d is not None)
        new = self._next(
            case, state=ReportState.TRIAGED, case_class=new_class, sensitivity=tier, due=due
        )
        if new.assignee is not None and not self._assignee_allowed(new.assignee, by, new):
            # Reclassified out of the assignee's remit: unassign rather than leak it.
            new = replace(new, assignee=None)
        return new, self._audit(
            "report.triaged",
            by.user_id,
            new,
            now,
            from_state=case.state.value,
            to_state=new.state.value,
            case_class=new_class.value,
            previous_case_class=case.case_class.value,
            sensitivity=tier.value,
        )

    def start_verification(
        self, case: Case, by: Officer, *, now: datetime
    ) -> tuple[Case, AuditEvent]:
        self._check_can_act(by, case)
        self._check_move(case, ReportState.UNDER_VERIFICATION)
        new = self._next(case, state=ReportState.UNDER_VERIFICATION)
        if new.assignee is None:
            new = replace(new, assignee=by.user_id)  # whoever starts it owns it until reassigned
        return new, self._audit(
            "report.verification_started",
            by.user_id,
            new,
            now,
            from_state=case.state.value,
            to_state=new.state.value,
            assignee=new.assignee,
        )

    def conclude(
        self,
        case: Case,
        by: Officer,
        *,
        outcome: ReportState,
        now: datetime,
        note: str | None = None,
    ) -> tuple[Case, AuditEvent]:
        """verified / unverified / discarded.

        Verified needs an Admiralty grade with credibility 1 or 2; unverified needs a grade
        (and cannot claim "confirmed"); discarding needs a note saying why.
        """
        self._check_can_act(by, case)
        if outcome not in _CONCLUDED:
            raise WorkflowError(
                f"{outcome.value} is not an outcome (verified/unverified/discarded)"
            )
        self._check_move(case, outcome)
        note = _clean_text(note, MAX_NOTE_CHARS, "note") if note else None
        if outcome is ReportState.VERIFIED:
            if case.credibility not in (
                InformationCredibility.CONFIRMED,
                InformationCredibility.PROBABLY_TRUE,
            ):
                raise WorkflowError(
                    "a verified report needs an Admiralty grade with credibility 1 or 2"
                )
        elif outcome is ReportState.UNVERIFIED:
            if case.grade is None:
                raise WorkflowError("grade the report (A-F / 1-6) before concluding unverified")
            if case.credibility is InformationCredibility.CONFIRMED:
                raise WorkflowError("a report confirmed by other sources is not unverified")
        elif note is None:
            raise WorkflowError("say why the report is discarded")
        new = self._next(case, state=outcome, conclusion_note=note)
        return new, self._audit(
            f"report.{outcome.value}",
            by.user_id,
            new,
            now,
            from_state=case.state.value,
            to_state=outcome.value,
            grade=new.grade,
        )

    def reopen(
        self, case: Case, by: Officer, *, reason: str, now: datetime
    ) -> tuple[Case, AuditEvent]:
        """New information: a concluded report goes back to verification (discarded: triage)."""
        self._check_can_act(by, case)
        if not case.state.concluded:
            raise WorkflowError(f"only a concluded report can be reopened, not {case.state.value}")
        _clean_text(reason, MAX_NOTE_CHARS, "reason")
        target = (
            ReportState.TRIAGED
            if case.state is ReportState.DISCARDED
            else ReportState.UNDER_VERIFICATION
        )
        new = self._next(case, state=target, conclusion_note=None)
        return new, self._audit(
            "report.reopened",
            by.user_id,
            new,
            now,
            from_state=case.state.value,
            to_state=target.value,
        )

    # -- case management ----------------------------------------------------------------------

    def assign(
        self,
        case: Case,
        by: Officer,
        *,
        assignee: Officer,
        now: datetime,
        due: datetime | None = None,
    ) -> tuple[Case, AuditEvent]:
        """Gives the case to an officer whose roles may handle its class."""
        self._check_can_act(by, case)
        if case.state.concluded:
            raise WorkflowError("a concluded report cannot be assigned; reopen it first")
        if not self.routing.can_handle(assignee, case.case_class):
            raise NotPermitted(
                f"{assignee.user_id} has no role that handles {case.case_class.value} cases"
            )
        if due is not None:
            _aware(due)
        new = self._next(case, assignee=assignee.user_id, due=due or case.due)
        return new, self._audit(
            "report.assigned",
            by.user_id,
            new,
            now,
            assignee=assignee.user_id,
            previous_assignee=case.assignee,
            due=new.due.isoformat() if new.due else None,
        )

    def set_due(
        self, case: Case, by: Officer, *, due: datetime, now: datetime
    ) -> tuple[Case, AuditEvent]:
        self._check_can_act(by, case)
        _aware(due)
        new = self._next(case, due=due)
        return new, self._audit(
            "report.due_changed",
            by.user_id,
            new,
            now,
            due=due.isoformat(),
            previous_due=case.due.isoformat() if case.due else None,
        )

    def comment(
        self, case: Case, by: Officer, *, text: str, now: datetime
    ) -> tuple[Case, AuditEvent]:
        """Adds a comment. The text is stored as written and escaped wherever it is shown; the
        audit event records that a comment was made, never its text (it may name people)."""
        self._check_can_act(by, case)
        clean = _clean_text(text, MAX_COMMENT_CHARS, "comment")
        new = self._next(case, comments=(*case.comments, Comment(by.user_id, now, clean)))
        return new, self._audit(
            "report.commented", by.user_id, new, now, comment_index=len(new.comments) - 1
        )

    def grade(
        self,
        case: Case,
        by: Officer,
        *,
        reliability: SourceReliability,
        credibility: InformationCredibility,
        now: datetime,
    ) -> tuple[Case, AuditEvent]:
        """Admiralty grading: source reliability (A-F) and information credibility (1-6)."""
        self._check_can_act(by, case)
        if case.state.concluded:
            raise WorkflowError("a concluded report's grade is final; reopen it to regrade")
        new = self._next(case, reliability=reliability, credibility=credibility)
        return new, self._audit(
            "report.graded",
            by.user_id,
            new,
            now,
            grade=new.grade,
            previous_grade=case.grade,
        )

    def link_incident(
        self,
        case: Case,
        by: Officer,
        *,
        incident_id: str,
        created_new: bool,
        now: datetime,
    ) -> tuple[Case, AuditEvent]:
        """Links a verified or unverified report to an incident (new or existing)."""
        self._check_can_act(by, case)
        if case.state not in (ReportState.VERIFIED, ReportState.UNVERIFIED):
            raise WorkflowError(
                f"only verified or unverified reports are linked to incidents, not "
                f"{case.state.value}"
            )
        if not incident_id:
            raise WorkflowError("an incident id is required")
        new = self._next(case, incident_id=incident_id)
        return new, self._audit(
            "report.linked",
            by.user_id,
            new,
            now,
            incident_id=incident_id,
            created_new_incident=created_new,
            previous_incident_id=case.incident_id,
        )

    # -- queries ------------------------------------------------------------------------------

    def can_see(self, officer: Officer, case: Case) -> bool:
        return self.routing.can_handle(officer, case.case_class)

    def visible(self, officer: Officer, cases: Iterable[Case]) -> list[Case]:
        """The cases routed to this officer's roles (filter queues and lists with it)."""
        return [c for c in cases if self.can_see(officer, c)]

    @staticmethod
    def is_overdue(case: Case, now: datetime) -> bool:
        return case.due is not None and not case.state.concluded and now > case.due

    # -- internals ----------------------------------------------------------------------------

    def _check_can_act(self, by: Officer, case: Case) -> None:
        if not self.routing.can_handle(by, case.case_class):
            raise NotPermitted(
                f"{by.user_id} has no role that handles {case.case_class.value} cases"
            )

    def _assignee_allowed(self, assignee_id: str, by: Officer, case: Case) -> bool:
        # We only know the roles of the acting officer; an assignee other than the actor must be
        # re-checked by the caller, so reclassification clears any assignment we cannot vouch for.
        return assignee_id == by.user_id and self.routing.can_handle(by, case.case_class)

    @staticmethod
    def _check_move(case: Case, target: ReportState) -> None:
        if target not in TRANSITIONS[case.state]:
            raise WorkflowError(f"a {case.state.value} report cannot become {target.value}")

    @staticmethod
    def _next(case: Case, **changes: object) -> Case:
        return replace(case, version=case.version + 1, **changes)  # type: ignore[arg-type]

    @staticmethod
    def _audit(
        action: str, actor: str, case: Case, at: datetime, **details: DetailValue
    ) -> AuditEvent:
        _aware(at)
        return AuditEvent(
            action=action,
            actor=actor,
            subject_type="report",
            subject_id=case.report_id,
            at=at,
            details={"version": case.version, **details},
        )


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise WorkflowError("times must be timezone-aware")


def _at_least(tier: SensitivityTier, floor: SensitivityTier) -> SensitivityTier:
    return tier if tier.rank >= floor.rank else floor


def _clean_text(text: str | None, limit: int, what: str) -> str:
    """Rejects empty, oversized or control-character text; keeps newlines and tabs."""
    if text is None or not text.strip():
        raise WorkflowError(f"the {what} is empty")
    if len(text) > limit:
        raise WorkflowError(f"the {what} is longer than {limit} characters")
    bad = [ch for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\t"]
    if bad:
        raise WorkflowError(f"the {what} contains control characters")
    return text.strip()
