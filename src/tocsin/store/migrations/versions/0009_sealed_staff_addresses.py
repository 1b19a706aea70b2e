"""Staff alert addresses encrypted at rest, and escalation deliveries that name a user instead of
copying the address (threat model TM-88).

- ``user_contacts.email`` / ``phone`` (clear text) become ``email_enc`` / ``phone_enc``: AES-GCM
  ciphertext under the data key (``tocsin.security.keys``), bound to the row and column.
- Pending and past escalation deliveries (channels ``user-<id>-email|sms``) get the target
  ``directory:user:<id>``; the delivery worker looks the address up when it sends.

Existing addresses are encrypted with the data key of ``$TOCSIN_HOME`` (or
``TOCSIN_DATA_KEY``): run the upgrade with the same key settings as the server.

Revision ID: 0009
Revises: 0007, 0008 (and needs 0004, the delivery queue)
Create Date: 2026-12-08
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = ("0007", "0008")
branch_labels = None
depends_on = "0004"  # alert_deliveries, on another branch of the history

# Frozen copies of what the application uses today (a migration must not change with the code).
_DIRECTORY_PREFIX = "directory:user:"
_PERSONAL_CHANNEL = re.compile(r"^user-(\d+)-(email|sms)$")
_FIELDS = ("email", "phone")


def _context(user_id: int, field: str) -> str:
    return f"user_contacts:{user_id}:{field}"


def _keys():  # noqa: ANN202 - imported late: only a store with addresses needs the key
    from tocsin import config
    from tocsin.security.keys import KeyRing

    return KeyRing(config.home())


_contacts = sa.table(
    "user_contacts",
    sa.column("user_id", sa.Integer),
    sa.column("email", sa.String),
    sa.column("phone", sa.String),
    sa.column("email_enc", sa.Text),
    sa.column("phone_enc", sa.Text),
)
_deliveries = sa.table(
    "alert_deliveries",
    sa.column("id", sa.Integer),
    sa.column("channel", sa.String),
    sa.column("kind", sa.String),
    sa.column("target", sa.Text),
)


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("user_contacts") as batch:
        batch.add_column(sa.Column("email_enc", sa.Text))
        batch.add_column(sa.Column("phone_enc", sa.Text))
    c = _contacts.c
    rows = conn.execute(sa.select(c.user_id, c.email, c.phone)).all()
    if rows:
        keys = _keys()
        for row in rows:
            values = {
                f"{f}_enc": keys.encrypt(getattr(row, f), _context(row.user_id, f))
                for f in _FIELDS
                if getattr(row, f) is not None
            }
            if values:
                conn.execute(sa.update(_contacts).where(c.user_id == row.user_id).values(values))
    with op.batch_alter_table("user_contacts") as batch:
        batch.drop_column("email")
        batch.drop_column("phone")
    d = _deliveries.c
    for row in conn.execute(sa.select(d.id, d.channel, d.kind).where(d.channel.like("user-%"))):
        match = _PERSONAL_CHANNEL.match(row.channel)
        if match and match.group(2) == row.kind:
            conn.execute(
                sa.update(_deliveries)
                .where(d.id == row.id)
                .values(target=_DIRECTORY_PREFIX + match.group(1))
            )


def downgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("user_contacts") as batch:
        batch.add_column(sa.Column("email", sa.String(254)))
        batch.add_column(sa.Column("phone", sa.String(16)))
    c = _contacts.c
    rows = conn.execute(sa.select(c.user_id, c.email_enc, c.phone_enc)).all()
    clear: dict[int, dict[str, str | None]] = {}
    if rows:
        keys = _keys()
        for row in rows:
            clear[row.user_id] = {
                f: None
                if getattr(row, f"{f}_enc") is None
                else keys.decrypt(getattr(row, f"{f}_enc"), _context(row.user_id, f))
                for f in _FIELDS
            }
            conn.execute(
                sa.update(_contacts).where(c.user_id == row.user_id).values(clear[row.user_id])
            )
    with op.batch_alter_table("user_contacts") as batch:
        batch.drop_column("email_enc")
        batch.drop_column("phone_enc")
    d = _deliveries.c
    query = sa.select(d.id, d.kind, d.target).where(d.target.like(_DIRECTORY_PREFIX + "%"))
    for row in conn.execute(query).all():
        user_id = int(row.target.removeprefix(_DIRECTORY_PREFIX))
        address = clear.get(user_id, {}).get("email" if row.kind == "email" else "phone")
        # An address removed since: the old worker dead-letters the row as malformed.
        conn.execute(
            sa.update(_deliveries).where(d.id == row.id).values(target=address or row.target)
        )
