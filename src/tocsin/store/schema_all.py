"""Imports every table module so that ``metadata`` is complete (migrations, schema checks)."""

from tocsin.store import schema  # noqa: F401

metadata = schema.metadata
