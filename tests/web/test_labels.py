"""Every value of the vocabularies the pages show has a label, translated in French, so an
enum member added later without one fails here instead of reaching a page as ``snake_case``."""

from __future__ import annotations

from enum import StrEnum

import pytest

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
from tocsin.verify.workflow import ReportState
from tocsin.web.i18n import environment, translations
from tocsin.web.labels import VOCABULARIES, term

ENUMS: dict[str, type[StrEnum]] = {
    "threat": PocThreatCategory,
    "act": ActType,
    "actor_role": ActorRole,
    "case_class": CaseClass,
    "report_state": ReportState,
    "task_status": TaskStatus,
    "tier": SensitivityTier,
    "violence": ViolenceType,
    "alert_state": AlertState,
    "outcome": Outcome,
    "severity": Severity,
    "urgency": Urgency,
    "certainty": Certainty,
    "task_kind": TaskKind,
}


@pytest.mark.parametrize("vocabulary", sorted(ENUMS))
def test_every_member_has_a_french_label(vocabulary: str) -> None:
    assert set(VOCABULARIES) == set(ENUMS)
    french = translations("fr").gettext
    for member in ENUMS[vocabulary]:
        label = VOCABULARIES[vocabulary].get(member.value)
        assert label is not None, f"{vocabulary}: no label for {member.value}"
        # A few words are the same in French.
        same = {"Public", "Restricted", "Possible", "Future"}
        assert french(label) != label or label in same, member.value


def test_term_filter_translates_and_falls_back_readably() -> None:
    env = environment("fr")
    html = env.from_string('{{ v | term("threat") }}|{{ acts | map("term", "act") | join(", ") }}')
    text = html.render(v="armed_conflict_near_civilians", acts=["killing", "looting"])
    assert text == "Conflit armé à proximité de civils|meurtre, pillage"
    assert term("some_new_value", "act") == "some new value"
    assert term(None, "threat") == ""
    escaped = env.from_string('{{ v | term("act") }}').render(v="<script>")
    assert "<script>" not in escaped
