"""The README's first command works as a new user runs it: ``./scripts/demo``."""

from __future__ import annotations

import os
import socket
import sqlite3
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


def test_demo_no_serve_builds_and_loads_the_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = subprocess.run(
        [str(DEMO), "--no-serve"], env=_env(home), capture_output=True, text=True, timeout=600
    )
    assert first.returncode == 0, first.stdout + first.stderr
    db = home / "tocsin.sqlite"
    assert str(db) in first.stdout.replace("\n", "")
    loaded = _events(db)
    assert loaded > 100
    second = subprocess.run(
        [str(DEMO), "--no-serve"], env=_env(home), capture_output=True, text=True, timeout=600
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert _events(db) == loaded  # loading the same scenario again changes nothing


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
    assert _events(home / "tocsin.sqlite") == 2


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
