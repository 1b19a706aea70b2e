"""E-mail over SMTP (stdlib ``smtplib``), with optional STARTTLS / implicit TLS and login."""

from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

from tocsin.alerts.delivery.queue import DeliveryJob
from tocsin.alerts.delivery.senders import DeliveryError

EMAIL_CONTENT_TYPE = "application/vnd.tocsin.email+json"


def check_email_address(address: str) -> None:
    """Refuse anything that is not one plain address (no display names, no header injection)."""
    if len(address) > 254 or any(c in address for c in "\r\n<>,;\"' ") or address.count("@") != 1:
        raise ValueError(f"{address!r} is not a single plain e-mail address")
    local, domain = address.split("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise ValueError(f"{address!r} is not a single plain e-mail address")
    Address(addr_spec=address)  # raises on what the e-mail package cannot represent


def email_payload(text: str, cap_xml: str | None) -> str:
    return json.dumps({"text": text, "cap_xml": cap_xml}, ensure_ascii=False)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    from_address: str
    starttls: bool = True
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 15.0


class SmtpSender:
    def __init__(self, settings: SmtpSettings) -> None:
        check_email_address(settings.from_address)
        self._s = settings

    def build_message(self, job: DeliveryJob) -> EmailMessage:
        try:
            check_email_address(job.target)
        except ValueError as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
        try:
            body = json.loads(job.payload)
            text, cap_xml = body["text"], body.get("cap_xml")
        except (ValueError, KeyError, TypeError) as exc:
            raise DeliveryError("e-mail payload is not the expected JSON", permanent=True) from exc
        msg = EmailMessage()
        msg["From"] = self._s.from_address
        msg["To"] = job.target
        msg["Subject"] = " ".join((job.subject or "Tocsin alert").split())[:200]
        msg["Message-ID"] = make_msgid(idstring=f"tocsin-delivery-{job.id}")
        msg["X-Tocsin-Alert"] = job.alert_id
        msg.set_content(text)
        if cap_xml:
            msg.add_attachment(
                cap_xml.encode("utf-8"),
                maintype="application",
                subtype="cap+xml",
                filename="alert.cap.xml",
            )
        return msg

    def send(self, job: DeliveryJob) -> None:
        msg = self.build_message(job)
        s = self._s
        try:
            if s.implicit_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_s, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with client:
                if s.starttls and not s.implicit_tls:
                    client.starttls(context=ssl.create_default_context())
                if s.username:
                    client.login(s.username, s.password or "")
                client.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused: {codes}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}", permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
