"""Display labels of enum values, marked for translation (``N_``) and translated in templates
with ``_(label)``. One table per vocabulary, so pages, the sitrep and the tests agree."""

from __future__ import annotations

from collections.abc import Mapping

from tocsin.domain.taxonomy import SensitivityTier, ViolenceType
from tocsin.security.policies import Role
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
    "issued": N_("Issued"),
    "acknowledged": N_("Acknowledged"),
    "response_assigned": N_("Response assigned"),
}


def violence_label(value: str | None) -> str:
    return VIOLENCE_LABELS.get(value or UNKNOWN, VIOLENCE_LABELS[UNKNOWN])
