"""Imports every table module so that ``metadata`` is complete (migrations, schema checks)."""

import tocsin.store.schema_alerts  # noqa: F401
import tocsin.store.schema_event_merges  # noqa: F401
import tocsin.store.schema_forecast  # noqa: F401
import tocsin.store.schema_intake  # noqa: F401
import tocsin.store.schema_replay  # noqa: F401
import tocsin.store.schema_security  # noqa: F401
import tocsin.store.schema_user_contacts  # noqa: F401
import tocsin.store.schema_verify  # noqa: F401
from tocsin.store import schema  # noqa: F401

metadata = schema.metadata
