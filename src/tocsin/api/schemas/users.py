"""User administration models."""

from __future__ import annotations

from pydantic import Field

from tocsin.api.schemas.auth import UserOut
from tocsin.api.schemas.common import Out, Strict
from tocsin.security.policies import Role


class UserCreateIn(Strict):
    username: str = Field(min_length=2, max_length=63)
    display_name: str = Field(default="", max_length=128)
    role: Role
    password: str = Field(min_length=1, max_length=1024)


class UserPatchIn(Strict):
    role: Role | None = None
    disabled: bool | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=128)


class UserEnrollment(Out):
    user: UserOut
    totp_provisioning_uri: str | None = Field(
        default=None, description="shown once: give it to the user to set up their authenticator"
    )


class RolePolicyOut(Out):
    role: str
    title: str
    description: str
    max_tier: str | None
    case_classes: list[str]
    fields: list[str]
    permissions: list[str]
    own_records_only: bool
    aggregate_max_tier: str | None
    small_count_threshold: int
    requires_2fa: bool
