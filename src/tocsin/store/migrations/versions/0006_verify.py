"""Verification workflow: report submitters, report -> incident links, report merges.

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_submitters",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
    )
    op.create_index("ix_report_submitters_user_id", "report_submitters", ["user_id"])
    op.create_table(
        "report_links",
        sa.Column("report_id", sa.String(64), primary_key=True),
        sa.Column("event_uid", sa.String(64), nullable=False),
        sa.Column("created_new", sa.Boolean, nullable=False),
        sa.Column("linked_by", sa.Integer),
        sa.Column("linked_at", TZ, nullable=False),
    )
    op.create_index("ix_report_links_event_uid", "report_links", ["event_uid"])
    op.create_table(
        "report_merges",
        sa.Column("merge_id", sa.String(36), primary_key=True),
        sa.Column("survivor_id", sa.String(64), nullable=False),
        sa.Column("member_ids", sa.Text, nullable=False),
        sa.Column("snapshots", sa.Text, nullable=False),
        sa.Column("after_versions", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("merged_by", sa.Integer),
        sa.Column("merged_at", TZ, nullable=False),
        sa.Column("undone_by", sa.Integer),
        sa.Column("undone_at", TZ),
    )
    op.create_index("ix_report_merges_survivor_id", "report_merges", ["survivor_id"])


def downgrade() -> None:
    op.drop_table("report_merges")
    op.drop_table("report_links")
    op.drop_table("report_submitters")
