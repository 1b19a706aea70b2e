"""``tocsin users ...`` and ``tocsin audit ...`` from the command line."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.store.db import make_engine

runner = CliRunner()
PASSWORD = "plover-quantum-ledger-47\n"


def _run(*args: str, stdin: str | None = None):  # noqa: ANN202
    return runner.invoke(app, list(args), input=stdin)


def test_first_admin_from_the_command_line() -> None:
    r = _run("users", "create", "alice", "--role", "admin", stdin=PASSWORD + PASSWORD)
    assert r.exit_code == 0, r.output
    assert "otpauth://totp/Tocsin:alice?secret=" in r.output
    listed = json.loads(_run("users", "list", "--json").output)
    assert [(u["username"], u["role"], u["has_totp"]) for u in listed] == [("alice", "admin", True)]


def test_password_prompt_must_match_and_policy_applies() -> None:
    r = _run("users", "create", "bob", "--role", "partner", stdin="one-two-three-four\nother\n")
    assert r.exit_code == 1 and "differ" in r.output
    r = _run("users", "create", "bob", "--role", "partner", "--password-stdin", stdin="short\n")
    assert r.exit_code == 1 and "at least 12 characters" in r.output
    r = _run("users", "create", "bob", "--role", "public", "--password-stdin", stdin=PASSWORD)
    assert r.exit_code == 1
    r = _run("users", "create", "bob", "--role", "partner", "--password-stdin", stdin=PASSWORD)
    assert r.exit_code == 0 and "otpauth" not in r.output
    again = _run("users", "create", "BOB", "--role", "partner", "--password-stdin", stdin=PASSWORD)
    assert again.exit_code == 1 and "already exists" in again.output


def test_disable_reset_2fa_and_audit_verify() -> None:
    _run("users", "create", "alice", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    _run("users", "create", "carl", "--role", "analyst", "--password-stdin", stdin=PASSWORD)
    assert _run("users", "disable", "alice").exit_code == 1  # the last admin
    assert _run("users", "disable", "carl").exit_code == 0
    reset = _run("users", "reset-2fa", "carl")
    assert reset.exit_code == 0 and "otpauth://" in reset.output
    assert _run("users", "disable", "nobody").exit_code == 1
    assert _run("users", "set-role", "carl", "commander").exit_code == 0
    checkpoint = _run("audit", "checkpoint")
    assert checkpoint.exit_code == 0 and "checkpoint at entry" in checkpoint.output
    ok = _run("audit", "verify", "--json")
    assert ok.exit_code == 0 and json.loads(ok.output)["ok"] is True

    engine = make_engine()
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE seq = 3"))
    engine.dispose()
    broken = _run("audit", "verify")
    assert broken.exit_code == 1
    assert "BROKEN at entry 3" in broken.output


def test_every_command_has_help() -> None:
    for group, commands in {
        "users": ["create", "disable", "enable", "unlock", "reset-2fa", "set-role", "list"],
        "audit": ["verify", "checkpoint"],
    }.items():
        for command in commands:
            r = _run(group, command, "--help")
            assert r.exit_code == 0 and "Usage" in r.output
    assert _run("serve", "--help").exit_code == 0
