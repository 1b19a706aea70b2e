"""Where the alert configuration and the channel secrets come from.

- ``TOCSIN_ALERTS_CONFIG``: the mission's trigger file (default
  ``$TOCSIN_HOME/alerts/triggers.yaml``; see ``docs/examples/triggers.yaml``).
- Webhook signing secrets: ``TOCSIN_ALERTS_WEBHOOK_SECRET_<CHANNEL>`` (channel name upper-cased,
  ``-`` and ``.`` as ``_``), at least 16 bytes. Never in the trigger file, which is shared.
- E-mail: ``TOCSIN_SMTP_HOST``, ``TOCSIN_SMTP_PORT`` (587), ``TOCSIN_SMTP_FROM``,
  ``TOCSIN_SMTP_USER``, ``TOCSIN_SMTP_PASSWORD``, ``TOCSIN_SMTP_TLS`` (``starttls`` | ``implicit``
  | ``none``, default ``starttls``).
- SMS: an ``OutboundSms`` adapter from ``tocsin.intake.gateways`` is passed in by the caller
  that has one. A kind without a sender is not claimed by ``tocsin alerts deliver``: its rows
  wait in the queue for a worker that has one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from tocsin import config
from tocsin.alerts.delivery.senders import Sender
from tocsin.alerts.delivery.sms import SmsSender
from tocsin.alerts.delivery.smtp import SmtpSender, SmtpSettings
from tocsin.alerts.delivery.webhook import WebhookSender
from tocsin.alerts.triggers.config import TriggerFile, load_triggers
from tocsin.intake.gateways import OutboundSms

CONFIG_ENV = "TOCSIN_ALERTS_CONFIG"
SECRET_PREFIX = "TOCSIN_ALERTS_WEBHOOK_SECRET_"  # noqa: S105 - a variable name


class AlertsNotConfigured(RuntimeError):
    pass


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    value = env.get(CONFIG_ENV)
    return Path(value).expanduser() if value else config.home() / "alerts" / "triggers.yaml"


_cache: dict[Path, tuple[float, int, TriggerFile]] = {}


def load_config(path: Path | None = None) -> TriggerFile:
    """The trigger file, parsed once per change of its modification time and size."""
    path = path or config_path()
    try:
        stat = path.stat()
    except OSError as exc:
        raise AlertsNotConfigured(
            f"no alert configuration at {path} (set {CONFIG_ENV}; example: "
            "docs/examples/triggers.yaml)"
        ) from exc
    cached = _cache.get(path)
    if cached is not None and cached[:2] == (stat.st_mtime, stat.st_size):
        return cached[2]
    parsed = load_triggers(path)
    _cache[path] = (stat.st_mtime, stat.st_size, parsed)
    return parsed


def secret_env_name(channel: str) -> str:
    return SECRET_PREFIX + re.sub(r"[^A-Z0-9]", "_", channel.upper())


def build_senders(
    cfg: TriggerFile,
    env: Mapping[str, str] | None = None,
    *,
    sms_gateway: OutboundSms | None = None,
) -> dict[str, Sender]:
    """Senders for the channel kinds the configuration uses and the environment equips."""
    env = os.environ if env is None else env
    kinds = {c.kind for c in cfg.channels}
    senders: dict[str, Sender] = {}
    if "webhook" in kinds:
        secrets = {
            c.name: env[secret_env_name(c.name)].encode()
            for c in cfg.channels
            if c.kind == "webhook" and env.get(secret_env_name(c.name))
        }
        allow_http = any(c.allow_http for c in cfg.channels if c.kind == "webhook")
        senders["webhook"] = WebhookSender(secrets, allow_http=allow_http)
    if "email" in kinds and env.get("TOCSIN_SMTP_HOST") and env.get("TOCSIN_SMTP_FROM"):
        tls = env.get("TOCSIN_SMTP_TLS", "starttls")
        if tls not in ("starttls", "implicit", "none"):
            raise ValueError("TOCSIN_SMTP_TLS must be starttls, implicit or none")
        senders["email"] = SmtpSender(
            SmtpSettings(
                host=env["TOCSIN_SMTP_HOST"],
                port=int(env.get("TOCSIN_SMTP_PORT", "587")),
                from_address=env["TOCSIN_SMTP_FROM"],
                starttls=tls == "starttls",
                implicit_tls=tls == "implicit",
                username=env.get("TOCSIN_SMTP_USER") or None,
                password=env.get("TOCSIN_SMTP_PASSWORD") or None,
            )
        )
    if "sms" in kinds and sms_gateway is not None:
        senders["sms"] = SmsSender(sms_gateway)
    return senders
