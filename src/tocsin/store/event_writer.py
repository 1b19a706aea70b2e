"""The write path for events: batched, idempotent upserts keyed on (dataset, original id).

A record whose content hash is unchanged is not touched, so re-importing a file is cheap and
changes nothing; a changed record is updated in place, keeping its id and uid.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from tocsin.domain.entities import Event, stable_uid
from tocsin.store import schema as s
from tocsin.store.names import normalize_name


@dataclass(slots=True)
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: WriteCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


class EventWriter:
    """Writes events inside the caller's transaction; the caller commits or rolls back."""

    def __init__(self, conn: Connection, import_run_id: int | None = None) -> None:
        self._conn = conn
        self._run_id = import_run_id
        self._known: dict[str, dict[str, tuple[int, str]]] = {}
        self._actor_ids: dict[str, int] | None = None

    def write(self, events: Sequence[Event]) -> WriteCounts:
        counts = WriteCounts()
        if not events:
            return counts
        now = datetime.now(UTC)
        new: list[tuple[Event, str]] = []
        changed: list[tuple[int, Event, str]] = []
        seen_in_batch: dict[tuple[str, str], int] = {}
        for ev in events:
            key = (ev.provenance.dataset, ev.provenance.original_id)
            known = self._known_ids(ev.provenance.dataset)
            digest = ev.content_hash()
            if key in seen_in_batch:
                # The same original id twice in one file: the later row wins, as on re-import.
                idx = seen_in_batch[key]
                new[idx] = (ev, digest)
                continue
            hit = known.get(ev.provenance.original_id)
            if hit is None:
                seen_in_batch[key] = len(new)
                new.append((ev, digest))
            elif hit[1] == digest:
                counts.unchanged += 1
            else:
                changed.append((hit[0], ev, digest))
        if new:
            ids = self._insert(new, now)
            for (ev, digest), event_id in zip(new, ids, strict=True):
                self._known[ev.provenance.dataset][ev.provenance.original_id] = (event_id, digest)
            self._insert_children(list(zip(ids, (e for e, _ in new), strict=True)))
            counts.inserted += len(new)
        if changed:
            self._update(changed, now)
            counts.updated += len(changed)
        return counts

    def _known_ids(self, dataset: str) -> dict[str, tuple[int, str]]:
        if dataset not in self._known:
            rows = self._conn.execute(
                select(s.events.c.original_id, s.events.c.id, s.events.c.content_hash).where(
                    s.events.c.dataset == dataset
                )
            )
            self._known[dataset] = {r[0]: (r[1], r[2]) for r in rows}
        return self._known[dataset]

    def _row(self, ev: Event, digest: str, now: datetime) -> dict[str, object]:
        return {
            "uid": ev.uid,
            "dataset": ev.provenance.dataset,
            "dataset_version": ev.provenance.dataset_version,
            "original_id": ev.provenance.original_id,
            "import_run_id": self._run_id,
            "content_hash": digest,
            "date_start": ev.date_start,
            "date_end": ev.date_end,
            "date_precision": int(ev.date_precision),
            "latitude": ev.latitude,
            "longitude": ev.longitude,
            "location_precision": None
            if ev.location_precision is None
            else int(ev.location_precision),
            "country_iso3": ev.country_iso3,
            "country_name": ev.country_name,
            "admin1_pcode": ev.admin1_pcode,
            "admin1_name": ev.admin1_name,
            "admin2_pcode": ev.admin2_pcode,
            "admin2_name": ev.admin2_name,
            "place_name": ev.place_name,
            "priogrid_gid": ev.priogrid_gid,
            "violence_type": None if ev.violence_type is None else ev.violence_type.value,
            "threat_category": None if ev.threat_category is None else ev.threat_category.value,
            "fatalities_best": ev.fatalities_best,
            "fatalities_low": ev.fatalities_low,
            "fatalities_high": ev.fatalities_high,
            "civilian_fatalities": ev.civilian_fatalities,
            "sensitivity": ev.sensitivity.value,
            "case_class": ev.case_class.value,
            "title": ev.title,
            "description": ev.description,
            "created_at": now,
            "updated_at": now,
        }

    def _insert(self, new: list[tuple[Event, str]], now: datetime) -> list[int]:
        rows = [self._row(ev, digest, now) for ev, digest in new]
        result = self._conn.execute(
            insert(s.events).returning(s.events.c.id, sort_by_parameter_order=True), rows
        )
        return [r[0] for r in result]

    def _update(self, changed: list[tuple[int, Event, str]], now: datetime) -> None:
        rows = []
        for event_id, ev, digest in changed:
            row = self._row(ev, digest, now)
            del row["created_at"], row["uid"]
            row["b_id"] = event_id
            rows.append(row)
        cols = {k: bindparam(k) for k in rows[0] if k != "b_id"}
        self._conn.execute(
            update(s.events).where(s.events.c.id == bindparam("b_id")).values(cols), rows
        )
        ids = [event_id for event_id, _, _ in changed]
        for table in (s.event_acts, s.event_actors, s.event_sources, s.victim_groups):
            for chunk in _chunks(ids, 500):
                self._conn.execute(delete(table).where(table.c.event_id.in_(chunk)))
        self._insert_children([(event_id, ev) for event_id, ev, _ in changed])
        for event_id, ev, digest in changed:
            self._known[ev.provenance.dataset][ev.provenance.original_id] = (event_id, digest)

    def _insert_children(self, pairs: list[tuple[int, Event]]) -> None:
        acts, links, sources, victims = [], [], [], []
        for event_id, ev in pairs:
            for act in dict.fromkeys(ev.act_types):
                acts.append({"event_id": event_id, "act_type": act.value})
            seen_links: set[tuple[int, str]] = set()
            for link in ev.actors:
                actor_id = self.actor_id(link.name, link.kind.value)
                if (actor_id, link.role.value) in seen_links:
                    continue
                seen_links.add((actor_id, link.role.value))
                links.append({"event_id": event_id, "actor_id": actor_id, "role": link.role.value})
            for pos, src in enumerate(ev.sources):
                sources.append(
                    {
                        "event_id": event_id,
                        "position": pos,
                        "name": src.name,
                        "reference": src.reference,
                        "published": src.published,
                        "reliability": src.reliability.value,
                        "credibility": src.credibility.value,
                    }
                )
            for pos, vg in enumerate(ev.victims):
                victims.append(
                    {
                        "event_id": event_id,
                        "position": pos,
                        "description": vg.description,
                        "count": vg.count,
                        "female": vg.female,
                        "male": vg.male,
                        "children": vg.children,
                        "adults": vg.adults,
                    }
                )
        for table, rows in (
            (s.event_acts, acts),
            (s.event_actors, links),
            (s.event_sources, sources),
            (s.victim_groups, victims),
        ):
            if rows:
                self._conn.execute(insert(table), rows)

    def actor_id(self, name: str, kind: str = "unknown") -> int:
        """Id of the actor with this name or alias, created on first sight."""
        if self._actor_ids is None:
            self._actor_ids = {
                r[0]: r[1]
                for r in self._conn.execute(select(s.actors.c.normalized_name, s.actors.c.id))
            }
            for alias, actor_id in self._conn.execute(
                select(s.actor_aliases.c.normalized_alias, s.actor_aliases.c.actor_id)
            ):
                self._actor_ids.setdefault(alias, actor_id)
        key = normalize_name(name)
        if key not in self._actor_ids:
            result = self._conn.execute(
                insert(s.actors).returning(s.actors.c.id),
                {
                    "uid": stable_uid("actor", key),
                    "name": name.strip(),
                    "normalized_name": key,
                    "kind": kind,
                    "country_iso3": None,
                },
            )
            self._actor_ids[key] = result.scalar_one()
        return self._actor_ids[key]


def new_uid() -> str:
    return str(uuid.uuid4())


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
