"""Fixtures for the whole suite.

``db_url`` is the storage fixture: every test that uses it runs once on SQLite and once on
PostgreSQL + PostGIS, each time on a fresh, migrated database.
"""

from __future__ import annotations

import itertools
import os

# Rich sizes its consoles when they are created (at import), from COLUMNS. Without a terminal
# (CI, xdist workers) it would fall back to 80 columns and wrap the tables that tests read.
os.environ["COLUMNS"] = "200"
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.pgcluster import Cluster, find_bindir
from tests.support.requirements import require
from tocsin import config
from tocsin.store.db import make_engine

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = config.shared_data_dir()
    require(path.is_dir(), f"shared data folder not found at {path} (set TOCSIN_SHARED_DATA)")
    return path


@pytest.fixture
def shared_file(shared_data: Path):  # noqa: ANN201 - returns a function
    def get(relative: str) -> Path:
        path = shared_data / relative
        require(path.is_file(), f"shared data file missing: {path}")
        return path

    return get


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    bindir = find_bindir()
    require(
        bindir is not None, "PostgreSQL server with PostGIS not installed (postgresql, postgis)"
    )
    assert bindir is not None
    cluster = Cluster(bindir)
    cluster.start()
    try:
        engine = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("CREATE DATABASE tocsin_template"))
        engine.dispose()
        # Migrate once into a template; each test then copies it, which takes milliseconds.
        make_engine(cluster.url("tocsin_template")).dispose()
        yield cluster
    finally:
        cluster.stop()


def fresh_postgres_database(cluster: Cluster, *, migrated: bool = True) -> str:
    """A new database: a copy of the migrated template, or (``migrated=False``) an empty one."""
    name = f"t_{os.getpid()}_{next(_db_counter)}"
    template = " TEMPLATE tocsin_template" if migrated else ""
    engine = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{template}'))
    engine.dispose()
    return cluster.url(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tocsin.sqlite'}"
    cluster = request.getfixturevalue("pg_cluster")
    return fresh_postgres_database(cluster)


@pytest.fixture
def engine(db_url: str):  # noqa: ANN201
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path):  # noqa: ANN201
    eng = make_engine(f"sqlite:///{tmp_path / 'tocsin.sqlite'}")
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the developer's ./var or database."""
    monkeypatch.setenv("TOCSIN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TOCSIN_DATABASE_URL", raising=False)
