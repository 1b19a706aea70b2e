"""``tocsin users contact set|show|clear``: the staff directory used by alert escalation.

Addresses are given as options (an admin at the console; they are personal data, so they are
printed only by ``show`` and never echoed in error messages). Every change is ledgered as
``cli:<os user>`` without the address.
"""

from __future__ import annotations

import json

import typer
from pydantic import ValidationError
from rich.console import Console

from tocsin import config
from tocsin.alerts.directory import (
    ContactIn,
    SealedContactError,
    clear_contact,
    get_contact,
    set_contact,
)
from tocsin.security import users as accounts
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.txn import write_transaction
from tocsin.store.db import make_engine

contact_app = typer.Typer(
    help="Where a user is reached when an alert escalates to their role (e-mail, phone).",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def describe_errors(exc: ValidationError) -> str:
    """Field and reason only: pydantic's own text repeats the input (personal data)."""
    parts = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e["loc"]) or "contact"
        parts.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


@contact_app.command("set")
def set_(
    username: str = typer.Argument(..., help="Login name."),
    email: str | None = typer.Option(None, "--email", help="E-mail address for alerts."),
    phone: str | None = typer.Option(
        None, "--phone", help="Phone for SMS alerts, E.164 (e.g. +236700000000)."
    ),
) -> None:
    """Set a user's e-mail and/or phone for alerts; an option left out keeps its value."""
    if email is None and phone is None:
        _fail("give --email, --phone or both", 2)
    engine = make_engine()
    keys = KeyRing(config.home())
    try:
        with write_transaction(engine) as conn:
            user = accounts.require_user(conn, username)
            # Only an option left out needs the stored value (which may not open any more).
            before = None if email and phone else get_contact(conn, user.id, keys)
            merged = {
                "email": email if email is not None else (before.email if before else None),
                "phone": phone if phone is not None else (before.phone if before else None),
            }
            contact = ContactIn.model_validate(merged)
            set_contact(conn, user.id, contact, Actor.cli(), keys)
    except ValidationError as exc:
        _fail(describe_errors(exc), 2)
    except accounts.AccountError as exc:
        _fail(str(exc))
    except SealedContactError as exc:
        _fail(f"{exc} (give both --email and --phone to replace it)")
    what = [k for k in ("email", "phone") if getattr(contact, k)]
    console.print(f"contact of {user.username} set ({', '.join(what)})")


@contact_app.command("show")
def show(
    username: str = typer.Argument(..., help="Login name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print a user's alert contact."""
    engine = make_engine()
    with engine.connect() as conn:
        try:
            user = accounts.require_user(conn, username)
        except accounts.AccountError as exc:
            _fail(str(exc))
        try:
            contact = get_contact(conn, user.id, KeyRing(config.home()))
        except SealedContactError as exc:
            _fail(str(exc))
    if as_json:
        print(json.dumps(contact.as_dict() if contact else None, default=str))
        return
    if contact is None:
        console.print(f"{user.username} has no alert contact")
        return
    console.print(f"{user.username}: email {contact.email or '-'}, phone {contact.phone or '-'}")


@contact_app.command("clear")
def clear(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Remove a user's alert contact (escalations then reach them by no address)."""
    engine = make_engine()
    try:
        with write_transaction(engine) as conn:
            user = accounts.require_user(conn, username)
            removed = clear_contact(conn, user.id, Actor.cli())
    except accounts.AccountError as exc:
        _fail(str(exc))
    console.print(
        f"contact of {user.username} cleared" if removed else f"{user.username} had no contact"
    )
