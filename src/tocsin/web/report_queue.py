"""The report queue and the triage page: ``GET /reports``, ``GET /reports/{id}``, and one
``POST /reports/{id}/{action}`` per workflow action, as plain HTML forms (no JavaScript).

Everything goes through the API's code: the queue is ``tocsin.api.routers.reports.queue_cases``
(scoped by role and routing), a report is read with ``tocsin.verify.service.load_visible`` and
redacted by ``tocsin.api.report_records`` (a restricted report's location coarsened for callers
below it), and each action is the workflow service's, in the request's one transaction with
its ledger entry. Forms carry the session's CSRF token (``csrf_token`` field, checked by the
API's principal resolution) and the case version they were rendered from (a stale form gets
409 and the page again, with the current state).

Nothing sensitive goes into a URL or a page title: filters are states and classes, the report
id is random, the titles are "Reports" and "Report".
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tocsin.api.deps import current_principal, get_services
from tocsin.api.report_records import is_restricted, report_record
from tocsin.api.routers.reports import queue_cases, service_errors
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.intake import repository
from tocsin.security.policies import Role, policy_for
from tocsin.security.principal import Principal
from tocsin.security.users import list_users
from tocsin.verify import service
from tocsin.verify.routing import SUBMITTER_ROLES, mission_routing
from tocsin.verify.service import Access
from tocsin.verify.workflow import ReportState
from tocsin.web.i18n import N_
from tocsin.web.labels import CASE_CLASS_LABELS, REPORT_STATE_LABELS, TIER_LABELS
from tocsin.web.map_page import login_redirect
from tocsin.web.render import render_page

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

QUEUE_ROWS = 100
ACTIONS = frozenset(
    {
        "triage",
        "assign",
        "comment",
        "grade",
        "start",
        "verify",
        "unverify",
        "discard",
        "reopen",
        "link",
        "merge",
        "undo",
    }
)

STATE_LABELS = REPORT_STATE_LABELS
CLASS_LABELS = CASE_CLASS_LABELS
RELIABILITY_CHOICES = [r.value for r in SourceReliability]
CREDIBILITY_CHOICES = [c.value for c in InformationCredibility]
MESSAGES: dict[str, str] = {
    "done": N_("Saved."),
    "merged": N_("The reports were merged. You can undo the merge below."),
    "undone": N_("The merge was undone."),
}


def _usernames(uow: UnitOfWork) -> dict[str, str]:
    return {str(u.id): u.username for u in list_users(uow.conn)}


def _gate(principal: Principal, path: str) -> Response | None:
    if not principal.authenticated:
        return login_redirect(path)
    return None


def _one(params: Any, name: str, allowed: set[str]) -> str | None:
    value = params.get(name)
    return value if value in allowed else None


@router.get("/reports", response_class=HTMLResponse, name="report_queue")
def report_queue_page(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    gate = _gate(principal, "/reports")
    if gate is not None:
        return gate
    if principal.role is Role.PUBLIC:
        return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)
    params = request.query_params
    state = _one(params, "state", set(STATE_LABELS))
    case_class = _one(params, "case_class", set(CLASS_LABELS))
    assigned = _one(params, "assignee", {"me", "none"})
    cases, _next = queue_cases(
        uow,
        principal,
        states=[ReportState(state)] if state else None,
        classes=[CaseClass(case_class)] if case_class else None,
        assignee=str(principal.user_id) if assigned == "me" else None,
        limit=QUEUE_ROWS,
        cursor=None,
    )
    if assigned == "none":
        cases = [c for c in cases if c.assignee is None]
    restricted = [c.report_id for c in cases if is_restricted(c)]
    if restricted:
        uow.audit(principal.actor(), "report.read", "reports", {"ids": restricted, "via": "page"})
    now = services.settings.clock()
    names = _usernames(uow)
    own_only = principal.role in SUBMITTER_ROLES
    classes, _tiers = service.queue_scope(principal)
    rows = [
        {
            "id": c.report_id,
            "state": c.state.value,
            "case_class": c.case_class.value,
            "sensitivity": c.sensitivity.value,
            "received_at": c.received_at,
            "due": c.due,
            "overdue": service.workflow().is_overdue(c, now),
            "assignee": names.get(c.assignee or "", c.assignee) if not own_only else None,
            "grade": c.grade,
        }
        for c in cases
    ]
    context = {
        "active": "reports",
        "rows": rows,
        "own_only": own_only,
        "filters": {"state": state, "case_class": case_class, "assignee": assigned},
        "state_labels": STATE_LABELS,
        "class_labels": {k: v for k, v in CLASS_LABELS.items() if CaseClass(k) in classes},
        "tier_labels": TIER_LABELS,
        "truncated": _next is not None,
    }
    return render_page(request, "reports/queue.html", context, principal=principal)


def _assignable(uow: UnitOfWork, case: Any) -> list[dict[str, str]]:
    """Active users the case may be assigned to: routed to their role, tier within reach."""
    routing = mission_routing()
    route_roles = routing.route(case.case_class).roles
    out = []
    for user in list_users(uow.conn):
        if user.disabled or user.role.value not in route_roles:
            continue
        if case.sensitivity not in policy_for(user.role).tiers:
            continue
        out.append({"id": str(user.id), "username": user.username})
    return out


def _detail(
    request: Request,
    principal: Principal,
    uow: UnitOfWork,
    services: Services,
    report_id: str,
    *,
    error: str | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    now = services.settings.clock()
    try:
        visible = service.load_visible(uow.conn, principal, report_id)
    except service.ReportNotFound:
        return render_page(request, "not_found.html", {}, principal=principal, status_code=404)
    stored = repository.load_report(uow.conn, report_id)
    if stored is None:
        return render_page(request, "not_found.html", {}, principal=principal, status_code=404)
    if is_restricted(visible.case):
        uow.audit(principal.actor(), "report.read", f"report:{report_id}", {"via": "page"})
    record = report_record(principal, visible, stored, now)
    names = _usernames(uow)
    handler = visible.access is Access.HANDLER
    suggestions: list[Any] = []
    suggestions_error = None
    merges: list[Any] = []
    if handler:
        try:
            suggestions = service.suggestions(uow.conn, principal, report_id)
        except ValueError:  # a record the engine cannot compare (e.g. no usable date)
            suggestions_error = N_("Suggestions are not available for this report.")
        merges = service.merges_of(uow.conn, report_id)
    case = visible.case
    context = {
        "active": "reports",
        "r": record,
        "case": case,
        "handler": handler,
        "access": visible.access.value,
        "names": names,
        "state_labels": STATE_LABELS,
        "class_labels": CLASS_LABELS,
        "tier_labels": TIER_LABELS,
        "tiers": [t.value for t in SensitivityTier if t in principal.policy.tiers],
        "classes": [c.value for c in CaseClass if c in principal.policy.case_classes],
        "reliability_choices": RELIABILITY_CHOICES,
        "credibility_choices": CREDIBILITY_CHOICES,
        "assignable": _assignable(uow, case) if handler else [],
        "suggestions": suggestions,
        "suggestions_error": suggestions_error,
        "merges": merges,
        "error": error,
        "message": message,
        "overdue": service.workflow().is_overdue(case, now),
    }
    return render_page(
        request, "reports/detail.html", context, principal=principal, status_code=status_code
    )


ReportIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/reports/{report_id}", response_class=HTMLResponse, name="report_page")
def report_page(
    request: Request,
    report_id: ReportIdPath,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    gate = _gate(principal, "/reports")  # never the report's own path in the login URL
    if gate is not None:
        return gate
    done = request.query_params.get("done")
    message = MESSAGES.get(done) if done else None
    return _detail(request, principal, uow, services, report_id, message=message)


def _field(form: Any, name: str, limit: int = 10_000) -> str | None:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    if len(value) > limit:
        raise HTTPException(422, f"the field {name} is longer than {limit} characters")
    return value


def _version(form: Any) -> int:
    try:
        value = int(_field(form, "expected_version", 12) or "")
    except ValueError as exc:
        raise HTTPException(422, "the form lost its version; reload the page") from exc
    if value < 1:
        raise HTTPException(422, "the form lost its version; reload the page")
    return value


def _enum(enum: type, value: str | None, what: str) -> Any:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError as exc:
        raise HTTPException(422, f"unknown {what}") from exc


def _due(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise HTTPException(422, "the due date must be a date (YYYY-MM-DD)") from exc
    return datetime.combine(day, time(23, 59), tzinfo=UTC)


def _apply(
    action: str, form: Any, principal: Principal, uow: UnitOfWork, report_id: str, now: datetime
) -> str:
    """Runs one action from its form; returns the message key for the page."""
    conn = uow.conn
    if action == "merge":
        members = [m for m in form.getlist("member") if isinstance(m, str) and m][:20]
        reason = _field(form, "reason", 2000) or ""
        service.merge(conn, principal, report_id, members, reason=reason, now=now)
        return "merged"
    if action == "undo":
        merge_id = _field(form, "merge_id", 36) or ""
        service.undo_merge(conn, principal, merge_id, now=now, force=form.get("force") == "1")
        return "undone"
    version = _version(form)
    if action == "triage":
        service.triage(
            conn,
            principal,
            report_id,
            now=now,
            expected_version=version,
            case_class=_enum(CaseClass, _field(form, "case_class", 40), "case class"),
            sensitivity=_enum(SensitivityTier, _field(form, "sensitivity", 16), "tier"),
        )
    elif action == "assign":
        raw = _field(form, "assignee_id", 12)
        if raw is None or not raw.isdigit():
            raise HTTPException(422, "choose an officer to assign")
        service.assign(
            conn,
            principal,
            report_id,
            assignee_user_id=int(raw),
            now=now,
            expected_version=version,
            due=_due(_field(form, "due", 10)),
        )
    elif action == "comment":
        text = _field(form, "text") or ""
        service.act(
            conn,
            principal,
            report_id,
            lambda wf, c, o: wf.comment(c, o, text=text, now=now),
            expected_version=version,
        )
    elif action == "grade":
        reliability = _enum(SourceReliability, _field(form, "reliability", 1), "reliability")
        credibility = _enum(InformationCredibility, _field(form, "credibility", 1), "credibility")
        if reliability is None or credibility is None:
            raise HTTPException(422, "choose both a reliability (A-F) and a credibility (1-6)")
        service.act(
            conn,
            principal,
            report_id,
            lambda wf, c, o: wf.grade(
                c, o, reliability=reliability, credibility=credibility, now=now
            ),
            expected_version=version,
        )
    elif action == "start":
        service.act(
            conn,
            principal,
            report_id,
            lambda wf, c, o: wf.start_verification(c, o, now=now),
            expected_version=version,
        )
    elif action in ("verify", "unverify", "discard"):
        outcome = {
            "verify": ReportState.VERIFIED,
            "unverify": ReportState.UNVERIFIED,
            "discard": ReportState.DISCARDED,
        }[action]
        service.conclude(
            conn,
            principal,
            report_id,
            outcome=outcome,
            now=now,
            expected_version=version,
            note=_field(form, "note", 2000),
        )
    elif action == "reopen":
        reason = _field(form, "reason", 2000) or ""
        service.act(
            conn,
            principal,
            report_id,
            lambda wf, c, o: wf.reopen(c, o, reason=reason, now=now),
            expected_version=version,
        )
    elif action == "link":
        uid = _field(form, "incident_uid", 64)
        service.link(
            conn,
            principal,
            report_id,
            now=now,
            expected_version=version,
            incident_uid=uid if form.get("incident") == "existing" else None,
        )
    return "done"


@router.post("/reports/{report_id}/{action}", response_class=HTMLResponse, name="report_action")
async def report_action(
    request: Request,
    report_id: ReportIdPath,
    action: Annotated[str, Path(max_length=16)],
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    """One workflow action from a form; back to the report page (303) when it is done."""
    if not principal.authenticated:
        return login_redirect("/reports")
    if action not in ACTIONS:
        return render_page(request, "not_found.html", {}, principal=principal, status_code=404)
    form = await request.form()
    now = services.settings.clock()
    try:
        with service_errors():
            done = await run_in_threadpool(_apply, action, form, principal, uow, report_id, now)
    except HTTPException as exc:
        return await run_in_threadpool(
            _error_page, request, principal, uow, services, report_id, exc
        )
    return RedirectResponse(f"/reports/{report_id}?done={done}", status_code=303)


def _error_page(
    request: Request,
    principal: Principal,
    uow: UnitOfWork,
    services: Services,
    report_id: str,
    exc: HTTPException,
) -> Response:
    """The report page again, from its stored state, with the reason of the refusal.

    Nothing of the failed action is kept (rolled back first). The page may show a restricted
    report, whose read must be in the ledger: so the read's entry is committed on purpose
    before the error response leaves (the unit of work then has nothing left to roll back).
    """
    conn = uow.conn
    conn.rollback()
    if uow.sqlite:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    page = _detail(
        request,
        principal,
        uow,
        services,
        report_id,
        error=str(exc.detail),
        status_code=exc.status_code,
    )
    uow.commit()
    return page
