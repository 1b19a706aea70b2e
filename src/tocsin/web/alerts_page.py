"""Alerts in the browser: ``GET /alerts``, ``GET /alerts/{id}`` and their plain HTML forms.

Everything works without JavaScript: each action is a ``<form method="post">`` carrying the
session's CSRF token as ``csrf_token`` (checked by the API's principal resolution, like the
logout form), and answers with a redirect back to the alert (post/redirect/get). The decisions
are the API's: who may read which tier and act (``tocsin.alerts.access``), the lifecycle steps
with their ledger entries (``tocsin.alerts.actions``), the redacted view
(``tocsin.alerts.views``). An alert above the viewer's tier looks exactly like a missing one.

Titles stay generic ("Alert"): they end up in browser history and window lists.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from tocsin.alerts import repository as repo
from tocsin.alerts.access import AlertAction, lifecycle_actor, may, may_see, reader_tier
from tocsin.alerts.actions import (
    StepResult,
    acknowledge_stored,
    assign_stored,
    close_stored,
    issue_stored,
)
from tocsin.alerts.lifecycle import OPEN_STATES, AlertState, InvalidTransition, Outcome
from tocsin.alerts.responses import TaskKind
from tocsin.alerts.settings import AlertsNotConfigured, load_config
from tocsin.alerts.triggers.config import TriggerConfigError
from tocsin.alerts.views import alert_view, sort_for_attention, visible_tiers
from tocsin.api.deps import current_principal, get_services
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.domain.taxonomy import SensitivityTier
from tocsin.security.principal import Principal
from tocsin.store.schema_alerts import alert_events
from tocsin.web.i18n import N_
from tocsin.web.labels import ALERT_STATE_LABELS, OUTCOME_LABELS, TASK_KIND_LABELS, TIER_LABELS
from tocsin.web.map_page import login_redirect
from tocsin.web.render import render_page

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

AlertIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,36}$")]
LIST_LIMIT = 300

STATE_LABELS = ALERT_STATE_LABELS
TASK_LABELS = TASK_KIND_LABELS
ACTION_LABELS = {
    "create": N_("Created"),
    "suppress": N_("Suppressed as a duplicate"),
    "issue": N_("Issued"),
    "acknowledge": N_("Acknowledged"),
    "assign_response": N_("Response assigned"),
    "close": N_("Closed"),
    "escalate": N_("Escalated"),
}
ERRORS = {
    "transition": N_("This step is not possible in the alert's current state."),
    "conflict": N_("Someone else changed this alert meanwhile. Check it and try again."),
    "input": N_("Check the form: a field is missing or too long."),
    "not_configured": N_("Alerts are not configured on this server; nothing can be issued."),
}


def _not_found(request: Request, principal: Principal) -> HTMLResponse:
    return render_page(request, "not_found.html", {}, principal=principal, status_code=404)


def _gate(request: Request, principal: Principal, path: str) -> SensitivityTier | Response:
    tier = reader_tier(principal)
    if tier is not None:
        return tier
    if not principal.authenticated:
        return login_redirect(path)
    return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)


@router.get("/alerts", response_class=HTMLResponse, name="alerts_page")
def alerts_page(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    tier = _gate(request, principal, "/alerts")
    if isinstance(tier, Response):
        return tier
    now = services.settings.clock()
    found = repo.list_alerts(
        uow.conn,
        tiers=visible_tiers(tier),
        case_classes=principal.policy.case_classes,
        limit=LIST_LIMIT,
    )
    found = [a for a in found if a.state is not AlertState.SUPPRESSED]
    ordered = sort_for_attention(found)
    views = [alert_view(a, tier, now) for a in ordered]
    restricted = [a.id for a in found if a.candidate.tier >= SensitivityTier.RESTRICTED]
    if restricted:
        uow.audit(principal.actor(), "alert.read", "alerts", {"ids": restricted, "via": "page"})
    context = {
        "active": "alerts",
        "open": [v for v in views if v["state"] in {s.value for s in OPEN_STATES}],
        "drafts": [v for v in views if v["state"] == AlertState.DRAFT.value],
        "closed": [v for v in views if v["state"] == AlertState.CLOSED.value][:50],
        "state_labels": STATE_LABELS,
        "tier_labels": TIER_LABELS,
        "reader_tier": tier.value,
    }
    return render_page(request, "alerts/list.html", context, principal=principal)


def _history(uow: UnitOfWork, alert_id: str) -> list[dict[str, Any]]:
    t = alert_events.c
    rows = uow.conn.execute(
        select(t.seq, t.at, t.actor, t.action, t.details_json)
        .where(t.alert_id == alert_id)
        .order_by(t.seq)
    ).all()
    out = []
    for r in rows:
        details = json.loads(r.details_json)
        out.append(
            {
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "level": details.get("level"),
                "notify": details.get("notify"),
                "task_kind": details.get("task_kind"),
                "outcome": details.get("outcome"),
            }
        )
    return out


def _detail(
    request: Request,
    principal: Principal,
    uow: UnitOfWork,
    services: Services,
    alert_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    tier = _gate(request, principal, "/alerts")
    if isinstance(tier, Response):
        return tier
    try:
        alert = repo.load_alert(uow.conn, alert_id)
    except repo.AlertNotFound:
        return _not_found(request, principal)
    if not may_see(principal, alert.candidate.case_class, alert.candidate.tier):
        return _not_found(request, principal)
    if alert.candidate.tier >= SensitivityTier.RESTRICTED:
        uow.audit(principal.actor(), "alert.read", f"alert:{alert.id}", {"via": "page"})
    view = alert_view(alert, tier, services.settings.clock(), repo.tasks_for(uow.conn, [alert.id]))
    state = alert.state
    context = {
        "active": "alerts",
        "a": view,
        "history": _history(uow, alert.id),
        "error": ERRORS.get(error) if error else None,
        "can": {
            "acknowledge": state is AlertState.ISSUED and may(principal, AlertAction.ACKNOWLEDGE),
            "issue": state is AlertState.DRAFT and may(principal, AlertAction.ISSUE),
            "respond": state in OPEN_STATES and may(principal, AlertAction.RESPOND),
            "close": state in OPEN_STATES and may(principal, AlertAction.CLOSE),
        },
        "state_labels": STATE_LABELS,
        "task_labels": TASK_LABELS,
        "outcome_labels": {k: v for k, v in OUTCOME_LABELS.items() if k != "rejected"},
        "all_outcome_labels": OUTCOME_LABELS,
        "action_labels": ACTION_LABELS,
        "tier_labels": TIER_LABELS,
        "reader_tier": tier.value,
    }
    return render_page(
        request, "alerts/detail.html", context, principal=principal, status_code=status_code
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse, name="alert_page")
def alert_page(
    request: Request,
    alert_id: AlertIdPath,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    return _detail(request, principal, uow, services, alert_id)


def _act(
    request: Request,
    principal: Principal,
    uow: UnitOfWork,
    services: Services,
    alert_id: str,
    action: AlertAction,
    run: Any,
) -> Response:
    """Check, run one step, audit it, then redirect back (or show the page with the error)."""
    tier = _gate(request, principal, "/alerts")
    if isinstance(tier, Response):
        return tier
    try:
        alert = repo.load_alert(uow.conn, alert_id)
    except repo.AlertNotFound:
        return _not_found(request, principal)
    if not may_see(principal, alert.candidate.case_class, alert.candidate.tier):
        return _not_found(request, principal)
    if not may(principal, action):
        return render_page(request, "forbidden.html", {}, principal=principal, status_code=403)
    try:
        step: StepResult = run()
    except InvalidTransition:
        return _error(request, principal, services, alert_id, "transition", 409)
    except repo.ConcurrentUpdate:
        return _error(request, principal, services, alert_id, "conflict", 409)
    except (AlertsNotConfigured, TriggerConfigError):
        return _error(request, principal, services, alert_id, "not_configured", 409)
    except ValueError:
        return _error(request, principal, services, alert_id, "input", 422)
    for entry in step.ledger(principal.actor()):
        uow.audit(entry.actor, entry.action, entry.target, entry.details)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


def _error(
    request: Request,
    principal: Principal,
    services: Services,
    alert_id: str,
    error: str,
    status_code: int,
) -> Response:
    """The page again with the reason, rendered on a fresh read-only unit of work: the failed
    step's transaction is rolled back with the error status."""
    fresh = UnitOfWork(services.engine, writes=False, clock=services.settings.clock)
    try:
        return _detail(
            request, principal, fresh, services, alert_id, error=error, status_code=status_code
        )
    finally:
        fresh.rollback()


