"""Tables, as SQLAlchemy Core. Migrations in ``migrations/`` must produce exactly this
(``tests/store/test_migrations.py`` compares them).

Backend-specific objects live only in the migrations: the SQLite R*Tree ``events_rtree`` with
its triggers, and the PostGIS generated ``events.geom`` column with its GiST index.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

import_runs = Table(
    "import_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataset", String(64), nullable=False),
    Column("dataset_version", String(64)),
    Column("format", String(32), nullable=False),
    Column("source_name", String(255), nullable=False),
    Column("source_sha256", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("n_read", Integer, nullable=False, default=0),
    Column("n_inserted", Integer, nullable=False, default=0),
    Column("n_updated", Integer, nullable=False, default=0),
    Column("n_unchanged", Integer, nullable=False, default=0),
    Column("n_rejected", Integer, nullable=False, default=0),
)

# Rows that could not be imported as they are: rejected rows are kept here, with their line
# number and reason, so that nothing is dropped silently and an analyst can fix and re-import.
import_problems = Table(
    "import_problems",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "import_run_id", Integer, ForeignKey("import_runs.id", ondelete="CASCADE"), nullable=False
    ),
    Column("line", Integer),
    Column("reason", Text, nullable=False),
    Column("disposition", String(16), nullable=False),  # rejected | kept (imported with a warning)
    Column("raw", Text),
    Index(None, "import_run_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(36), nullable=False, unique=True),
    Column("dataset", String(64), nullable=False),
    Column("dataset_version", String(64)),
    Column("original_id", String(128), nullable=False),
    Column("import_run_id", Integer, ForeignKey("import_runs.id", ondelete="SET NULL")),
    Column("content_hash", String(32), nullable=False),
    Column("date_start", Date, nullable=False),
    Column("date_end", Date, nullable=False),
    Column("date_precision", Integer, nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("location_precision", Integer),
    Column("country_iso3", String(3)),
    Column("country_name", String(128)),
    Column("admin1_pcode", String(32)),
    Column("admin1_name", String(128)),
    Column("admin2_pcode", String(32)),
    Column("admin2_name", String(128)),
    Column("place_name", Text),
    Column("priogrid_gid", Integer),
    Column("violence_type", String(16)),
    Column("threat_category", String(48)),
    Column("fatalities_best", Integer),
    Column("fatalities_low", Integer),
    Column("fatalities_high", Integer),
    Column("civilian_fatalities", Integer),
    Column("sensitivity", String(16), nullable=False),
    Column("case_class", String(32), nullable=False),
    Column("title", Text),
    Column("description", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("dataset", "original_id"),
    Index(None, "date_start"),
    # An overlap filter bounds date_end from below; without this index a one-year window scans.
    Index(None, "date_end"),
    # Scope filters (tier, case class) come first in every scoped query.
    Index(None, "sensitivity", "case_class", "date_start"),
    Index(None, "violence_type", "date_start"),
    Index(None, "country_iso3", "date_start"),
    Index(None, "admin1_pcode"),
    Index(None, "admin2_pcode"),
    Index(None, "priogrid_gid"),
    Index(None, "fatalities_best"),
)

event_acts = Table(
    "event_acts",
    metadata,
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("act_type", String(40), primary_key=True),
    Index(None, "act_type"),
)

actors = Table(
    "actors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(36), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("normalized_name", String(255), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("country_iso3", String(3)),
)

actor_aliases = Table(
    "actor_aliases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("actor_id", Integer, ForeignKey("actors.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("normalized_alias", String(255), nullable=False, unique=True),
    Index(None, "actor_id"),
)

event_actors = Table(
    "event_actors",
    metadata,
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("actor_id", Integer, ForeignKey("actors.id", ondelete="RESTRICT"), primary_key=True),
    Column("role", String(16), primary_key=True),
    Index(None, "actor_id"),
)

event_sources = Table(
    "event_sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("reference", Text),
    Column("published", Date),
    Column("reliability", String(1), nullable=False),
    Column("credibility", String(1), nullable=False),
    Index(None, "event_id"),
)

victim_groups = Table(
    "victim_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("count", Integer),
    Column("female", Integer),
    Column("male", Integer),
    Column("children", Integer),
    Column("adults", Integer),
    Index(None, "event_id"),
)

places = Table(
    "places",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uid", String(36), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("normalized_name", String(255), nullable=False),
    Column("country_iso3", String(3), nullable=False),
    Column("admin_level", Integer, nullable=False),
    Column("pcode", String(32), unique=True),
    Column("parent_pcode", String(32)),
    Column("latitude", Float),
    Column("longitude", Float),
    Index(None, "normalized_name"),
    Index(None, "country_iso3", "admin_level"),
)

place_names = Table(
    "place_names",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("place_id", Integer, ForeignKey("places.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("normalized_name", String(255), nullable=False),
    Index(None, "normalized_name"),
    Index(None, "place_id"),
)
