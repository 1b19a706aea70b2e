"""Runtime settings, all from the environment, with documented defaults.

- ``TOCSIN_HOME``: working directory for the embedded store and job outputs (default ``./var``).
- ``TOCSIN_DATABASE_URL``: a SQLAlchemy URL; a ``postgresql://`` URL selects PostgreSQL + PostGIS.
  Default: ``sqlite:///$TOCSIN_HOME/tocsin.sqlite``.
- ``TOCSIN_SHARED_DATA``: the folder of real public datasets (default ``../shared/data`` next
  to the project checkout).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def home() -> Path:
    path = Path(os.environ.get("TOCSIN_HOME", "var")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def default_sqlite_path() -> Path:
    return home() / "tocsin.sqlite"


def database_url() -> str:
    url = os.environ.get("TOCSIN_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{default_sqlite_path()}"


def shared_data_dir() -> Path:
    env = os.environ.get("TOCSIN_SHARED_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (PROJECT_ROOT.parent / "shared" / "data").resolve()
