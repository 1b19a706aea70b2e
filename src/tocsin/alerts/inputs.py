"""What the triggers read from the store: verified incidents and incoming intake reports.

- **Verified incidents** are the rows of ``events``: curated datasets (UCDP GED and the like) and
  incidents that verification has concluded. Intake reports that are not yet verified are not
  events, so they never feed the surge or proximity triggers.
- **Incoming reports** are rows of ``intake_reports`` (created by the intake module). That table
  may not exist in a deployment without intake; the keywords trigger then has no input.
- **Credible threat reports** are intake reports whose verification case (``report_cases``)
  an analyst has taken to a counted state and graded credible (the proximity trigger's
  ``threat_*`` keys, ``ProximityTrigger.counts_as_credible``). Their full-precision position is
  used here, server-side, to measure distances and never copied into an alert; the reporter's
  pseudonym, contact and receipt are not even read.

Nothing here writes. Free text of incidents never goes into an alert: a proximity alert names
an incident by its uid and type, so a restricted narrative cannot leak through an explanation.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, inspect, select

from tocsin.alerts.triggers.keywords import IncomingReport
from tocsin.alerts.triggers.proximity import LocatedReport
from tocsin.alerts.triggers.surge import IncidentObservation
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    CaseClass,
    LocationPrecision,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.store import schema as s
from tocsin.store.schema_verify import report_links, report_merges

INTAKE_TABLE = "intake_reports"
REPORT_DATASET = "tocsin-report"  # dataset of incidents made from a report (tocsin.verify)
MAX_THREATS_PER_ROUND = 5_000
DEFAULT_REPORT_ACCURACY_KM = 2.0  # a report's position without a stated accuracy
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
            e.case_class,
            e.dataset,
            e.original_id,
        ).where(
            e.date_start >= since,
            e.date_start <= until,
            e.latitude.is_not(None),
            e.longitude.is_not(None),
        )
    )
    rows = list(rows)
    linked = _reports_linked_to(conn, [r.uid for r in rows])
    out = []
    for r in rows:
        aliases = set(linked.get(r.uid, ()))
        if r.dataset == REPORT_DATASET:
            aliases.add(report_key(r.original_id))  # made from that report
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
                case_class=_case_class(r.case_class),
                aliases=tuple(sorted(aliases)),
            )
        )
    return out


def report_key(report_id: str) -> str:
    """How a report is named in an alert's evidence (incidents are named by their uid)."""
    return f"report:{report_id}"


def _case_class(value: str | None) -> CaseClass:
    try:
        return CaseClass(value) if value else CaseClass.GENERAL
    except ValueError:
        # An unknown class is treated as the most protected one, never as general.
        return CaseClass.MISSION_PERSONNEL_MISCONDUCT


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _reports_linked_to(conn: Connection, event_uids: list[str]) -> dict[str, set[str]]:
    """event uid -> report keys linked to it (``report_links`` of the verification workflow)."""
    out: dict[str, set[str]] = defaultdict(set)
    for chunk in _chunks(sorted(set(event_uids))):
        rows = conn.execute(
            select(report_links.c.event_uid, report_links.c.report_id).where(
                report_links.c.event_uid.in_(chunk)
            )
        )
        for event_uid, report_id in rows:
            out[event_uid].add(report_key(report_id))
    return out


def _merged_into(conn: Connection, survivor_ids: list[str]) -> dict[str, set[str]]:
    """report id -> report keys of the duplicates merged into it (merges not undone)."""
    out: dict[str, set[str]] = defaultdict(set)
    for chunk in _chunks(sorted(set(survivor_ids))):
        rows = conn.execute(
            select(report_merges.c.survivor_id, report_merges.c.member_ids).where(
                report_merges.c.survivor_id.in_(chunk), report_merges.c.undone_at.is_(None)
            )
        )
        for survivor, members in rows:
            try:
                out[survivor].update(report_key(str(m)) for m in json.loads(members))
            except (ValueError, TypeError):
                continue  # a damaged record names nobody; the survivor itself still counts
    return out


@dataclass(frozen=True)
class GradedThreat:
    """A located intake report with the verification facts the trigger's rule looks at."""

    report: LocatedReport
    state: str
    reliability: SourceReliability | None
    credibility: InformationCredibility | None


def _threat(value: str | None) -> PocThreatCategory | None:
    try:
        return PocThreatCategory(value) if value else None
    except ValueError:
        return None


def _grade(enum: type, value: str | None):  # noqa: ANN202 - returns a member of ``enum``
    try:
        return enum(value) if value else None
    except ValueError:
        return None


def credible_threat_reports(
    conn: Connection, since: datetime, states: Collection[str]
) -> list[GradedThreat]:
    """Graded intake reports with a position, received since ``since``, whose case is in one
    of ``states``; each trigger then applies its own rule (``counts_as_credible``).

    Read: position and its accuracy, receipt time, threat category, and the case's state, grade,
    tier and class. Not read: text, place name, reporter pseudonym, contact, receipt, names.
    """
    if not has_intake(conn) or not states:
        return []
    from tocsin.store.schema_intake import intake_reports as r
    from tocsin.store.schema_intake import report_cases as c

    rows = conn.execute(
        select(
            r.c.id,
            r.c.received_at,
            r.c.lat,
            r.c.lon,
            r.c.location_accuracy_m,
            r.c.threat,
            c.c.state,
            c.c.reliability,
            c.c.credibility,
            c.c.sensitivity,
            c.c.case_class,
            report_links.c.event_uid,
        )
        .select_from(
            r.join(c, c.c.report_id == r.c.id).outerjoin(
                report_links, report_links.c.report_id == r.c.id
            )
        )
        .where(
            r.c.received_at >= since,
            c.c.state.in_(sorted(states)),
            c.c.credibility.is_not(None),
            r.c.lat.is_not(None),
            r.c.lon.is_not(None),
        )
        .order_by(r.c.received_at.desc(), r.c.id)  # a flood: the newest threats first
        .limit(MAX_THREATS_PER_ROUND)
    )
    rows = list(rows)
    merged = _merged_into(conn, [row.id for row in rows])
    out = []
    for row in rows:
        received = row.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        try:
            tier = SensitivityTier(row.sensitivity)
        except ValueError:
            tier = SensitivityTier.CONFIDENTIAL  # unknown: the most protected, never less
        case_class = _case_class(row.case_class)
        aliases = set(merged.get(row.id, ()))
        if row.event_uid:
            aliases.add(row.event_uid)  # the incident it was linked to
        accuracy = row.location_accuracy_m
        uncertainty = (
            float(accuracy) / 1000.0
            if accuracy is not None and accuracy >= 0
            else DEFAULT_REPORT_ACCURACY_KM
        )
        # The threat category is named only for general cases: for a restricted class it
        # would say what the case is about.
        # Only a known category value, never whatever text the column holds.
        category = _threat(row.threat) if case_class is CaseClass.GENERAL else None
        what = category.value.replace("_", " ") if category else "threat"
        out.append(
            GradedThreat(
                LocatedReport(
                    uid=report_key(row.id),
                    kind="credible_threat",
                    lat=float(row.lat),
                    lon=float(row.lon),
                    occurred_at=received,
                    summary=f"{what}, graded by an analyst",
                    tier=tier,
                    uncertainty_km=uncertainty,
                    case_class=case_class,
                    aliases=tuple(sorted(aliases)),
                ),
                state=row.state,
                reliability=_grade(SourceReliability, row.reliability),
                credibility=_grade(InformationCredibility, row.credibility),
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
