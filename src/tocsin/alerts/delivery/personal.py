"""Escalation to people: the alert, or a notice, to each directory address of a notified role.

An escalation step names roles; ``tocsin.alerts.directory`` gives the active users holding them
and their addresses. Each address gets its own delivery row (retried and dead-lettered like any
other), at the detail that user's role may read:

- cleared (the role reads alerts, the alert's tier is within the role's highest tier, and its
  case class among the role's classes): the alert redacted to the role's highest tier, through
  the same renderer as channels (``enqueue_alert``);
- not cleared: a notice that says only that an alert needs attention and to sign in, with a
  short reference; no headline, area, severity or text.

Rows name the user (``directory:user:<id>``), not the address: the worker looks it up, sealed in
the directory, when it sends (``addressing``, TM-88). Each row is ledgered
(``alert.escalation_delivery``: user id, kind, full or notice, delivery id), never with the
address.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from tocsin.alerts.access import ALERT_ROLES, AlertAction
from tocsin.alerts.delivery.addressing import user_target
from tocsin.alerts.delivery.dispatch import Channel, DispatchResult, enqueue_alert
from tocsin.alerts.delivery.queue import enqueue
from tocsin.alerts.delivery.sms import fit_sms
from tocsin.alerts.delivery.smtp import EMAIL_CONTENT_TYPE, email_payload
from tocsin.alerts.directory import Recipient, recipients_for_roles
from tocsin.alerts.lifecycle import Alert
from tocsin.security.policies import policy_for

NOTICE_SUBJECT = "[Tocsin] An alert needs attention"
PERSONAL_MAX_ATTEMPTS = 8


def notice_text(alert: Alert, public_url: str | None = None) -> str:
    """What an uncleared recipient gets: that something needs attention, nothing of what. With
    the server's ``public_url`` (trigger file), a link to the alerts page, which asks them to
    sign in and lists only what their role may read. The link names no alert: the sign-in
    redirect keeps alert ids out of URLs, and the reference finds it in the list."""
    where = f" Sign in to see it: {public_url}/alerts" if public_url else " Sign in to see it."
    return (
        f"An alert needs attention in Tocsin.{where} Ref {alert.id[:8]}.\n"
        "This message holds no details on purpose."
    )


def _sms_notice(text: str) -> str:
    # One segment without a link; with one, as many as keep the link whole (at most 3).
    for segments in (1, 2, 3):
        fitted = fit_sms(text, segments)
        if not fitted.endswith("..."):
            return fitted
    return fitted


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


def _kinds(r: Recipient) -> list[Literal["email", "sms"]]:
    out: list[Literal["email", "sms"]] = []
    if r.has_email:
        out.append("email")
    if r.has_phone:
        out.append("sms")
    return out


def enqueue_for_roles(
    conn: Connection,
    alert: Alert,
    roles: Collection[str],
    *,
    level: int,
    sender: str,
    now: datetime,
    public_url: str | None = None,
) -> PersonalDeliveries:
    """Queue escalation ``level`` of ``alert`` for every active user of ``roles``."""
    out = PersonalDeliveries()
    occasion = f"escalation-{level}"
    for recipient in recipients_for_roles(conn, roles):
        cleared = is_cleared(recipient, alert)
        policy = policy_for(recipient.role)
        target = user_target(recipient.user_id)
        for kind in _kinds(recipient):
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
                text = notice_text(alert, public_url)
                row_id, created = enqueue(
                    conn,
                    alert_id=alert.id,
                    channel=name,
                    kind=kind,
                    target=target,
                    tier=alert.candidate.tier,  # the row's tier: what it is about, not its text
                    content_type=EMAIL_CONTENT_TYPE if kind == "email" else "text/plain",
                    subject=NOTICE_SUBJECT if kind == "email" else None,
                    payload=email_payload(text, None) if kind == "email" else _sms_notice(text),
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
