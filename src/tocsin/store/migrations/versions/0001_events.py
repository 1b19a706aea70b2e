"""Events, actors, sources, victims, gazetteer, import runs; spatial indexes per backend.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("dataset_version", sa.String(64)),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ),
        sa.Column("n_read", sa.Integer, nullable=False),
        sa.Column("n_inserted", sa.Integer, nullable=False),
        sa.Column("n_updated", sa.Integer, nullable=False),
        sa.Column("n_unchanged", sa.Integer, nullable=False),
        sa.Column("n_rejected", sa.Integer, nullable=False),
    )
    op.create_table(
        "import_problems",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "import_run_id",
            sa.Integer,
            sa.ForeignKey("import_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("line", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("raw", sa.Text),
    )
    op.create_index("ix_import_problems_import_run_id", "import_problems", ["import_run_id"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("dataset_version", sa.String(64)),
        sa.Column("original_id", sa.String(128), nullable=False),
        sa.Column(
            "import_run_id", sa.Integer, sa.ForeignKey("import_runs.id", ondelete="SET NULL")
        ),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("date_start", sa.Date, nullable=False),
        sa.Column("date_end", sa.Date, nullable=False),
        sa.Column("date_precision", sa.Integer, nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("location_precision", sa.Integer),
        sa.Column("country_iso3", sa.String(3)),
        sa.Column("country_name", sa.String(128)),
        sa.Column("admin1_pcode", sa.String(32)),
        sa.Column("admin1_name", sa.String(128)),
        sa.Column("admin2_pcode", sa.String(32)),
        sa.Column("admin2_name", sa.String(128)),
        sa.Column("place_name", sa.Text),
        sa.Column("priogrid_gid", sa.Integer),
        sa.Column("violence_type", sa.String(16)),
        sa.Column("threat_category", sa.String(48)),
        sa.Column("fatalities_best", sa.Integer),
        sa.Column("fatalities_low", sa.Integer),
        sa.Column("fatalities_high", sa.Integer),
        sa.Column("civilian_fatalities", sa.Integer),
        sa.Column("sensitivity", sa.String(16), nullable=False),
        sa.Column("case_class", sa.String(32), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("uid", name="uq_events_uid"),
        sa.UniqueConstraint("dataset", "original_id", name="uq_events_dataset_original_id"),
    )
    for cols in (
        ["date_start"],
        ["date_end"],
        ["sensitivity", "case_class", "date_start"],
        ["violence_type", "date_start"],
        ["country_iso3", "date_start"],
        ["admin1_pcode"],
        ["admin2_pcode"],
        ["priogrid_gid"],
        ["fatalities_best"],
    ):
        op.create_index("ix_events_" + "_".join(cols), "events", cols)

    op.create_table(
        "event_acts",
        sa.Column(
            "event_id",
            sa.Integer,
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("act_type", sa.String(40), primary_key=True),
    )
    op.create_index("ix_event_acts_act_type", "event_acts", ["act_type"])

    op.create_table(
        "actors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("normalized_name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("country_iso3", sa.String(3)),
        sa.UniqueConstraint("uid", name="uq_actors_uid"),
        sa.UniqueConstraint("normalized_name", name="uq_actors_normalized_name"),
    )
    op.create_table(
        "actor_aliases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "actor_id", sa.Integer, sa.ForeignKey("actors.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("normalized_alias", sa.String(255), nullable=False),
        sa.UniqueConstraint("normalized_alias", name="uq_actor_aliases_normalized_alias"),
    )
    op.create_index("ix_actor_aliases_actor_id", "actor_aliases", ["actor_id"])
    op.create_table(
        "event_actors",
        sa.Column(
            "event_id",
            sa.Integer,
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "actor_id",
            sa.Integer,
            sa.ForeignKey("actors.id", ondelete="RESTRICT"),
            primary_key=True,
        ),
        sa.Column("role", sa.String(16), primary_key=True),
    )
    op.create_index("ix_event_actors_actor_id", "event_actors", ["actor_id"])

    op.create_table(
        "event_sources",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "event_id", sa.Integer, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("reference", sa.Text),
        sa.Column("published", sa.Date),
        sa.Column("reliability", sa.String(1), nullable=False),
        sa.Column("credibility", sa.String(1), nullable=False),
    )
    op.create_index("ix_event_sources_event_id", "event_sources", ["event_id"])
    op.create_table(
        "victim_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "event_id", sa.Integer, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("count", sa.Integer),
        sa.Column("female", sa.Integer),
        sa.Column("male", sa.Integer),
        sa.Column("children", sa.Integer),
        sa.Column("adults", sa.Integer),
    )
    op.create_index("ix_victim_groups_event_id", "victim_groups", ["event_id"])

    op.create_table(
        "places",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("normalized_name", sa.String(255), nullable=False),
        sa.Column("country_iso3", sa.String(3), nullable=False),
        sa.Column("admin_level", sa.Integer, nullable=False),
        sa.Column("pcode", sa.String(32)),
        sa.Column("parent_pcode", sa.String(32)),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.UniqueConstraint("uid", name="uq_places_uid"),
        sa.UniqueConstraint("pcode", name="uq_places_pcode"),
    )
    op.create_index("ix_places_normalized_name", "places", ["normalized_name"])
    op.create_index("ix_places_country_iso3_admin_level", "places", ["country_iso3", "admin_level"])
    op.create_table(
        "place_names",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "place_id", sa.Integer, sa.ForeignKey("places.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("normalized_name", sa.String(255), nullable=False),
    )
    op.create_index("ix_place_names_normalized_name", "place_names", ["normalized_name"])
    op.create_index("ix_place_names_place_id", "place_names", ["place_id"])

    if op.get_bind().dialect.name == "postgresql":
        _postgis_up()
    else:
        _sqlite_rtree_up()


def _postgis_up() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    # A generated column keeps the write path identical on both backends.
    op.execute(
        "ALTER TABLE events ADD COLUMN geom geometry(Point, 4326) GENERATED ALWAYS AS ("
        "CASE WHEN longitude IS NULL OR latitude IS NULL THEN NULL "
        "ELSE ST_SetSRID(ST_MakePoint(longitude, latitude), 4326) END) STORED"
    )
    op.execute("CREATE INDEX ix_events_geom ON events USING GIST (geom)")
    op.execute("CREATE INDEX ix_events_geog ON events USING GIST ((geom::geography))")
    # Box + period in one index probe: a two-column GiST over the point and the event's
    # closed date range, so a dense box does not return every year before the date filter.
    # (Both columns have built-in GiST operator classes; no btree_gist needed. The domain
    # guarantees date_end >= date_start, which daterange requires.)
    op.execute(
        "CREATE INDEX ix_events_geom_period ON events USING GIST "
        "(geom, daterange(date_start, date_end, '[]'))"
    )


# The SQLite R*Tree has four dimensions, each a degenerate [min, max] interval per event:
# - lon, lat: rounded outwards to 32-bit floats, so the exact values ride along as the
#   auxiliary columns +lon, +lat (read only for points within rounding distance of an edge);
# - day: days since 1970-01-01 (negative before); whole numbers this small are exact in 32 bits,
#   so min_day/max_day ARE date_start/date_end (``queries.epoch_day`` is the Python side);
# - scope: tier rank * 4 + case class index (``queries.scope_code``), so the viewer's scope is
#   an index constraint too. A box + period query in scope is then answered by the R*Tree alone.
_RTREE_VALUES = (
    "new.id, new.longitude, new.longitude, new.latitude, new.latitude, "
    "julianday(new.date_start) - 2440587.5, julianday(new.date_end) - 2440587.5, "
    "{scope}, {scope}, new.longitude, new.latitude"
).format(
    scope=(
        "(CASE new.sensitivity WHEN 'public' THEN 0 WHEN 'internal' THEN 4 "
        "WHEN 'restricted' THEN 8 WHEN 'confidential' THEN 12 ELSE 64 END + "
        "CASE new.case_class WHEN 'general' THEN 0 WHEN 'sexual_violence' THEN 1 "
        "WHEN 'children' THEN 2 WHEN 'mission_personnel_misconduct' THEN 3 ELSE 64 END)"
    )
)


def _sqlite_rtree_up() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE events_rtree USING rtree("
        "id, min_lon, max_lon, min_lat, max_lat, min_day, max_day, min_scope, max_scope, "
        "+lon REAL, +lat REAL)"
    )
    op.execute(
        "CREATE TRIGGER events_rtree_ai AFTER INSERT ON events WHEN new.longitude IS NOT NULL "  # noqa: S608 - constant SQL
        "AND new.latitude IS NOT NULL BEGIN INSERT INTO events_rtree VALUES ("
        + _RTREE_VALUES
        + "); END"
    )
    op.execute(
        "CREATE TRIGGER events_rtree_ad AFTER DELETE ON events BEGIN "
        "DELETE FROM events_rtree WHERE id = old.id; END"
    )
    op.execute(
        "CREATE TRIGGER events_rtree_au AFTER UPDATE OF latitude, longitude, date_start, date_end, "  # noqa: S608 - constant SQL
        "sensitivity, case_class ON events BEGIN DELETE FROM events_rtree WHERE id = old.id; "
        "INSERT INTO events_rtree SELECT "
        + _RTREE_VALUES
        + " WHERE new.longitude IS NOT NULL AND new.latitude IS NOT NULL; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_events_geom_period")
        op.execute("DROP INDEX IF EXISTS ix_events_geog")
        op.execute("DROP INDEX IF EXISTS ix_events_geom")
    else:
        for trig in ("events_rtree_ai", "events_rtree_ad", "events_rtree_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trig}")
        op.execute("DROP TABLE IF EXISTS events_rtree")
    for table in (
        "place_names",
        "places",
        "victim_groups",
        "event_sources",
        "event_actors",
        "actor_aliases",
        "actors",
        "event_acts",
        "events",
        "import_problems",
        "import_runs",
    ):
        op.drop_table(table)
