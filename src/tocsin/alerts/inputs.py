"""What the triggers read from the store: verified incidents and incoming intake reports.

- **Verified incidents** are the rows of ``events``: curated datasets (UCDP GED and the like) and
  incidents that verification has concluded. Intake reports that are not yet verified are not
  events, so they never feed the surge or proximity triggers.
- **Incoming reports** are rows of ``intake_reports`` (created by the intake module). That table
  may not exist in a deployment without intake; the keywords trigger then has no input.

Nothing here writes. Free text of incidents never goes into an alert: a proximity alert names
an incident by its uid and type, so a restricted narrative cannot leak through an explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, inspect, select

from tocsin.alerts.triggers.keywords import IncomingReport
from tocsin.alerts.triggers.proximity import LocatedReport
from tocsin.alerts.triggers.surge import IncidentObservation
from tocsin.domain.taxonomy import (
    LocationPrecision,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.store import schema as s

INTAKE_TABLE = "intake_reports"
MAX_REPORTS_PER_ROUND = 5_000  # keyword scan is per report; a flood is read in later rounds
# How far the true position may be from the coordinates, by UCDP ``where_prec``.
UNCERTAINTY_KM = {
    LocationPrecision.EXACT: 1.0,
    LocationPrecision.NEAR: 25.0,
    LocationPrecision.ADMIN2: 50.0,
    LocationPrecision.ADMIN1: 150.0,
}
UNKNOWN_PRECISION_KM = 25.0
COARSE_KM = 500.0


@dataclass(frozen=True)
class TieredObservation:
    observation: IncidentObservation
    tier: SensitivityTier


def _violence(value: str | None) -> ViolenceType | None:
    try:
        return ViolenceType(value) if value else None
    except ValueError:
        return None


def surge_observations(conn: Connection, since: date, until: date) -> list[TieredObservation]:
    """Incidents dated in [since, until], by admin-1 area (the country when no admin-1)."""
    e = s.events.c
    rows = conn.execute(
        select(
            e.date_start,
            e.admin1_pcode,
            e.admin1_name,
            e.country_iso3,
            e.country_name,
            e.fatalities_best,
            e.violence_type,
            e.sensitivity,
        ).where(e.date_start >= since, e.date_start <= until)
    )
    out = []
    for r in rows:
        if r.admin1_pcode:
            key, name = f"adm1:{r.admin1_pcode}", f"{r.admin1_name or r.admin1_pcode}"
        elif r.country_iso3:
            key, name = f"adm0:{r.country_iso3}", r.country_name or r.country_iso3
        else:
            continue  # placed nowhere: no area can have a surge of it
        obs = IncidentObservation(
            area_key=key,
            area_name=name,
            day=r.date_start,
            fatalities=float(max(r.fatalities_best or 0, 0)),
            violence_type=_violence(r.violence_type),
        )
        out.append(TieredObservation(obs, SensitivityTier(r.sensitivity)))
    return out


def _uncertainty(precision: int | None) -> float:
    if precision is None:
        return UNKNOWN_PRECISION_KM
    try:
        return UNCERTAINTY_KM.get(LocationPrecision(precision), COARSE_KM)
    except ValueError:
        return COARSE_KM


def located_incidents(conn: Connection, since: date, until: date) -> list[LocatedReport]:
    """Incidents with coordinates dated in [since, until], as verified incidents."""
    e = s.events.c
    rows = conn.execute(
        select(
            e.uid,
            e.date_start,
            e.latitude,
            e.longitude,
            e.location_precision,
            e.violence_type,
            e.fatalities_best,
            e.sensitivity,
        ).where(
            e.date_start >= since,
            e.date_start <= until,
            e.latitude.is_not(None),
            e.longitude.is_not(None),
        )
    )
    out = []
    for r in rows:
        kind = (r.violence_type or "violent").replace("_", "-")
        killed = f", {r.fatalities_best} killed" if r.fatalities_best is not None else ""
        out.append(
            LocatedReport(
                uid=r.uid,
                kind="verified_incident",
                lat=float(r.latitude),
                lon=float(r.longitude),
                occurred_at=datetime.combine(r.date_start, time(), tzinfo=UTC),
                summary=f"{kind} incident{killed}",
                tier=SensitivityTier(r.sensitivity),
                uncertainty_km=_uncertainty(r.location_precision),
            )
        )
    return out


def has_intake(conn: Connection) -> bool:
    return inspect(conn).has_table(INTAKE_TABLE)


def incoming_reports(conn: Connection, since: datetime) -> list[IncomingReport]:
    """Intake reports received since ``since`` (empty when intake is not installed).

    Their place names are not passed on: a place in a civilian's report can point at the
    reporter, and the alert's area is visible at the trigger's tier. The keyword excerpt,
    which is as sensitive as the report, keeps the report's (restricted) tier.
    """
    if not has_intake(conn):
        return []
    from tocsin.store.schema_intake import intake_reports as r

    rows = conn.execute(
        select(r.c.id, r.c.text, r.c.received_at, r.c.threat, r.c.lat)
        .where(r.c.received_at >= since)
        .order_by(r.c.received_at)
        .limit(MAX_REPORTS_PER_ROUND)
    )
    out = []
    for row in rows:
        received = row.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        try:
            category = PocThreatCategory(row.threat) if row.threat else None
        except ValueError:
            category = None
        out.append(
            IncomingReport(
                report_id=str(row.id),
                text=row.text or "",
                received_at=received,
                area_key=f"report:{row.id}",  # one alert per report, never merged with others
                area_name="location given in the report"
                if row.lat is not None
                else "location not given",
                threat_category=category,
                tier=SensitivityTier.RESTRICTED,
            )
        )
    return out


def days_back(now: datetime, span: timedelta) -> date:
    return (now - span).date()
