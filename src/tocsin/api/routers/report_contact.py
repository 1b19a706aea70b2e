"""Reaching the person who reported, without exposing them.

- ``POST /api/v1/reports/{report_id}/messages``: an officer writes to the reporter. The
  system opens the sealed number for the outbound SMS adapter alone
  (``vault.unseal_for_delivery``); the officer sees only the reporter's pseudonym.
- ``POST /api/v1/reports/{report_id}/contact/unseal``: break-glass. A protection officer or
  an administrator, in an interactive (2FA-checked) session, gives a written reason and gets
  the contact details. The reason and who asked go into the audit ledger in the same
  transaction, committed before the details leave; the response is ``no-store``.

Both are scoped by the caller's rights on the report's case: its case class and sensitivity
(``report_cases``) must be inside the caller's record scope, else the answer is 404 exactly as
for a report that does not exist. Both need a session, not an API token: a script holding a
token must not be able to write to, or unmask, people at risk.

Order of the message path: the ledger entries (who asked, and the system opening the record
for delivery) are committed *first*, then the SMS is sent. A send that fails afterwards is
recorded by a second entry; a message that leaves without a ledger entry cannot happen.
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from tocsin.api.deps import current_principal, get_services
from tocsin.api.routers.intake_sms import get_outbound
from tocsin.api.schemas.common import Strict
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.intake import gateways as gw
from tocsin.intake.repository import load_case, load_report, load_sealed_contact
from tocsin.intake.service import get_intake
from tocsin.security import audit
from tocsin.security.audit import Actor
from tocsin.security.policies import Permission, Role
from tocsin.security.principal import Principal
from tocsin.security.txn import write_transaction
from tocsin.security.vault import (
    MAX_REASON_CHARS,
    UnsealError,
    VaultAuditEvent,
    unseal,
    unseal_for_delivery,
)

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], route_class=UnitOfWorkRoute)

MAX_MESSAGE_CHARS = 459  # three concatenated GSM-7 segments
BREAK_GLASS_ROLES = frozenset({Role.PROTECTION_OFFICER, Role.ADMIN})
NOT_FOUND = "no such report in your scope"


class MessageIn(Strict):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class UnsealIn(Strict):
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


def _interactive(principal: Principal) -> None:
    if not principal.authenticated:
        raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    if principal.auth != "session":
        raise HTTPException(403, "this needs a logged-in session, not an API token")


def _case_in_scope(uow: UnitOfWork, principal: Principal, report_id: str) -> None:
    case = load_case(uow.conn, report_id) if len(report_id) <= 64 else None
    if case is None or not principal.record_scope().admits(
        case.sensitivity.value, case.case_class.value, None
    ):
        raise HTTPException(404, NOT_FOUND)


def _ledger(uow: UnitOfWork, event: VaultAuditEvent, actor: Actor | None = None) -> None:
    """Appends a vault event (same shape as a ledger entry) to this request's ledger entries."""
    who = actor or Actor(event.actor)
    uow.audit(who, event.action, f"report:{event.subject_id}", dict(event.details))


# Bidirectional overrides can make an SMS read differently from what the ledger's length says.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _check_message(text: str) -> None:
    for ch in text:
        if (unicodedata.category(ch) == "Cc" and ch != "\n") or ch in _BIDI_CONTROLS:
            raise HTTPException(422, "the message contains control characters")


