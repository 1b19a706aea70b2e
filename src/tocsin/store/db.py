"""Engine creation for both backends and schema migration.

SQLite gets WAL, enforced foreign keys and two SQL functions (``tocsin_haversine_km`` and
``tocsin_in_geojson``) so that radius and polygon filters run inside SQL there too, exactly as
``ST_DWithin`` / ``ST_Intersects`` do on PostGIS. That keeps paging and counting identical.
"""

from __future__ import annotations

import json
import sqlite3
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from shapely import prepared
from shapely.geometry import Point, shape
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from tocsin import config
from tocsin.geo.distance import haversine_km

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# Connections kept open per process. SQLAlchemy's default (5, plus 10 overflow connections that
# are closed again on return) made a loaded API server open and close a connection for most
# requests (each SQLite open re-runs the PRAGMAs and registers the SQL functions). The API lets
# at most ``pool_size - 2`` requests hold a connection at once (``Services.request_slots``),
# leaving kept connections for its background writers; the overflow absorbs bursts of those.
_POOL = {"pool_size": 12, "max_overflow": 8}


def normalise_url(url: str) -> str:
    """Accepts ``postgres://`` and ``postgresql://`` and picks the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def make_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    url = normalise_url(url or config.database_url())
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        on_disk = bool(parsed.database) and parsed.database != ":memory:"
        if on_disk:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        pool = _POOL if on_disk else {}  # in memory: SQLAlchemy's one-connection pool
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)
        event.listen(engine, "connect", _configure_sqlite)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, **_POOL)
        _ping_when_idle(engine)
    else:
        raise ValueError(
            f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
        )
    if migrate:
        upgrade(engine)
    return engine


IDLE_PING_SECONDS = 10.0
"""A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out."""


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout, i.e. on every API
    request (about a sixth of a single-record read's CPU, bench/api_load.py). Connections
    that were just in use are alive; the ones that go stale (a restarted server, a dropped
    idle connection) have sat idle. So only those are pinged; a dead one is replaced (SQLAlchemy
    retries the checkout on DisconnectionError). A server restarted within the idle window
    costs at most the one request that finds out, after which the pool drops its connections.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["tocsin_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("tocsin_idle_since")
        if since is None or time.monotonic() - since <= IDLE_PING_SECONDS:
            return  # new, or in use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError("idle connection did not answer a ping")


def upgrade(engine: Engine, revision: str = "heads") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def _configure_sqlite(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
    dbapi_conn.create_function("tocsin_haversine_km", 4, _sql_haversine, deterministic=True)
    dbapi_conn.create_function("tocsin_in_geojson", 3, _sql_in_geojson, deterministic=True)


def _sql_haversine(
    lat1: float | None, lon1: float | None, lat2: float, lon2: float
) -> float | None:
    if lat1 is None or lon1 is None:
        return None
    return haversine_km(lat1, lon1, lat2, lon2)


@lru_cache(maxsize=32)
def _prepared_geometry(geojson: str) -> prepared.PreparedGeometry:
    return prepared.prep(shape(json.loads(geojson)))


def _sql_in_geojson(geojson: str, lon: float | None, lat: float | None) -> int | None:
    if lon is None or lat is None:
        return None
    return int(_prepared_geometry(geojson).intersects(Point(lon, lat)))