@router.post("/alerts/{alert_id}/acknowledge", name="alert_acknowledge")
def acknowledge_form(
    request: Request,
    alert_id: AlertIdPath,
    csrf_token: Annotated[str, Form(max_length=200)] = "",  # checked by current_principal
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    now = services.settings.clock()
    return _act(
        request, principal, uow, services, alert_id, AlertAction.ACKNOWLEDGE,
        lambda: acknowledge_stored(uow.conn, alert_id, actor=lifecycle_actor(principal), now=now),
    )  # fmt: skip


@router.post("/alerts/{alert_id}/issue", name="alert_issue")
def issue_form(
    request: Request,
    alert_id: AlertIdPath,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    now = services.settings.clock()

    def run() -> StepResult:
        cfg = load_config()
        return issue_stored(
            uow.conn,
            alert_id,
            actor=lifecycle_actor(principal),
            now=now,
            ladder=cfg.ladder(),
            channels=cfg.delivery_channels(),
            sender=cfg.sender,
        )

    return _act(request, principal, uow, services, alert_id, AlertAction.ISSUE, run)


@router.post("/alerts/{alert_id}/responses", name="alert_assign")
def assign_form(
    request: Request,
    alert_id: AlertIdPath,
    kind: Annotated[str, Form(max_length=40)] = "",
    description: Annotated[str, Form(max_length=5000)] = "",
    assigned_to: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    now = services.settings.clock()

    def run() -> StepResult:
        return assign_stored(
            uow.conn,
            alert_id,
            actor=lifecycle_actor(principal),
            now=now,
            kind=TaskKind(kind),  # ValueError on an unknown kind: "check the form"
            description=description,
            assigned_to=assigned_to,
        )

    return _act(request, principal, uow, services, alert_id, AlertAction.RESPOND, run)


@router.post("/alerts/{alert_id}/close", name="alert_close")
def close_form(
    request: Request,
    alert_id: AlertIdPath,
    outcome: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    now = services.settings.clock()
    try:
        chosen = Outcome(outcome)
    except ValueError:
        chosen = None
    action = AlertAction.ISSUE if chosen is Outcome.REJECTED else AlertAction.CLOSE

    def run() -> StepResult:
        if chosen is None:
            raise ValueError("unknown outcome")
        return close_stored(
            uow.conn,
            alert_id,
            actor=lifecycle_actor(principal),
            now=now,
            outcome=chosen,
            note=note.strip() or None,
        )

    return _act(request, principal, uow, services, alert_id, action, run)
