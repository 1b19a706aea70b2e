"""Alerts, their lifecycle events, outbound deliveries (a durable queue) and response tasks.

Migration: ``migrations/versions/0004_alerts.py`` must produce exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tocsin.store.schema import metadata

TZ = DateTime(timezone=True)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("mission", String(100), nullable=False),
    Column("trigger_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("area_key", String(200), nullable=False),
    Column("period_start", TZ, nullable=False),
    Column("period_end", TZ, nullable=False),
    Column("state", String(24), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("certainty", String(16), nullable=False),
    Column("headline", Text, nullable=False),
    # The full candidate (tiered explanation, areas, measures, evidence) as JSON: it is read
    # whole, never queried inside, and its shape evolves with the triggers.
    Column("candidate_json", Text, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("seq", Integer, nullable=False),  # audit events so far; optimistic concurrency
    Column("issued_at", TZ),
    Column("issued_by", String(128)),
    Column("ack_deadline", TZ),
    Column("acknowledged_at", TZ),
    Column("acknowledged_by", String(128)),
    Column("response_assigned_at", TZ),
    Column("closed_at", TZ),
    Column("outcome", String(24)),
    Column("outcome_note", Text),
    Column("escalation_level", Integer, nullable=False),
    Column("duplicate_of", String(36), ForeignKey("alerts.id", ondelete="RESTRICT")),
    Index(None, "trigger_id", "area_key", "period_start"),
    Index(None, "state", "ack_deadline"),
    Index(None, "created_at"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", String(36), ForeignKey("alerts.id", ondelete="RESTRICT"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", TZ, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(24)),
    Column("to_state", String(24), nullable=False),
    Column("details_json", Text, nullable=False),
    UniqueConstraint("alert_id", "seq"),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", String(36), ForeignKey("alerts.id", ondelete="RESTRICT"), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # webhook | email | sms
    Column("target", Text, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("subject", Text),
    Column("payload", Text, nullable=False),  # already redacted for ``tier``
    Column("status", String(16), nullable=False),  # pending | sending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("next_attempt_at", TZ, nullable=False),
    Column("lease_until", TZ),
    Column("last_error", Text),
    Column("created_at", TZ, nullable=False),
    Column("delivered_at", TZ),
    Column("dead_at", TZ),
    Column("idempotency_key", String(200), nullable=False),
    UniqueConstraint("idempotency_key"),
    Index(None, "status", "next_attempt_at"),
    Index(None, "alert_id"),
)

response_tasks = Table(
    "response_tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("alert_id", String(36), ForeignKey("alerts.id", ondelete="RESTRICT"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("assigned_to", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("assigned_at", TZ, nullable=False),
    Column("started_at", TZ),
    Column("completed_at", TZ),
    Column("outcome_note", Text),
    Index(None, "alert_id"),
)
