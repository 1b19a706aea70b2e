"""Demo accounts for ``tocsin demo``: an analyst and a protection officer, so a first-time user
can sign in.

Passwords are random per store (never in the repository) and written, with the TOTP secrets, to
``$TOCSIN_HOME/demo-credentials.txt`` (mode 0600). Re-running the demo keeps working accounts
as they are; an account whose credentials the file no longer holds gets a new password (and a
new TOTP secret when its role needs one), since the demo cannot show a password it never knew.
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

import pyotp
from sqlalchemy import Engine

from tocsin.security import totp
from tocsin.security import users as accounts
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.passwords import Passwords
from tocsin.security.policies import Role, policy_for
from tocsin.security.txn import write_transaction

CREDENTIALS_FILE = "demo-credentials.txt"
_ALPHABET = string.ascii_letters + string.digits + "-_.!@%+"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role


DEMO_ACCOUNTS = (
    DemoAccount("analyst", "Demo analyst", Role.ANALYST),
    DemoAccount("protection", "Demo protection officer", Role.PROTECTION_OFFICER),
)


@dataclass(frozen=True, slots=True)
class DemoCredential:
    username: str
    role: str
    password: str
    totp_secret: str | None

    def totp_uri(self) -> str | None:
        if self.totp_secret is None:
            return None
        return totp.provisioning_uri(self.totp_secret, self.username)


@dataclass(frozen=True, slots=True)
class AccountsResult:
    credentials: tuple[DemoCredential, ...]
    path: Path
    created: tuple[str, ...]
    reset: tuple[str, ...]
    skipped: tuple[str, ...]  # names taken by a non-demo account of another role


def new_password(length: int = 24) -> str:
    """A random password (about 150 bits), drawn with ``secrets``."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def ensure_demo_accounts(
    engine: Engine, home: Path, passwords: Passwords | None = None
) -> AccountsResult:
    """Creates the demo accounts that are missing, repairs those whose credentials were lost,
    and (re)writes the credentials file."""
    passwords = passwords or Passwords()
    keys = KeyRing(home)
    path = home / CREDENTIALS_FILE
    known = read_credentials(path)
    kept: list[DemoCredential] = []
    created: list[str] = []
    reset: list[str] = []
    skipped: list[str] = []
    for account in DEMO_ACCOUNTS:
        with write_transaction(engine) as conn:
            user = accounts.find_user(conn, account.username)
            if user is None:
                password = new_password()
                _, uri = accounts.create_user(
                    conn,
                    passwords,
                    keys,
                    username=account.username,
                    display_name=account.display_name,
                    role=account.role,
                    password=password,
                    actor=Actor.cli(),
                )
                kept.append(_credential(account, password, uri))
                created.append(account.username)
                continue
            if user.role is not account.role:
                skipped.append(account.username)
                continue
            old = known.get(account.username)
            row = accounts.credentials(conn, account.username)
            needs_totp = policy_for(account.role).requires_2fa
            if (
                old is not None
                and passwords.verify(row.password_hash, old.password)
                and (old.totp_secret is not None) == needs_totp
            ):
                kept.append(old)
                continue
            password = new_password()
            accounts.set_password(conn, passwords, user, password, Actor.cli())
            uri = accounts.reset_2fa(conn, keys, user, Actor.cli()) if needs_totp else None
            kept.append(_credential(account, password, uri))
            reset.append(account.username)
    write_credentials(path, kept)
    return AccountsResult(tuple(kept), path, tuple(created), tuple(reset), tuple(skipped))


def _credential(account: DemoAccount, password: str, uri: str | None) -> DemoCredential:
    secret = pyotp.parse_uri(uri).secret if uri else None
    return DemoCredential(account.username, account.role.value, password, secret)


_HEADER = """\
# Tocsin DEMO ACCOUNTS - for trying Tocsin on synthetic data on this computer only.
# Never use these accounts, or this file, on a deployment with real data.
# Passwords are random for this store. Roles that can see restricted cases need a TOTP code:
# add the otpauth URI to an authenticator app, or print the current code with
#   .venv/bin/python -c "import pyotp; print(pyotp.TOTP('SECRET').now())"
"""


def write_credentials(path: Path, creds: list[DemoCredential]) -> None:
    """Writes the file with mode 0600 from the start (never briefly world-readable), then
    moves it into place so a reader never sees half a file."""
    lines = [_HEADER]
    for c in creds:
        lines += ["", f"username: {c.username}", f"role: {c.role}", f"password: {c.password}"]
        if c.totp_secret:
            lines += [f"totp secret: {c.totp_secret}", f"totp uri: {c.totp_uri()}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)  # whatever the umask was
    os.replace(tmp, path)


def read_credentials(path: Path) -> dict[str, DemoCredential]:
    """The accounts of an earlier run's file; an unreadable or edited file counts as lost."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    found: dict[str, DemoCredential] = {}
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in block.splitlines()
            if ": " in line and not line.startswith("#")
        )
        name, role, password = fields.get("username"), fields.get("role"), fields.get("password")
        if name and role and password:
            found[name] = DemoCredential(name, role, password, fields.get("totp secret"))
    return found
