"""Reports as they leave the system (API JSON and pages): the record, then the redaction.

The same field groups as events (``tocsin.security.policies.FIELD_GROUP_KEYS``) decide what a
caller may see of a report: a group the caller's role does not hold on a restricted case is
removed from the record (absent, never blanked). The precise location is then replaced by a
coarse one (0.1 degree, about 11 km), so that a caller below the report's tier still knows
roughly where it happened. A submitter reading back their own report has no field grants at
all: once it is triaged as a restricted case they see its state and a coarse location only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tocsin.intake.repository import StoredReport
from tocsin.security.policies import FieldGroup, is_restricted_case, protected_groups
from tocsin.security.principal import Principal
from tocsin.verify.service import Access, Visible
from tocsin.verify.workflow import Case, Workflow

COARSE_DECIMALS = 1  # 0.1 degree

# Report keys per protected field group.
REPORT_GROUP_KEYS: dict[FieldGroup, tuple[str, ...]] = {
    FieldGroup.PRECISE_LOCATION: ("latitude", "longitude", "location_accuracy_m", "place_name"),
    FieldGroup.NARRATIVE: (
        "text",
        "comments",
        "conclusion_note",
        "perpetrator_name",
        "attachments",
    ),
    FieldGroup.SOURCES: ("reporter_pseudonym", "has_contact", "source_type"),
    FieldGroup.PERSONS: (),
}


def case_summary(case: Case, now: datetime) -> dict[str, Any]:
    """What the queue shows of a case: workflow facts only, never report content."""
    return {
        "id": case.report_id,
        "state": case.state.value,
        "case_class": case.case_class.value,
        "sensitivity": case.sensitivity.value,
        "received_at": case.received_at,
        "due": case.due,
        "overdue": Workflow.is_overdue(case, now),
        "assignee": case.assignee,
        "grade": case.grade,
        "incident_id": case.incident_id,
        "version": case.version,
    }


def full_record(visible: Visible, stored: StoredReport, now: datetime) -> dict[str, Any]:
    case, report = visible.case, stored.report
    out = case_summary(case, now)
    out.update(
        {
            "channel": report.channel,
            "occurred_on": report.occurred_on,
            "latitude": report.latitude,
            "longitude": report.longitude,
            "location_accuracy_m": report.location_accuracy_m,
            "place_name": report.place_name,
            "text": report.text,
            "threat": report.threat.value if report.threat else None,
            "act_types": [a.value for a in report.act_types],
            "perpetrator_kind": report.perpetrator_kind.value if report.perpetrator_kind else None,
            "perpetrator_name": report.perpetrator_name,
            "killed": report.killed,
            "injured": report.injured,
            "children_involved": report.children_involved,
            "language": report.language,
            "source_type": report.source_type,
            "reporter_pseudonym": stored.reporter_pseudonym,
            "has_contact": stored.has_contact,
            "attachments": [
                {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size}
                for a in stored.attachments
            ],
            "reliability": case.reliability.value if case.reliability else None,
            "credibility": case.credibility.value if case.credibility else None,
            "conclusion_note": case.conclusion_note,
            "comments": [{"author": c.author, "at": c.at, "text": c.text} for c in case.comments],
            "access": visible.access.value,
        }
    )
    return out


def hidden_groups(principal: Principal, visible: Visible) -> set[FieldGroup]:
    case = visible.case
    groups = protected_groups(case.sensitivity, case.case_class)
    if visible.access is Access.SUBMITTER:
        return groups  # a submitter holds no field grant, whatever their role
    return groups - set(principal.policy.fields)


def redact(record: dict[str, Any], hidden: set[FieldGroup]) -> dict[str, Any]:
    out = dict(record)
    if FieldGroup.PRECISE_LOCATION in hidden and out.get("latitude") is not None:
        out["coarse_location"] = {
            "latitude": round(out["latitude"], COARSE_DECIMALS),
            "longitude": round(out["longitude"], COARSE_DECIMALS),
            "precision_deg": 10**-COARSE_DECIMALS,
        }
    for group in hidden:
        for key in REPORT_GROUP_KEYS[group]:
            out.pop(key, None)
    return out


# The officers' working notes: never shown back to whoever filed the report.
SUBMITTER_HIDDEN_KEYS = ("comments", "assignee", "conclusion_note", "reporter_pseudonym")


def report_record(
    principal: Principal, visible: Visible, stored: StoredReport, now: datetime
) -> dict[str, Any]:
    """The record of one report as this caller may see it."""
    out = redact(full_record(visible, stored, now), hidden_groups(principal, visible))
    if visible.access is Access.SUBMITTER:
        for key in SUBMITTER_HIDDEN_KEYS:
            out.pop(key, None)
    return out


def is_restricted(case: Case) -> bool:
    return is_restricted_case(case.sensitivity, case.case_class)
