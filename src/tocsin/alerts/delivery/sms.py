"""SMS through the project's outbound gateway adapter, ``tocsin.intake.gateways.OutboundSms``.

The same adapters that answer civilians' reports (intake) carry alert messages: one interface,
one place where numbers are kept out of logs. A receipt that is not ``accepted`` is a failed
attempt, retried with backoff and dead-lettered after the channel's ``max_attempts``.
"""

from __future__ import annotations

import re

from tocsin.alerts.delivery.queue import DeliveryJob
from tocsin.alerts.delivery.senders import DeliveryError
from tocsin.intake.gateways import OutboundSms

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# GSM 03.38 basic alphabet: messages in it fit 160 characters a segment, others only 70.
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def check_phone_number(number: str) -> None:
    if not E164.match(number):
        raise ValueError(f"{number!r} is not an E.164 phone number such as +236700000000")


def sms_capacity(text: str, segments: int) -> int:
    """How many characters fit in ``segments`` concatenated segments for this text's alphabet."""
    gsm = all(c in _GSM7 for c in text)
    if segments <= 1:
        return 160 if gsm else 70
    return segments * (153 if gsm else 67)


def fit_sms(text: str, max_segments: int = 3) -> str:
    text = " ".join(text.split())
    limit = sms_capacity(text, max_segments)
    if len(text) <= limit:
        return text
    return text[: limit - 3].rstrip() + "..."


class SmsSender:
    def __init__(self, gateway: OutboundSms) -> None:
        self._gateway = gateway

    def send(self, job: DeliveryJob) -> None:
        try:
            check_phone_number(job.target)
        except ValueError as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
        receipt = self._gateway.send(
            job.target, job.payload, reference=f"alert:{job.alert_id}:delivery:{job.id}"
        )
        if not receipt.accepted:
            # The gateway's error text, never the number (it must not reach logs or the queue).
            raise DeliveryError(f"SMS gateway refused the message: {receipt.error or 'no reason'}")
