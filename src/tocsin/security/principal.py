"""The principal: who is making a request, with which role, through which credential."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tocsin.security.audit import Actor
from tocsin.security.policies import (
    AccessScope,
    Permission,
    Role,
    RolePolicy,
    aggregate_scope,
    policy_for,
    record_scope,
)
from tocsin.security.sessions import SessionInfo
from tocsin.security.tokens import TokenScope, permissions_for_scopes

AuthMethod = Literal["anonymous", "session", "token", "cli"]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int | None
    username: str
    role: Role
    auth: AuthMethod
    token_scopes: frozenset[TokenScope] | None = None
    token_id: int | None = None
    session: SessionInfo | None = None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(None, "anonymous", Role.PUBLIC, "anonymous")

    @property
    def policy(self) -> RolePolicy:
        return policy_for(self.role)

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    def can(self, permission: Permission) -> bool:
        if not self.policy.allows(permission):
            return False
        if self.auth == "token":
            return permission in permissions_for_scopes(self.token_scopes or ())
        return True

    def record_scope(self) -> AccessScope:
        return record_scope(self.policy, self.user_id)

    def aggregate_scope(self) -> AccessScope:
        return aggregate_scope(self.policy, self.user_id)

    def actor(self) -> Actor:
        if self.user_id is None:
            return Actor.anonymous()
        via = "" if self.auth == "session" else f" via {self.auth}"
        if self.token_id is not None:
            via = f" via token:{self.token_id}"
        return Actor(f"{self.username}{via}", self.user_id)
