"""Corroboration on the incident page: other stored incidents that probably describe the same
event, scored by the verification module's engine (``tocsin.verify.engine``).

An incident from another dataset or channel is a *corroboration* (an independent account); one
from the same source a *duplicate*. Candidates are the incidents within ``SEARCH_DAYS`` days
and ``SEARCH_KM`` km that the viewer's scope admits.

Location is what the match rests on, so it is also what a match could leak (TM-68): listing a
case whose location is withheld from the viewer next to one whose village the viewer can read
would tell where the first happened. So corroboration is computed only when the viewer may see
the incident's exact location, and only among candidates whose location the viewer may see too.
The rows carry date, dataset, type, relation and score: nothing a link to the candidate's own
page (redacted as usual) would not show.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from tocsin.domain.entities import Event
from tocsin.security.policies import AccessScope
from tocsin.store.queries import EventQuery, Scope, search_events
from tocsin.web.map_data import Redactor

SEARCH_DAYS = 10
SEARCH_KM = 60.0
CANDIDATE_POOL = 200
SHOWN = 5


@dataclass(frozen=True, slots=True)
class CorroborationRow:
    uid: str
    dataset: str
    date: str
    violence_type: str
    relation: str  # "corroboration" (another source) or "duplicate" (the same source)
    score: float


@dataclass(frozen=True, slots=True)
class Corroboration:
    available: bool  # False: the incident's location is withheld from this viewer
    rows: tuple[CorroborationRow, ...] = ()


def _location_visible(redactor: Redactor, tier: str, case_class: str) -> bool:
    hidden = redactor.hidden_keys(tier, case_class)
    return hidden is not None and "latitude" not in hidden


def corroboration_for(
    conn: Connection, scope: AccessScope, event: Event, record: dict[str, Any]
) -> Corroboration:
    """Up to ``SHOWN`` incidents the engine matches with ``event``, best first."""
    from tocsin.verify.engine import CorroborationEngine  # loads the learned model once
    from tocsin.verify.records import record_from_event

    if (
        scope.is_empty
        or scope.owner_user_id is not None
        or record.get("latitude") is None
        or event.latitude is None
        or event.longitude is None
    ):
        return Corroboration(available=False)
    query = EventQuery(
        radius=(event.latitude, event.longitude, SEARCH_KM),
        start=event.date_start - timedelta(days=SEARCH_DAYS),
        end=event.date_end + timedelta(days=SEARCH_DAYS),
    )
    page = search_events(
        conn, query, Scope(scope.tiers, scope.case_classes), limit=CANDIDATE_POOL, cursor=None
    )
    redactor = Redactor(scope)
    candidates = {
        item.event.uid: item.event
        for item in page.items
        if item.event.uid != event.uid
        and _location_visible(redactor, item.event.sensitivity.value, item.event.case_class.value)
    }
    if not candidates:
        return Corroboration(available=True)
    engine = CorroborationEngine()
    engine.add_many([record_from_event(event), *map(record_from_event, candidates.values())])
    rows = []
    for found in engine.suggest(event.uid, limit=SHOWN):
        other = candidates.get(found.candidate_id)
        if other is None:
            continue
        rows.append(
            CorroborationRow(
                uid=other.uid,
                dataset=other.provenance.dataset,
                date=str(other.date_start),
                violence_type=other.violence_type.value if other.violence_type else "unknown",
                relation=found.relation.value,
                score=round(found.score, 2),
            )
        )
    return Corroboration(available=True, rows=tuple(rows))
