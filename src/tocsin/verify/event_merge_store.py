"""Merging stored incidents, and undoing such a merge exactly.

``tocsin.verify.merge`` computes a merge of events (pure); this module applies one to the store
inside the caller's transaction (the API's unit of work, which also writes the ledger entry):

- the survivor is rewritten as the merged event: it takes the highest tier and the most
  restrictive case class of all, so a merge never lowers anybody's protection;
- each member is removed from ``events`` (so it is no longer searched, counted or forecast as
  a separate incident). Everything needed to put it back is kept in ``event_merges``: the event
  itself (``Merge.snapshots``), its owner, its encrypted persons (ciphertexts, bound to the
  uid, which the undo restores unchanged), its import run and timestamps;
- report links to a member move to the survivor, and back on undo.

Who may merge: the caller must see every event involved; an event outside the caller's scope is
reported exactly like one that does not exist (:class:`EventNotFound`). Concurrency: the rows
are locked in uid order first (PostgreSQL; SQLite takes its write lock at ``BEGIN
IMMEDIATE``), the member rows are deleted with a row-count check, and ``event_merge_members``
has the member uid as primary key, so of two concurrent merges of the same event one wins and
the other fails without writing anything (the caller rolls back).

Known limit: a re-import of a member's dataset inserts the member again (the event writer keys
on the dataset's own id and knows nothing of merges), and a re-import of the survivor's dataset
overwrites the merged survivor; an undo then refuses (or, forced, restores the pre-merge state).
Merge into a record created in Tocsin when the duplicates come from imported datasets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from tocsin.domain.entities import Event
from tocsin.security.audit import Actor, PendingEntry
from tocsin.security.policies import AccessScope
from tocsin.store import schema as s
from tocsin.store.event_writer import EventWriter
from tocsin.store.queries import Scope, get_event
from tocsin.store.reads import StoredEvent
from tocsin.store.schema_event_merges import event_merge_members, event_merges
from tocsin.store.schema_security import event_owners, event_persons
from tocsin.store.schema_verify import report_links
from tocsin.verify import merge as pure
from tocsin.verify.merge import Merge, MergeConflict, MergeError

MAX_MEMBERS = 20
RESTORE_VERSION = 1


class EventNotFound(LookupError):
    """No such event in the caller's scope (absent and invisible are the same answer)."""

    def __init__(self, uid: str) -> None:
        super().__init__(f"no such event in your scope: {uid}")
        self.uid = uid


class MergeNotFound(LookupError):
    """No such merge in the caller's scope, or already undone."""


