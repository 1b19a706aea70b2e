"""Audit ledger models."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tocsin.api.schemas.common import Out


class AuditEntryOut(Out):
    seq: int
    at: str
    actor_user_id: int | None
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


class AuditPage(Out):
    items: list[AuditEntryOut]
    next_after_seq: int | None = Field(description="pass as after_seq for the next page")


class CheckpointOut(Out):
    seq: int
    entry_hash: str
    at: str
    key_id: str
    signature: str


class VerifyOut(Out):
    ok: bool
    entries: int
    checkpoints: int
    first_broken_seq: int | None
    problem: str | None
    warnings: list[str]
