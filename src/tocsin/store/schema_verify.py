"""Verification-workflow tables that sit beside the intake tables (no foreign keys to them,
so intake and verification can migrate independently).

- ``report_submitters``: who filed a report through the authenticated API (field, patrol and
  partner reports), so a field reporter can list exactly their own reports.
- ``report_links``: report -> incident (event uid), for the "linked reports" of an incident.
- ``report_merges``: duplicate reports folded into a surviving report, with a snapshot of
  every member's case before the merge, so the merge can be undone exactly.

Migration: ``migrations/versions/0006_verify.py`` must produce exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text

from tocsin.store.schema import metadata

TZ = DateTime(timezone=True)

report_submitters = Table(
    "report_submitters",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("user_id", Integer, nullable=False),
    Column("submitted_at", TZ, nullable=False),
    Index("ix_report_submitters_user_id", "user_id"),
)

report_links = Table(
    "report_links",
    metadata,
    Column("report_id", String(64), primary_key=True),
    Column("event_uid", String(64), nullable=False),
    Column("created_new", Boolean, nullable=False),
    Column("linked_by", Integer),
    Column("linked_at", TZ, nullable=False),
    Index("ix_report_links_event_uid", "event_uid"),
)

report_merges = Table(
    "report_merges",
    metadata,
    Column("merge_id", String(36), primary_key=True),
    Column("survivor_id", String(64), nullable=False),
    Column("member_ids", Text, nullable=False),  # JSON list
    Column("snapshots", Text, nullable=False),  # JSON: report id -> case before the merge
    Column("after_versions", Text, nullable=False),  # JSON: report id -> version after it
    Column("reason", Text, nullable=False),
    Column("merged_by", Integer),
    Column("merged_at", TZ, nullable=False),
    Column("undone_by", Integer),
    Column("undone_at", TZ),
    Index("ix_report_merges_survivor_id", "survivor_id"),
)
