"""Display labels of enum values, marked for translation (``N_``) and translated in templates
with ``_(label)``. One table per vocabulary, so pages, the sitrep and the tests agree."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tocsin.alerts.lifecycle import AlertState, Outcome
from tocsin.alerts.model import Certainty, Severity, Urgency
from tocsin.alerts.responses import TaskKind, TaskStatus
from tocsin.domain.taxonomy import (
    ActorRole,
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.security.policies import Role
from tocsin.verify.workflow import ReportState
from tocsin.web.i18n import N_

UNKNOWN = "unknown"

VIOLENCE_LABELS: Mapping[str, str] = {
    ViolenceType.STATE_BASED.value: N_("State-based"),
    ViolenceType.NON_STATE.value: N_("Non-state"),
    ViolenceType.ONE_SIDED.value: N_("One-sided (against civilians)"),
    UNKNOWN: N_("Unknown"),
}
# The order series are drawn and listed in (legend, stacked bars).
VIOLENCE_ORDER: tuple[str, ...] = tuple(VIOLENCE_LABELS)

TIER_LABELS: Mapping[str, str] = {
    SensitivityTier.PUBLIC.value: N_("Public"),
    SensitivityTier.INTERNAL.value: N_("Internal"),
    SensitivityTier.RESTRICTED.value: N_("Restricted"),
    SensitivityTier.CONFIDENTIAL.value: N_("Confidential"),
}

ROLE_TITLES: Mapping[str, str] = {
    Role.ADMIN.value: N_("Administrator"),
    Role.ANALYST.value: N_("Analyst"),
    Role.HUMAN_RIGHTS_OFFICER.value: N_("Human-rights officer"),
    Role.PROTECTION_OFFICER.value: N_("Protection officer"),
    Role.COMMANDER.value: N_("Commander / viewer"),
    Role.FIELD_REPORTER.value: N_("Field reporter"),
    Role.PARTNER.value: N_("Partner organisation"),
    Role.PUBLIC.value: N_("Public"),
}

ALERT_STATE_LABELS: Mapping[str, str] = {
    AlertState.DRAFT.value: N_("Draft, waiting for confirmation"),
    AlertState.ISSUED.value: N_("Issued, not acknowledged"),
    AlertState.ACKNOWLEDGED.value: N_("Acknowledged"),
    AlertState.RESPONSE_ASSIGNED.value: N_("Response assigned"),
    AlertState.CLOSED.value: N_("Closed"),
    AlertState.SUPPRESSED.value: N_("Suppressed duplicate"),
}
OUTCOME_LABELS: Mapping[str, str] = {
    Outcome.AVERTED.value: N_("Averted"),
    Outcome.MITIGATED.value: N_("Mitigated"),
    Outcome.OCCURRED.value: N_("Occurred"),
    Outcome.FALSE_ALARM.value: N_("False alarm"),
    Outcome.SUPERSEDED.value: N_("Superseded"),
    Outcome.REJECTED.value: N_("Rejected (draft not issued)"),
}
# CAP 1.2 values (the alert module stores them capitalised, as CAP writes them).
SEVERITY_LABELS: Mapping[str, str] = {
    Severity.EXTREME.value: N_("Extreme"),
    Severity.SEVERE.value: N_("Severe"),
    Severity.MODERATE.value: N_("Moderate"),
    Severity.MINOR.value: N_("Minor"),
    Severity.UNKNOWN.value: N_("Unknown severity"),
}
URGENCY_LABELS: Mapping[str, str] = {
    Urgency.IMMEDIATE.value: N_("Immediate"),
    Urgency.EXPECTED.value: N_("Expected"),
    Urgency.FUTURE.value: N_("Future"),
    Urgency.PAST.value: N_("Past"),
    Urgency.UNKNOWN.value: N_("Unknown urgency"),
}
CERTAINTY_LABELS: Mapping[str, str] = {
    Certainty.OBSERVED.value: N_("Observed"),
    Certainty.LIKELY.value: N_("Likely"),
    Certainty.POSSIBLE.value: N_("Possible"),
    Certainty.UNLIKELY.value: N_("Unlikely"),
    Certainty.UNKNOWN.value: N_("Unknown certainty"),
}


def violence_label(value: str | None) -> str:
    return VIOLENCE_LABELS.get(value or UNKNOWN, VIOLENCE_LABELS[UNKNOWN])


THREAT_LABELS: Mapping[str, str] = {
    PocThreatCategory.ATTACK_ON_CIVILIANS.value: N_("Attack on civilians"),
    PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE.value: N_(
        "Conflict-related sexual violence"
    ),
    PocThreatCategory.GRAVE_VIOLATION_AGAINST_CHILDREN.value: N_(
        "Grave violation against children"
    ),
    PocThreatCategory.FORCED_DISPLACEMENT.value: N_("Forced displacement"),
    PocThreatCategory.ATTACK_ON_CIVILIAN_OBJECTS.value: N_("Attack on civilian objects"),
    PocThreatCategory.ATTACK_ON_HUMANITARIANS.value: N_("Attack on humanitarians"),
    PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS.value: N_("Armed conflict near civilians"),
    PocThreatCategory.INTERCOMMUNAL_VIOLENCE.value: N_("Intercommunal violence"),
    PocThreatCategory.THREATS_AND_INTIMIDATION.value: N_("Threats and intimidation"),
    PocThreatCategory.MISCONDUCT_BY_MISSION_PERSONNEL.value: N_("Misconduct by mission personnel"),
}

ACT_LABELS: Mapping[str, str] = {
    ActType.KILLING.value: N_("killing"),
    ActType.INJURY.value: N_("injury"),
    ActType.ABDUCTION.value: N_("abduction"),
    ActType.SEXUAL_VIOLENCE.value: N_("sexual violence"),
    ActType.LOOTING.value: N_("looting"),
    ActType.ATTACK_ON_SCHOOL.value: N_("attack on a school"),
    ActType.ATTACK_ON_HEALTH_FACILITY.value: N_("attack on a health facility"),
    ActType.ATTACK_ON_IDP_SITE.value: N_("attack on an IDP site"),
    ActType.ATTACK_ON_AID_WORKERS.value: N_("attack on aid workers"),
    ActType.FORCED_DISPLACEMENT.value: N_("forced displacement"),
    ActType.ARBITRARY_DETENTION.value: N_("arbitrary detention"),
    ActType.THREAT.value: N_("threat"),
    ActType.ARMED_CLASH.value: N_("armed clash"),
    ActType.PROPERTY_DESTRUCTION.value: N_("destruction of property"),
    ActType.OTHER.value: N_("other act"),
}

ACTOR_ROLE_LABELS: Mapping[str, str] = {
    ActorRole.PERPETRATOR.value: N_("perpetrator"),
    ActorRole.SIDE_A.value: N_("side A"),
    ActorRole.SIDE_B.value: N_("side B"),
    ActorRole.TARGET.value: N_("target"),
}

CASE_CLASS_LABELS: Mapping[str, str] = {
    CaseClass.GENERAL.value: N_("General"),
    CaseClass.SEXUAL_VIOLENCE.value: N_("Sexual violence"),
    CaseClass.CHILDREN.value: N_("Children"),
    CaseClass.MISSION_PERSONNEL_MISCONDUCT.value: N_("Misconduct by mission personnel"),
}

REPORT_STATE_LABELS: Mapping[str, str] = {
    ReportState.RECEIVED.value: N_("Received"),
    ReportState.TRIAGED.value: N_("Triaged"),
    ReportState.UNDER_VERIFICATION.value: N_("Under verification"),
    ReportState.VERIFIED.value: N_("Verified"),
    ReportState.UNVERIFIED.value: N_("Unverified"),
    ReportState.DISCARDED.value: N_("Discarded"),
}

TASK_KIND_LABELS: Mapping[str, str] = {
    TaskKind.PATROL.value: N_("Patrol"),
    TaskKind.ENGAGEMENT.value: N_("Engagement"),
    TaskKind.REFERRAL.value: N_("Referral"),
    TaskKind.EARLY_WARNING_MESSAGE.value: N_("Early-warning message to a community"),
}

TASK_STATUS_LABELS: Mapping[str, str] = {
    TaskStatus.ASSIGNED.value: N_("assigned"),
    TaskStatus.IN_PROGRESS.value: N_("in progress"),
    TaskStatus.DONE.value: N_("done"),
    TaskStatus.CANCELLED.value: N_("cancelled"),
}

# Vocabularies the templates translate with the ``term`` filter: ``value | term("threat")``.
VOCABULARIES: Mapping[str, Mapping[str, str]] = {
    "threat": THREAT_LABELS,
    "act": ACT_LABELS,
    "actor_role": ACTOR_ROLE_LABELS,
    "case_class": CASE_CLASS_LABELS,
    "report_state": REPORT_STATE_LABELS,
    "task_kind": TASK_KIND_LABELS,
    "task_status": TASK_STATUS_LABELS,
    "tier": TIER_LABELS,
    "violence": VIOLENCE_LABELS,
    "alert_state": ALERT_STATE_LABELS,
    "outcome": OUTCOME_LABELS,
    "severity": SEVERITY_LABELS,
    "urgency": URGENCY_LABELS,
    "certainty": CERTAINTY_LABELS,
}


def term(value: object, vocabulary: str, gettext: Callable[[str], str] = str) -> str:
    """``value`` of ``vocabulary`` in words, translated; a value without a label (a newer
    enum member, or data from elsewhere) is shown as it is, underscores as spaces."""
    text = "" if value is None else str(value)
    label = VOCABULARIES[vocabulary].get(text)
    return gettext(label) if label is not None else text.replace("_", " ")
