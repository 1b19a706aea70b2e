"""Merging events that describe the same incident, and undoing a merge exactly.

Pure operations: ``merge_events`` returns the merged survivor and a :class:`Merge` record; the
store later saves the record, writes the survivor and marks the members as merged. The record
holds a snapshot of every event *before* the merge, so ``undo_merge`` gives back exactly what
was there, and the hash of the merged result, so an undo refuses (unless forced) to throw away
edits made to the survivor after the merge.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tocsin.domain.entities import ActorLink, Event, SourceRef
from tocsin.domain.taxonomy import CaseClass, LocationPrecision, SensitivityTier
from tocsin.store.names import normalize_name
from tocsin.verify.audit import AuditEvent
from tocsin.verify.snapshot import event_from_dict, event_to_dict

MERGE_RECORD_VERSION = 1
MAX_REASON_CHARS = 2000


class MergeError(ValueError):
    """The merge or undo cannot be done as asked."""


class MergeConflict(MergeError):
    """The survivor changed since the merge; undoing would lose those changes."""


@dataclass(frozen=True, slots=True)
class Merge:
    merge_id: str
    survivor_id: str
    member_ids: tuple[str, ...]  # the events folded into the survivor
    snapshots: Mapping[str, Mapping[str, Any]]  # uid -> event before the merge (all of them)
    result_hash: str  # content hash of the merged survivor
    merged_by: str
    merged_at: datetime
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": MERGE_RECORD_VERSION,
            "merge_id": self.merge_id,
            "survivor_id": self.survivor_id,
            "member_ids": list(self.member_ids),
            "snapshots": {k: dict(v) for k, v in self.snapshots.items()},
            "result_hash": self.result_hash,
            "merged_by": self.merged_by,
            "merged_at": self.merged_at.isoformat(),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Merge:
        if data.get("v") != MERGE_RECORD_VERSION:
            raise MergeError(f"unsupported merge record version {data.get('v')!r}")
        try:
            record = cls(
                merge_id=str(data["merge_id"]),
                survivor_id=str(data["survivor_id"]),
                member_ids=tuple(str(m) for m in data["member_ids"]),
                snapshots={str(k): dict(v) for k, v in data["snapshots"].items()},
                result_hash=str(data["result_hash"]),
                merged_by=str(data["merged_by"]),
                merged_at=datetime.fromisoformat(data["merged_at"]),
                reason=str(data["reason"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MergeError(f"malformed merge record: {exc}") from exc
        expected = {record.survivor_id, *record.member_ids}
        if set(record.snapshots) != expected:
            raise MergeError("merge record snapshots do not match its members")
        return record


def _most_restrictive_case(classes: Sequence[CaseClass]) -> CaseClass:
    # Misconduct by mission personnel outranks the others: it is handled by conduct and
    # discipline even when it also involves sexual violence or children.
    order = [
        CaseClass.MISSION_PERSONNEL_MISCONDUCT,
        CaseClass.SEXUAL_VIOLENCE,
        CaseClass.CHILDREN,
        CaseClass.GENERAL,
    ]
    return min(classes, key=order.index)


def _union_actors(events: Sequence[Event]) -> tuple[ActorLink, ...]:
    seen: set[tuple[str, str]] = set()
    out: list[ActorLink] = []
    for event in events:
        for link in event.actors:
            key = (normalize_name(link.name), link.role.value)
            if key not in seen:
                seen.add(key)
                out.append(link)
    return tuple(out)


def _union_sources(events: Sequence[Event]) -> tuple[SourceRef, ...]:
    out: list[SourceRef] = []
    for event in events:
        for source in event.sources:
            if source not in out:
                out.append(source)
    return tuple(out)


def _merged_fatalities(events: Sequence[Event]) -> tuple[int | None, int | None, int | None]:
    """Counts of one incident from several accounts: never summed (that would double count).

    Low is the lowest low, high the highest high; best is the survivor's if known, else the
    median of the others' bests, clipped into [low, high].
    """
    lows = [x for e in events for x in (e.fatalities_low, e.fatalities_best) if x is not None]
    highs = [x for e in events for x in (e.fatalities_high, e.fatalities_best) if x is not None]
    bests = [e.fatalities_best for e in events if e.fatalities_best is not None]
    if not bests and not lows:
        return None, None, None
    low = min(lows) if lows else None
    high = max(highs) if highs else None
    best = events[0].fatalities_best
    if best is None and bests:
        ordered = sorted(bests)
        best = ordered[(len(ordered) - 1) // 2]
    if best is not None:
        if low is not None:
            best = max(best, low)
        if high is not None:
            best = min(best, high)
    return low, best, high


def merged_event(survivor: Event, members: Sequence[Event]) -> Event:
    """The survivor enriched with what the members add; keeps the survivor's identity."""
    everyone = [survivor, *members]
    # The most precise location wins; on a tie the survivor's (first) stays.
    located = [e for e in everyone if e.latitude is not None]
    best_loc = min(
        located,
        key=lambda e: (e.location_precision or LocationPrecision.COUNTRY).value,
        default=survivor,
    )
    low, best, high = _merged_fatalities(everyone)
    return replace(
        survivor,
        date_start=min(e.date_start for e in everyone),
        date_end=max(e.date_end for e in everyone),
        date_precision=max(e.date_precision for e in everyone)
        if min(e.date_start for e in everyone) != max(e.date_end for e in everyone)
        else survivor.date_precision,
        latitude=best_loc.latitude,
        longitude=best_loc.longitude,
        location_precision=best_loc.location_precision,
        priogrid_gid=best_loc.priogrid_gid,
        place_name=survivor.place_name or best_loc.place_name,
        act_types=tuple(dict.fromkeys(a for e in everyone for a in e.act_types)),
        actors=_union_actors(everyone),
        victims=survivor.victims or next((e.victims for e in members if e.victims), ()),
        fatalities_low=low,
        fatalities_best=best,
        fatalities_high=high,
        civilian_fatalities=survivor.civilian_fatalities
        if survivor.civilian_fatalities is not None
        else next(
            (e.civilian_fatalities for e in members if e.civilian_fatalities is not None), None
        ),
        sources=_union_sources(everyone),
        # Merging never lowers protection: the merged record is as sensitive as its most
        # sensitive member, and handled by the most specialised role.
        sensitivity=max(
            (e.sensitivity for e in everyone), key=lambda t: t.rank, default=SensitivityTier.PUBLIC
        ),
        case_class=_most_restrictive_case([e.case_class for e in everyone]),
        threat_category=survivor.threat_category
        or next((e.threat_category for e in members if e.threat_category), None),
        violence_type=survivor.violence_type
        or next((e.violence_type for e in members if e.violence_type), None),
        description=survivor.description
        or next((e.description for e in members if e.description), None),
    )


