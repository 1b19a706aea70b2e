"""``/api/v1/reports``: filing field, patrol and partner reports, the triage queue, and the
verification workflow (``tocsin.verify.service``).

- ``POST ""``: file a report (any signed-in role but public). It is stored through the intake
  service (``accept``: acknowledged only once committed) and its submitter remembered, so a
  field reporter can read back their own reports and nothing else.
- ``GET ""``: the queue, scoped by role: restricted case classes only for the roles they are
  routed to; field reporters and partners see the reports they filed.
- ``GET /{id}``: one report, redacted for the caller (``tocsin.api.report_records``): a
  restricted report's precise location is replaced by a coarse one for callers below it.
- ``POST /{id}/triage|assign|comment|grade|start|verify|unverify|discard|reopen|link``: one
  workflow action each, in one transaction with its ledger entry. Every body carries
  ``expected_version``: 409 when the report changed since it was read.
- ``GET /{id}/suggestions``, ``POST /{id}/merge``, ``POST /merges/{merge_id}/undo``.

Errors: 404 for a report that does not exist or is not routed to you (indistinguishable), 403
for a report you may read but not act on, 409 for a stale version or a merge whose undo would
discard later changes, 422 for a malformed body or an action the report's state does not allow.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from tocsin.api.deps import current_principal, get_services
from tocsin.api.report_records import case_summary, is_restricted, report_record
from tocsin.api.schemas.reports import (
    AssignIn,
    CommentIn,
    ConcludeIn,
    DiscardIn,
    GradeIn,
    LinkIn,
    MergeIn,
    ReopenIn,
    ReportIn,
    TriageIn,
    UndoIn,
)
from tocsin.api.services import Services
from tocsin.api.uow import ReadOnlyRoute, UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.domain.taxonomy import CaseClass
from tocsin.intake import repository
from tocsin.intake.report import IntakeReport
from tocsin.intake.repository import CaseCursor, InvalidReport
from tocsin.intake.service import get_intake
from tocsin.security.policies import Role
from tocsin.security.principal import Principal
from tocsin.security.tokens import TokenScope
from tocsin.verify import service
from tocsin.verify.routing import SUBMITTER_ROLES
from tocsin.verify.service import (
    Access,
    MergeConflict,
    MergeNotFound,
    ReportNotFound,
    StaleVersion,
)
from tocsin.verify.workflow import Case, NotPermitted, ReportState, WorkflowError

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], route_class=UnitOfWorkRoute)

NOT_FOUND = "no such report in your scope"
QUEUE_MAX = 200
ReportIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


# -- who ---------------------------------------------------------------------------------------


def signed_in(principal: Principal = Depends(current_principal)) -> Principal:
    if not principal.authenticated:
        raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    return principal


def _writer(principal: Principal) -> None:
    if principal.role is Role.PUBLIC:
        raise HTTPException(403, "your role may not file reports here")
    _writer_token(principal)


@contextmanager
def service_errors() -> Iterator[None]:
    """The service's exceptions as clear HTTP errors (the uow then rolls everything back)."""
    try:
        yield
    except ReportNotFound as exc:
        raise HTTPException(404, NOT_FOUND) from exc
    except MergeNotFound as exc:
        raise HTTPException(404, "no such merge in your scope, or already undone") from exc
    except NotPermitted as exc:
        raise HTTPException(403, str(exc)) from exc
    except (StaleVersion, MergeConflict) as exc:
        raise HTTPException(409, str(exc)) from exc
    except WorkflowError as exc:
        raise HTTPException(422, str(exc)) from exc


def _read(
    uow: UnitOfWork, principal: Principal, report_id: str, now: datetime, via: str
) -> dict[str, Any]:
    with service_errors():
        visible = service.load_visible(uow.conn, principal, report_id)
    stored = repository.load_report(uow.conn, report_id)
    if stored is None:
        raise HTTPException(404, NOT_FOUND)
    if is_restricted(visible.case):
        uow.audit(principal.actor(), "report.read", f"report:{report_id}", {"via": via})
    record = report_record(principal, visible, stored, now)
    if visible.access is Access.HANDLER and via != "read":
        record["merges"] = _merges(uow, report_id)
    return record


def _merges(uow: UnitOfWork, report_id: str) -> list[dict[str, Any]]:
    return [
        {
            "merge_id": m.merge_id,
            "members": list(m.member_ids),
            "merged_at": m.merged_at,
            "undone_at": m.undone_at,
        }
        for m in service.merges_of(uow.conn, report_id)
    ]


# -- filing ------------------------------------------------------------------------------------


