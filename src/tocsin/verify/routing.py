"""The mission's routing table, derived from the role policies, and the officer of a principal.

``tocsin.verify.workflow.DEFAULT_ROUTING`` names a conduct-and-discipline role that the access
policy (``tocsin.security.policies``) does not define yet, so a deployment routes by the policy
table instead: a role handles a case class when its policy may read that class, may update
records, is not limited to its own records, and may read the class's minimum tier. Moving a
class to another role is then one edit of ``ROLE_POLICIES``, as that module promises.
"""

from __future__ import annotations

from functools import cache

from tocsin.security.policies import ROLE_POLICIES, Permission, Role, RolePolicy
from tocsin.security.principal import Principal
from tocsin.verify.workflow import DEFAULT_ROUTING, Officer, Route, RoutingTable

# Roles that file reports but never handle them; they read back their own reports only.
SUBMITTER_ROLES: frozenset[Role] = frozenset({Role.FIELD_REPORTER, Role.PARTNER})


def _handles(policy: RolePolicy, route: Route, case_class: object) -> bool:
    return (
        case_class in policy.case_classes
        and policy.allows(Permission.EVENTS_UPDATE)
        and not policy.own_records_only
        and policy.max_tier is not None
        and policy.max_tier >= route.min_sensitivity
    )


@cache
def mission_routing() -> RoutingTable:
    """Due dates and minimum tiers of ``DEFAULT_ROUTING``; roles from the policy table."""
    routes = {}
    for case_class, route in DEFAULT_ROUTING.routes.items():
        roles = frozenset(
            role.value
            for role, policy in ROLE_POLICIES.items()
            if _handles(policy, route, case_class)
        )
        routes[case_class] = Route(roles, route.min_sensitivity, route.due_within)
    return RoutingTable(routes)


def officer_of(principal: Principal) -> Officer:
    """The workflow's view of an authenticated principal: its user id and its one role."""
    if principal.user_id is None:
        raise ValueError("an anonymous caller is not an officer")
    return Officer(str(principal.user_id), frozenset({principal.role.value}))
