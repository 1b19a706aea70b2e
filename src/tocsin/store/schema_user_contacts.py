"""The staff directory for alert escalation: where each user account is reached.

One row per user with an e-mail address and/or an E.164 phone number for alerts. These are
staff members' personal data, so both are stored encrypted (AES-GCM under the data key of
``tocsin.security.keys``, bound to the user and the field): a copy of the database alone does not
say how to reach the mission's protection staff. They are decrypted only to address a delivery
and for admins, never logged, never put in a URL, and the audit ledger records *that* they
changed, not the values.

Migrations: ``0007_user_contacts.py`` and ``0009_sealed_staff_addresses.py`` must produce exactly
this table.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, Table, Text

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
    Column("email_enc", Text),  # ciphertext of one e-mail address
    Column("phone_enc", Text),  # ciphertext of an E.164 number
    Column("updated_at", TZ, nullable=False),
)