def file_report(
    body: ReportIn,
    request: Request,
    response: Response,
    principal: Principal = Depends(signed_in),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Files a report. Acknowledged (201) only once it is committed; sending the same
    ``client_reference`` again returns the same report (200) instead of a second one."""
    _writer(principal)
    assert principal.user_id is not None
    channel = body.channel or ("partner" if principal.role is Role.PARTNER else "field")
    if principal.role in SUBMITTER_ROLES and channel != (
        "partner" if principal.role is Role.PARTNER else "field"
    ):
        raise HTTPException(422, f"your role files {channel!r} reports under its own channel")
    now = services.settings.clock()
    # The idempotency key is namespaced by user, so nobody can claim another's report by
    # guessing its reference.
    reference = body.client_reference or uuid.uuid4().hex
    report = IntakeReport(
        channel=channel,
        external_id=f"user:{principal.user_id}:{reference}",
        received_at=now,
        text=body.text,
        occurred_on=body.occurred_on,
        latitude=body.latitude,
        longitude=body.longitude,
        location_accuracy_m=body.location_accuracy_m,
        place_name=body.place_name,
        threat=body.threat,
        act_types=tuple(dict.fromkeys(body.act_types)),
        perpetrator_kind=body.perpetrator_kind,
        perpetrator_name=body.perpetrator_name,
        killed=body.killed,
        injured=body.injured,
        children_involved=body.children_involved,
        source_type=body.source_type,
        language=body.language,
    )
    try:
        stored = get_intake(request).accept(report)
    except InvalidReport as exc:
        raise HTTPException(422, str(exc)) from exc
    report_id = stored.report_id
    known = service.submitter_of(uow.conn, report_id)
    if known is None:
        uow.defer(lambda conn: service.record_submitter(conn, report_id, principal.user_id, now))
        uow.audit(principal.actor(), "report.filed", f"report:{report_id}", {"channel": channel})
    elif known != principal.user_id:  # cannot happen: references are namespaced per user
        raise HTTPException(409, "this reference belongs to another report")
    response.status_code = 200 if stored.duplicate else 201
    response.headers["Location"] = f"/api/v1/reports/{report_id}"
    return {"id": report_id, "duplicate": stored.duplicate, "url": f"/api/v1/reports/{report_id}"}


# The report is committed by the intake writer in its own transaction; this request's only
# writes (submitter, ledger entry) happen at its commit, so it takes no write lock up front
# (on SQLite, holding one would block the intake writer).
router.add_api_route(
    "",
    file_report,
    methods=["POST"],
    status_code=201,
    summary="File a field, patrol or partner report",
    route_class_override=ReadOnlyRoute,
)


# -- the queue ---------------------------------------------------------------------------------


def _encode_cursor(case: Case) -> str:
    raw = json.dumps([case.received_at.isoformat(), case.report_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str | None) -> CaseCursor | None:
    if text is None:
        return None
    try:
        at, rid = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(rid, str) or len(rid) > 64:
            raise ValueError
        return CaseCursor(moment, rid)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise HTTPException(422, "invalid cursor: pass back next_cursor unchanged") from exc


def queue_cases(
    uow: UnitOfWork,
    principal: Principal,
    *,
    states: list[ReportState] | None,
    classes: list[CaseClass] | None,
    assignee: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Case], str | None]:
    """The page of the queue this principal may see (also used by the web queue)."""
    if principal.role in SUBMITTER_ROLES:
        own_after = _decode_cursor(cursor)
        ids = service.own_report_ids(
            uow.conn,
            principal.user_id or 0,
            limit + 1,
            (own_after.received_at, own_after.report_id) if own_after else None,
        )
        cases = [c for c in (repository.load_case(uow.conn, i) for i in ids) if c is not None]
        cases = [c for c in cases if _matches(c, states, classes, assignee)]
        more = len(ids) > limit
        page = cases[:limit]
        nxt = _encode_cursor(page[-1]) if more and page else None
        return page, nxt
    allowed_classes, tiers = service.queue_scope(principal)
    wanted = allowed_classes if classes is None else allowed_classes & set(classes)
    after = _decode_cursor(cursor)
    out: list[Case] = []
    for _ in range(20):  # the assignee filter is applied here; a bounded number of pages
        batch = repository.list_cases(
            uow.conn,
            states=states,
            case_classes=wanted,
            tiers=tiers,
            limit=limit + 1,
            after=after,
        )
        for case in batch:
            if assignee is None or case.assignee == assignee:
                out.append(case)
        if len(batch) <= limit or len(out) > limit:
            break
        after = CaseCursor.of(batch[-1])
    page = out[:limit]
    nxt = _encode_cursor(page[-1]) if len(out) > limit else None
    return page, nxt


def _matches(
    case: Case,
    states: list[ReportState] | None,
    classes: list[CaseClass] | None,
    assignee: str | None,
) -> bool:
    return (
        (states is None or case.state in states)
        and (classes is None or case.case_class in classes)
        and (assignee is None or case.assignee == assignee)
    )


@router.get("", summary="The report queue")
def report_queue(
    state: Annotated[list[ReportState] | None, Query(max_length=6)] = None,
    case_class: Annotated[list[CaseClass] | None, Query(max_length=4)] = None,
    assignee: Annotated[str | None, Query(max_length=32, pattern=r"^(me|none|[0-9]+)$")] = None,
    limit: Annotated[int, Query(ge=1, le=QUEUE_MAX)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    principal: Principal = Depends(signed_in),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Oldest first. ``assignee``: ``me``, a user id, or ``none`` for unassigned reports."""
    who: str | None = None
    if assignee == "me":
        who = str(principal.user_id)
    elif assignee is not None and assignee != "none":
        who = assignee
    cases, nxt = queue_cases(
        uow,
        principal,
        states=state,
        classes=case_class,
        assignee=who,
        limit=limit,
        cursor=cursor,
    )
    if assignee == "none":
        cases = [c for c in cases if c.assignee is None]
    now = services.settings.clock()
    restricted = [c.report_id for c in cases if is_restricted(c)]
    if restricted:
        uow.audit(principal.actor(), "report.read", "reports", {"ids": restricted, "via": "queue"})
    return {"items": [case_summary(c, now) for c in cases], "next_cursor": nxt}


@router.get("/{report_id}", summary="Read one report")
def read_report(
    report_id: ReportIdPath,
    principal: Principal = Depends(signed_in),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    return _read(uow, principal, report_id, services.settings.clock(), "detail")


# -- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acting:
    """What every workflow action needs: who acts, the request's transaction, the clock."""

    principal: Principal
    uow: UnitOfWork
    services: Services

    def run(self, report_id: str, change: Callable[[datetime], object]) -> dict[str, Any]:
        """Applies ``change`` (given the request's time) and answers with the report as the
        caller may now read it; service errors become HTTP errors and roll everything back."""
        _writer_token(self.principal)
        now = self.services.settings.clock()
        with service_errors():
            change(now)
        return _read(self.uow, self.principal, report_id, now, "action")

    def step(
        self,
        report_id: str,
        expected_version: int | None,
        action: Callable[[Any, Case, Any, datetime], object],
    ) -> dict[str, Any]:
        """A pure workflow step ``action(workflow, case, officer, now)`` through ``service.act``."""
        return self.run(
            report_id,
            lambda now: service.act(
                self.uow.conn,
                self.principal,
                report_id,
                lambda wf, case, officer: action(wf, case, officer, now),
                expected_version=expected_version,
            ),
        )


def acting(
    principal: Principal = Depends(signed_in),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Acting:
    return Acting(principal, uow, services)


def _writer_token(principal: Principal) -> None:
    if principal.auth == "token" and TokenScope.WRITE not in (principal.token_scopes or ()):
        raise HTTPException(403, "this token lacks the 'write' scope")


@router.post("/{report_id}/triage", summary="Triage: confirm or correct class and tier")
def triage(
    report_id: ReportIdPath, body: TriageIn, ctx: Acting = Depends(acting)
) -> dict[str, Any]:
    return ctx.run(
        report_id,
        lambda now: service.triage(
            ctx.uow.conn,
            ctx.principal,
            report_id,
            now=now,
            expected_version=body.expected_version,
            case_class=body.case_class,
            sensitivity=body.sensitivity,
        ),
    )


@router.post("/{report_id}/assign", summary="Assign to an officer, with a due date")
def assign(
    report_id: ReportIdPath, body: AssignIn, ctx: Acting = Depends(acting)
) -> dict[str, Any]:
    if body.due is not None and body.due.tzinfo is None:
        raise HTTPException(422, "due must carry a timezone (e.g. 2026-03-04T12:00:00Z)")
    return ctx.run(
        report_id,
        lambda now: service.assign(
            ctx.uow.conn,
            ctx.principal,
            report_id,
            assignee_user_id=body.assignee_id,
            now=now,
            expected_version=body.expected_version,
            due=body.due.astimezone(UTC) if body.due else None,
        ),
    )


@router.post("/{report_id}/comment", summary="Add a comment")
def comment(
    report_id: ReportIdPath, body: CommentIn, ctx: Acting = Depends(acting)
) -> dict[str, Any]:
    return ctx.step(
        report_id,
        body.expected_version,
        lambda wf, case, officer, now: wf.comment(case, officer, text=body.text, now=now),
    )


@router.post("/{report_id}/grade", summary="Admiralty grade: reliability A-F, credibility 1-6")
def grade(report_id: ReportIdPath, body: GradeIn, ctx: Acting = Depends(acting)) -> dict[str, Any]:
    return ctx.step(
        report_id,
        body.expected_version,
        lambda wf, case, officer, now: wf.grade(
            case, officer, reliability=body.reliability, credibility=body.credibility, now=now
        ),
    )


@router.post("/{report_id}/start", summary="Start verification (triaged -> under verification)")
def start(
    report_id: ReportIdPath, body: ConcludeIn, ctx: Acting = Depends(acting)
) -> dict[str, Any]:
    return ctx.step(
        report_id,
        body.expected_version,
        lambda wf, case, officer, now: wf.start_verification(case, officer, now=now),
    )


def _conclude_route(outcome: ReportState, body_type: type) -> Callable[..., dict[str, Any]]:
    def handler(
        report_id: ReportIdPath,
        body: body_type,  # type: ignore[valid-type]
        ctx: Acting = Depends(acting),
    ) -> dict[str, Any]:
        return ctx.run(
            report_id,
            lambda now: service.conclude(
                ctx.uow.conn,
                ctx.principal,
                report_id,
                outcome=outcome,
                now=now,
                expected_version=body.expected_version,
                note=body.note,
            ),
        )

    handler.__name__ = f"conclude_{outcome.value}"
    # Annotations are strings here (postponed evaluation): give FastAPI the real model.
    handler.__annotations__["body"] = body_type
    return handler


for _path, _outcome, _body in (
    ("verify", ReportState.VERIFIED, ConcludeIn),
    ("unverify", ReportState.UNVERIFIED, ConcludeIn),
    ("discard", ReportState.DISCARDED, DiscardIn),
):
    router.add_api_route(
        f"/{{report_id}}/{_path}",
        _conclude_route(_outcome, _body),
        methods=["POST"],
        summary=f"Conclude: {_outcome.value} (a triaged report is put under verification first)",
    )


@router.post("/{report_id}/reopen", summary="Reopen a concluded report, with a reason")
def reopen(
    report_id: ReportIdPath, body: ReopenIn, ctx: Acting = Depends(acting)
) -> dict[str, Any]:
    return ctx.step(
        report_id,
        body.expected_version,
        lambda wf, case, officer, now: wf.reopen(case, officer, reason=body.reason, now=now),
    )


@router.post("/{report_id}/link", summary="Link to a new or an existing incident")
def link(report_id: ReportIdPath, body: LinkIn, ctx: Acting = Depends(acting)) -> dict[str, Any]:
    return ctx.run(
        report_id,
        lambda now: service.link(
            ctx.uow.conn,
            ctx.principal,
            report_id,
            now=now,
            expected_version=body.expected_version,
            incident_uid=body.incident_uid,
        ),
    )


# -- corroboration and merges ------------------------------------------------------------------


@router.get("/{report_id}/suggestions", summary="Candidate duplicates and corroboration")
def suggestions(
    report_id: ReportIdPath,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    principal: Principal = Depends(signed_in),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    """Other reports and stored incidents in your scope that probably describe the same
    incident, best first, each with its score (0-1) and the reason."""
    with service_errors():
        found = service.suggestions(uow.conn, principal, report_id, limit=limit)
    return {
        "items": [
            {
                "kind": s.kind,
                "id": s.candidate_id,
                "score": s.score,
                "relation": s.relation,
                "reason": s.reason,
            }
            for s in found
        ]
    }


@router.post("/{report_id}/merge", summary="Merge duplicate reports into this one")
def merge(
    report_id: ReportIdPath,
    body: MergeIn,
    principal: Principal = Depends(signed_in),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    _writer_token(principal)
    with service_errors():
        record = service.merge(
            uow.conn,
            principal,
            report_id,
            body.members,
            reason=body.reason,
            now=services.settings.clock(),
        )
    return {
        "merge_id": record.merge_id,
        "survivor": record.survivor_id,
        "members": list(record.member_ids),
        "undo": f"/api/v1/reports/merges/{record.merge_id}/undo",
    }


MergeIdPath = Annotated[str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")]


@router.post("/merges/{merge_id}/undo", summary="Undo a merge exactly")
def undo_merge(
    merge_id: MergeIdPath,
    body: UndoIn | None = None,
    principal: Principal = Depends(signed_in),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Gives the merged reports back their cases as before. 409 when one changed since the
    merge (``force`` discards those changes, and the ledger says so)."""
    _writer_token(principal)
    with service_errors():
        record = service.undo_merge(
            uow.conn,
            principal,
            merge_id,
            now=services.settings.clock(),
            force=bool(body and body.force),
        )
    return {"merge_id": record.merge_id, "restored": list(record.member_ids), "undone": True}
