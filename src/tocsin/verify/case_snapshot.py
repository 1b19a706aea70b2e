"""Lossless JSON snapshots of a :class:`~tocsin.verify.workflow.Case` (for undoable merges)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.verify.workflow import Case, Comment, ReportState

CASE_SNAPSHOT_VERSION = 1


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def case_to_dict(case: Case) -> dict[str, Any]:
    return {
        "v": CASE_SNAPSHOT_VERSION,
        "report_id": case.report_id,
        "state": case.state.value,
        "case_class": case.case_class.value,
        "sensitivity": case.sensitivity.value,
        "received_at": case.received_at.isoformat(),
        "assignee": case.assignee,
        "due": _iso(case.due),
        "reliability": None if case.reliability is None else case.reliability.value,
        "credibility": None if case.credibility is None else case.credibility.value,
        "comments": [
            {"author": c.author, "at": c.at.isoformat(), "text": c.text} for c in case.comments
        ],
        "incident_id": case.incident_id,
        "conclusion_note": case.conclusion_note,
        "version": case.version,
    }


def case_from_dict(data: dict[str, Any]) -> Case:
    """Inverse of :func:`case_to_dict`; ValueError on anything it did not write."""
    if data.get("v") != CASE_SNAPSHOT_VERSION:
        raise ValueError(f"unsupported case snapshot version {data.get('v')!r}")
    try:
        received = _when(data["received_at"])
        assert received is not None
        return Case(
            report_id=str(data["report_id"]),
            state=ReportState(data["state"]),
            case_class=CaseClass(data["case_class"]),
            sensitivity=SensitivityTier(data["sensitivity"]),
            received_at=received,
            assignee=data["assignee"],
            due=_when(data["due"]),
            reliability=(
                None if data["reliability"] is None else SourceReliability(data["reliability"])
            ),
            credibility=(
                None if data["credibility"] is None else InformationCredibility(data["credibility"])
            ),
            comments=tuple(
                Comment(str(c["author"]), datetime.fromisoformat(c["at"]), str(c["text"]))
                for c in data["comments"]
            ),
            incident_id=data["incident_id"],
            conclusion_note=data["conclusion_note"],
            version=int(data["version"]),
        )
    except (KeyError, TypeError, AssertionError) as exc:
        raise ValueError(f"malformed case snapshot: {exc}") from exc
