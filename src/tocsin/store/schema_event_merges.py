"""Merges of stored incidents (``tocsin.verify.event_merge_store``).

- ``event_merges``: one row per merge. ``record`` is ``tocsin.verify.merge.Merge.to_dict()``
  (every event as it was before the merge), ``restore`` what the events table alone does not
  hold (each member's owner, encrypted persons, import run and timestamps, and the report links
  moved to the survivor), so an undo gives back exactly what was there. It holds restricted
  data: it is read only by the merge service, never returned by the API.
- ``event_merge_members``: each member uid folded away by a merge still in force. The primary
  key makes "already merged" a constraint, not a check that two requests could both pass.

Migration: ``migrations/versions/0008_webhook_replay.py`` creates these tables too.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text

from tocsin.store.schema import metadata

TZ = DateTime(timezone=True)

event_merges = Table(
    "event_merges",
    metadata,
    Column("merge_id", String(36), primary_key=True),
    Column("survivor_uid", String(64), nullable=False),
    Column("seq", Integer, nullable=False),  # 1, 2, ... per survivor: undo in reverse order
    Column("member_uids", Text, nullable=False),  # JSON list
    Column("record", Text, nullable=False),  # JSON: Merge.to_dict()
    Column("restore", Text, nullable=False),  # JSON: what else an undo puts back
    Column("survivor_hash", String(32), nullable=False),  # stored content hash after merge
    Column("reason", Text, nullable=False),
    Column("merged_by", Integer),
    Column("merged_at", TZ, nullable=False),
    Column("undone_by", Integer),
    Column("undone_at", TZ),
    Index("ix_event_merges_survivor_uid", "survivor_uid"),
)

event_merge_members = Table(
    "event_merge_members",
    metadata,
    Column("member_uid", String(64), primary_key=True),
    Column("merge_id", String(36), nullable=False),
    Index("ix_event_merge_members_merge_id", "merge_id"),
)
