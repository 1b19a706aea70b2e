"""Webhook replay cache: the nonces of signed webhooks already received, shared by every worker.

One row per (gateway, nonce), keyed by a SHA-256 of both so the key has a fixed size whatever
the gateway sends. A row is *claimed* when a request passes its signature check and *completed*
once the request has been answered (stored, or answered without storing); a claim that was never
completed (the process died in between) can be taken over after a short lease, so a gateway's
retry of a message we never stored is not refused as a replay. Rows expire after the gateway's
clock-skew window (twice the signature's timestamp window; days for Twilio, which signs no
timestamp) and are pruned in small batches as new ones arrive.

Migration: ``migrations/versions/0008_webhook_replay.py`` must produce exactly this table.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table

from tocsin.store.schema import metadata

webhook_replay = Table(
    "webhook_replay",
    metadata,
    Column("nonce_key", String(64), primary_key=True),  # sha256 hex of "<gateway>:<nonce>"
    Column("claimed_at", BigInteger, nullable=False),  # unix seconds
    Column("expires_at", BigInteger, nullable=False),  # unix seconds
    Column("completed", Boolean, nullable=False),
    Index("ix_webhook_replay_expires_at", "expires_at"),
)
