"""The demo's alert configuration and first evaluation round.

The demo writes ``$TOCSIN_HOME/alerts/triggers.yaml`` only when there is none (a mission's own
file is never overwritten). Its protected sites are fictional, placed a few km from the places
with the most recent located incidents, so the proximity trigger has something to find. Its
windows are wider than a mission would use (60 days), because a loaded dataset ends with the last
complete month, weeks before today.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, func, select

from tocsin.alerts import inputs
from tocsin.alerts.service import RoundReport, evaluate_round
from tocsin.alerts.settings import config_path
from tocsin.alerts.triggers.config import TriggerFile, load_triggers
from tocsin.store.schema import events

RECENT_DAYS = 60
SITE_OFFSET_KM = 3.0  # near the incidents, never on top of them
_SITES = (  # (kind, name, tier)
    ("idp_site", "Demo IDP site (fictional)", "restricted"),
    ("school", "Demo primary school (fictional)", "internal"),
    ("health_facility", "Demo health centre (fictional)", "internal"),
)

_HEADER = """\
# DEMO alert triggers written by `tocsin demo`. The protected sites are fictional, placed near
# the scenario's recent incidents. Edit freely: the demo never overwrites this file. For a
# commented example of every option see docs/examples/triggers.yaml and docs/alerts.md.
"""


@dataclass(frozen=True, slots=True)
class DemoAlerts:
    path: Path
    written: bool  # False: an existing file was used as it is
    report: RoundReport


def ensure_trigger_file(
    engine: Engine, forecast_level: str | None, path: Path | None = None
) -> tuple[Path, bool]:
    """The trigger file, written from the store's recent incidents if there is none yet."""
    path = path or config_path()
    if path.exists():
        return path, False
    sites = hotspot_sites(engine)
    document = demo_triggers(sites, forecast_level)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_HEADER + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    load_triggers(tmp)  # a file the demo wrote must be one the alert service accepts
    tmp.replace(path)
    return path, True


def run_demo_alerts(
    engine: Engine, forecast_level: str | None, *, now: datetime | None = None
) -> DemoAlerts:
    path, written = ensure_trigger_file(engine, forecast_level)
    cfg: TriggerFile = load_triggers(path)
    return DemoAlerts(path, written, evaluate_round(engine, cfg, now=now or datetime.now(UTC)))


def hotspot_sites(engine: Engine, max_uncertainty_km: float = 5.0) -> list[dict[str, Any]]:
    """One fictional site near each of the (up to) three half-degree cells with the most precise
    located incidents in the store's last ``RECENT_DAYS`` days of data."""
    with engine.connect() as conn:
        latest = conn.scalar(select(func.max(events.c.date_start)))
        if latest is None:
            return []
        if isinstance(latest, str):  # SQLite may hand back the ISO text
            latest = date.fromisoformat(latest[:10])
        located = inputs.located_incidents(conn, latest - timedelta(days=RECENT_DAYS), latest)
    precise = [x for x in located if x.uncertainty_km <= max_uncertainty_km]
    cells = Counter((math.floor(x.lat * 2), math.floor(x.lon * 2)) for x in precise)
    sites = []
    for (kind, name, tier), (cell, _) in zip(_SITES, cells.most_common(len(_SITES)), strict=False):
        newest = max(
            (x for x in precise if _cell(x.lat, x.lon) == cell), key=lambda x: x.occurred_at
        )
        lat = newest.lat + SITE_OFFSET_KM / 111.0  # a few km north of the newest incident
        sites.append(
            {
                "id": f"demo-{kind.replace('_', '-')}",
                "name": name,
                "kind": kind,
                "point": {"lat": round(lat, 4), "lon": round(newest.lon, 4)},
                "tier": tier,
            }
        )
    return sites


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat * 2), math.floor(lon * 2)


def demo_triggers(sites: list[dict[str, Any]], forecast_level: str | None) -> dict[str, Any]:
    """The trigger file: forecast risk, surges, proximity to the sites, threat keywords."""
    triggers: list[dict[str, Any]] = [
        {
            "id": "demo-forecast-risk",
            "kind": "forecast_risk",
            "name": "High risk of civilian killings next month",
            "outcome": "p_ge_1",
            "level": 0.1,  # low, for the demo: a mission would choose 0.5 or more
            "severity": "Severe",
            "urgency": "Future",
            "tier": "internal",
            "instruction": "Review patrol plans and community alert networks for this area.",
        },
        {
            "id": "demo-surge",
            "kind": "surge",
            "name": "Surge in violence against civilians",
            "measure": "incidents",
            "method": "negative_binomial",
            "window_days": RECENT_DAYS,
            "history_days": 6 * RECENT_DAYS,
            "p_value": 0.05,
            "min_count": 3,
            "severity": "Severe",
            "urgency": "Expected",
            "certainty": "Likely",
            "tier": "internal",
        },
        {
            "id": "demo-keywords",
            "kind": "keywords",
            "name": "Threat language in incoming reports",
            "patterns": {
                "en": ["attack planned", "burn the village", "ultimatum"],
                "fr": ["attaque prévue", "brûler le village", "ultimatum"],
            },
            "validity": f"{RECENT_DAYS}d",
            "tier": "internal",
        },
    ]
    if sites:
        triggers.append(
            {
                "id": "demo-proximity",
                "kind": "proximity",
                "name": "Violence near a protected site",
                "radius_km": 10,
                "site_kinds": ["idp_site", "school", "health_facility"],
                "max_location_uncertainty_km": 5,
                "validity": f"{RECENT_DAYS}d",
                "severity": "Extreme",
                "urgency": "Immediate",
                "certainty": "Observed",
                "tier": "internal",
                "instruction": "Contact the site focal point and consider a protective presence.",
            }
        )
    document: dict[str, Any] = {
        "mission": "DEMO",
        "sender": "tocsin.demo.invalid",
        "escalation": {
            "ack_deadline": {"default": "4h", "Immediate": "1h", "Future": "24h"},
            "ladder": [
                {"after": "0m", "notify": ["duty_officer"]},
                {"after": "2h", "notify": ["head_of_field_office"]},
            ],
        },
        "sites": sites,
        "triggers": triggers,
    }
    if forecast_level:
        document["forecast_level"] = forecast_level
    return document
