"""``/api/v1/aggregates``: counts and fatality sums, grouped.

Computed over the role's *aggregate* scope, which for partners is wider than the records they
may see (internal tier); then every group with fewer events than the role's threshold is
suppressed (its numbers are absent), so that no single case can be singled out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from tocsin.api.deps import require
from tocsin.api.records import store_scope
from tocsin.api.schemas.common import Out
from tocsin.api.schemas.events import EventFilter
from tocsin.api.uow import UnitOfWork, UnitOfWorkRoute, get_uow
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.store.queries import count_by

router = APIRouter(prefix="/api/v1/aggregates", tags=["aggregates"], route_class=UnitOfWorkRoute)

Dimension = Literal[
    "violence_type",
    "threat_category",
    "country_iso3",
    "admin1_pcode",
    "dataset",
    "sensitivity",
    "month",
    "year",
]


class AggregateParams(EventFilter):
    by: list[Dimension] = Field(default_factory=lambda: ["month"], min_length=1, max_length=3)


class GroupOut(Out):
    key: dict[str, str | None]
    events: int | None = Field(default=None, description="absent when suppressed")
    fatalities: int | None = Field(default=None, description="absent when suppressed")
    suppressed: bool


class AggregateOut(Out):
    by: list[str]
    groups: list[GroupOut]
    suppression_threshold: int = Field(description="groups under this many events are hidden")


@router.get(
    "/events",
    response_model=AggregateOut,
    response_model_exclude_unset=True,
    summary="Event counts grouped by up to three dimensions",
)
def aggregate_events(
    params: Annotated[AggregateParams, Query()],
    principal: Principal = Depends(require(Permission.AGGREGATES_READ)),
    uow: UnitOfWork = Depends(get_uow),
) -> dict[str, Any]:
    scope = principal.aggregate_scope()
    by = list(dict.fromkeys(params.by))
    threshold = principal.policy.small_count_threshold
    groups: list[dict[str, Any]] = []
    if not scope.is_empty:
        for g in count_by(uow.conn, params.to_query(), store_scope(scope), by):
            group: dict[str, Any] = {"key": dict(zip(by, g.key, strict=True))}
            if g.events < threshold:
                group["suppressed"] = True
            else:
                group.update(events=g.events, fatalities=g.fatalities, suppressed=False)
            groups.append(group)
    return {"by": by, "groups": groups, "suppression_threshold": threshold}
