"""The identity of synthetic scenario events, so they are never stored as real UCDP data.

A scenario is written in the GED layout (so the real UCDP adapter reads it), but its events
are not UCDP's: they must not be counted, exported or attributed as ``ucdp_ged``. They carry
two marks that no real GED row has: an id at or above :data:`ID_BASE` (real GED ids are below
10^7) and :data:`SOURCE_OFFICE` as their source. The ingest runner stores rows with both marks
under :data:`SCENARIO_DATASET`, whichever way the file arrives (``tocsin ingest``, the API,
the demo). The name starts with "synthetic" so that attribution lines say "not real events".
"""

from __future__ import annotations

import dataclasses

from tocsin.domain.entities import Event, Provenance

SCENARIO_DATASET = "synthetic_scenario"
# The GED-layout dataset that scenario files imitate (``tocsin.ingest.ucdp.DATASET``).
IMITATED_DATASET = "ucdp_ged"
ID_BASE = 10**12
SOURCE_OFFICE = "Tocsin synthetic scenario"


def is_scenario_event(event: Event) -> bool:
    """Whether a row read by the UCDP adapter is a synthetic scenario event (both marks)."""
    oid = event.provenance.original_id
    return (
        event.provenance.dataset == IMITATED_DATASET
        and oid.isdigit()
        and int(oid) >= ID_BASE
        and any(src.name == SOURCE_OFFICE for src in event.sources)
    )


def as_scenario_event(event: Event) -> Event:
    """The same event under the scenario's own dataset, with the uid of that identity."""
    provenance = Provenance(
        SCENARIO_DATASET, event.provenance.original_id, event.provenance.dataset_version
    )
    return dataclasses.replace(event, provenance=provenance, uid="")
