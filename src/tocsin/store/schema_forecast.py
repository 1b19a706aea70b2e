"""Stored forecast runs: one row per run, summary values per unit-month, explanations.

A run keeps its full ``units x months x draws`` array as a Parquet artefact under
``$TOCSIN_HOME/forecasts/`` (referenced by ``draws_path`` with its SHA-256), and in the tables only
what alerts and the interface read: quantiles and the probabilities of at least 1 and at least 25
fatalities per unit-month, plus the features that raised or lowered each forecast most.

Migration: ``migrations/versions/0003_forecasts.py`` must produce exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from tocsin.store.schema import metadata

forecast_runs = Table(
    "forecast_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model", String(64), nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("level", String(8), nullable=False),  # cm | adm1 | adm2 | pgm
    Column("unit_column", String(32), nullable=False),
    Column("target", String(32), nullable=False),
    Column("data_cutoff", Integer, nullable=False),  # last month_id of the data used
    Column("first_month", Integer, nullable=False),
    Column("last_month", Integer, nullable=False),
    Column("n_units", Integer, nullable=False),
    Column("n_draws", Integer, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("input_hash", String(64), nullable=False),  # SHA-256 of the panel the model read
    Column("draws_path", String(255), nullable=False),  # relative to TOCSIN_HOME
    Column("draws_sha256", String(64), nullable=False),
    Column("config_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "level", "target", "created_at"),
)

forecast_values = Table(
    "forecast_values",
    metadata,
    Column("run_id", Integer, ForeignKey("forecast_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("unit", String(64), primary_key=True),
    Column("month_id", Integer, primary_key=True),
    Column("mean", Float, nullable=False),
    Column("q05", Float, nullable=False),
    Column("q25", Float, nullable=False),
    Column("q50", Float, nullable=False),
    Column("q75", Float, nullable=False),
    Column("q95", Float, nullable=False),
    Column("p_ge1", Float, nullable=False),
    Column("p_ge25", Float, nullable=False),
    Index(None, "run_id", "month_id"),
)

# The features that moved each forecast most, from LightGBM's SHAP values (``pred_contrib``):
# ``part`` is "occurrence" (log-odds of at least one fatality) or "intensity" (log1p of
# fatalities when there are some); ``contribution`` is signed: > 0 raised the risk.
forecast_explanations = Table(
    "forecast_explanations",
    metadata,
    Column("run_id", Integer, ForeignKey("forecast_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("unit", String(64), primary_key=True),
    Column("month_id", Integer, primary_key=True),
    Column("part", String(16), primary_key=True),
    Column("feature", String(96), primary_key=True),
    Column("contribution", Float, nullable=False),
    Column("feature_value", Float),
    Column("base_value", Float, nullable=False),
)
