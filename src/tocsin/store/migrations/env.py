"""Alembic environment: always runs on the connection handed over by ``tocsin.store.db``."""

from __future__ import annotations

from alembic import context

from tocsin.store.schema_all import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI directly
    from tocsin.store.db import make_engine

    engine = make_engine(migrate=False)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
