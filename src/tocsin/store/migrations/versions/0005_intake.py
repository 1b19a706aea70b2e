"""Civilian reports (intake), sealed contacts, attachments, verification cases and comments.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "intake_reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("occurred_on", sa.Date),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("location_accuracy_m", sa.Float),
        sa.Column("place_name", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("threat", sa.String(64)),
        sa.Column("act_types", sa.Text, nullable=False),
        sa.Column("perpetrator_kind", sa.String(32)),
        sa.Column("perpetrator_name", sa.Text),
        sa.Column("killed", sa.Integer),
        sa.Column("injured", sa.Integer),
        sa.Column("children_involved", sa.Integer),
        sa.Column("source_type", sa.String(64)),
        sa.Column("language", sa.String(16)),
        sa.Column("attachment_names", sa.Text, nullable=False),
        sa.Column("reporter_pseudonym", sa.String(32)),
        sa.Column("receipt_hash", sa.String(64)),
        sa.Column(
            "parent_report_id",
            sa.String(32),
            sa.ForeignKey("intake_reports.id", ondelete="RESTRICT"),
        ),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("channel", "external_id", name="uq_intake_reports_channel_external_id"),
        sa.UniqueConstraint("receipt_hash", name="uq_intake_reports_receipt_hash"),
    )
    op.create_index("ix_intake_reports_parent_report_id", "intake_reports", ["parent_report_id"])
    op.create_index(
        "ix_intake_reports_reporter_pseudonym", "intake_reports", ["reporter_pseudonym"]
    )

    op.create_table(
        "intake_contacts",
        sa.Column(
            "report_id",
            sa.String(32),
            sa.ForeignKey("intake_reports.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("kek_id", sa.String(32), nullable=False),
    )

    op.create_table(
        "intake_attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "report_id",
            sa.String(32),
            sa.ForeignKey("intake_reports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_intake_attachments_report_id", "intake_attachments", ["report_id"])

    op.create_table(
        "report_cases",
        sa.Column(
            "report_id",
            sa.String(32),
            sa.ForeignKey("intake_reports.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("case_class", sa.String(40), nullable=False),
        sa.Column("sensitivity", sa.String(16), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("assignee", sa.String(128)),
        sa.Column("due", TZ),
        sa.Column("reliability", sa.String(1)),
        sa.Column("credibility", sa.String(1)),
        sa.Column("incident_id", sa.String(64)),
        sa.Column("conclusion_note", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_report_cases_queue", "report_cases", ["state", "received_at", "report_id"])
    op.create_index("ix_report_cases_received", "report_cases", ["received_at", "report_id"])

    op.create_table(
        "report_comments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "report_id",
            sa.String(32),
            sa.ForeignKey("report_cases.report_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.UniqueConstraint("report_id", "seq", name="uq_report_comments_report_id_seq"),
    )


def downgrade() -> None:
    op.drop_table("report_comments")
    op.drop_table("report_cases")
    op.drop_index("ix_intake_attachments_report_id", "intake_attachments")
    op.drop_table("intake_attachments")
    op.drop_table("intake_contacts")
    op.drop_table("intake_reports")
