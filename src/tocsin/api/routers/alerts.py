"""``/api/v1/alerts``: alerts scoped to the caller's tier, their lifecycle, CAP 1.2 and a feed.

- Reads: an alert above the caller's tier is answered like a missing one (404), and what is
  shown is redacted to the caller's tier (``tocsin.alerts.views``). Reads of restricted and
  confidential alerts are audited.
- Steps (issue, acknowledge, assign a response, update a task, close): one transaction with
  the alert's own event and the audit ledger entry; a step the alert's state does not allow, or
  one that lost a race with another person's, is a 409 with the reason.
- ``GET /api/v1/alerts/feed.atom``: the CAP/Atom feed of open alerts; anonymous callers get
  the public ones only, rendered for the public tier.

Who may do what: ``tocsin.alerts.access``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import Field

from tocsin.alerts import repository as repo
from tocsin.alerts.access import AlertAction, lifecycle_actor, may, reader_tier
from tocsin.alerts.actions import (
    StepResult,
    acknowledge_stored,
    assign_stored,
    close_stored,
    issue_stored,
    update_task_stored,
)
from tocsin.alerts.cap import CAP_MIME
from tocsin.alerts.lifecycle import OPEN_STATES, Alert, AlertState, InvalidTransition, Outcome
from tocsin.alerts.responses import TaskKind
from tocsin.alerts.settings import AlertsNotConfigured, load_config
from tocsin.alerts.triggers.config import TriggerConfigError, TriggerFile
from tocsin.alerts.views import DEFAULT_SENDER, alert_view, atom_feed, cap_for, indicators_for
from tocsin.api.deps import current_principal, get_services
from tocsin.api.schemas.common import Out, Strict
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.domain.taxonomy import SensitivityTier
from tocsin.security.principal import Principal

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], route_class=UnitOfWorkRoute)

AlertId = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,36}$")]
ATOM_MIME = "application/atom+xml"


# ------------------------------------------------------------------ models


class TaskOut(Out):
    id: str
    kind: str
    description: str
    assigned_to: str
    status: str
    assigned_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    outcome_note: str | None


class AlertOut(Out):
    id: str
    mission: str
    state: str
    tier: str
    kind: str
    trigger_id: str
    headline: str
    severity: str
    urgency: str
    certainty: str
    threat_category: str | None
    period_start: datetime
    period_end: datetime
    explanation: list[str]
    areas: list[str]
    measures: dict[str, float]
    complete: bool = Field(description="false when something was withheld at your tier")
    instruction: str | None
    requires_confirmation: bool
    created_at: datetime
    issued_at: datetime | None
    issued_by: str | None
    ack_deadline: datetime | None
    overdue: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    response_assigned_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    outcome_note: str | None
    escalation_level: int
    duplicate_of: str | None
    tasks: list[TaskOut]


class AlertPage(Out):
    items: list[AlertOut]
    tier: str = Field(description="the tier the alerts are shown at")


class IndicatorsOut(Out):
    tier: str
    alerts_issued: int
    alerts_acknowledged: int
    median_time_to_acknowledge_s: float | None
    alerts_with_response: int
    median_time_to_response_s: float | None
    alerts_judged_for_24h: int
    share_response_within_24h: float | None


class ResponseIn(Strict):
    kind: TaskKind
    description: str = Field(min_length=1, max_length=5000)
    assigned_to: str = Field(min_length=1, max_length=200)
    started: bool = Field(default=False, description="the response is already under way")


class TaskUpdateIn(Strict):
    note: str | None = Field(default=None, max_length=5000)


class CloseIn(Strict):
    outcome: Outcome
    note: str | None = Field(default=None, max_length=5000)


# ------------------------------------------------------------------ helpers


def _tier_or_401(principal: Principal) -> SensitivityTier:
    tier = reader_tier(principal)
    if tier is None:
        if not principal.authenticated:
            raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
        raise HTTPException(403, "your role does not read alerts")
    return tier


def _require(principal: Principal, action: AlertAction) -> SensitivityTier:
    tier = _tier_or_401(principal)
    if not may(principal, action):
        raise HTTPException(403, f"your role may not {action.value} alerts")
    return tier


def _load(
    uow: UnitOfWork, alert_id: str, tier: SensitivityTier, principal: Principal | None = None
) -> Alert:
    """The alert if it exists and is within ``tier`` (and the principal's case classes);
    otherwise the same 404 either way."""
    try:
        alert = repo.load_alert(uow.conn, alert_id)
    except repo.AlertNotFound:
        raise HTTPException(404, "no such alert") from None
    if alert.candidate.tier > tier:
        raise HTTPException(404, "no such alert")
    if principal is not None and alert.candidate.case_class not in principal.policy.case_classes:
        raise HTTPException(404, "no such alert")
    return alert


def _audit_read(uow: UnitOfWork, principal: Principal, alert: Alert, how: str) -> None:
    if alert.candidate.tier >= SensitivityTier.RESTRICTED:
        uow.audit(principal.actor(), "alert.read", f"alert:{alert.id}", {"via": how})


def _config() -> TriggerFile | None:
    try:
        return load_config()
    except (AlertsNotConfigured, TriggerConfigError):
        return None


def _view(uow: UnitOfWork, alert: Alert, tier: SensitivityTier, now: datetime) -> dict[str, Any]:
    return alert_view(alert, tier, now, repo.tasks_for(uow.conn, [alert.id]))


def _step(
    uow: UnitOfWork,
    principal: Principal,
    alert_id: str,
    tier: SensitivityTier,
    now: datetime,
    run: Any,
) -> dict[str, Any]:
    """Run a lifecycle step on an alert within the caller's tier, audit it, return the view."""
    _load(uow, alert_id, tier, principal)
    try:
        step: StepResult = run()
    except (InvalidTransition, repo.ConcurrentUpdate) as exc:
        raise HTTPException(409, str(exc)) from None
    except repo.AlertNotFound:
        raise HTTPException(404, "no such alert or task") from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    for entry in step.ledger(principal.actor()):
        uow.audit(entry.actor, entry.action, entry.target, entry.details)
    return _view(uow, step.alert, tier, now)


# ------------------------------------------------------------------ reads


@router.get("", response_model=AlertPage, summary="Alerts at your tier, open ones first")
def list_alerts(
    state: Annotated[
        Literal[
            "open",
            "all",
            "draft",
            "issued",
            "acknowledged",
            "response_assigned",
            "closed",
            "suppressed",
        ],
        Query(description="open (issued, acknowledged, response assigned), all, or one state"),
    ] = "open",  # fmt: skip
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    from tocsin.alerts.views import sort_for_attention, visible_tiers

    tier = _tier_or_401(principal)
    states = OPEN_STATES if state == "open" else None if state == "all" else {AlertState(state)}
    found = repo.list_alerts(
        uow.conn,
        tiers=visible_tiers(tier),
        states=states,
        case_classes=principal.policy.case_classes,
        limit=limit,
        offset=offset,
    )
    now = services.settings.clock()
    tasks = repo.tasks_for(uow.conn, [a.id for a in found]) if found else []
    items = [
        alert_view(a, tier, now, [t for t in tasks if t.alert_id == a.id])
        for a in sort_for_attention(found)
    ]
    restricted = [a.id for a in found if a.candidate.tier >= SensitivityTier.RESTRICTED]
    if restricted:
        target = f"alert:{restricted[0]}" if len(restricted) == 1 else "alerts"
        uow.audit(principal.actor(), "alert.read", target, {"ids": restricted, "via": "list"})
    return {"items": items, "tier": tier.value}


@router.get(
    "/feed.atom",
    response_class=Response,
    responses={200: {"content": {ATOM_MIME: {}}, "description": "CAP/Atom feed"}},
    summary="CAP/Atom feed of open alerts (public ones for anonymous callers)",
)
def feed(
    request: Request,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    tier = reader_tier(principal) or SensitivityTier.PUBLIC
    cfg = _config()
    base = str(request.base_url).rstrip("/")
    body = atom_feed(
        uow.conn,
        tier,
        services.settings.clock(),
        sender=cfg.sender if cfg else DEFAULT_SENDER,
        self_url=f"{base}/api/v1/alerts/feed.atom",
        case_classes=principal.policy.case_classes,
    )
    return Response(body, media_type=ATOM_MIME, headers={"cache-control": "no-store"})


@router.get("/indicators", response_model=IndicatorsOut, summary="Response indicators")
def indicators(
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    tier = _tier_or_401(principal)
    return {"tier": tier.value, **indicators_for(uow.conn, tier, services.settings.clock())}


@router.get(
    "/{alert_id}.cap",
    response_class=Response,
    responses={200: {"content": {CAP_MIME: {}}, "description": "CAP 1.2 alert"}},
    summary="The alert as CAP 1.2 XML, redacted to your tier",
)
def get_cap(
    alert_id: AlertId,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
) -> Response:
    tier = _tier_or_401(principal)
    alert = _load(uow, alert_id, tier, principal)
    cfg = _config()
    xml = cap_for(alert, tier, sender=cfg.sender if cfg else DEFAULT_SENDER)
    _audit_read(uow, principal, alert, "cap")
    return Response(xml, media_type=CAP_MIME, headers={"cache-control": "no-store"})


@router.get("/{alert_id}", response_model=AlertOut, summary="One alert, redacted to your tier")
def get_alert(
    alert_id: AlertId,
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    tier = _tier_or_401(principal)
    alert = _load(uow, alert_id, tier, principal)
    _audit_read(uow, principal, alert, "api")
    return _view(uow, alert, tier, services.settings.clock())


# ------------------------------------------------------------------ steps

_CONFLICT = {409: {"description": "the alert's state does not allow this step"}}


@dataclass(frozen=True)
class Stepper:
    """What every lifecycle step needs: who acts, the request's transaction, the clock."""

    principal: Principal
    uow: UnitOfWork
    services: Services

    @property
    def actor(self) -> str:
        return lifecycle_actor(self.principal)

    def step(
        self, alert_id: str, action: AlertAction, run: Callable[[datetime], StepResult]
    ) -> dict[str, Any]:
        """Checks the caller may take ``action`` on this alert, runs the step at the request's
        time within the caller's tier, audits it and answers with the alert as now seen."""
        tier = _require(self.principal, action)
        now = self.services.settings.clock()
        return _step(self.uow, self.principal, alert_id, tier, now, lambda: run(now))


def stepper(
    principal: Principal = Depends(current_principal),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Stepper:
    return Stepper(principal, uow, services)


@router.post(
    "/{alert_id}/issue", response_model=AlertOut, responses=_CONFLICT, summary="Issue a draft"
)
def issue_alert(alert_id: AlertId, ctx: Stepper = Depends(stepper)) -> dict[str, Any]:
    """Confirms a draft: sets its acknowledgement deadline and queues it, redacted per
    channel, for every channel of the mission's trigger file cleared for its tier."""
    _load(ctx.uow, alert_id, _require(ctx.principal, AlertAction.ISSUE), ctx.principal)
    cfg = _config()
    if cfg is None:  # a state of this server, not a fault: nothing can be issued until fixed
        raise HTTPException(
            409, "alerts are not configured on this server: no valid trigger file to issue with"
        )
    return ctx.step(
        alert_id,
        AlertAction.ISSUE,
        lambda now: issue_stored(
            ctx.uow.conn,
            alert_id,
            actor=ctx.actor,
            now=now,
            ladder=cfg.ladder(),
            channels=cfg.delivery_channels(),
            sender=cfg.sender,
        ),
    )


@router.post(
    "/{alert_id}/acknowledge",
    response_model=AlertOut,
    responses=_CONFLICT,
    summary="Acknowledge an issued alert",
)
def acknowledge_alert(alert_id: AlertId, ctx: Stepper = Depends(stepper)) -> dict[str, Any]:
    return ctx.step(
        alert_id,
        AlertAction.ACKNOWLEDGE,
        lambda now: acknowledge_stored(ctx.uow.conn, alert_id, actor=ctx.actor, now=now),
    )


@router.post(
    "/{alert_id}/responses",
    response_model=AlertOut,
    responses=_CONFLICT,
    summary="Assign a response (patrol, engagement, referral, early-warning message)",
)
def assign_response(
    alert_id: AlertId, body: ResponseIn, ctx: Stepper = Depends(stepper)
) -> dict[str, Any]:
    return ctx.step(
        alert_id,
        AlertAction.RESPOND,
        lambda now: assign_stored(
            ctx.uow.conn,
            alert_id,
            actor=ctx.actor,
            now=now,
            kind=body.kind,
            description=body.description,
            assigned_to=body.assigned_to,
            started=body.started,
        ),
    )


@router.post(
    "/{alert_id}/responses/{task_id}/{action}",
    response_model=AlertOut,
    responses=_CONFLICT,
    summary="Start, complete or cancel a response task",
)
def update_task(
    alert_id: AlertId,
    task_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,36}$")],
    action: Literal["start", "complete", "cancel"],
    body: TaskUpdateIn | None = None,
    ctx: Stepper = Depends(stepper),
) -> dict[str, Any]:
    def run(now: datetime) -> StepResult:
        task = update_task_stored(
            ctx.uow.conn,
            alert_id,
            task_id,
            action=action,
            now=now,
            note=body.note if body else None,
        )
        return StepResult(repo.load_alert(ctx.uow.conn, alert_id), (), task=task)

    view = ctx.step(alert_id, AlertAction.RESPOND, run)
    ctx.uow.audit(
        ctx.principal.actor(),
        f"alert.task_{action}",
        f"alert:{alert_id}",
        {"task_id": task_id, "note_given": bool(body and body.note)},
    )
    return view


@router.post(
    "/{alert_id}/close",
    response_model=AlertOut,
    responses=_CONFLICT,
    summary="Close with an outcome (or reject a draft: outcome 'rejected')",
)
def close_alert(
    alert_id: AlertId, body: CloseIn, ctx: Stepper = Depends(stepper)
) -> dict[str, Any]:
    rejecting = body.outcome is Outcome.REJECTED
    return ctx.step(
        alert_id,
        AlertAction.ISSUE if rejecting else AlertAction.CLOSE,
        lambda now: close_stored(
            ctx.uow.conn,
            alert_id,
            actor=ctx.actor,
            now=now,
            outcome=body.outcome,
            note=body.note,
        ),
    )
