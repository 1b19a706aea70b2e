"""The verification state machine, routing of restricted case classes, and audit events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tocsin.domain.grading import InformationCredibility as Cred
from tocsin.domain.grading import SourceReliability as Rel
from tocsin.domain.taxonomy import (
    ActorKind,
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
)
from tocsin.verify.workflow import (
    DEFAULT_ROUTING,
    TRANSITIONS,
    NotPermitted,
    Officer,
    ReportState,
    Role,
    Route,
    RoutingTable,
    Workflow,
    WorkflowError,
    classify_case,
)

T0 = datetime(2024, 5, 20, 8, 0, tzinfo=UTC)
ANALYST = Officer("u-analyst", frozenset({Role.ANALYST}))
PROTECTION = Officer("u-protection", frozenset({Role.PROTECTION_OFFICER}))
CDT = Officer("u-cdt", frozenset({Role.CONDUCT_DISCIPLINE}))
ADMIN = Officer("u-admin", frozenset({Role.ADMIN}))
wf = Workflow()


def verified_case():
    case, _ = wf.receive("r1", received_at=T0, channel="sms")
    case, _ = wf.triage(case, ANALYST, now=T0)
    case, _ = wf.start_verification(case, ANALYST, now=T0)
    case, _ = wf.grade(case, ANALYST, reliability=Rel.B, credibility=Cred.PROBABLY_TRUE, now=T0)
    case, _ = wf.conclude(case, ANALYST, outcome=ReportState.VERIFIED, now=T0)
    return case


def test_happy_path_produces_one_audit_event_per_action() -> None:
    events = []
    case, ev = wf.receive("r1", received_at=T0, channel="sms")
    events.append(ev)
    assert case.state is ReportState.RECEIVED
    assert case.due == T0 + timedelta(hours=72)
    assert case.sensitivity is SensitivityTier.INTERNAL
    for step in (
        lambda c: wf.triage(c, ANALYST, now=T0),
        lambda c: wf.assign(c, ANALYST, assignee=ANALYST, now=T0),
        lambda c: wf.start_verification(c, ANALYST, now=T0),
        lambda c: wf.comment(c, ANALYST, text="Called the focal point <b>x</b>", now=T0),
        lambda c: wf.grade(c, ANALYST, reliability=Rel.B, credibility=Cred.CONFIRMED, now=T0),
        lambda c: wf.conclude(c, ANALYST, outcome=ReportState.VERIFIED, now=T0),
        lambda c: wf.link_incident(c, ANALYST, incident_id="inc-9", created_new=True, now=T0),
    ):
        before = case.version
        case, ev = step(case)
        events.append(ev)
        assert case.version == before + 1
    assert case.state is ReportState.VERIFIED and case.incident_id == "inc-9"
    assert case.grade == "B1"
    assert case.comments[0].text == "Called the focal point <b>x</b>"  # stored as written
    assert [e.action for e in events] == [
        "report.received",
        "report.triaged",
        "report.assigned",
        "report.verification_started",
        "report.commented",
        "report.graded",
        "report.verified",
        "report.linked",
    ]
    assert all(e.subject_id == "r1" and e.at.tzinfo for e in events)
    assert "focal point" not in str([e.to_dict() for e in events])  # no comment text in audit
    assert events[6].details == {
        "version": 7,
        "from_state": "under_verification",
        "to_state": "verified",
        "grade": "B1",
    }


@pytest.mark.parametrize("state", list(ReportState))
def test_every_illegal_forward_move_is_refused(state: ReportState) -> None:
    case, _ = wf.receive("r", received_at=T0)
    case = replace(case, state=state, credibility=Cred.PROBABLY_TRUE, reliability=Rel.B)
    attempts = {
        ReportState.TRIAGED: lambda: wf.triage(case, ANALYST, now=T0),
        ReportState.UNDER_VERIFICATION: lambda: wf.start_verification(case, ANALYST, now=T0),
        ReportState.VERIFIED: lambda: wf.conclude(
            case, ANALYST, outcome=ReportState.VERIFIED, now=T0
        ),
    }
    for target, attempt in attempts.items():
        if target in TRANSITIONS[state]:
            attempt()
        else:
            with pytest.raises(WorkflowError, match="cannot become"):
                attempt()


def test_conclusion_rules_follow_the_grade() -> None:
    case, _ = wf.receive("r", received_at=T0)
    case, _ = wf.triage(case, ANALYST, now=T0)
    case, _ = wf.start_verification(case, ANALYST, now=T0)
    with pytest.raises(WorkflowError, match="credibility 1 or 2"):
        wf.conclude(case, ANALYST, outcome=ReportState.VERIFIED, now=T0)
    with pytest.raises(WorkflowError, match="grade"):
        wf.conclude(case, ANALYST, outcome=ReportState.UNVERIFIED, now=T0)
    with pytest.raises(WorkflowError, match="why"):
        wf.conclude(case, ANALYST, outcome=ReportState.DISCARDED, now=T0)
    with pytest.raises(WorkflowError, match="not an outcome"):
        wf.conclude(case, ANALYST, outcome=ReportState.TRIAGED, now=T0)
    graded, _ = wf.grade(case, ANALYST, reliability=Rel.F, credibility=Cred.CONFIRMED, now=T0)
    with pytest.raises(WorkflowError, match="confirmed"):
        wf.conclude(graded, ANALYST, outcome=ReportState.UNVERIFIED, now=T0)
    discarded, ev = wf.conclude(
        case, ANALYST, outcome=ReportState.DISCARDED, now=T0, note="prank message"
    )
    assert discarded.conclusion_note == "prank message" and ev.action == "report.discarded"
    with pytest.raises(WorkflowError, match="only verified or unverified"):
        wf.link_incident(discarded, ANALYST, incident_id="i", created_new=False, now=T0)


def test_reopen_needs_a_reason_and_goes_back() -> None:
    case = verified_case()
    with pytest.raises(WorkflowError, match="empty"):
        wf.reopen(case, ANALYST, reason="  ", now=T0)
    reopened, ev = wf.reopen(case, ANALYST, reason="new witness", now=T0)
    assert reopened.state is ReportState.UNDER_VERIFICATION and ev.action == "report.reopened"
    with pytest.raises(WorkflowError, match="only a concluded"):
        wf.reopen(reopened, ANALYST, reason="again", now=T0)
    with pytest.raises(WorkflowError, match="final"):
        wf.grade(case, ANALYST, reliability=Rel.A, credibility=Cred.CONFIRMED, now=T0)


@pytest.mark.parametrize(
    ("case_class", "allowed", "denied"),
    [
        (CaseClass.SEXUAL_VIOLENCE, PROTECTION, ANALYST),
        (CaseClass.CHILDREN, PROTECTION, CDT),
        (CaseClass.MISSION_PERSONNEL_MISCONDUCT, CDT, PROTECTION),
        (CaseClass.MISSION_PERSONNEL_MISCONDUCT, CDT, ADMIN),
        (CaseClass.GENERAL, ANALYST, CDT),
    ],
)
def test_restricted_classes_are_routed_only_to_their_roles(
    case_class: CaseClass, allowed: Officer, denied: Officer
) -> None:
    case, _ = wf.receive("r", received_at=T0, case_class=case_class)
    assert wf.can_see(allowed, case) and not wf.can_see(denied, case)
    assert wf.visible(denied, [case]) == []
    wf.triage(case, allowed, now=T0)
    with pytest.raises(NotPermitted):
        wf.triage(case, denied, now=T0)
    with pytest.raises(NotPermitted):
        wf.comment(case, denied, text="peek", now=T0)
    with pytest.raises(NotPermitted):
        wf.assign(case, allowed, assignee=denied, now=T0)
    if case_class is not CaseClass.GENERAL:
        assert case.sensitivity.rank >= SensitivityTier.RESTRICTED.rank
        assert case.due == T0 + timedelta(hours=24)


def test_reclassification_tightens_tier_and_due_and_drops_foreign_assignee() -> None:
    case, _ = wf.receive("r", received_at=T0)
    case, _ = wf.assign(case, ANALYST, assignee=PROTECTION, now=T0)
    later = T0 + timedelta(hours=1)
    triaged, ev = wf.triage(case, ANALYST, now=later, case_class=CaseClass.SEXUAL_VIOLENCE)
    assert triaged.sensitivity is SensitivityTier.RESTRICTED
    assert triaged.due == later + timedelta(hours=24)
    assert triaged.assignee is None  # the caller re-assigns after checking roles
    assert ev.details["previous_case_class"] == "general"
    # The analyst no longer sees it.
    with pytest.raises(NotPermitted):
        wf.comment(triaged, ANALYST, text="x", now=later)


def test_overdue_and_due_changes() -> None:
    case, _ = wf.receive("r", received_at=T0)
    assert not wf.is_overdue(case, T0 + timedelta(hours=71))
    assert wf.is_overdue(case, T0 + timedelta(hours=73))
    moved, ev = wf.set_due(case, ANALYST, due=T0 + timedelta(days=7), now=T0)
    assert not wf.is_overdue(moved, T0 + timedelta(hours=73))
    assert ev.details["previous_due"] == case.due.isoformat()
    with pytest.raises(WorkflowError, match="timezone"):
        wf.set_due(case, ANALYST, due=datetime(2024, 6, 1), now=T0)
    assert not wf.is_overdue(verified_case(), T0 + timedelta(days=30))


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("   ", "empty"), ("x" * 10_001, "longer"), ("a\x00b", "control")],
)
def test_comment_rejects_hostile_text(text: str, message: str) -> None:
    case, _ = wf.receive("r", received_at=T0)
    with pytest.raises(WorkflowError, match=message):
        wf.comment(case, ANALYST, text=text, now=T0)


def test_classify_case_precedence() -> None:
    assert classify_case() is CaseClass.GENERAL
    assert classify_case(act_types=[ActType.SEXUAL_VIOLENCE]) is CaseClass.SEXUAL_VIOLENCE
    assert classify_case(children_involved=True) is CaseClass.CHILDREN
    assert classify_case(act_types=[ActType.ATTACK_ON_SCHOOL]) is CaseClass.CHILDREN
    # Sexual exploitation by peacekeepers goes to conduct and discipline.
    assert (
        classify_case(
            threat=PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE,
            perpetrator_kinds=[ActorKind.MISSION_PERSONNEL],
        )
        is CaseClass.MISSION_PERSONNEL_MISCONDUCT
    )


def test_routing_table_is_validated_data() -> None:
    with pytest.raises(ValueError, match="no route"):
        RoutingTable(routes={CaseClass.GENERAL: DEFAULT_ROUTING.route(CaseClass.GENERAL)})
    routes = dict(DEFAULT_ROUTING.routes)
    routes[CaseClass.CHILDREN] = Route(frozenset(), SensitivityTier.RESTRICTED, timedelta(1))
    with pytest.raises(ValueError, match="names no role"):
        RoutingTable(routes=routes)
    # A mission can give children's cases to a dedicated child-protection role.
    routes[CaseClass.CHILDREN] = Route(
        frozenset({"child_protection"}), SensitivityTier.RESTRICTED, timedelta(hours=12)
    )
    custom = Workflow(RoutingTable(routes=routes))
    case, _ = custom.receive("r", received_at=T0, case_class=CaseClass.CHILDREN)
    assert not custom.can_see(PROTECTION, case)
    assert custom.can_see(Officer("cp", frozenset({"child_protection"})), case)


def test_naive_times_and_bad_ids_are_refused() -> None:
    with pytest.raises(WorkflowError, match="timezone"):
        wf.receive("r", received_at=datetime(2024, 5, 20))
    with pytest.raises(WorkflowError, match="report id"):
        wf.receive("", received_at=T0)
    with pytest.raises(ValueError):
        Officer("", frozenset())
