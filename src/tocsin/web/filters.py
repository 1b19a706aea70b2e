"""The incident filter of the map page: parsed from the query string, validated, and turned into
the store's :class:`EventQuery` plus a narrowed access scope.

The same parameters drive the page (``GET /map``) and its data (``GET /map/events.geojson``),
so a filtered map can be bookmarked and works without JavaScript. They carry no personal data:
dates, types of violence, an armed actor's name and a tier.

Bad input never raises: each problem becomes a :class:`FilterProblem` the page shows next to
the field (with status 400), and the bad value is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from tocsin.domain.taxonomy import SensitivityTier, ViolenceType
from tocsin.security.policies import AccessScope
from tocsin.store.queries import EventQuery, QueryError
from tocsin.web.i18n import N_

MAX_ACTOR_CHARS = 255
MAX_VALUE_CHARS = 300  # any single parameter value; longer is refused, not truncated


@dataclass(frozen=True, slots=True)
class FilterProblem:
    field: str
    message: str  # an English msgid; the template translates it
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MapFilters:
    start: date | None = None
    end: date | None = None
    violence_types: tuple[ViolenceType, ...] = ()
    actor: str | None = None
    max_tier: SensitivityTier | None = None  # None: every tier the viewer may see
    problems: tuple[FilterProblem, ...] = ()

    def query(self) -> EventQuery:
        return EventQuery(
            start=self.start,
            end=self.end,
            violence_types=self.violence_types,
            actor=self.actor,
        )

    def scope(self, viewer: AccessScope) -> AccessScope:
        """The viewer's scope, narrowed to tiers up to ``max_tier`` (never widened)."""
        if self.max_tier is None:
            return viewer
        tiers = frozenset(t for t in viewer.tiers if t <= self.max_tier)
        return replace(viewer, tiers=tiers)

    def as_params(self) -> list[tuple[str, str]]:
        """Query-string pairs of the valid filters, in a stable order."""
        out: list[tuple[str, str]] = []
        if self.start:
            out.append(("start", self.start.isoformat()))
        if self.end:
            out.append(("end", self.end.isoformat()))
        out += [("type", v.value) for v in self.violence_types]
        if self.actor:
            out.append(("actor", self.actor))
        if self.max_tier:
            out.append(("tier", self.max_tier.value))
        return out

    def query_string(self) -> str:
        return urlencode(self.as_params())

    @property
    def active(self) -> bool:
        return bool(self.as_params())


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name) or []
    value = values[-1].strip() if values else ""
    return value or None


def _date(
    params: Mapping[str, Sequence[str]], name: str, problems: list[FilterProblem]
) -> date | None:
    text = _one(params, name)
    if text is None:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        problems.append(FilterProblem(name, N_("Enter a date as YYYY-MM-DD.")))
        return None
    if value.year < 1946:
        problems.append(FilterProblem(name, N_("Dates before 1946 are not held.")))
        return None
    return value


def parse_filters(
    params: Mapping[str, Sequence[str]], allowed_tiers: frozenset[SensitivityTier]
) -> MapFilters:
    """Filters from query parameters (name -> list of values, as ``parse_qs`` gives them)."""
    problems: list[FilterProblem] = []
    for name, values in params.items():
        if any(len(v) > MAX_VALUE_CHARS for v in values) or len(values) > 20:
            return MapFilters(problems=(FilterProblem(name, N_("This value is too long.")),))
    start = _date(params, "start", problems)
    end = _date(params, "end", problems)
    if start and end and start > end:
        problems.append(FilterProblem("end", N_("The end date is before the start date.")))
        end = None
    types: list[ViolenceType] = []
    for value in params.get("type") or []:
        try:
            types.append(ViolenceType(value))
        except ValueError:
            problems.append(FilterProblem("type", N_("Unknown type of violence.")))
    actor = _one(params, "actor")
    if actor is not None:
        try:
            EventQuery(actor=actor)
        except QueryError:
            problems.append(FilterProblem("actor", N_("Enter an actor's name.")))
            actor = None
    max_tier = None
    if (tier_text := _one(params, "tier")) is not None:
        try:
            max_tier = SensitivityTier(tier_text)
        except ValueError:
            problems.append(FilterProblem("tier", N_("Unknown tier.")))
        else:
            if max_tier not in allowed_tiers:
                # Asking for more than one may see is refused, not silently narrowed.
                problems.append(FilterProblem("tier", N_("You may not see this tier.")))
                max_tier = None
    return MapFilters(
        start=start,
        end=end,
        violence_types=tuple(dict.fromkeys(types)),
        actor=actor,
        max_tier=max_tier,
        problems=tuple(problems),
    )
