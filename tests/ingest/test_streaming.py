"""Bounded memory on large files, and the fast paths agreeing with the domain's definitions.

A file of several GB is measured in ``bench/ingest.py`` (peak RSS); here a file generated on
the fly shows that memory does not grow with the number of rows: the parser holds one row, the
runner one batch.
"""

from __future__ import annotations

import gc
from datetime import date
from pathlib import Path

import psutil

from tests.ingest.helpers import count
from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef, VictimGroup, stable_uid
from tocsin.domain.taxonomy import ActorRole, ActType, ViolenceType
from tocsin.ingest.base import Parsed, fast_stable_uid
from tocsin.ingest.countries import iso3_from_gw, iso3_from_name, iso3_from_numeric
from tocsin.ingest.formats import open_reader
from tocsin.ingest.runner import ingest_file
from tocsin.ingest.textio import CountingReader
from tocsin.store.event_writer import EventWriter, content_hash

HEADER = (
    "id,year,month,day,country,type_of_violence,conflict_name,side_a,side_b,latitude,"
    "longitude,low_death,best_death,high_death,type_of_violence_code,priogrid_gid_computed\n"
)


def generate(path: Path, rows: int) -> Path:
    with path.open("w") as fh:
        fh.write(HEADER)
        for i in range(rows):
            lat = -30 + (i * 7919 % 6000) / 100
            lon = -100 + (i * 104729 % 25000) / 100
            fh.write(
                f"{i},{1990 + i % 30},{1 + i % 12},{1 + i % 28},Chad,One-sided violence,"
                f"Group {i % 97} - Civilians,Group {i % 97},Civilians,{lat:.4f},{lon:.4f},"
                f"1,{i % 50},60,3,\n"
            )
    return path


def rss_growth_while_parsing(path: Path) -> tuple[int, int]:
    """(rows parsed, largest growth of the resident set over its starting size, in bytes).
    Sampled every 2,000 rows: tracemalloc would be exact but makes parsing 10x slower."""
    process = psutil.Process()
    raw = CountingReader(path)
    gc.collect()
    start = peak = process.memory_info().rss
    try:
        n = 0
        for record in open_reader("ucdp", raw, "utf-8", path, None):
            n += isinstance(record, Parsed)
            if n % 2_000 == 0:
                peak = max(peak, process.memory_info().rss)
        return n, peak - start
    finally:
        raw.dispose()


def test_parsing_memory_does_not_grow_with_the_file(tmp_path) -> None:
    rows = 150_000
    n, growth = rss_growth_while_parsing(generate(tmp_path / "big.csv", rows))
    assert n == rows
    # Kept in memory, 150,000 events would take well over 150 MB; the reader holds one row.
    assert growth < 25_000_000, growth


def test_runner_writes_in_bounded_batches(sqlite_engine, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("tocsin.ingest.runner.BATCH_SIZE", 500)
    sizes: list[int] = []
    original = EventWriter.write

    def spy(self, events):  # type: ignore[no-untyped-def]
        sizes.append(len(events))
        return original(self, events)

    monkeypatch.setattr(EventWriter, "write", spy)
    path = generate(tmp_path / "rows.csv", 6_000)
    report = ingest_file(sqlite_engine, path)
    assert report.inserted == count(sqlite_engine) == 6_000
    assert max(sizes) <= 500 and sum(sizes) == 6_000


def test_fast_uid_and_content_hash_equal_the_domain_definitions() -> None:
    event = Event(
        provenance=Provenance("ucdp_ged", "42", "23.1"),
        date_start=date(2020, 1, 1),
        date_end=date(2020, 1, 3),
        latitude=4.5,
        longitude=18.5,
        violence_type=ViolenceType.ONE_SIDED,
        act_types=(ActType.KILLING, ActType.LOOTING),
        actors=(ActorLink("Séléka", ActorRole.PERPETRATOR),),
        victims=(VictimGroup("Civilians killed", 3, female=1),),
        sources=(SourceRef("Radio «Ndeke Luka»", "Headline", date(2020, 1, 4)),),
        fatalities_best=3,
        description="Über 3 — 日本",
    )
    assert content_hash(event) == event.content_hash()
    for dataset, oid in (("ucdp_ged", "42"), ("acled", "CAF1234"), ("x", "é/日本 ")):
        assert fast_stable_uid(dataset, oid) == stable_uid(dataset, oid)


def test_country_tables() -> None:
    assert iso3_from_gw(482) == iso3_from_gw("482.0") == "CAF"
    assert iso3_from_gw("") is None and iso3_from_gw(999) is None
    assert iso3_from_name("DR Congo (Zaire)") == "COD"
    assert iso3_from_name("Zaire") == "COD"
    assert iso3_from_name("Kingdom of eSwatini (Swaziland)") == "SWZ"
    assert iso3_from_name("Bosnia-Herzegovina") == "BIH"
    assert iso3_from_name("Democratic Republic of Congo") == "COD"
    assert iso3_from_name("France") == "FRA"
    assert iso3_from_name("Atlantis") is None
    assert iso3_from_numeric("140") == "CAF" and iso3_from_numeric(728) == "SSD"
