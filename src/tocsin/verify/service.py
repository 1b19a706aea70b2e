"""The verification workflow, applied to stored reports: one transaction per action.

Every action follows the same steps, all on the caller's connection (so in the caller's
transaction; nothing is committed here):

1. load the case (``tocsin.intake.repository.load_case``);
2. check who may act: the case must be routed to the caller's role (``verify.routing``) and
   its tier within the caller's reach; the caller's ``expected_version`` must be the stored one;
3. act (the pure ``Workflow``);
4. save with the optimistic lock (``save_case(..., expected_version=...)``);
5. append the action's audit event to the hash-chained ledger (``tocsin.security.audit``).

If any step fails the caller rolls back and nothing is half-written: the case, its comments,
its incident link and the ledger entry commit together or not at all.

Who sees a case (``access``): *handlers* (the case class is routed to their role and the tier
is within their policy) act on it; *readers* (a role with read access to that tier and class,
such as a commander) only read it; the *submitter* of a report filed through the API reads it
back (field reporters see nothing else). Anyone else gets "not found", so that the existence of
a restricted report does not leak.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActorRole,
    ActType,
    CaseClass,
    DatePrecision,
    LocationPrecision,
    PocThreatCategory,
    SensitivityTier,
)
from tocsin.geo.prio_grid import gid_for_point
from tocsin.intake import repository
from tocsin.security import audit
from tocsin.security.audit import PendingEntry
from tocsin.security.policies import policy_for
from tocsin.security.principal import Principal
from tocsin.security.users import get_user
from tocsin.store import schema as s
from tocsin.store.event_writer import EventWriter
from tocsin.store.queries import EventQuery, Scope, get_event, search_events
from tocsin.store.schema_intake import intake_reports, report_cases
from tocsin.store.schema_verify import report_links, report_merges, report_submitters
from tocsin.verify.audit import AuditEvent
from tocsin.verify.case_snapshot import case_from_dict, case_to_dict
from tocsin.verify.engine import CorroborationEngine, Suggestion
from tocsin.verify.records import CandidateRecord, kinds_for, record_from_event
from tocsin.verify.routing import SUBMITTER_ROLES, mission_routing, officer_of
from tocsin.verify.workflow import (
    Case,
    NotPermitted,
    Officer,
    ReportState,
    Workflow,
    WorkflowError,
)

REPORT_DATASET = "tocsin-report"  # dataset of incidents created from a report
SUGGEST_DAYS = 14  # reports and events this many days either side are compared
SUGGEST_RADIUS_KM = 150.0
SUGGEST_POOL = 500  # at most this many candidates of each kind are scored
MAX_MERGE_MEMBERS = 20


class Access(StrEnum):
    HANDLER = "handler"  # may act on the case
    READER = "reader"  # may read it (a viewer role)
    SUBMITTER = "submitter"  # filed it through the API; reads it back, coarsened if restricted
    NONE = "none"


class ReportNotFound(LookupError):
    """No such report, or not one the caller may see (the two look the same)."""


class StaleVersion(RuntimeError):
    """The case changed since the caller read it."""

    def __init__(self, report_id: str, expected: int, current: int) -> None:
        super().__init__(
            f"report {report_id} is at version {current}, not {expected}: "
            "reload it and apply your change again"
        )
        self.current = current


class MergeNotFound(LookupError):
    pass


class MergeConflict(RuntimeError):
    """A member changed after the merge: undoing would discard that change."""


# -- access ------------------------------------------------------------------------------------


def workflow() -> Workflow:
    return Workflow(mission_routing())


def submitter_of(conn: Connection, report_id: str) -> int | None:
    return conn.scalar(
        select(report_submitters.c.user_id).where(report_submitters.c.report_id == report_id)
    )


def record_submitter(conn: Connection, report_id: str, user_id: int, now: datetime) -> None:
    conn.execute(
        insert(report_submitters),
        {"report_id": report_id, "user_id": user_id, "submitted_at": now},
    )


def access(principal: Principal, case: Case, submitter_id: int | None) -> Access:
    if principal.user_id is None:
        return Access.NONE
    policy = principal.policy
    in_tier = case.sensitivity in policy.tiers
    if principal.role not in SUBMITTER_ROLES and in_tier:
        if mission_routing().can_handle(officer_of(principal), case.case_class):
            return Access.HANDLER
        if case.case_class in policy.case_classes and not policy.own_records_only:
            return Access.READER
    if submitter_id is not None and submitter_id == principal.user_id:
        return Access.SUBMITTER
    return Access.NONE


def queue_scope(principal: Principal) -> tuple[frozenset[CaseClass], frozenset[SensitivityTier]]:
    """Case classes and tiers of the queue a (non-submitter) principal reads."""
    policy = principal.policy
    if principal.user_id is None or principal.role in SUBMITTER_ROLES or policy.own_records_only:
        return frozenset(), frozenset()
    return frozenset(policy.case_classes), frozenset(policy.tiers)


def own_report_ids(
    conn: Connection, user_id: int, limit: int, after: tuple[datetime, str] | None
) -> list[str]:
    """The reports this user filed, oldest first like the queue; keyset paging on
    (submission time, report id)."""
    t = report_submitters.c
    stmt = select(t.report_id).where(t.user_id == user_id)
    if after is not None:
        at, rid = after[0].astimezone(UTC), after[1]
        stmt = stmt.where(or_(t.submitted_at > at, and_(t.submitted_at == at, t.report_id > rid)))
    return list(conn.scalars(stmt.order_by(t.submitted_at, t.report_id).limit(limit)))


@dataclass(frozen=True, slots=True)
class Visible:
    case: Case
    access: Access
    submitter_id: int | None


def load_visible(conn: Connection, principal: Principal, report_id: str) -> Visible:
    case = repository.load_case(conn, report_id)
    if case is None:
        raise ReportNotFound(report_id)
    submitter = submitter_of(conn, report_id)
    seen = access(principal, case, submitter)
    if seen is Access.NONE:
        raise ReportNotFound(report_id)
    return Visible(case, seen, submitter)


def _for_handler(conn: Connection, principal: Principal, report_id: str) -> Case:
    found = load_visible(conn, principal, report_id)
    if found.access is not Access.HANDLER:
        raise NotPermitted("your role may read this report but not act on it")
    return found.case


# -- the ledger --------------------------------------------------------------------------------


def _ledger(conn: Connection, principal: Principal, events: Sequence[AuditEvent]) -> None:
    """Appends the workflow's audit events to the ledger, in the caller's transaction."""
    audit.append(
        conn,
        [
            PendingEntry(
                principal.actor(),
                e.action,
                f"{e.subject_type}:{e.subject_id}",
                {k: v for k, v in e.details.items() if v is not None},
            )
            for e in events
        ],
        events[-1].at if events else None,
    )


def _save(
    conn: Connection,
    principal: Principal,
    old: Case,
    steps: Sequence[tuple[Case, AuditEvent]],
) -> Case:
    new = steps[-1][0]
    try:
        repository.save_case(conn, new, expected_version=old.version)
    except repository.StaleCase as exc:
        current = repository.load_case(conn, old.report_id)
        raise StaleVersion(old.report_id, old.version, current.version if current else 0) from exc
    _ledger(conn, principal, [ev for _, ev in steps])
    return new


def _check_version(case: Case, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != case.version:
        raise StaleVersion(case.report_id, expected_version, case.version)


# -- transitions -------------------------------------------------------------------------------

Step = Callable[[Workflow, Case, Officer], tuple[Case, AuditEvent]]


def act(
    conn: Connection,
    principal: Principal,
    report_id: str,
    step: Step,
    *,
    expected_version: int | None,
) -> Case:
    """Loads, checks, applies ``step`` (a pure workflow action), saves and audits."""
    case = _for_handler(conn, principal, report_id)
    _check_version(case, expected_version)
    wf = workflow()
    result = step(wf, case, officer_of(principal))
    return _save(conn, principal, case, [result])


def triage(
    conn: Connection,
    principal: Principal,
    report_id: str,
    *,
    now: datetime,
    expected_version: int | None,
    case_class: CaseClass | None = None,
    sensitivity: SensitivityTier | None = None,
) -> Case:
    case = _for_handler(conn, principal, report_id)
    _check_version(case, expected_version)
    wf = workflow()
    officer = officer_of(principal)
    new, event = wf.triage(case, officer, now=now, case_class=case_class, sensitivity=sensitivity)
    if new.sensitivity not in principal.policy.tiers:
        # Raising the tier above one's own reach would lock oneself out mid-case.
        raise NotPermitted(f"you may not raise this report to the {new.sensitivity.value} tier")
    return _save(conn, principal, case, [(new, event)])


def assign(
    conn: Connection,
    principal: Principal,
    report_id: str,
    *,
    assignee_user_id: int,
    now: datetime,
    expected_version: int | None,
    due: datetime | None = None,
) -> Case:
    case = _for_handler(conn, principal, report_id)
    _check_version(case, expected_version)
    user = get_user(conn, assignee_user_id)
    if user is None or user.disabled:
        raise WorkflowError("no active user with that id")
    assignee = Officer(str(user.id), frozenset({user.role.value}))
    if case.sensitivity not in user_policy_tiers(user.role):
        raise NotPermitted(f"user {user.id} may not read {case.sensitivity.value} reports")
    result = workflow().assign(case, officer_of(principal), assignee=assignee, now=now, due=due)
    return _save(conn, principal, case, [result])


def user_policy_tiers(role: Any) -> frozenset[SensitivityTier]:
    return policy_for(role).tiers


def conclude(
    conn: Connection,
    principal: Principal,
    report_id: str,
    *,
    outcome: ReportState,
    now: datetime,
    expected_version: int | None,
    note: str | None = None,
) -> Case:
    """verified / unverified / discarded. A triaged report is put under verification first
    (two ledger entries), so an officer can conclude straight from the triaged state."""
    case = _for_handler(conn, principal, report_id)
    _check_version(case, expected_version)
    wf = workflow()
    officer = officer_of(principal)
    steps: list[tuple[Case, AuditEvent]] = []
    current = case
    if current.state is ReportState.TRIAGED and outcome is not ReportState.DISCARDED:
        steps.append(wf.start_verification(current, officer, now=now))
        current = steps[-1][0]
    steps.append(wf.conclude(current, officer, outcome=outcome, now=now, note=note))
    return _save(conn, principal, case, steps)


# -- incidents ---------------------------------------------------------------------------------


def _intake_of(stored: Any) -> Any:
    return getattr(stored, "report", stored)


def event_from_report(report_id: str, report: Any, case: Case) -> Event:
    """A new incident built from a report, marked as coming from it (dataset ``tocsin-report``,
    original id = report id, the report as its graded source)."""
    day: date = report.occurred_on or report.received_at.date()
    lat, lon = report.latitude, report.longitude
    precision = None
    if lat is not None:
        accurate = (report.location_accuracy_m or 2000.0) <= 2000.0
        precision = LocationPrecision.EXACT if accurate else LocationPrecision.NEAR
    actors: tuple[ActorLink, ...] = ()
    if report.perpetrator_name or report.perpetrator_kind:
        actors = (
            ActorLink(
                report.perpetrator_name or "unidentified",
                ActorRole.PERPETRATOR,
                report.perpetrator_kind or ActorKind.UNKNOWN,
            ),
        )
    source = SourceRef(
        name=f"report via {report.channel}",
        reference=report_id,
        published=None,
        reliability=case.reliability or SourceReliability.F,
        credibility=case.credibility or InformationCredibility.CANNOT_BE_JUDGED,
    )
    return Event(
        provenance=Provenance(REPORT_DATASET, report_id),
        date_start=day,
        date_end=day,
        date_precision=DatePrecision.DAY,
        latitude=lat,
        longitude=lon,
        location_precision=precision,
        place_name=report.place_name,
        priogrid_gid=gid_for_point(lat, lon) if lat is not None else None,
        threat_category=report.threat,
        act_types=tuple(report.act_types),
        actors=actors,
        fatalities_best=report.killed,
        sources=(source,),
        sensitivity=case.sensitivity,
        case_class=case.case_class,
        description=report.text or None,
    )


def store_scope(principal: Principal) -> Scope:
    policy = principal.policy
    return Scope(policy.tiers, policy.case_classes)


def link(
    conn: Connection,
    principal: Principal,
    report_id: str,
    *,
    now: datetime,
    expected_version: int | None,
    incident_uid: str | None = None,
) -> tuple[Case, str]:
    """Links a concluded report to an existing incident (``incident_uid``) or to a new one
    created from the report (``incident_uid=None``). Returns the case and the incident uid."""
    case = _for_handler(conn, principal, report_id)
    _check_version(case, expected_version)
    wf = workflow()
    officer = officer_of(principal)
    if incident_uid is None:
        stored = repository.load_report(conn, report_id)
        if stored is None:
            raise ReportNotFound(report_id)
        event = event_from_report(report_id, _intake_of(stored), case)
        problems = event.problems(now.date())
        if problems:
            raise WorkflowError("the report cannot become an incident: " + "; ".join(problems))
        # Checked before writing, so a refused link leaves no orphan incident behind.
        wf.link_incident(case, officer, incident_id=event.uid, created_new=True, now=now)
        EventWriter(conn).write([event])
        uid, created = event.uid, True
    else:
        found = get_event(conn, incident_uid, store_scope(principal))
        if found is None:
            raise ReportNotFound(f"incident {incident_uid}")
        if _rank(found.event.case_class, found.event.sensitivity) < _rank(
            case.case_class, case.sensitivity
        ):
            # A restricted report under a less protected incident would show its existence
            # (and its link) to everyone who reads that incident.
            raise WorkflowError(
                "this incident is less protected than the report: raise its tier or case "
                "class first, or create a new incident"
            )
        uid, created = found.uid, False
    new, event_audit = wf.link_incident(
        case, officer, incident_id=uid, created_new=created, now=now
    )
    saved = _save(conn, principal, case, [(new, event_audit)])
    values = {
        "event_uid": uid,
        "created_new": created,
        "linked_by": principal.user_id,
        "linked_at": now,
    }
    changed = conn.execute(
        update(report_links).where(report_links.c.report_id == report_id).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(report_links), {"report_id": report_id, **values})
    return saved, uid


_CLASS_RANK = {
    CaseClass.GENERAL: 0,
    CaseClass.CHILDREN: 1,
    CaseClass.SEXUAL_VIOLENCE: 1,
    CaseClass.MISSION_PERSONNEL_MISCONDUCT: 2,
}


def _rank(case_class: CaseClass, tier: SensitivityTier) -> tuple[int, int]:
    return (_CLASS_RANK[case_class], tier.rank)


def linked_reports(conn: Connection, principal: Principal, event_uid: str) -> list[Visible]:
    """Reports linked to an incident that the caller may see."""
    ids = conn.scalars(
        select(report_links.c.report_id)
        .where(report_links.c.event_uid == event_uid)
        .order_by(report_links.c.linked_at, report_links.c.report_id)
        .limit(500)
    )
    out = []
    for report_id in ids:
        try:
            out.append(load_visible(conn, principal, report_id))
        except ReportNotFound:
            continue
    return out


# -- corroboration -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuggestionView:
    kind: str  # "report" or "event"
    candidate_id: str
    score: float
    relation: str
    reason: str


def _candidate_from_row(row: Any) -> CandidateRecord:
    day = row.occurred_on or row.received_at.date()
    radius = None
    if row.lat is not None:
        radius = max((row.location_accuracy_m or 2000.0) / 1000.0, 0.5)
    acts = tuple(ActType(a) for a in json.loads(row.act_types or "[]"))
    threat = PocThreatCategory(row.threat) if row.threat else None
    return CandidateRecord(
        id=row.id,
        source=row.channel,
        date_start=day,
        date_end=day,
        latitude=row.lat,
        longitude=row.lon,
        location_radius_km=radius,
        actors=(row.perpetrator_name,) if row.perpetrator_name else (),
        kinds=kinds_for(acts, threat),
        fatalities=row.killed,
        text=" ".join(p for p in (row.place_name, row.text) if p),
        place=row.place_name,
    )


def _nearby_reports(
    conn: Connection, principal: Principal, query: CandidateRecord
) -> list[CandidateRecord]:
    r, c = intake_reports.c, report_cases.c
    classes, tiers = queue_scope(principal)
    if not classes:
        return []
    lo = query.date_start - timedelta(days=SUGGEST_DAYS)
    hi = query.last_date + timedelta(days=SUGGEST_DAYS)
    day = r.occurred_on
    when = or_(
        and_(day.is_not(None), day >= lo, day <= hi),
        and_(day.is_(None), r.received_at >= _midnight(lo), r.received_at < _midnight(hi, 1)),
    )
    rows = conn.execute(
        select(r)
        .join(report_cases, c.report_id == r.id)
        .where(
            when,
            r.id != query.id,
            c.case_class.in_(sorted(x.value for x in classes)),
            c.sensitivity.in_(sorted(x.value for x in tiers)),
        )
        .order_by(r.received_at.desc())
        .limit(SUGGEST_POOL)
    ).all()
    return [_candidate_from_row(row) for row in rows]


def _midnight(day: date, plus_days: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=plus_days)


def _nearby_events(
    conn: Connection, principal: Principal, query: CandidateRecord
) -> list[CandidateRecord]:
    scope = store_scope(principal)
    if not scope.tiers or not scope.case_classes or principal.role in SUBMITTER_ROLES:
        return []
    radius = None
    if query.latitude is not None and query.longitude is not None:
        radius = (query.latitude, query.longitude, SUGGEST_RADIUS_KM)
    eq = EventQuery(
        radius=radius,
        start=query.date_start - timedelta(days=SUGGEST_DAYS),
        end=query.last_date + timedelta(days=SUGGEST_DAYS),
    )
    page = search_events(conn, eq, scope, limit=SUGGEST_POOL, cursor=None)
    return [record_from_event(item.event) for item in page.items]


def suggestions(
    conn: Connection, principal: Principal, report_id: str, *, limit: int = 10
) -> list[SuggestionView]:
    """Other reports and stored incidents that probably describe the same incident, each with
    its score and the reason, best first. Only what the caller may see is compared."""
    found = load_visible(conn, principal, report_id)
    if found.access is Access.SUBMITTER:
        raise NotPermitted("corroboration suggestions are for the officers handling reports")
    stored = repository.load_report(conn, report_id)
    if stored is None:
        raise ReportNotFound(report_id)
    query = _intake_of(stored).candidate(report_id)
    reports = _nearby_reports(conn, principal, query)
    events = _nearby_events(conn, principal, query)
    kinds = {r.id: "report" for r in reports} | {e.id: "event" for e in events}
    engine = CorroborationEngine()
    engine.add_many([query, *reports, *events])
    found_s: list[Suggestion] = engine.suggest(report_id, limit=limit)
    return [
        SuggestionView(
            kinds.get(sg.candidate_id, "report"),
            sg.candidate_id,
            round(sg.score, 3),
            sg.relation.value,
            sg.reason,
        )
        for sg in found_s
    ]


# -- merges ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MergeRecord:
    merge_id: str
    survivor_id: str
    member_ids: tuple[str, ...]
    reason: str
    merged_by: int | None
    merged_at: datetime
    undone_at: datetime | None


def merge(
    conn: Connection,
    principal: Principal,
    survivor_id: str,
    member_ids: Sequence[str],
    *,
    reason: str,
    now: datetime,
) -> MergeRecord:
    """Folds duplicate reports into ``survivor_id``: each member is discarded as a duplicate
    (a normal workflow transition, audited), and the merge record keeps each member's case as
    it was, so that :func:`undo_merge` restores it exactly."""
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError("a merge needs a reason")
    if len(reason) > 2000:
        raise WorkflowError("the merge reason is longer than 2000 characters")
    members = list(dict.fromkeys(member_ids))
    if not members:
        raise WorkflowError("name at least one report to merge into this one")
    if len(members) > MAX_MERGE_MEMBERS:
        raise WorkflowError(f"at most {MAX_MERGE_MEMBERS} reports can be merged at once")
    if survivor_id in members:
        raise WorkflowError("a report cannot be merged into itself")
    survivor = _for_handler(conn, principal, survivor_id)
    wf = workflow()
    officer = officer_of(principal)
    merge_id = str(uuid.uuid4())
    snapshots: dict[str, Any] = {}
    after: dict[str, int] = {}
    for member_id in members:
        case = _for_handler(conn, principal, member_id)
        if case.case_class is not survivor.case_class:
            raise WorkflowError(
                f"report {member_id} is a {case.case_class.value} case and the survivor a "
                f"{survivor.case_class.value} case: triage them into one class first"
            )
        if case.state.concluded:
            raise WorkflowError(f"report {member_id} is concluded; reopen it before merging")
        note = f"duplicate of report {survivor_id} (merge {merge_id})"
        new, event = wf.conclude(case, officer, outcome=ReportState.DISCARDED, now=now, note=note)
        event = replace(event, details={**event.details, "merge_id": merge_id})
        _save(conn, principal, case, [(new, event)])
        snapshots[member_id] = case_to_dict(case)
        after[member_id] = new.version
    conn.execute(
        insert(report_merges),
        {
            "merge_id": merge_id,
            "survivor_id": survivor_id,
            "member_ids": json.dumps(members),
            "snapshots": json.dumps(snapshots, sort_keys=True),
            "after_versions": json.dumps(after, sort_keys=True),
            "reason": reason,
            "merged_by": principal.user_id,
            "merged_at": now,
        },
    )
    audit.append(
        conn,
        [
            PendingEntry(
                principal.actor(),
                "report.merged",
                f"report:{survivor_id}",
                {"merge_id": merge_id, "members": members},
            )
        ],
        now,
    )
    return MergeRecord(merge_id, survivor_id, tuple(members), reason, principal.user_id, now, None)


def _merge_row(conn: Connection, merge_id: str) -> Any:
    return conn.execute(select(report_merges).where(report_merges.c.merge_id == merge_id)).first()


def merges_of(conn: Connection, report_id: str) -> list[MergeRecord]:
    rows = conn.execute(
        select(report_merges)
        .where(report_merges.c.survivor_id == report_id)
        .order_by(report_merges.c.merged_at)
    ).all()
    return [_record(row) for row in rows]


def _record(row: Any) -> MergeRecord:
    return MergeRecord(
        row.merge_id,
        row.survivor_id,
        tuple(json.loads(row.member_ids)),
        row.reason,
        row.merged_by,
        row.merged_at,
        row.undone_at,
    )


def undo_merge(
    conn: Connection,
    principal: Principal,
    merge_id: str,
    *,
    now: datetime,
    force: bool = False,
) -> MergeRecord:
    """Gives every member back its case as it was before the merge (with a new version).

    Refuses (:class:`MergeConflict`) when a member changed after the merge, unless ``force``.
    """
    row = _merge_row(conn, merge_id)
    if row is None or row.undone_at is not None:
        raise MergeNotFound(merge_id)
    try:
        _for_handler(conn, principal, row.survivor_id)
    except ReportNotFound as exc:
        raise MergeNotFound(merge_id) from exc
    snapshots = json.loads(row.snapshots)
    after = json.loads(row.after_versions)
    restored: list[tuple[Case, Case]] = []
    changed = []
    for member_id in json.loads(row.member_ids):
        current = _for_handler(conn, principal, member_id)
        if current.version != after[member_id]:
            changed.append(member_id)
        before = case_from_dict(snapshots[member_id])
        restored.append((current, replace(before, version=current.version + 1)))
    if changed and not force:
        raise MergeConflict(
            f"reports {', '.join(changed)} changed after merge {merge_id}; "
            "undoing would discard those changes (force to proceed)"
        )
    entries = []
    for current, back in restored:
        try:
            repository.save_case(conn, back, expected_version=current.version)
        except repository.StaleCase as exc:
            raise StaleVersion(current.report_id, current.version, -1) from exc
        entries.append(
            PendingEntry(
                principal.actor(),
                "report.unmerged",
                f"report:{current.report_id}",
                {
                    "merge_id": merge_id,
                    "version": back.version,
                    "from_state": current.state.value,
                    "to_state": back.state.value,
                },
            )
        )
    conn.execute(
        update(report_merges)
        .where(report_merges.c.merge_id == merge_id)
        .values(undone_at=now, undone_by=principal.user_id)
    )
    entries.append(
        PendingEntry(
            principal.actor(),
            "report.merge_undone",
            f"report:{row.survivor_id}",
            {"merge_id": merge_id, "discarded_later_changes": bool(changed)},
        )
    )
    audit.append(conn, entries, now)
    return replace(_record(row), undone_at=now)


def incident_exists(conn: Connection, uid: str) -> bool:
    return conn.scalar(select(s.events.c.id).where(s.events.c.uid == uid)) is not None
