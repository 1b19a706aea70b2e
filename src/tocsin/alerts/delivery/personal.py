"""Escalation to people: the alert, or a notice, to each directory address of a notified role.

An escalation step names roles; ``tocsin.alerts.directory`` gives the active users holding them
and their addresses. Each address gets its own delivery row (retried and dead-lettered like any
other), at the detail that user's role may read:

- cleared (the role reads alerts, the alert's tier is within the role's highest tier, and its
  case class among the role's classes): the alert redacted to the role's highest tier, through
  the same renderer as channels (``enqueue_alert``);
- not cleared: a notice that says only that an alert needs attention and to sign in, with a
  short reference; no headline, area, severity or text.

Each row is ledgered (``alert.escalation_delivery``: user id, kind, full or notice, delivery id),
never with the address.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from tocsin.alerts.access import ALERT_ROLES, AlertAction
from tocsin.alerts.delivery.dispatch import Channel, DispatchResult, enqueue_alert
from tocsin.alerts.delivery.queue import enqueue
from tocsin.alerts.delivery.sms import fit_sms
from tocsin.alerts.delivery.smtp import EMAIL_CONTENT_TYPE, email_payload
from tocsin.alerts.directory import Recipient, recipients_for_roles
from tocsin.alerts.lifecycle import Alert
from tocsin.security.policies import policy_for

NOTICE_SUBJECT = "[Tocsin] An alert needs attention"
PERSONAL_MAX_ATTEMPTS = 8


def notice_text(alert: Alert) -> str:
    """What an uncleared recipient gets: that something needs attention, nothing of what."""
    return (
        f"An alert needs attention in Tocsin. Sign in to see it. Ref {alert.id[:8]}.\n"
        "This message holds no details on purpose."
    )


def is_cleared(recipient: Recipient, alert: Alert) -> bool:
    policy = policy_for(recipient.role)
    c = alert.candidate
    return (
        recipient.role in ALERT_ROLES[AlertAction.READ]
        and policy.max_tier is not None
        and c.tier <= policy.max_tier
        and c.case_class in policy.case_classes
    )


@dataclass
class PersonalDeliveries:
    dispatch: DispatchResult = field(default_factory=DispatchResult)
    # (action, target, details) for the ledger, one per delivery row
    entries: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def _addresses(r: Recipient) -> list[tuple[Literal["email", "sms"], str]]:
    out: list[tuple[Literal["email", "sms"], str]] = []
    if r.email:
        out.append(("email", r.email))
    if r.phone:
        out.append(("sms", r.phone))
    return out


def enqueue_for_roles(
    conn: Connection,
    alert: Alert,
    roles: Collection[str],
    *,
    level: int,
    sender: str,
    now: datetime,
) -> PersonalDeliveries:
    """Queue escalation ``level`` of ``alert`` for every active user of ``roles``."""
    out = PersonalDeliveries()
    occasion = f"escalation-{level}"
    for recipient in recipients_for_roles(conn, roles):
        cleared = is_cleared(recipient, alert)
        policy = policy_for(recipient.role)
        for kind, target in _addresses(recipient):
            name = f"user-{recipient.user_id}-{kind}"
            if cleared:
                assert policy.max_tier is not None
                channel = Channel(
                    name,
                    kind,
                    target,
                    policy.max_tier,
                    PERSONAL_MAX_ATTEMPTS,
                    case_classes=frozenset(policy.case_classes),
                )
                result = enqueue_alert(
                    conn, alert, [channel], sender=sender, now=now, occasion=occasion
                )
                row_ids = result.enqueued + result.already_queued
                created = bool(result.enqueued)
            else:
                text = notice_text(alert)
                row_id, created = enqueue(
                    conn,
                    alert_id=alert.id,
                    channel=name,
                    kind=kind,
                    target=target,
                    tier=alert.candidate.tier,  # the row's tier: what it is about, not its text
                    content_type=EMAIL_CONTENT_TYPE if kind == "email" else "text/plain",
                    subject=NOTICE_SUBJECT if kind == "email" else None,
                    payload=email_payload(text, None) if kind == "email" else fit_sms(text, 1),
                    now=now,
                    idempotency_key=":".join((alert.id, "Notice", occasion, name)),
                    max_attempts=PERSONAL_MAX_ATTEMPTS,
                )
                row_ids = [row_id]
            (out.dispatch.enqueued if created else out.dispatch.already_queued).extend(row_ids)
            for row_id in row_ids:
                out.entries.append(
                    (
                        "alert.escalation_delivery",
                        f"alert:{alert.id}",
                        {
                            "user_id": recipient.user_id,
                            "kind": kind,
                            "detail": "full" if cleared else "notice",
                            "level": level,
                            "delivery_id": row_id,
                            "new": created,
                        },
                    )
                )
    return out
