"""Fan-out: one redacted rendering of an alert per channel, into the delivery queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection

from tocsin.alerts.cap import CAP_MIME, build_cap
from tocsin.alerts.delivery.addressing import target_user
from tocsin.alerts.delivery.queue import enqueue
from tocsin.alerts.delivery.sms import check_phone_number, fit_sms
from tocsin.alerts.delivery.smtp import EMAIL_CONTENT_TYPE, check_email_address, email_payload
from tocsin.alerts.delivery.webhook import check_webhook_url
from tocsin.alerts.lifecycle import Alert, AlertState
from tocsin.alerts.redaction import RedactedView, may_receive, redact_for_tier
from tocsin.domain.taxonomy import CaseClass, SensitivityTier


@dataclass(frozen=True)
class Channel:
    """A recipient and the highest tier it is cleared for."""

    name: str
    kind: Literal["webhook", "email", "sms"]
    target: str
    tier: SensitivityTier
    max_attempts: int = 8
    allow_http: bool = False  # webhooks only; for receivers on the same host or in tests
    # Roles this recipient stands for on the escalation ladder (e.g. the duty officer's phone):
    # an escalation step that names one of them queues the alert here again.
    escalation_roles: frozenset[str] = frozenset()
    on_issue: bool = True  # False: the recipient hears only of escalations
    # Case classes this recipient is cleared for, besides its tier: an alert derived from a
    # sexual-violence or children case goes only where that class is cleared.
    case_classes: frozenset[CaseClass] = frozenset({CaseClass.GENERAL})

    def __post_init__(self) -> None:
        if self.kind in ("email", "sms") and target_user(self.target) is not None:
            return  # a user of the staff directory, addressed when sent (addressing)
        if self.kind == "webhook":
            check_webhook_url(self.target, allow_http=self.allow_http)
        elif self.kind == "email":
            check_email_address(self.target)
        elif self.kind == "sms":
            check_phone_number(self.target)
        else:
            raise ValueError(f"unknown channel kind {self.kind!r}")


@dataclass(frozen=True)
class DispatchResult:
    enqueued: list[int] = field(default_factory=list)
    already_queued: list[int] = field(default_factory=list)
    skipped: Mapping[str, str] = field(default_factory=dict)  # channel -> reason


def render_text(alert: Alert, view: RedactedView) -> str:
    c = alert.candidate
    lines = [
        view.headline,
        "",
        f"Severity: {c.severity.value}. Urgency: {c.urgency.value}. "
        f"Certainty: {c.certainty.value}.",
        f"Period: {c.period_start:%Y-%m-%d %H:%M} to {c.period_end:%Y-%m-%d %H:%M} UTC.",
    ]
    if view.areas:
        lines.append("Area: " + "; ".join(a.description for a in view.areas) + ".")
    if view.passages:
        lines += ["", *view.passages]
    if view.instruction:
        lines += ["", f"What to do: {view.instruction}"]
    lines += ["", f"Alert {alert.id} ({alert.mission}). Acknowledge it in Tocsin."]
    if view.tier is not SensitivityTier.PUBLIC:
        lines.append(f"Need-to-know: tier '{view.tier.value}'. Do not forward.")
    return "\n".join(lines)


def render_sms(alert: Alert, view: RedactedView, max_segments: int = 3) -> str:
    area = f" ({view.areas[0].description})" if view.areas else ""
    return fit_sms(
        f"{alert.candidate.severity.value}: {view.headline}{area}. Ref {alert.id[:8]}.",
        max_segments,
    )


def enqueue_alert(
    conn: Connection,
    alert: Alert,
    channels: Sequence[Channel],
    *,
    sender: str,
    now: datetime,
    msg_type: str = "Alert",
    occasion: str | None = None,
) -> DispatchResult:
    """Queue ``alert`` for every channel cleared for it; report the others and why.

    ``occasion`` (e.g. ``escalation-2``) makes a later sending of the same alert to the same
    channel a new delivery instead of a duplicate of the first."""
    if alert.state not in {
        AlertState.ISSUED,
        AlertState.ACKNOWLEDGED,
        AlertState.RESPONSE_ASSIGNED,
        AlertState.CLOSED,
    }:
        raise ValueError(f"alert {alert.id} is {alert.state.value}: only issued alerts go out")
    enqueued: list[int] = []
    already: list[int] = []
    skipped: dict[str, str] = {}
    for ch in channels:
        if not may_receive(alert.candidate, ch.tier):
            skipped[ch.name] = (
                f"channel tier {ch.tier.value} is below the alert's tier "
                f"{alert.candidate.tier.value}"
            )
            continue
        if alert.candidate.case_class not in ch.case_classes:
            skipped[ch.name] = (
                f"channel is not cleared for {alert.candidate.case_class.value} cases"
            )
            continue
        view = redact_for_tier(alert.candidate, ch.tier)
        subject = None
        if ch.kind == "webhook":
            payload = build_cap(
                alert, sender=sender, channel_tier=ch.tier, sent=now, msg_type=msg_type
            ).xml.decode()
            content_type = CAP_MIME
        elif ch.kind == "email":
            cap = build_cap(alert, sender=sender, channel_tier=ch.tier, sent=now, msg_type=msg_type)
            payload = email_payload(render_text(alert, view), cap.xml.decode())
            content_type = EMAIL_CONTENT_TYPE
            subject = f"[Tocsin {alert.candidate.severity.value}] {view.headline}"
        else:
            payload = render_sms(alert, view)
            content_type = "text/plain"
        row_id, created = enqueue(
            conn,
            alert_id=alert.id,
            channel=ch.name,
            kind=ch.kind,
            target=ch.target,
            tier=ch.tier,
            content_type=content_type,
            subject=subject,
            payload=payload,
            now=now,
            idempotency_key=":".join(
                part for part in (alert.id, msg_type, occasion, ch.name) if part
            ),
            max_attempts=ch.max_attempts,
        )
        (enqueued if created else already).append(row_id)
    return DispatchResult(enqueued, already, skipped)
