"""Audit events produced by verification actions, for the caller to append to the ledger.

These are plain values: this package never writes the ledger itself (that is
``tocsin.security``'s job), so every action returns the event describing it and the caller
appends it in the same transaction as the change. ``details`` must never hold personal data
(names, phone numbers, free text written by a reporter): ids, states and codes only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DetailValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    action: str  # dotted verb, e.g. "report.triaged", "event.merged"
    actor: str  # user id of whoever did it ("system:..." for automatic steps)
    subject_type: str  # "report", "event", ...
    subject_id: str
    at: datetime
    details: Mapping[str, DetailValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        for key, value in self.details.items():
            if not isinstance(value, str | int | float | bool | type(None)):
                raise TypeError(f"audit detail {key!r} must be a scalar, got {type(value)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "actor": self.actor,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "at": self.at.isoformat(),
            "details": dict(self.details),
        }