def merge_events(
    survivor: Event,
    members: Sequence[Event],
    *,
    merged_by: str,
    reason: str,
    now: datetime,
    merge_id: str | None = None,
) -> tuple[Event, Merge, AuditEvent]:
    """Folds ``members`` into ``survivor``; returns the new survivor, the record and its audit."""
    if not members:
        raise MergeError("nothing to merge: give at least one other event")
    ids = [survivor.uid, *(m.uid for m in members)]
    if len(set(ids)) != len(ids):
        raise MergeError("an event cannot be merged with itself")
    reason = reason.strip()
    if not reason:
        raise MergeError("a merge needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise MergeError(f"merge reason is longer than {MAX_REASON_CHARS} characters")
    if now.tzinfo is None:
        raise MergeError("merge time must be timezone-aware")
    result = merged_event(survivor, members)
    record = Merge(
        merge_id=merge_id or str(uuid.uuid4()),
        survivor_id=survivor.uid,
        member_ids=tuple(m.uid for m in members),
        snapshots={e.uid: event_to_dict(e) for e in (survivor, *members)},
        result_hash=result.content_hash(),
        merged_by=merged_by,
        merged_at=now,
        reason=reason,
    )
    audit = AuditEvent(
        action="event.merged",
        actor=merged_by,
        subject_type="event",
        subject_id=survivor.uid,
        at=now,
        details={"merge_id": record.merge_id, "members": ",".join(record.member_ids)},
    )
    return result, record, audit


def undo_merge(
    record: Merge,
    current_survivor: Event,
    *,
    undone_by: str,
    now: datetime,
    force: bool = False,
) -> tuple[list[Event], AuditEvent]:
    """The events exactly as they were before the merge (survivor first) and the audit event.

    Raises :class:`MergeConflict` when the survivor was edited after the merge, unless
    ``force`` (the edits are then discarded, and the audit event says so).
    """
    if current_survivor.uid != record.survivor_id:
        raise MergeError(
            f"event {current_survivor.uid} is not the survivor of merge {record.merge_id}"
        )
    edited = current_survivor.content_hash() != record.result_hash
    if edited and not force:
        raise MergeConflict(
            f"event {record.survivor_id} changed after merge {record.merge_id}; "
            "undoing would discard those edits (force to proceed)"
        )
    restored = [event_from_dict(dict(record.snapshots[record.survivor_id]))]
    restored += [event_from_dict(dict(record.snapshots[m])) for m in record.member_ids]
    audit = AuditEvent(
        action="event.merge_undone",
        actor=undone_by,
        subject_type="event",
        subject_id=record.survivor_id,
        at=now,
        details={"merge_id": record.merge_id, "discarded_later_edits": edited},
    )
    return restored, audit
