"""Webhook replay cache shared by all workers (``webhook_replay``), and merges of stored
incidents (``event_merges``, ``event_merge_members``).

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhook_replay",
        sa.Column("nonce_key", sa.String(64), primary_key=True),
        sa.Column("claimed_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("completed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_webhook_replay_expires_at", "webhook_replay", ["expires_at"])
    op.create_table(
        "event_merges",
        sa.Column("merge_id", sa.String(36), primary_key=True),
        sa.Column("survivor_uid", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("member_uids", sa.Text, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("restore", sa.Text, nullable=False),
        sa.Column("survivor_hash", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("merged_by", sa.Integer),
        sa.Column("merged_at", TZ, nullable=False),
        sa.Column("undone_by", sa.Integer),
        sa.Column("undone_at", TZ),
    )
    op.create_index("ix_event_merges_survivor_uid", "event_merges", ["survivor_uid"])
    op.create_table(
        "event_merge_members",
        sa.Column("member_uid", sa.String(64), primary_key=True),
        sa.Column("merge_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_event_merge_members_merge_id", "event_merge_members", ["merge_id"])


def downgrade() -> None:
    op.drop_table("event_merge_members")
    op.drop_table("event_merges")
    op.drop_table("webhook_replay")
