"""``/api/v1/users/{id}/contact``: the staff directory for alert escalation (admins only, in an
interactive session, like the rest of account administration).

Addresses travel only in request and response bodies, never in the URL (access logs keep
paths), and are stored encrypted (TM-88). Changes are ledgered without the address
(``tocsin.alerts.directory``). Bodies forbid unknown fields; a malformed e-mail or phone number
is a 422 that does not repeat the value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response

from tocsin.alerts.directory import (
    MAX_EMAIL_CHARS,
    MAX_PHONE_CHARS,
    ContactIn,
    SealedContactError,
    clear_contact,
    get_contact,
    set_contact,
)
from tocsin.api.deps import get_services
from tocsin.api.routers.users import UserId, admin_session
from tocsin.api.schemas.common import Message, Out
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security import users as accounts
from tocsin.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["users"], route_class=UnitOfWorkRoute)


class ContactOut(Out):
    user_id: int
    email: str | None
    phone: str | None
    updated_at: datetime


_NOT_FOUND = {404: {"model": Message}}
_UNREADABLE = {503: {"model": Message, "description": "the stored contact does not open"}}
_NO_STORE = {"cache-control": "no-store"}


def _user_or_404(uow: UnitOfWork, user_id: int) -> accounts.User:
    user = accounts.get_user(uow.conn, user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    return user


@router.get(
    "/users/{user_id}/contact",
    response_model=ContactOut,
    responses=_NOT_FOUND | _UNREADABLE,
    summary="A user's e-mail and phone for alert escalation",
)
def get_user_contact(
    user_id: UserId,
    response: Response,
    _admin: Principal = Depends(admin_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    user = _user_or_404(uow, user_id)
    try:
        contact = get_contact(uow.conn, user.id, services.keys)
    except SealedContactError as exc:
        raise HTTPException(503, str(exc)) from None
    if contact is None:
        raise HTTPException(404, "this user has no alert contact")
    response.headers.update(_NO_STORE)
    return contact.as_dict()


@router.put(
    "/users/{user_id}/contact",
    response_model=ContactOut,
    responses=_NOT_FOUND,
    summary="Set (replace) a user's e-mail and/or phone for alert escalation",
    description=f"Body: `{{email, phone}}`, at least one; e-mail at most {MAX_EMAIL_CHARS} "
    f"characters, phone E.164 (at most {MAX_PHONE_CHARS}). A field left out is removed.",
)
def put_user_contact(
    user_id: UserId,
    body: ContactIn,
    response: Response,
    admin: Principal = Depends(admin_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    user = _user_or_404(uow, user_id)
    contact = set_contact(
        uow.conn, user.id, body, admin.actor(), services.keys, services.settings.clock()
    )
    response.headers.update(_NO_STORE)
    return contact.as_dict()


@router.delete(
    "/users/{user_id}/contact",
    status_code=204,
    responses=_NOT_FOUND,
    summary="Remove a user's alert contact",
)
def delete_user_contact(
    user_id: UserId,
    admin: Principal = Depends(admin_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> Response:
    user = _user_or_404(uow, user_id)
    if not clear_contact(uow.conn, user.id, admin.actor(), services.settings.clock()):
        raise HTTPException(404, "this user has no alert contact")
    return Response(status_code=204)
