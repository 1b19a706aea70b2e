"""Civilian reports from every intake channel, their sealed contacts, attachments and cases.

Migration: ``migrations/versions/0005_intake.py`` must produce exactly these tables.

What is deliberately absent: no IP address, user agent, cookie or any other request metadata,
in any table (issue 5, "minimal metadata"). The reporter's contact details exist only sealed
(``intake_contacts.sealed``, envelope-encrypted by ``tocsin.security.vault``); analysts see the
keyed-hash ``reporter_pseudonym``. Receipt codes are stored only as a keyed hash.

Attachments are stored in the database (``data`` BLOB / bytea), not as files under
TOCSIN_HOME: they are then written in the same transaction as their report (nothing
half-written when a write fails, nothing left behind by a kill -9) and backed up with it.
Intake limits attachment size (``tocsin.intake.repository.MAX_ATTACHMENT_BYTES``).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    Date as SqlDate,
)

from tocsin.store.schema import metadata

TZ = DateTime(timezone=True)

intake_reports = Table(
    "intake_reports",
    metadata,
    Column("id", String(32), primary_key=True),  # uuid4 hex
    Column("channel", String(16), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("received_at", TZ, nullable=False),
    Column("occurred_on", SqlDate),
    Column("lat", Float),
    Column("lon", Float),
    Column("location_accuracy_m", Float),
    Column("place_name", Text),
    Column("text", Text, nullable=False),
    Column("threat", String(64)),
    Column("act_types", Text, nullable=False),  # JSON list of ActType values
    Column("perpetrator_kind", String(32)),
    Column("perpetrator_name", Text),
    Column("killed", Integer),
    Column("injured", Integer),
    Column("children_involved", Integer),  # 0/1/NULL: portable boolean
    Column("source_type", String(64)),
    Column("language", String(16)),
    Column("attachment_names", Text, nullable=False),  # JSON list (ODK names, no data)
    Column("reporter_pseudonym", String(32)),
    Column("receipt_hash", String(64)),
    Column("parent_report_id", String(32), ForeignKey("intake_reports.id", ondelete="RESTRICT")),
    Column("created_at", TZ, nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_intake_reports_channel_external_id"),
    UniqueConstraint("receipt_hash", name="uq_intake_reports_receipt_hash"),
    Index("ix_intake_reports_parent_report_id", "parent_report_id"),
    Index("ix_intake_reports_reporter_pseudonym", "reporter_pseudonym"),
)

intake_contacts = Table(
    "intake_contacts",
    metadata,
    Column(
        "report_id",
        String(32),
        ForeignKey("intake_reports.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("sealed", Text, nullable=False),  # JSON of SealedContact.to_dict()
    Column("kek_id", String(32), nullable=False),  # which KEK wrapped it: rotation finds them
)

intake_attachments = Table(
    "intake_attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "report_id",
        String(32),
        ForeignKey("intake_reports.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_intake_attachments_report_id", "report_id"),
)

report_cases = Table(
    "report_cases",
    metadata,
    Column(
        "report_id",
        String(32),
        ForeignKey("intake_reports.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("state", String(24), nullable=False),
    Column("case_class", String(40), nullable=False),
    Column("sensitivity", String(16), nullable=False),
    Column("received_at", TZ, nullable=False),
    Column("assignee", String(128)),
    Column("due", TZ),
    Column("reliability", String(1)),
    Column("credibility", String(1)),
    Column("incident_id", String(64)),
    Column("conclusion_note", Text),
    Column("version", Integer, nullable=False),
    Index("ix_report_cases_queue", "state", "received_at", "report_id"),
    Index("ix_report_cases_received", "received_at", "report_id"),
)

report_comments = Table(
    "report_comments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "report_id",
        String(32),
        ForeignKey("report_cases.report_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("seq", Integer, nullable=False),  # position in Case.comments
    Column("author", String(128), nullable=False),
    Column("at", TZ, nullable=False),
    Column("text", Text, nullable=False),
    UniqueConstraint("report_id", "seq", name="uq_report_comments_report_id_seq"),
)
