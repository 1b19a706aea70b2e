"""Shared pieces of the intake HTTP tests: an app over ``engine`` with SMS gateways enabled,
an in-memory outbound adapter, and helpers to count what was stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select

from tests.api.support import Env, make_env
from tocsin.api.routers.intake_sms import SmsGatewayConfig
from tocsin.intake.gateways import InMemoryOutbound
from tocsin.store.schema_intake import intake_attachments, intake_reports
from tocsin.store.schema_security import audit_log

GENERIC_SECRET = b"generic-shared-secret-for-tests"
TWILIO_TOKEN = "twilio-auth-token-for-tests"  # noqa: S105 - test value
TELERIVET_SECRET = "telerivet-webhook-secret-for-tests"  # noqa: S105 - test value


@contextmanager
def intake_env(engine: Engine, home: Path) -> Iterator[tuple[Env, InMemoryOutbound]]:
    env = make_env(engine, home)
    outbound = InMemoryOutbound()
    env.app.state.sms_gateways = SmsGatewayConfig(
        generic_secret=GENERIC_SECRET,
        twilio_auth_token=TWILIO_TOKEN,
        telerivet_secret=TELERIVET_SECRET,
    )
    env.app.state.sms_outbound = outbound
    try:
        yield env, outbound
    finally:
        intake = getattr(env.app.state, "intake", None)
        if intake is not None:
            intake.close()


def count_reports(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(intake_reports)).scalar_one()


def count_attachments(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(intake_attachments)).scalar_one()


def report_texts(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(intake_reports.c.text)).scalars())


def only_report_id(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(select(intake_reports.c.id)).scalar_one()


def ledger(engine: Engine) -> list[tuple[str, str, str, str]]:
    """(actor, action, target, details) of every audit entry, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                audit_log.c.actor, audit_log.c.action, audit_log.c.target, audit_log.c.details
            ).order_by(audit_log.c.seq)
        )
        return [tuple(r) for r in rows]