class MergeRefused(RuntimeError):
    """The merge or undo conflicts with the current state (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    merge_id: str
    survivor_uid: str
    member_uids: tuple[str, ...]
    sensitivity: str  # of the survivor after the operation
    case_class: str
    audit_details: dict[str, Any]
    undone: bool = False

    def ledger_entries(self, actor: Actor) -> list[PendingEntry]:
        """What goes into the audit ledger, in the caller's transaction: one entry on the
        survivor and, for a merge, one on each member (so each one's history shows it)."""
        if self.undone:
            return [
                PendingEntry(
                    actor, "event.merge_undone", f"event:{self.survivor_uid}", self.audit_details
                )
            ]
        return [
            PendingEntry(actor, "event.merge", f"event:{self.survivor_uid}", self.audit_details),
            *(
                PendingEntry(
                    actor,
                    "event.merged_into",
                    f"event:{member}",
                    {"merge_id": self.merge_id, "survivor": self.survivor_uid},
                )
                for member in self.member_uids
            ),
        ]


def _scope(scope: AccessScope) -> Scope:
    return Scope(scope.tiers, scope.case_classes, scope.owner_user_id)


def _admits(scope: AccessScope, snapshot: Mapping[str, Any]) -> bool:
    return scope.admits(snapshot["sensitivity"], snapshot["case_class"], None)


def _lock(conn: Connection, uids: Sequence[str]) -> None:
    """Row locks on the events involved, always in uid order (no deadlock between two merges
    of overlapping events). A no-op on SQLite, whose writers are already serialised."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            select(s.events.c.id)
            .where(s.events.c.uid.in_(sorted(set(uids))))
            .order_by(s.events.c.uid)
            .with_for_update()
        ).all()


def _active_merge_of_member(conn: Connection, uid: str) -> Any:
    return conn.execute(
        select(event_merges)
        .join(event_merge_members, event_merge_members.c.merge_id == event_merges.c.merge_id)
        .where(event_merge_members.c.member_uid == uid)
    ).first()


def _visible(conn: Connection, scope: AccessScope, uid: str) -> StoredEvent:
    """The stored event, or :class:`EventNotFound`; :class:`MergeRefused` for an event the
    caller could see that was already folded into another by a merge."""
    stored = get_event(conn, uid, _scope(scope))
    if stored is not None:
        return stored
    row = _active_merge_of_member(conn, uid)
    if row is not None:
        snapshot = json.loads(row.record)["snapshots"].get(uid)
        if snapshot is not None and _admits(scope, snapshot):
            raise MergeRefused(f"event {uid} was already merged into {_where(conn, scope, row)}")
    raise EventNotFound(uid)


def _where(conn: Connection, scope: AccessScope, row: Any) -> str:
    """Names the survivor of a merge only to a caller who may see it (a merge can have lifted
    it to a tier the caller does not reach: its uid must not leak through an error)."""
    if get_event(conn, row.survivor_uid, _scope(scope)) is None:
        return "an incident outside your scope"
    return f"{row.survivor_uid} (merge {row.merge_id})"


def _restore_info(conn: Connection, member: StoredEvent) -> dict[str, Any]:
    owner = conn.scalar(select(event_owners.c.user_id).where(event_owners.c.event_id == member.id))
    people = conn.execute(
        select(
            event_persons.c.position,
            event_persons.c.role,
            event_persons.c.name_enc,
            event_persons.c.contact_enc,
        )
        .where(event_persons.c.event_id == member.id)
        .order_by(event_persons.c.position, event_persons.c.id)
    ).all()
    return {
        "owner": owner,
        "persons": [dict(p._mapping) for p in people],
        "import_run_id": member.import_run_id,
        "created_at": member.created_at.isoformat(),
        "updated_at": member.updated_at.isoformat(),
    }


def merge_stored_events(
    conn: Connection,
    scope: AccessScope,
    survivor_uid: str,
    member_uids: Sequence[str],
    *,
    reason: str,
    now: datetime,
    actor: Actor,
) -> MergeOutcome:
    """Folds ``member_uids`` into ``survivor_uid``; see the module docstring. ``scope`` is what
    the caller may see (``Principal.record_scope()``), ``actor`` who the record names."""
    members_asked = list(dict.fromkeys(member_uids))
    if not members_asked:
        raise MergeError("name at least one event to merge into this one")
    if len(members_asked) > MAX_MEMBERS:
        raise MergeError(f"at most {MAX_MEMBERS} events can be merged at once")
    if survivor_uid in members_asked:
        raise MergeError("an event cannot be merged into itself")
    if not reason.strip():  # checked again by merge_events; here before any row is locked
        raise MergeError("a merge needs a reason")
    if len(reason.strip()) > pure.MAX_REASON_CHARS:
        raise MergeError(f"merge reason is longer than {pure.MAX_REASON_CHARS} characters")
    _lock(conn, [survivor_uid, *members_asked])
    survivor = _visible(conn, scope, survivor_uid)
    members = [_visible(conn, scope, uid) for uid in members_asked]
    merge_id = str(uuid.uuid4())
    result, record, _ = pure.merge_events(
        survivor.event,
        [m.event for m in members],
        merged_by=actor.label,
        reason=reason,
        now=now,
        merge_id=merge_id,
    )
    restore = {
        "v": RESTORE_VERSION,
        "members": {m.uid: _restore_info(conn, m) for m in members},
        "moved_links": [],
    }
    EventWriter(conn).write([result])
    member_ids = [m.id for m in members]
    gone = conn.execute(delete(s.events).where(s.events.c.id.in_(member_ids))).rowcount
    if gone != len(member_ids):  # another transaction got there first
        raise MergeRefused("one of these events was changed or merged meanwhile; try again")
    moved = conn.execute(
        select(report_links.c.report_id, report_links.c.event_uid).where(
            report_links.c.event_uid.in_(members_asked)
        )
    ).all()
    if moved:
        conn.execute(
            update(report_links)
            .where(report_links.c.report_id.in_([r.report_id for r in moved]))
            .values(event_uid=survivor_uid)
        )
        restore["moved_links"] = [[r.report_id, r.event_uid] for r in moved]
    stored_hash = conn.scalar(select(s.events.c.content_hash).where(s.events.c.uid == survivor_uid))
    # Position among the merges into this survivor (serialised by the survivor's row lock):
    # an undo must take them back in reverse order.
    seq = (
        conn.scalar(
            select(func.max(event_merges.c.seq)).where(event_merges.c.survivor_uid == survivor_uid)
        )
        or 0
    ) + 1
    conn.execute(
        insert(event_merges),
        {
            "merge_id": merge_id,
            "survivor_uid": survivor_uid,
            "seq": seq,
            "member_uids": json.dumps(members_asked),
            "record": json.dumps(record.to_dict(), sort_keys=True),
            "restore": json.dumps(restore, sort_keys=True),
            "survivor_hash": stored_hash,
            "reason": record.reason,
            "merged_by": actor.user_id,
            "merged_at": now,
        },
    )
    conn.execute(
        insert(event_merge_members),
        [{"member_uid": uid, "merge_id": merge_id} for uid in members_asked],
    )
    before = survivor.event
    return MergeOutcome(
        merge_id,
        survivor_uid,
        tuple(members_asked),
        result.sensitivity.value,
        result.case_class.value,
        {
            "merge_id": merge_id,
            "members": members_asked,
            "from": [before.sensitivity.value, before.case_class.value],
            "to": [result.sensitivity.value, result.case_class.value],
            "reports_relinked": len(moved),
        },
    )


def _merge_row(conn: Connection, merge_id: str) -> Any:
    return conn.execute(select(event_merges).where(event_merges.c.merge_id == merge_id)).first()


def undo_stored_merge(
    conn: Connection,
    scope: AccessScope,
    merge_id: str,
    *,
    now: datetime,
    actor: Actor,
    force: bool = False,
) -> MergeOutcome:
    """Puts back the survivor and every member exactly as they were before the merge.

    Refuses (:class:`MergeConflict`) when the survivor was edited after the merge, unless
    ``force``; refuses (:class:`MergeRefused`) when a later merge still builds on this one.
    """
    row = _merge_row(conn, merge_id)
    if row is None or row.undone_at is not None:
        raise MergeNotFound(merge_id)
    try:
        record = Merge.from_dict(json.loads(row.record))
    except (MergeError, ValueError) as exc:  # a damaged record must not be half-applied
        raise MergeRefused(f"merge {merge_id} cannot be undone: {exc}") from exc
    # Undoing shows the caller every event involved: all of them must be in the caller's scope.
    if not all(_admits(scope, snap) for snap in record.snapshots.values()):
        raise MergeNotFound(merge_id)
    _lock(conn, [record.survivor_id, *record.member_ids])
    later = conn.scalar(
        select(event_merges.c.merge_id).where(
            event_merges.c.survivor_uid == record.survivor_id,
            event_merges.c.seq > row.seq,
            event_merges.c.undone_at.is_(None),
        )
    )
    if later is not None:
        raise MergeRefused(f"merge {later} into the same event came later; undo it first")
    survivor = get_event(conn, record.survivor_id, _scope(scope))
    if survivor is None:
        outer = _active_merge_of_member(conn, record.survivor_id)
        if outer is not None:
            raise MergeRefused(
                f"event {record.survivor_id} was itself merged into "
                f"{_where(conn, scope, outer)}; undo that first"
            )
        raise MergeRefused(f"event {record.survivor_id} no longer exists; nothing to restore into")
    back_again = conn.scalars(
        select(s.events.c.uid).where(s.events.c.uid.in_(record.member_ids))
    ).all()
    if back_again:
        raise MergeRefused(
            f"events {', '.join(sorted(back_again))} exist again (re-imported?); "
            "delete or merge them before undoing"
        )
    edited = survivor.content_hash != row.survivor_hash
    if edited and not force:
        raise MergeConflict(
            f"event {record.survivor_id} changed after merge {merge_id}; "
            "undoing would discard those edits (force to proceed)"
        )
    # merge.undo_merge checks the in-memory hash too; the stored hash above is authoritative.
    restored, _ = pure.undo_merge(
        record, survivor.event, undone_by=actor.label, now=now, force=True
    )
    # The members stop counting as merged away first: the event writer skips those.
    conn.execute(delete(event_merge_members).where(event_merge_members.c.merge_id == merge_id))
    EventWriter(conn).write(restored)
    _restore_members(conn, json.loads(row.restore), record, restored[1:])
    conn.execute(
        update(event_merges)
        .where(event_merges.c.merge_id == merge_id)
        .values(undone_at=now, undone_by=actor.user_id)
    )
    first = restored[0]
    return MergeOutcome(
        merge_id,
        record.survivor_id,
        record.member_ids,
        first.sensitivity.value,
        first.case_class.value,
        {
            "merge_id": merge_id,
            "members": list(record.member_ids),
            "discarded_later_edits": edited,
            "to": [first.sensitivity.value, first.case_class.value],
        },
        undone=True,
    )


def _restore_members(
    conn: Connection, restore: dict[str, Any], record: Merge, members: Sequence[Event]
) -> None:
    if restore.get("v") != RESTORE_VERSION:
        raise MergeRefused(f"merge {record.merge_id} has an unknown restore format")
    ids = dict(
        conn.execute(
            select(s.events.c.uid, s.events.c.id).where(
                s.events.c.uid.in_([m.uid for m in members])
            )
        ).all()
    )
    for member in members:
        info = restore["members"][member.uid]
        event_id = ids[member.uid]
        run_id = info["import_run_id"]
        if (
            run_id is not None
            and conn.scalar(select(s.import_runs.c.id).where(s.import_runs.c.id == run_id)) is None
        ):
            run_id = None  # the run was deleted meanwhile; the row keeps no dangling reference
        conn.execute(
            update(s.events)
            .where(s.events.c.id == event_id)
            .values(
                import_run_id=run_id,
                created_at=datetime.fromisoformat(info["created_at"]),
                updated_at=datetime.fromisoformat(info["updated_at"]),
            )
        )
        if info["owner"] is not None:
            conn.execute(insert(event_owners), {"event_id": event_id, "user_id": info["owner"]})
        if info["persons"]:
            conn.execute(
                insert(event_persons), [{**p, "event_id": event_id} for p in info["persons"]]
            )
    for report_id, original_uid in restore["moved_links"]:
        conn.execute(
            update(report_links)
            .where(
                report_links.c.report_id == report_id,
                report_links.c.event_uid == record.survivor_id,
            )
            .values(event_uid=original_uid)
        )


def merges_into(conn: Connection, survivor_uid: str) -> list[dict[str, Any]]:
    """The merges into an event, oldest first: ids, members, times (no event content)."""
    rows = conn.execute(
        select(
            event_merges.c.merge_id,
            event_merges.c.member_uids,
            event_merges.c.merged_at,
            event_merges.c.undone_at,
        )
        .where(event_merges.c.survivor_uid == survivor_uid)
        .order_by(event_merges.c.merged_at)
    ).all()
    return [
        {
            "merge_id": r.merge_id,
            "members": json.loads(r.member_uids),
            "merged_at": r.merged_at,
            "undone_at": r.undone_at,
        }
        for r in rows
    ]


__all__ = [
    "MAX_MEMBERS",
    "EventNotFound",
    "MergeConflict",
    "MergeError",
    "MergeNotFound",
    "MergeOutcome",
    "MergeRefused",
    "merge_stored_events",
    "merges_into",
    "undo_stored_merge",
]
