"""Helpers of the browser tests: the live app handle, signing in, and page problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from tocsin.api.settings import Settings
from tocsin.security import totp
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.txn import write_transaction
from tocsin.security.users import create_user

PASSWORD = "plover-quantum-ledger-47"


@dataclass
class LiveApp:
    url: str
    engine: Engine
    settings: Settings
    keys: KeyRing
    secrets: dict[str, str | None] = field(default_factory=dict)

    def add_user(self, username: str, role: str) -> None:
        with write_transaction(self.engine) as conn:
            _user, uri = create_user(
                conn,
                self.settings.passwords,
                self.keys,
                username=username,
                display_name=username.title(),
                role=role,
                password=PASSWORD,
                actor=Actor("browser-test-setup"),
                now=datetime.now(UTC),
            )
        secret = None
        if uri is not None:
            secret = uri.split("secret=", 1)[1].split("&", 1)[0]
        self.secrets[username] = secret

    def totp_code(self, username: str) -> str:
        secret = self.secrets[username]
        assert secret is not None, f"{username} has no TOTP secret"
        return totp.code_at(secret, datetime.now(UTC))


def page_problems(page: Any) -> list[str]:
    """Console errors and warnings, uncaught errors, failed requests and CSP violations."""
    recorded = page.evaluate("window.__tocsinProblems || []")
    return [*page.tocsin_problems, *recorded]


def login(page: Any, live: LiveApp, username: str) -> None:
    """Signs in through the login form (password and, when enrolled, the TOTP code)."""
    page.goto(f"{live.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    if live.secrets.get(username):
        page.get_by_label("One-time code").fill(live.totp_code(username))
    page.get_by_role("button", name="Log in").click()
