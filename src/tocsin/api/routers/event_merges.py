"""Merging stored incidents: ``/api/v1/events/{uid}/merge`` and its undo.

- ``POST /api/v1/events/{uid}/merge`` (body ``{"members": [uid, ...], "reason": "..."}``): folds
  the duplicates into ``uid`` (``tocsin.verify.event_merge_store``). The survivor takes the
  highest tier and the most restrictive case class of all, so merging never lowers protection.
- ``POST /api/v1/events/merges/{merge_id}/undo`` (optional body ``{"force": true}``): puts every
  event back exactly as it was; 409 if the survivor was edited since (``force`` discards those
  edits, and the ledger says so) or a later merge into it is still in force.
- ``GET /api/v1/events/{uid}/merges``: the merges into an event (ids, members, times).

Analysts and administrators only (403 for every other role, and for a token without the
'write' scope). Every event involved must be in the caller's scope: one that is not is a 404,
exactly like one that does not exist, so the answer never confirms that a hidden record exists.
Each merge and undo is one transaction with its ledger entries; a refused request writes
nothing. Errors: 404 unknown or invisible, 409 already merged / concurrent merge / undo
conflict, 422 malformed body, self-merge or too many members.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import Field
from sqlalchemy.exc import IntegrityError

from tocsin.api.deps import get_services, require
from tocsin.api.schemas.common import Strict
from tocsin.api.schemas.reports import Text
from tocsin.api.services import Services
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security.policies import Permission, Role
from tocsin.security.principal import Principal
from tocsin.security.tokens import TokenScope
from tocsin.store.queries import Scope, get_event
from tocsin.verify import event_merge_store as store
from tocsin.verify.merge import MAX_REASON_CHARS

router = APIRouter(prefix="/api/v1/events", tags=["events"], route_class=UnitOfWorkRoute)

MERGING_ROLES = frozenset({Role.ANALYST, Role.ADMIN})
NOT_FOUND = "no such event in your scope"
UID_PATTERN = r"^[A-Za-z0-9_-]+$"
EventUid = Annotated[str, Field(min_length=1, max_length=64, pattern=UID_PATTERN)]
EventUidPath = Annotated[str, Path(min_length=1, max_length=64, pattern=UID_PATTERN)]
MergeIdPath = Annotated[str, Path(min_length=36, max_length=36, pattern=r"^[0-9a-f-]{36}$")]


class EventMergeIn(Strict):
    members: list[EventUid] = Field(min_length=1, max_length=store.MAX_MEMBERS)
    reason: Text = Field(min_length=1, max_length=MAX_REASON_CHARS)


class EventMergeUndoIn(Strict):
    force: bool = False


def merger(principal: Principal = Depends(require(Permission.EVENTS_DELETE))) -> Principal:
    """Analysts and administrators, with a write-capable session or token. (Merging removes
    the members from the event set, hence the delete permission on top of the role.)"""
    if principal.role not in MERGING_ROLES:
        raise HTTPException(403, "only analysts and administrators may merge incidents")
    if principal.auth == "token" and TokenScope.WRITE not in (principal.token_scopes or ()):
        raise HTTPException(403, "this token lacks the 'write' scope")
    return principal


@contextmanager
def merge_errors() -> Iterator[None]:
    """The store's exceptions as clear HTTP errors (the unit of work then rolls back)."""
    try:
        yield
    except store.EventNotFound as exc:
        raise HTTPException(404, f"{NOT_FOUND}: {exc.uid}") from exc
    except store.MergeNotFound as exc:
        raise HTTPException(404, "no such merge in your scope, or already undone") from exc
    except (store.MergeRefused, store.MergeConflict) as exc:
        raise HTTPException(409, str(exc)) from exc
    except store.MergeError as exc:
        raise HTTPException(422, str(exc)) from exc
    except IntegrityError as exc:  # a concurrent merge of the same event committed first
        raise HTTPException(409, "one of these events was merged meanwhile; try again") from exc


def _audit(uow: UnitOfWork, principal: Principal, outcome: store.MergeOutcome) -> None:
    for entry in outcome.ledger_entries(principal.actor()):
        uow.audit(entry.actor, entry.action, entry.target, entry.details)


@router.post(
    "/{uid}/merge",
    summary="Merge duplicate incidents into this one",
    responses={
        403: {"description": "not an analyst or administrator"},
        404: {"description": "an event is unknown or outside your scope"},
        409: {"description": "an event was already merged, or a concurrent merge won"},
    },
)
def merge_events(
    uid: EventUidPath,
    body: EventMergeIn,
    principal: Principal = Depends(merger),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    with merge_errors():
        outcome = store.merge_stored_events(
            uow.conn,
            principal.record_scope(),
            uid,
            body.members,
            reason=body.reason,
            now=services.settings.clock(),
            actor=principal.actor(),
        )
    _audit(uow, principal, outcome)
    return {
        "merge_id": outcome.merge_id,
        "survivor": outcome.survivor_uid,
        "members": list(outcome.member_uids),
        "sensitivity": outcome.sensitivity,
        "case_class": outcome.case_class,
        "url": f"/api/v1/events/{uid}",
        "undo": f"/api/v1/events/merges/{outcome.merge_id}/undo",
    }


@router.post(
    "/merges/{merge_id}/undo",
    summary="Undo a merge of incidents exactly",
    responses={
        404: {"description": "no such merge in your scope, or already undone"},
        409: {"description": "the survivor changed since (use force), or a later merge"},
    },
)
def undo_event_merge(
    merge_id: MergeIdPath,
    body: EventMergeUndoIn | None = None,
    principal: Principal = Depends(merger),
    uow: UnitOfWork = Depends(get_uow),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    with merge_errors():
        outcome = store.undo_stored_merge(
            uow.conn,
            principal.record_scope(),
            merge_id,
            now=services.settings.clock(),
            actor=principal.actor(),
            force=bool(body and body.force),
        )
    _audit(uow, principal, outcome)
    return {
        "merge_id": outcome.merge_id,
        "survivor": outcome.survivor_uid,
        "restored": list(outcome.member_uids),
        "undone": True,
    }


@router.get(
    "/{uid}/merges",
    summary="Merges into this incident",
    responses={404: {"description": "no such event in your scope"}},
)
def list_event_merges(
    uid: EventUidPath,
    principal: Principal = Depends(merger),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    scope = principal.record_scope()
    if (
        get_event(uow.conn, uid, Scope(scope.tiers, scope.case_classes, scope.owner_user_id))
        is None
    ):
        raise HTTPException(404, NOT_FOUND)
    return {"items": store.merges_into(uow.conn, uid)}


__all__ = ["EventMergeIn", "EventMergeUndoIn", "router"]
