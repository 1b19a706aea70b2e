"""Who may do what with alerts, as data (like ``tocsin.security.policies``).

Reading follows the record policy: an alert is visible up to the role's ``max_tier`` and is
shown redacted to that tier; field reporters (who only read back their own records) and the
anonymous public see no alert list. The anonymous public gets the public CAP/Atom feed only.

Acting on alerts is operational: people on duty acknowledge, those who task patrols and
engagements assign responses and close alerts, and only analysts, protection officers and
admins confirm drafts (issue) that a trigger held for a person. API tokens may read with the
``events:read`` scope and act with ``events:update``; interactive sessions need no scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security.policies import Permission, Role
from tocsin.security.principal import Principal
from tocsin.security.tokens import permissions_for_scopes


class AlertAction(StrEnum):
    READ = "read"
    ISSUE = "issue"  # confirm a draft (or reject it)
    ACKNOWLEDGE = "acknowledge"
    RESPOND = "respond"  # assign and update response tasks
    CLOSE = "close"


_READERS = frozenset(
    {
        Role.ADMIN,
        Role.ANALYST,
        Role.HUMAN_RIGHTS_OFFICER,
        Role.PROTECTION_OFFICER,
        Role.COMMANDER,
        Role.PARTNER,
    }
)
_ON_DUTY = frozenset(
    {Role.ADMIN, Role.ANALYST, Role.HUMAN_RIGHTS_OFFICER, Role.PROTECTION_OFFICER, Role.COMMANDER}
)
_TASKING = frozenset({Role.ADMIN, Role.ANALYST, Role.PROTECTION_OFFICER, Role.COMMANDER})
_CONFIRMING = frozenset({Role.ADMIN, Role.ANALYST, Role.PROTECTION_OFFICER})

ALERT_ROLES: Mapping[AlertAction, frozenset[Role]] = {
    AlertAction.READ: _READERS,
    AlertAction.ACKNOWLEDGE: _ON_DUTY,
    AlertAction.RESPOND: _TASKING,
    AlertAction.CLOSE: _TASKING,
    AlertAction.ISSUE: _CONFIRMING,
}


def may(principal: Principal, action: AlertAction) -> bool:
    if principal.role not in ALERT_ROLES[action]:
        return False
    if principal.auth == "token":
        needed = Permission.EVENTS_READ if action is AlertAction.READ else Permission.EVENTS_UPDATE
        # The scope alone, not the role's event permissions: a commander acknowledges
        # alerts without being allowed to edit events.
        return needed in permissions_for_scopes(principal.token_scopes or ())
    return principal.authenticated


def reader_tier(principal: Principal) -> SensitivityTier | None:
    """The tier alerts are shown at, or ``None`` when this principal reads no alerts."""
    if not may(principal, AlertAction.READ):
        return None
    return principal.policy.max_tier


def may_see(principal: Principal, alert_case_class: CaseClass, alert_tier: SensitivityTier) -> bool:
    """Tier *and* case class: an alert derived from a sexual-violence or children case is for
    the roles cleared for that class only (the human-rights officer reads confidential general
    cases, not those), whatever their tier. Readers below either are answered "not found"."""
    tier = reader_tier(principal)
    return (
        tier is not None
        and alert_tier <= tier
        and alert_case_class in principal.policy.case_classes
    )


def lifecycle_actor(principal: Principal) -> str:
    """The lifecycle's ``user:<name>`` form (the ledger gets ``principal.actor()``)."""
    return f"user:{principal.username}"
