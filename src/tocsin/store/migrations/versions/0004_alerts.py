"""Alerts, alert lifecycle events, outbound deliveries (durable queue), response tasks.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("mission", sa.String(100), nullable=False),
        sa.Column("trigger_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("area_key", sa.String(200), nullable=False),
        sa.Column("period_start", TZ, nullable=False),
        sa.Column("period_end", TZ, nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("certainty", sa.String(16), nullable=False),
        sa.Column("headline", sa.Text, nullable=False),
        sa.Column("candidate_json", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("issued_at", TZ),
        sa.Column("issued_by", sa.String(128)),
        sa.Column("ack_deadline", TZ),
        sa.Column("acknowledged_at", TZ),
        sa.Column("acknowledged_by", sa.String(128)),
        sa.Column("response_assigned_at", TZ),
        sa.Column("closed_at", TZ),
        sa.Column("outcome", sa.String(24)),
        sa.Column("outcome_note", sa.Text),
        sa.Column("escalation_level", sa.Integer, nullable=False),
        sa.Column("duplicate_of", sa.String(36), sa.ForeignKey("alerts.id", ondelete="RESTRICT")),
    )
    op.create_index(
        "ix_alerts_trigger_id_area_key_period_start",
        "alerts",
        ["trigger_id", "area_key", "period_start"],
    )
    op.create_index("ix_alerts_state_ack_deadline", "alerts", ["state", "ack_deadline"])
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])

    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "alert_id",
            sa.String(36),
            sa.ForeignKey("alerts.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(24)),
        sa.Column("to_state", sa.String(24), nullable=False),
        sa.Column("details_json", sa.Text, nullable=False),
        sa.UniqueConstraint("alert_id", "seq", name="uq_alert_events_alert_id_seq"),
    )

    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "alert_id",
            sa.String(36),
            sa.ForeignKey("alerts.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("lease_until", TZ),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ),
        sa.Column("dead_at", TZ),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_alert_deliveries_idempotency_key"),
    )
    op.create_index(
        "ix_alert_deliveries_status_next_attempt_at",
        "alert_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])

    op.create_table(
        "response_tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "alert_id",
            sa.String(36),
            sa.ForeignKey("alerts.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("assigned_to", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assigned_at", TZ, nullable=False),
        sa.Column("started_at", TZ),
        sa.Column("completed_at", TZ),
        sa.Column("outcome_note", sa.Text),
    )
    op.create_index("ix_response_tasks_alert_id", "response_tasks", ["alert_id"])


def downgrade() -> None:
    op.drop_table("response_tasks")
    op.drop_table("alert_deliveries")
    op.drop_table("alert_events")
    op.drop_table("alerts")
