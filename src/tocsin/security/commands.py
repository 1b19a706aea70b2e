"""``tocsin users ...`` and ``tocsin audit ...``.

The first admin can only be made here: ``tocsin users create NAME --role admin`` prompts for a
password (never an argument: it would stay in the shell history and the process list) and
prints the TOTP provisioning URI once. Every command is audited as ``cli:<os user>``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from nacl.signing import VerifyKey
from rich.console import Console
from rich.table import Table

from tocsin import config
from tocsin.alerts.directory_commands import contact_app
from tocsin.security import audit
from tocsin.security import users as accounts
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing, KeyStoreError
from tocsin.security.passwords import PasswordRejected, Passwords
from tocsin.security.policies import ROLE_POLICIES, Role
from tocsin.security.txn import write_transaction
from tocsin.store.db import make_engine

users_app = typer.Typer(help="Manage user accounts (create, disable, reset 2FA, list).")
audit_app = typer.Typer(help="Verify and checkpoint the tamper-evident audit ledger.")
users_app.add_typer(contact_app, name="contact")
console = Console()
err = Console(stderr=True)

ROLE_HELP = "Role: " + ", ".join(r.value for r in Role if r is not Role.PUBLIC)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    first = typer.prompt("Password", hide_input=True)
    second = typer.prompt("Repeat the password", hide_input=True)
    if first != second:
        _fail("the passwords differ")
    return first


def _show_totp(uri: str) -> None:
    console.print(
        "Scan or paste this into the user's authenticator app (it is shown only once; it "
        "holds the secret, so do not paste it into chat or tickets):"
    )
    console.print(uri, soft_wrap=True, highlight=False)


@users_app.command("create")
def create(
    username: str = typer.Argument(..., help="Login name (lower case letters, digits, . _ -)."),
    role: Role = typer.Option(..., "--role", help=ROLE_HELP),
    display_name: str = typer.Option("", "--display-name", help="Full name shown in the UI."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    totp: bool = typer.Option(
        False, "--totp", help="Enroll 2FA even if the role does not require it."
    ),
) -> None:
    """Create a user; prompts for the password and prints the TOTP provisioning URI."""
    if role is Role.PUBLIC:
        _fail("'public' is the role of people without an account")
    password = _read_password(password_stdin)
    engine = make_engine()
    try:
        with write_transaction(engine) as conn:
            user, uri = accounts.create_user(
                conn,
                Passwords(),
                KeyRing(config.home()),
                username=username,
                display_name=display_name,
                role=role,
                password=password,
                actor=Actor.cli(),
                with_totp=totp,
            )
    except (accounts.AccountError, PasswordRejected, KeyStoreError) as exc:
        _fail(str(exc))
    console.print(f"created {user.username} ({user.role.value}), id {user.id}")
    if uri:
        _show_totp(uri)


def _change(username: str, what: str) -> None:
    engine = make_engine()
    keys = KeyRing(config.home())
    try:
        with write_transaction(engine) as conn:
            user = accounts.require_user(conn, username)
            if what == "disable":
                accounts.set_disabled(conn, user, True, Actor.cli())
            elif what == "enable":
                accounts.set_disabled(conn, user, False, Actor.cli())
            elif what == "unlock":
                accounts.unlock(conn, keys, user, Actor.cli())
            elif what == "reset-2fa":
                uri = accounts.reset_2fa(conn, keys, user, Actor.cli())
    except (accounts.AccountError, KeyStoreError) as exc:
        _fail(str(exc))
    console.print(f"{what}: {user.username} done")
    if what == "reset-2fa":
        console.print("Their sessions and API tokens were ended.")
        _show_totp(uri)


@users_app.command("disable")
def disable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Disable an account: it can no longer log in; sessions and API tokens end now."""
    _change(username, "disable")


@users_app.command("enable")
def enable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Re-enable a disabled account."""
    _change(username, "enable")


@users_app.command("unlock")
def unlock(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Lift a lockout caused by repeated failed logins."""
    _change(username, "unlock")


@users_app.command("reset-2fa")
def reset_2fa(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Issue a new TOTP secret (the old authenticator stops working) and print its URI."""
    _change(username, "reset-2fa")


@users_app.command("set-role")
def set_role(
    username: str = typer.Argument(..., help="Login name."),
    role: Role = typer.Argument(..., help=ROLE_HELP),
) -> None:
    """Change a user's role (their API tokens are revoked)."""
    engine = make_engine()
    try:
        with write_transaction(engine) as conn:
            user = accounts.require_user(conn, username)
            uri = accounts.set_role(conn, KeyRing(config.home()), user, role, Actor.cli())
    except (accounts.AccountError, KeyStoreError, ValueError) as exc:
        _fail(str(exc))
    console.print(f"{user.username} is now {role.value}")
    if uri:
        _show_totp(uri)


@users_app.command("list")
def list_users(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List users with their role, 2FA and state."""
    engine = make_engine()
    with engine.connect() as conn:
        found = accounts.list_users(conn)
    if as_json:
        rows = [u.as_public_dict() for u in found]
        print(json.dumps(rows, default=str, indent=2))
        return
    table = Table("username", "name", "role", "2FA", "state")
    for u in found:
        state = "disabled" if u.disabled else ("locked" if u.locked_until else "active")
        table.add_row(
            u.username, u.display_name, u.role.value, "yes" if u.has_totp else "no", state
        )
    console.print(table)


@users_app.command("roles")
def roles() -> None:
    """Print the role policy table (what each role may see and do)."""
    table = Table("role", "max tier", "case classes", "identifying fields", "2FA", "notes")
    for p in ROLE_POLICIES.values():
        table.add_row(
            p.role.value,
            "-" if p.max_tier is None else p.max_tier.value,
            ", ".join(sorted(c.value for c in p.case_classes)),
            ", ".join(sorted(f.value for f in p.fields)) or "-",
            "required" if p.requires_2fa else "optional",
            "own records only" if p.own_records_only else "",
        )
    console.print(table)


@audit_app.command("verify")
def verify(
    public_key: str = typer.Option(
        "",
        "--public-key",
        help="Hex Ed25519 key to trust (default: the one from the local signing key).",
    ),
    checkpoint_file: Path | None = typer.Option(
        None, "--checkpoint-file", help="Copy of checkpoints.jsonl kept elsewhere."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Walk the whole chain; exit 1 and name the first broken entry if anything was edited,
    deleted, reordered or cut off."""
    try:
        trusted = (
            VerifyKey(bytes.fromhex(public_key))
            if public_key
            else KeyRing(config.home()).verify_key()
        )
    except (ValueError, KeyStoreError) as exc:
        _fail(f"cannot load the public key: {exc}")
    external = checkpoint_file or audit.checkpoint_file(config.home())
    engine = make_engine()
    with engine.connect() as conn:
        report = audit.verify(conn, trusted, external)
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        console.print(
            f"[green]ok[/green]: {report.entries} entries, {report.checkpoints} checkpoints"
        )
    else:
        err.print(f"[red]BROKEN[/red] at entry {report.first_broken_seq}: {report.problem}")
    for warning in report.warnings if not as_json else []:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign the current head of the ledger now (the server also does so periodically)."""
    keys = KeyRing(config.home())
    engine = make_engine()
    try:
        with write_transaction(engine) as conn:
            cp = audit.take_checkpoint(conn, keys)
    except KeyStoreError as exc:
        _fail(str(exc))
    if cp is None:
        console.print("nothing new to checkpoint")
        return
    path = audit.publish_checkpoint(config.home(), cp)
    console.print(f"checkpoint at entry {cp.seq} signed by key {cp.key_id[:16]}…; copy in {path}")
