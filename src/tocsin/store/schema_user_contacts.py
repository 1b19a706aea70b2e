"""The staff directory for alert escalation: where each user account is reached.

One row per user with an e-mail address and/or an E.164 phone number for alerts. These are
staff members' personal data: they are read only to address deliveries and by admins, never
logged, never put in a URL, and the audit ledger records *that* they changed, not the values.

Migration: ``migrations/versions/0007_user_contacts.py`` must produce exactly this table.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table

from tocsin.store.schema import metadata

TZ = DateTime(timezone=True)

user_contacts = Table(
    "user_contacts",
    metadata,
    Column(
        "user_id",
        Integer,
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("email", String(254)),
    Column("phone", String(16)),  # E.164: '+' and at most 15 digits
    Column("updated_at", TZ, nullable=False),
)
