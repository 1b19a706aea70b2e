"""``/api/v1/audit``: the ledger, for admins only. Reading it is itself audited."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field
from sqlalchemy import select

from tocsin.api.deps import get_services, require
from tocsin.api.schemas.audit import AuditPage, CheckpointOut, VerifyOut
from tocsin.api.schemas.common import Message, Strict
from tocsin.api.services import Services
from tocsin.api.uow import ReadOnlyRoute, UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security import audit
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.store.schema_security import audit_checkpoints, audit_log

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], route_class=UnitOfWorkRoute)
MAX_INT = 2**31 - 1


class AuditParams(Strict):
    after_seq: int = Field(default=0, ge=0, le=MAX_INT)
    limit: int = Field(default=100, ge=1, le=1000)
    action: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9_.]+$")
    actor_user_id: int | None = Field(default=None, ge=1, le=MAX_INT)


@router.get("", response_model=AuditPage, summary="Read the audit log (admins)")
def read_log(
    params: Annotated[AuditParams, Query()],
    principal: Principal = Depends(require(Permission.AUDIT_READ)),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    t = audit_log.c
    stmt = select(audit_log).where(t.seq > params.after_seq)
    if params.action is not None:
        stmt = stmt.where(t.action == params.action)
    if params.actor_user_id is not None:
        stmt = stmt.where(t.actor_user_id == params.actor_user_id)
    rows = list(uow.conn.execute(stmt.order_by(t.seq).limit(params.limit + 1)))
    page = rows[: params.limit]
    items = [{**row._asdict(), "details": json.loads(row.details)} for row in page]
    uow.audit(
        principal.actor(),
        "audit.read",
        "audit_log",
        {"after_seq": params.after_seq, "returned": len(items)},
    )
    return {"items": items, "next_after_seq": page[-1].seq if len(rows) > params.limit else None}


@router.get("/checkpoints", response_model=list[CheckpointOut], summary="Signed checkpoints")
def checkpoints(
    _principal: Principal = Depends(require(Permission.AUDIT_READ)),
    uow: UnitOfWork = Depends(get_uow),
) -> list[dict[str, Any]]:
    rows = uow.conn.execute(
        select(
            audit_checkpoints.c.seq,
            audit_checkpoints.c.entry_hash,
            audit_checkpoints.c.at,
            audit_checkpoints.c.key_id,
            audit_checkpoints.c.signature,
        ).order_by(audit_checkpoints.c.seq)
    )
    return [row._asdict() for row in rows]


def take_checkpoint(
    principal: Principal = Depends(require(Permission.AUDIT_READ)),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Signs the current head in its own short transaction (hence a read-only route)."""
    if principal.auth == "token":
        raise HTTPException(403, "this needs a logged-in session, not an API token")
    cp = services.checkpoint()
    if cp is None:
        raise HTTPException(
            409, "the head of the log is already checkpointed (or the log is empty)"
        )
    return json.loads(cp.to_json())


router.add_api_route(
    "/checkpoints",
    take_checkpoint,
    methods=["POST"],
    response_model=CheckpointOut,
    responses={409: {"model": Message, "description": "nothing new to checkpoint"}},
    summary="Sign a checkpoint of the current head now",
    route_class_override=ReadOnlyRoute,
)


@router.get("/verify", response_model=VerifyOut, summary="Verify the whole chain")
def verify(
    principal: Principal = Depends(require(Permission.AUDIT_READ)),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    report = audit.verify(
        uow.conn, services.keys.verify_key(), audit.checkpoint_file(services.settings.home)
    )
    uow.audit(principal.actor(), "audit.verify", "audit_log", {"ok": report.ok})
    return report.as_dict()
