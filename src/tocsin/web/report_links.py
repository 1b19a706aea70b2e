"""The "Linked reports" section of the incident page: the reports linked to an incident that
the viewer may see (``tocsin.verify.service.linked_reports``), as workflow facts only (state,
grade, dates); the reports' content stays on their own pages. Restricted ones are audited
like the queue's."""

from __future__ import annotations

from typing import Any

from tocsin.api.report_records import is_restricted
from tocsin.api.uow import UnitOfWork
from tocsin.security.principal import Principal
from tocsin.verify import service


def linked_reports_for_page(
    uow: UnitOfWork, principal: Principal, uid: str
) -> list[dict[str, Any]]:
    if not principal.authenticated:
        return []
    found = service.linked_reports(uow.conn, principal, uid)
    restricted = [v.case.report_id for v in found if is_restricted(v.case)]
    if restricted:
        uow.audit(
            principal.actor(), "report.read", f"event:{uid}", {"ids": restricted, "via": "incident"}
        )
    return [
        {
            "id": v.case.report_id,
            "state": v.case.state.value,
            "received_at": v.case.received_at,
            "grade": v.case.grade,
            "case_class": v.case.case_class.value,
        }
        for v in found
    ]
