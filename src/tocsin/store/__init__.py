"""Storage: SQLAlchemy 2 Core tables, Alembic migrations, SQLite (default) and PostGIS."""
