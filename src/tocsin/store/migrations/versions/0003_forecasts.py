"""Forecast runs, their per-unit-month summaries and explanations.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("unit_column", sa.String(32), nullable=False),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("data_cutoff", sa.Integer, nullable=False),
        sa.Column("first_month", sa.Integer, nullable=False),
        sa.Column("last_month", sa.Integer, nullable=False),
        sa.Column("n_units", sa.Integer, nullable=False),
        sa.Column("n_draws", sa.Integer, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("draws_path", sa.String(255), nullable=False),
        sa.Column("draws_sha256", sa.String(64), nullable=False),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_forecast_runs_level_target_created_at",
        "forecast_runs",
        ["level", "target", "created_at"],
    )
    op.create_table(
        "forecast_values",
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("forecast_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("month_id", sa.Integer, primary_key=True),
        sa.Column("mean", sa.Float, nullable=False),
        sa.Column("q05", sa.Float, nullable=False),
        sa.Column("q25", sa.Float, nullable=False),
        sa.Column("q50", sa.Float, nullable=False),
        sa.Column("q75", sa.Float, nullable=False),
        sa.Column("q95", sa.Float, nullable=False),
        sa.Column("p_ge1", sa.Float, nullable=False),
        sa.Column("p_ge25", sa.Float, nullable=False),
    )
    op.create_index("ix_forecast_values_run_id_month_id", "forecast_values", ["run_id", "month_id"])
    op.create_table(
        "forecast_explanations",
        sa.Column(
            "run_id",
            sa.Integer,
            sa.ForeignKey("forecast_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("unit", sa.String(64), primary_key=True),
        sa.Column("month_id", sa.Integer, primary_key=True),
        sa.Column("part", sa.String(16), primary_key=True),
        sa.Column("feature", sa.String(96), primary_key=True),
        sa.Column("contribution", sa.Float, nullable=False),
        sa.Column("feature_value", sa.Float),
        sa.Column("base_value", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("forecast_explanations")
    op.drop_index("ix_forecast_values_run_id_month_id", table_name="forecast_values")
    op.drop_table("forecast_values")
    op.drop_index("ix_forecast_runs_level_target_created_at", table_name="forecast_runs")
    op.drop_table("forecast_runs")
