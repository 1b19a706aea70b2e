"""The staff directory for escalation: each user account's e-mail and phone for alerts.

An escalation step notifies roles (``notify: [protection_officer, commander]``); every active
(not disabled) user holding one of them is reached at the addresses kept here. Addresses are
staff members' personal data:

- validated strictly (``ContactIn``: unknown fields refused, one plain e-mail address, an E.164
  number, nothing oversized);
- stored encrypted (AES-GCM under the data key, bound to the user and the field, so a value
  copied onto another row does not open), and decrypted only for an admin reading the directory
  and for the delivery worker at the moment it sends (TM-88). Escalation deliveries name the
  user (``directory:user:<id>``), not the address;
- never logged and never in a URL (the API takes them in a request body);
- the audit ledger records that a contact was set, changed or cleared, and by whom, never the
  address itself (``user.contact_set`` / ``user.contact_clear``, details of flags only).

Tables: ``tocsin.store.schema_user_contacts`` (migrations 0007, 0009).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, Row, delete, insert, select, update

from tocsin.alerts.delivery.sms import check_phone_number
from tocsin.alerts.delivery.smtp import check_email_address
from tocsin.security import audit
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing, KeyStoreError
from tocsin.security.policies import Role
from tocsin.store.schema_security import users
from tocsin.store.schema_user_contacts import user_contacts

MAX_EMAIL_CHARS = 254  # RFC 5321 path limit
MAX_PHONE_CHARS = 16  # '+' and at most 15 digits (E.164)


class ContactIn(BaseModel):
    """Where a user is reached for alerts: at least one of ``email`` and ``phone``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    email: str | None = Field(default=None, max_length=MAX_EMAIL_CHARS)
    phone: str | None = Field(default=None, max_length=MAX_PHONE_CHARS)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            check_email_address(value)
        except ValueError:
            # The message does not repeat the value: it may end up in a client's logs.
            raise ValueError("not a single plain e-mail address such as name@example.org") from None
        local, domain = value.split("@")
        return f"{local}@{domain.lower()}"

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            check_phone_number(value)
        except ValueError:
            raise ValueError("not an E.164 phone number such as +236700000000") from None
        return value

    @model_validator(mode="after")
    def _something(self) -> ContactIn:
        if self.email is None and self.phone is None:
            raise ValueError("give an e-mail address, a phone number, or both")
        return self


@dataclass(frozen=True)
class Contact:
    user_id: int
    email: str | None
    phone: str | None
    updated_at: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "email": self.email,
            "phone": self.phone,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Recipient:
    """An active user reached on escalation, with the role that decides what they may read,
    and the kinds of address they have (the addresses stay sealed until a delivery is sent)."""

    user_id: int
    role: Role
    has_email: bool
    has_phone: bool


_FIELD: dict[str, str] = {"email": "email", "sms": "phone"}


def _context(user_id: int, field: str) -> str:
    # Same text as migration 0009, which encrypted the addresses stored before it.
    return f"user_contacts:{user_id}:{field}"


def _seal(keys: KeyRing, user_id: int, field: str, value: str | None) -> str | None:
    return None if value is None else keys.encrypt(value, _context(user_id, field))


class SealedContactError(Exception):
    """A stored address does not open with this key: the data key is not the one it was sealed
    with, or the value was copied from another row. The message never holds the value."""


