"""Rows for the alert service tests, written here by hand (never real data)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime

from sqlalchemy import Connection, insert, inspect, select

from tocsin.alerts.triggers.config import TriggerFile, parse_triggers
from tocsin.store import schema as s
from tocsin.store.schema_security import audit_log

_uid = itertools.count(1)

CONFIG = """
mission: TESTMISSION
sender: tocsin.test.example
escalation:
  ack_deadline: {default: 4h, Immediate: 1h}
  ladder:
    - {after: 0m, notify: [duty_officer]}
    - {after: 2h, notify: [head_of_office]}
sites:
  - id: idp-1
    name: Camp Secret-Name
    kind: idp_site
    point: {lat: 5.76, lon: 20.67}
    tier: restricted
    area: Ouaka prefecture
channels:
  - {name: ops-hook, kind: webhook, target: "https://hooks.example/ops", tier: internal}
  - {name: community, kind: sms, target: "+236700000002", tier: public}
triggers:
  - {id: fc, kind: forecast_risk, name: High risk, outcome: p_ge_1, level: 0.6,
     rise: {min_increase: 0.25, min_ratio: 2}, tier: internal}
  - {id: surge, kind: surge, name: Surge, method: poisson, window_days: 30, history_days: 360,
     p_value: 0.01, min_count: 3, tier: internal}
  - {id: prox, kind: proximity, name: Near a site, radius_km: 10, site_kinds: [idp_site],
     max_location_uncertainty_km: 25, validity: 7d, tier: internal}
  - {id: kw, kind: keywords, name: Threat words, patterns: {fr: ["attaque prévue"]}, tier: internal}
"""


def config(**overrides: object) -> TriggerFile:
    cfg = parse_triggers(CONFIG)
    return cfg.model_copy(update=overrides) if overrides else cfg


def insert_event(
    conn: Connection,
    day: date,
    *,
    pcode: str = "CF52",
    name: str = "Ouaka",
    tier: str = "public",
    lat: float | None = None,
    lon: float | None = None,
    fatalities: int = 1,
    violence: str = "one_sided",
) -> str:
    uid = f"ev-{next(_uid)}"
    now = datetime(2024, 1, 1, tzinfo=UTC)
    conn.execute(
        insert(s.events).values(
            uid=uid,
            dataset="test",
            original_id=uid,
            content_hash="0" * 32,
            date_start=day,
            date_end=day,
            date_precision=1,
            latitude=lat,
            longitude=lon,
            location_precision=1 if lat is not None else None,
            country_iso3="CAF",
            admin1_pcode=pcode,
            admin1_name=name,
            violence_type=violence,
            fatalities_best=fatalities,
            sensitivity=tier,
            case_class="general",
            title="A narrative that must not leave",
            created_at=now,
            updated_at=now,
        )
    )
    return uid


def insert_intake_report(conn: Connection, report_id: str, text: str, at: datetime) -> None:
    from tocsin.store.schema_intake import intake_reports

    if not inspect(conn).has_table("intake_reports"):
        intake_reports.create(conn)
    conn.execute(
        insert(intake_reports).values(
            id=report_id,
            channel="web",
            external_id=report_id,
            received_at=at,
            text=text,
            place_name="Behind the market of Secretville",
            act_types="[]",
            attachment_names="[]",
            created_at=at,
        )
    )


def ledger(conn: Connection) -> list[tuple[str, str, dict]]:
    rows = conn.execute(select(audit_log).order_by(audit_log.c.seq))
    return [(r.action, r.target, json.loads(r.details)) for r in rows]
