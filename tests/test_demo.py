"""The README's first command works as a new user runs it: ``./scripts/demo``."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import httpx

from tocsin.config import PROJECT_ROOT

DEMO = PROJECT_ROOT / "scripts" / "demo"


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TOCSIN_HOME"] = str(home)
    env.pop("TOCSIN_DATABASE_URL", None)
    return env


def _events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def _loop_counts(db: Path) -> dict[str, int]:
    """What each step of the demo left in the store."""
    return {
        "events": _events(db),
        "users": _count(db, "SELECT count(*) FROM users"),
        "forecast_runs": _count(db, "SELECT count(*) FROM forecast_runs"),
        "forecast_values": _count(db, "SELECT count(*) FROM forecast_values"),
        "reports": _count(db, "SELECT count(*) FROM intake_reports"),
        "alerts": _count(db, "SELECT count(*) FROM alerts"),
    }


def test_demo_no_serve_builds_and_loads_the_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = subprocess.run(
        [str(DEMO), "--no-serve"], env=_env(home), capture_output=True, text=True, timeout=600
    )
    assert first.returncode == 0, first.stdout + first.stderr
    db = home / "tocsin.sqlite"
    out = first.stdout.replace("\n", "")
    assert str(db) in out
    counts = _loop_counts(db)
    assert counts["events"] > 100
    assert counts["forecast_runs"] == 1 and counts["forecast_values"] > 0
    assert counts["reports"] == 6
    assert counts["alerts"] > 0
    with sqlite3.connect(db) as conn:
        roles = dict(conn.execute("SELECT username, role FROM users"))
        two_factor = dict(conn.execute("SELECT username, totp_secret_enc IS NOT NULL FROM users"))
        routed = set(conn.execute("SELECT case_class, sensitivity FROM report_cases"))
        explained = conn.execute("SELECT count(*) FROM alerts WHERE headline <> ''").fetchone()[0]
    assert roles == {"analyst": "analyst", "protection": "protection_officer"}
    assert two_factor["protection"] == 1  # a role that sees restricted cases has TOTP
    assert ("children", "restricted") in routed  # a child-protection case is restricted
    assert explained == counts["alerts"]

    creds = home / "demo-credentials.txt"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    text = creds.read_text(encoding="utf-8")
    assert "DEMO ACCOUNTS" in text
    passwords = re.findall(r"^password: (\S+)$", text, flags=re.M)
    assert len(passwords) == 2 and all(len(p) >= 20 for p in passwords)
    assert passwords[0] != passwords[1]
    assert "analyst" in out and str(creds) in out
    assert passwords[0] in first.stdout  # the analyst's login is on the console
    for path in ("/dashboard", "/map", "/reports", "/alerts", "/forecast", "/sources", "/report"):
        assert f"http://127.0.0.1:8000{path}" in out
    assert "tocsin alerts list" in out and "tocsin sitrep --period" in out
    assert (home / "alerts" / "triggers.yaml").is_file()

    second = subprocess.run(
        [str(DEMO), "--no-serve"], env=_env(home), capture_output=True, text=True, timeout=600
    )
    assert second.returncode == 0, second.stdout + second.stderr
    # Re-running changes nothing: same events, accounts, run, reports, alerts and passwords.
    assert _loop_counts(db) == counts
    assert creds.read_text(encoding="utf-8") == text
    with sqlite3.connect(db) as conn:
        datasets = [r[0] for r in conn.execute("SELECT DISTINCT dataset FROM events")]
        imports = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'import.file'"
        ).fetchone()[0]
    assert datasets == ["synthetic_scenario"]  # synthetic events never pass as UCDP's
    assert imports == 2  # both loads are in the audit ledger


def test_demo_gives_lost_credentials_new_passwords(engine, tmp_path: Path) -> None:
    """A deleted credentials file is not a dead end: the accounts get new passwords."""
    from tocsin.demo_accounts import ensure_demo_accounts, read_credentials
    from tocsin.security.passwords import fast_passwords_for_tests

    home = tmp_path / "home"
    home.mkdir()
    passwords = fast_passwords_for_tests()
    first = ensure_demo_accounts(engine, home, passwords)
    assert first.created == ("analyst", "protection")
    again = ensure_demo_accounts(engine, home, passwords)
    assert again.created == again.reset == ()
    assert again.credentials == first.credentials
    first.path.unlink()
    repaired = ensure_demo_accounts(engine, home, passwords)
    assert repaired.reset == ("analyst", "protection")
    fresh = read_credentials(repaired.path)
    assert fresh["analyst"].password != first.credentials[0].password
    assert stat.S_IMODE(repaired.path.stat().st_mode) == 0o600


def test_demo_data_dir_loads_real_format_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    header = (
        "id,year,month,day,country,type_of_violence,conflict_name,side_a,side_b,latitude,"
        "longitude,low_death,best_death,high_death,type_of_violence_code,priogrid_gid_computed"
    )
    rows = [
        "900001,2017,7,31,Central African Republic,One-sided violence,Anti-balaka - Civilians,"
        "Anti-balaka,Civilians,4.36,18.55,2,3,5,3,136478",
        "900002,2017,8,2,Central African Republic,State-based violence,CAR: Government,"
        "Government of Central African Republic,FPRC,6.48,21.98,1,1,1,1,138465",
    ]
    (data / "ged_small.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    home = tmp_path / "home"
    run = subprocess.run(
        [str(DEMO), "--no-serve", "--data-dir", str(data)],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    db = home / "tocsin.sqlite"
    assert _events(db) == 2
    assert _count(db, "SELECT count(*) FROM users") == 2  # the accounts are made for real data too
    assert _count(db, "SELECT count(*) FROM intake_reports") == 0  # nothing invented for it
    assert "forecast: skipped" in run.stdout  # two events are too few to train on, and it says so


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_serves_the_overview_on_loopback(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [str(DEMO), "--port", str(port)],
        env=_env(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert page is not None, "demo server never answered"
        assert page.status_code == 200
        assert "Tocsin" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_demo_credentials_sign_in_and_land_on_the_dashboard(sqlite_engine, tmp_path: Path) -> None:
    """The file's password and TOTP secret really open the web interface."""
    from tests.api.support import make_env
    from tocsin.demo_accounts import ensure_demo_accounts, read_credentials
    from tocsin.security import totp

    env = make_env(sqlite_engine, tmp_path / "home")
    result = ensure_demo_accounts(sqlite_engine, env.settings.home, env.settings.passwords)
    analyst = read_credentials(result.path)["analyst"]
    assert analyst.totp_secret is not None
    env.clock.advance(seconds=31)
    form = {
        "username": analyst.username,
        "password": analyst.password,
        "totp": totp.code_at(analyst.totp_secret, env.clock()),
        "next": "/reports",
    }
    done = env.client.post("/login", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/reports"
    home = env.client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/dashboard"
    assert env.client.get("/dashboard").status_code == 200
    wrong = dict(form, password=analyst.password + "x")
    env.client.cookies.clear()
    assert env.client.post("/login", data=wrong, follow_redirects=False).status_code != 303


def test_demo_credentials_file_that_was_tampered_with_counts_as_lost(
    sqlite_engine, tmp_path: Path
) -> None:
    from tocsin.demo_accounts import ensure_demo_accounts, read_credentials
    from tocsin.security.passwords import fast_passwords_for_tests

    passwords = fast_passwords_for_tests()
    first = ensure_demo_accounts(sqlite_engine, tmp_path, passwords)
    first.path.write_bytes(b"\xff\xfe not text \x00" * 1000)
    assert read_credentials(first.path) == {}
    first.path.write_text("username: analyst\nrole: analyst\npassword: guessed\n")
    repaired = ensure_demo_accounts(sqlite_engine, tmp_path, passwords)
    assert repaired.reset == ("analyst", "protection")  # a wrong password is never kept
    assert "guessed" not in repaired.path.read_text(encoding="utf-8")


def test_demo_never_takes_over_an_account_of_another_role(sqlite_engine, tmp_path: Path) -> None:
    from tocsin.demo_accounts import ensure_demo_accounts
    from tocsin.security import users as accounts
    from tocsin.security.audit import Actor
    from tocsin.security.keys import KeyRing
    from tocsin.security.passwords import fast_passwords_for_tests
    from tocsin.security.txn import write_transaction

    passwords = fast_passwords_for_tests()
    with write_transaction(sqlite_engine) as conn:
        accounts.create_user(
            conn,
            passwords,
            KeyRing(tmp_path),
            username="analyst",
            display_name="A real admin",
            role="admin",
            password="a-long-Passphrase-of-the-admin-42",
            actor=Actor.cli(),
        )
    result = ensure_demo_accounts(sqlite_engine, tmp_path, passwords)
    assert result.skipped == ("analyst",)
    assert [c.username for c in result.credentials] == ["protection"]


def test_demo_keeps_an_existing_trigger_file_and_reports_a_broken_one(
    sqlite_engine, tmp_path: Path, monkeypatch, capsys
) -> None:
    from tocsin.demo import step_alerts
    from tocsin.demo_alerts import ensure_trigger_file, hotspot_sites

    assert hotspot_sites(sqlite_engine) == []  # an empty store: no sites, no error
    path = tmp_path / "alerts" / "triggers.yaml"
    written, created = ensure_trigger_file(sqlite_engine, None, path)
    assert created and written == path
    mine = "mission: MINE\n"  # a mission's own (here: broken) file is never overwritten
    path.write_text(mine, encoding="utf-8")
    assert ensure_trigger_file(sqlite_engine, None, path) == (path, False)
    assert path.read_text(encoding="utf-8") == mine
    monkeypatch.setenv("TOCSIN_ALERTS_CONFIG", str(path))
    step_alerts(sqlite_engine, None)  # says what is wrong, and the demo goes on
    said = capsys.readouterr().out.replace("\n", " ")
    assert "not evaluated" in said and "invalid trigger file" in said
