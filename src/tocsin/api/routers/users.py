"""``/api/v1/users``: account administration (admins, interactive session only), and the role
policy table for everyone to read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path

from tocsin.api.deps import get_services, require, require_session
from tocsin.api.schemas.auth import UserOut
from tocsin.api.schemas.common import Message
from tocsin.api.schemas.users import RolePolicyOut, UserCreateIn, UserEnrollment, UserPatchIn
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security import users as accounts
from tocsin.security.passwords import PasswordRejected
from tocsin.security.policies import ROLE_POLICIES, Permission
from tocsin.security.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["users"], route_class=UnitOfWorkRoute)
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


async def admin_session(
    principal: Principal = Depends(require(Permission.USERS_MANAGE)),
    _session: Principal = Depends(require_session),
) -> Principal:
    return principal


@router.get("/roles", response_model=list[RolePolicyOut], summary="The role policy table")
def roles(
    _principal: Principal = Depends(require(Permission.TOKENS_OWN)),
) -> list[dict[str, Any]]:
    """What each role may see and do (record tiers, case classes, field groups)."""
    return [
        {
            "role": p.role.value,
            "title": p.title,
            "description": p.description,
            "max_tier": None if p.max_tier is None else p.max_tier.value,
            "case_classes": sorted(c.value for c in p.case_classes),
            "fields": sorted(f.value for f in p.fields),
            "permissions": sorted(x.value for x in p.permissions),
            "own_records_only": p.own_records_only,
            "aggregate_max_tier": None
            if p.aggregate_max_tier is None
            else p.aggregate_max_tier.value,
            "small_count_threshold": p.small_count_threshold,
            "requires_2fa": p.requires_2fa,
        }
        for p in ROLE_POLICIES.values()
    ]


@router.get("/users", response_model=list[UserOut], summary="List users")
def list_users(
    _admin: Principal = Depends(admin_session), uow: UnitOfWork = Depends(get_uow)
) -> list[dict[str, Any]]:
    return [u.as_public_dict() for u in accounts.list_users(uow.conn)]


@router.post(
    "/users",
    status_code=201,
    response_model=UserEnrollment,
    responses={400: {"model": Message}, 409: {"model": Message}},
    summary="Create a user",
)
def create_user(
    body: UserCreateIn,
    admin: Principal = Depends(admin_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Returns the TOTP provisioning URI once when the role needs 2FA."""
    try:
        user, uri = accounts.create_user(
            uow.conn,
            services.settings.passwords,
            services.keys,
            username=body.username,
            display_name=body.display_name,
            role=body.role,
            password=body.password,
            actor=admin.actor(),
            now=services.settings.clock(),
        )
    except accounts.UserExists as exc:
        raise HTTPException(409, str(exc)) from exc
    except (accounts.AccountError, PasswordRejected) as exc:
        raise HTTPException(400, str(exc)) from exc
    return {"user": user.as_public_dict(), "totp_provisioning_uri": uri}


def _user_or_404(uow: UnitOfWork, user_id: int) -> accounts.User:
    user = accounts.get_user(uow.conn, user_id)
    if user is None:
        raise HTTPException(404, "no such user")
    return user


@router.patch(
    "/users/{user_id}",
    response_model=UserEnrollment,
    responses={400: {"model": Message}, 404: {"model": Message}, 409: {"model": Message}},
    summary="Change a user's role, name or disabled state",
)
def patch_user(
    user_id: UserId,
    body: UserPatchIn,
    admin: Principal = Depends(admin_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    user = _user_or_404(uow, user_id)
    now = services.settings.clock()
    uri = None
    try:
        if body.display_name is not None and body.display_name != user.display_name:
            accounts.set_display_name(uow.conn, user, body.display_name, admin.actor(), now)
        if body.role is not None:
            uri = accounts.set_role(uow.conn, services.keys, user, body.role, admin.actor(), now)
        if body.disabled is not None and body.disabled != user.disabled:
            fresh = accounts.get_user(uow.conn, user.id)
            assert fresh is not None
            accounts.set_disabled(uow.conn, fresh, body.disabled, admin.actor(), now)
    except accounts.AccountError as exc:
        raise HTTPException(409, str(exc)) from exc
    fresh = accounts.get_user(uow.conn, user.id)
    assert fresh is not None
    return {"user": fresh.as_public_dict(), "totp_provisioning_uri": uri}


@router.post(
    "/users/{user_id}/reset-2fa",
    response_model=UserEnrollment,
    responses={404: {"model": Message}},
    summary="Issue a new TOTP secret (ends the user's sessions and tokens)",
)
def reset_2fa(
    user_id: UserId,
    admin: Principal = Depends(admin_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    user = _user_or_404(uow, user_id)
    uri = accounts.reset_2fa(
        uow.conn, services.keys, user, admin.actor(), services.settings.clock()
    )
    fresh = accounts.get_user(uow.conn, user.id)
    assert fresh is not None
    return {"user": fresh.as_public_dict(), "totp_provisioning_uri": uri}


@router.post(
    "/users/{user_id}/unlock",
    response_model=UserOut,
    responses={404: {"model": Message}},
    summary="Lift a lockout after failed logins",
)
def unlock(
    user_id: UserId,
    admin: Principal = Depends(admin_session),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    user = _user_or_404(uow, user_id)
    accounts.unlock(uow.conn, services.keys, user, admin.actor(), services.settings.clock())
    fresh = accounts.get_user(uow.conn, user.id)
    assert fresh is not None
    return fresh.as_public_dict()
