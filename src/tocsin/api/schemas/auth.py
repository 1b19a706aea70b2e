"""Login, session, password and token models."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tocsin.api.schemas.common import Out, Strict
from tocsin.security.tokens import TokenScope


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, max_length=16, description="6-digit one-time code")


class UserOut(Out):
    id: int
    username: str
    display_name: str
    role: str
    has_totp: bool
    disabled: bool
    locked_until: datetime | None = None
    created_at: datetime


class SessionOut(Out):
    user: UserOut
    csrf_token: str = Field(description="send back as X-CSRF-Token on unsafe requests")
    expires_at: datetime
    permissions: list[str]


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class TokenIn(Strict):
    name: str = Field(min_length=1, max_length=64)
    scopes: list[TokenScope] = Field(min_length=1, max_length=3)
    days: int = Field(default=90, ge=1, le=365)


class TokenOut(Out):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None
    revoked: bool


class TokenCreated(Out):
    token: str = Field(description="shown once; store it in a secret manager")
    info: TokenOut
