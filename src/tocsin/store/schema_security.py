"""Tables for access control and the audit ledger (migration ``0002``).

What is deliberately *not* stored in clear: passwords (argon2id hashes), session and API-token
secrets (SHA-256 of 256-bit random values), TOTP secrets and the names and contacts of victims
and witnesses (AES-GCM, key outside the database, see ``tocsin.security.keys``), usernames and
client addresses in the login throttle (HMAC digests).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from tocsin.store.schema import metadata

TZ = DateTime(timezone=True)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),  # lower-case
    Column("display_name", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("totp_secret_enc", Text),
    Column("totp_last_step", BigInteger),
    Column("disabled_at", TZ),
    Column("locked_until", TZ),
    Column("password_changed_at", TZ, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("last_seen_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("revoked_at", TZ),
    Index(None, "user_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),  # shown in listings to tell tokens apart
    Column("scopes", String(64), nullable=False),  # comma-separated: read,write,export
    Column("created_at", TZ, nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("last_used_at", TZ),
    Column("revoked_at", TZ),
    Index(None, "user_id"),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username_digest", String(64), nullable=False),
    Column("client_digest", String(64), nullable=False),
    Column("at", TZ, nullable=False),
    Column("success", Boolean, nullable=False),
    Index(None, "username_digest", "at"),
    Index(None, "client_digest", "at"),
)

# The ledger. ``entry_hash`` = SHA-256 over the canonical form of the entry and ``prev_hash``;
# ``at`` is ISO-8601 text so that what is hashed is exactly what is stored on both backends.
# Triggers in the migration refuse UPDATE and DELETE on both tables.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("actor_user_id", Integer),  # no foreign key: the ledger outlives any row it names
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False, unique=True),
    Index(None, "action"),
    Index(None, "actor_user_id"),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("key_id", String(64), nullable=False),  # hex Ed25519 public key
    Column("signature", String(128), nullable=False),  # hex
    Index(None, "seq"),
)

export_jobs = Table(
    "export_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("format", String(16), nullable=False),
    Column("params", Text, nullable=False),  # the query, as JSON
    Column("status", String(16), nullable=False),  # queued|running|done|failed|expired
    Column("created_at", TZ, nullable=False),
    Column("finished_at", TZ),
    Column("expires_at", TZ, nullable=False),
    Column("file_name", String(255)),
    Column("row_count", Integer),
    Column("byte_count", BigInteger),
    Column("error", Text),
    Index(None, "user_id"),
    Index(None, "status", "expires_at"),
)

# Identifying personal data linked to events, kept apart from ``events`` so that no query on
# events can return it by accident. ``name_enc``/``contact_enc`` are AES-GCM ciphertexts.
event_persons = Table(
    "event_persons",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("role", String(16), nullable=False),  # victim|witness|source|other
    Column("name_enc", Text, nullable=False),
    Column("contact_enc", Text),
    Index(None, "event_id"),
)

# Who created an event through Tocsin (field reporters see their own records).
event_owners = Table(
    "event_owners",
    metadata,
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Index(None, "user_id"),
)