@router.post(
    "/{report_id}/messages",
    summary="Send an SMS to the reporter (you see their pseudonym, never the number)",
    responses={
        404: {"description": NOT_FOUND},
        409: {"description": "the reporter left no phone number"},
        502: {"description": "the SMS gateway refused the message (recorded in the ledger)"},
    },
)
def message_reporter(
    report_id: str,
    body: MessageIn,
    request: Request,
    uow: UnitOfWork = Depends(get_uow),
    principal: Principal = Depends(current_principal),
    services: Services = Depends(get_services),
) -> Any:
    _interactive(principal)
    if not principal.can(Permission.EVENTS_UPDATE):
        raise HTTPException(403, "your role may not write to reporters")
    _case_in_scope(uow, principal, report_id)
    text = body.text
    _check_message(text)
    stored = load_report(uow.conn, report_id)
    sealed = load_sealed_contact(uow.conn, report_id)
    intake = get_intake(request)
    now = services.settings.clock()
    try:
        contact, opened = (
            unseal_for_delivery(
                sealed,
                intake.keyring,
                purpose="message to reporter",
                requested_by=principal.username,
                now=now,
            )
            if sealed is not None
            else (None, None)
        )
    except UnsealError as exc:
        raise HTTPException(409, f"the contact record cannot be opened: {exc}") from exc
    if contact is None or opened is None or not contact.phone:
        raise HTTPException(409, "the reporter left no phone number to write to")
    reference = f"report:{report_id}:msg:{uuid.uuid4().hex[:12]}"
    actor = principal.actor()
    details = {"chars": len(text), "reference": reference}
    uow.audit(actor, "report.message_sent", f"report:{report_id}", details)
    _ledger(uow, opened)
    uow.commit()  # the ledger first: no message leaves unrecorded

    outbound = get_outbound(request)
    try:
        receipt = outbound.send(contact.phone, text, reference=reference)
    except Exception as exc:  # noqa: BLE001 - any adapter failure is answered the same way
        # The type only: an adapter's message may carry the number, and this goes to the ledger.
        receipt = gw.DeliveryReceipt(accepted=False, error=type(exc).__name__)
    else:
        if not receipt.accepted:  # the gateway's own wording is not kept, for the same reason
            receipt = gw.DeliveryReceipt(accepted=False, error="refused by the gateway")
    pseudonym = stored.reporter_pseudonym if stored else None
    if not receipt.accepted:
        with write_transaction(services.engine) as conn:
            audit.record(
                conn,
                actor,
                "report.message_failed",
                f"report:{report_id}",
                {"reference": reference, "error": receipt.error},
                now,
            )
        return JSONResponse(
            {"detail": "the SMS gateway did not accept the message", "reference": reference},
            status_code=502,
        )
    return {"report_id": report_id, "reporter": pseudonym, "reference": reference, "sent": True}


@router.post(
    "/{report_id}/contact/unseal",
    summary="Break-glass: open the reporter's contact details (reason required, audited)",
    responses={
        400: {"description": "no usable reason"},
        403: {"description": "only protection officers and administrators, in a session"},
        404: {"description": NOT_FOUND + ", or no contact details left with it"},
    },
)
def unseal_contact(
    report_id: str,
    body: UnsealIn,
    request: Request,
    uow: UnitOfWork = Depends(get_uow),
    principal: Principal = Depends(current_principal),
    services: Services = Depends(get_services),
) -> Any:
    _interactive(principal)
    if principal.role not in BREAK_GLASS_ROLES:
        raise HTTPException(403, "only protection officers and administrators may unseal")
    _case_in_scope(uow, principal, report_id)
    sealed = load_sealed_contact(uow.conn, report_id)
    if sealed is None:
        raise HTTPException(404, "the reporter left no contact details with this report")
    try:
        contact, event = unseal(
            sealed,
            get_intake(request).keyring,
            actor=principal.username,
            reason=body.reason,
            now=services.settings.clock(),
        )
    except UnsealError as exc:
        raise HTTPException(400, str(exc)) from exc
    _ledger(uow, event, principal.actor())
    # Committed by the route before this response is sent; no-store is also set for every
    # API response by the security headers, stated again here because it matters most here.
    return JSONResponse(
        {
            "report_id": report_id,
            "phone": contact.phone,
            "name": contact.name,
            "email": contact.email,
            "other": contact.other,
        },
        headers={"Cache-Control": "no-store"},
    )