def _open(keys: KeyRing, user_id: int, field: str, token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return keys.decrypt(token, _context(user_id, field))
    except (KeyStoreError, InvalidTag, ValueError):
        raise SealedContactError(
            f"the stored {field} of user {user_id} does not open with this server's data key "
            "(TOCSIN_DATA_KEY or $TOCSIN_HOME/keys): set the key it was stored with, or enter "
            "the contact again"
        ) from None


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _row(conn: Connection, user_id: int) -> Row | None:
    return conn.execute(select(user_contacts).where(user_contacts.c.user_id == user_id)).first()


def get_contact(conn: Connection, user_id: int, keys: KeyRing) -> Contact | None:
    row = _row(conn, user_id)
    return None if row is None else _contact(row, keys)


def _contact(row: Row, keys: KeyRing) -> Contact:
    return Contact(
        row.user_id,
        _open(keys, row.user_id, "email", row.email_enc),
        _open(keys, row.user_id, "phone", row.phone_enc),
        _aware(row.updated_at),
    )


def address_of(conn: Connection, user_id: int, kind: str, keys: KeyRing) -> str | None:
    """The user's current address of ``kind`` (``email`` or ``sms``), for the delivery worker;
    None if the account is disabled or gone, or has no such address any more."""
    field = _FIELD.get(kind)
    if field is None:
        return None
    token = conn.scalar(
        select(user_contacts.c[f"{field}_enc"])
        .select_from(users.join(user_contacts, user_contacts.c.user_id == users.c.id))
        .where(users.c.id == user_id, users.c.disabled_at.is_(None))
    )
    return _open(keys, user_id, field, token)


def set_contact(
    conn: Connection,
    user_id: int,
    contact: ContactIn,
    actor: Actor,
    keys: KeyRing,
    now: datetime | None = None,
) -> Contact:
    """Replace the user's contact (both fields) and ledger that it changed, in the caller's
    transaction. The user must exist (the caller checks, to answer 404)."""
    now = now or datetime.now(UTC)
    row = _row(conn, user_id)
    try:
        before = None if row is None else _contact(row, keys)
    except SealedContactError:
        before = None  # unreadable (e.g. a lost key): replacing it is how an admin recovers
    values = {
        "email_enc": _seal(keys, user_id, "email", contact.email),
        "phone_enc": _seal(keys, user_id, "phone", contact.phone),
        "updated_at": now,
    }
    if row is None:
        conn.execute(insert(user_contacts).values(user_id=user_id, **values))
    else:
        conn.execute(
            update(user_contacts).where(user_contacts.c.user_id == user_id).values(**values)
        )
    audit.record(
        conn,
        actor,
        "user.contact_set",
        f"user:{user_id}",
        {
            "email_changed": (before.email if before else None) != contact.email,
            "phone_changed": (before.phone if before else None) != contact.phone,
            "has_email": contact.email is not None,
            "has_phone": contact.phone is not None,
        },
        now,
    )
    return Contact(user_id, contact.email, contact.phone, now)


def clear_contact(
    conn: Connection, user_id: int, actor: Actor, now: datetime | None = None
) -> bool:
    """Remove the user's contact; False when there was none (nothing is ledgered then)."""
    now = now or datetime.now(UTC)
    removed = conn.execute(delete(user_contacts).where(user_contacts.c.user_id == user_id))
    if removed.rowcount != 1:
        return False
    audit.record(conn, actor, "user.contact_clear", f"user:{user_id}", {"cleared": True}, now)
    return True


def recipients_for_roles(conn: Connection, roles: Collection[str]) -> list[Recipient]:
    """Active users holding one of ``roles`` who have a contact, ordered by user id.
    Ladder role names that are not account roles (``duty_officer``) reach no one here: they
    stand for channels of the trigger file."""
    account_roles = {r.value for r in Role}
    known = sorted({r for r in roles if r in account_roles})
    if not known:
        return []
    rows = conn.execute(
        select(
            users.c.id,
            users.c.role,
            user_contacts.c.email_enc.is_not(None).label("has_email"),
            user_contacts.c.phone_enc.is_not(None).label("has_phone"),
        )
        .select_from(users.join(user_contacts, user_contacts.c.user_id == users.c.id))
        .where(users.c.role.in_(known), users.c.disabled_at.is_(None))
        .order_by(users.c.id)
    )
    return [Recipient(r.id, Role(r.role), bool(r.has_email), bool(r.has_phone)) for r in rows]
