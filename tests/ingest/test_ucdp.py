"""UCDP GED: the three layouts, the mapping to the domain, and the real shared files."""

from __future__ import annotations

from datetime import date

import pytest

from tests.ingest.helpers import count, fixture, stored
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActorRole,
    ActType,
    DatePrecision,
    LocationPrecision,
    PocThreatCategory,
    ViolenceType,
)
from tocsin.geo.prio_grid import gid_for_point
from tocsin.ingest.base import Parsed
from tocsin.ingest.formats import open_reader
from tocsin.ingest.runner import detect_format, ingest_file
from tocsin.ingest.textio import CountingReader
from tocsin.ingest.ucdp import version_from_filename
from tocsin.store import schema as s


def test_download_layout_maps_every_domain_field(engine) -> None:
    report = ingest_file(engine, fixture("ucdp_ged_sample.csv"), dataset_version="23.1")
    assert (report.read, report.inserted, report.rejected) == (3, 3, 0)

    one_sided = stored(engine, "ucdp_ged", "900001")
    assert one_sided.violence_type is ViolenceType.ONE_SIDED
    assert one_sided.threat_category is PocThreatCategory.ATTACK_ON_CIVILIANS
    assert one_sided.act_types == (ActType.KILLING,)
    roles = {(a.name, a.role, a.kind) for a in one_sided.actors}
    assert ("Test Group", ActorRole.PERPETRATOR, ActorKind.ARMED_GROUP) in roles
    assert ("Civilians", ActorRole.TARGET, ActorKind.CIVILIANS) in roles
    assert (one_sided.fatalities_low, one_sided.fatalities_best, one_sided.fatalities_high) == (
        5,
        5,
        7,
    )
    assert one_sided.civilian_fatalities == 5
    assert one_sided.country_iso3 == "CAF"  # from the Gleditsch-Ward number 482
    assert one_sided.admin1_name == "Ouham prefecture"
    assert one_sided.admin2_name == "Bossangoa sub-prefecture"
    assert one_sided.place_name == "Bossangoa town"
    assert one_sided.location_precision is LocationPrecision.EXACT
    assert one_sided.priogrid_gid == gid_for_point(6.4927, 17.4552)  # computed when empty
    assert one_sided.date_start == one_sided.date_end == date(2021, 3, 1)
    assert one_sided.provenance.dataset_version == "23.1"
    # One source per office, with its date and headline, graded B2 (clear event).
    assert [(x.name, x.reference, x.published) for x in one_sided.sources] == [
        ("Radio Test", "Village attacked", date(2021, 3, 1)),
        ("Agence Test", "Attack confirmed", date(2021, 3, 2)),
    ]
    assert {(x.reliability, x.credibility) for x in one_sided.sources} == {
        (SourceReliability.B, InformationCredibility.PROBABLY_TRUE)
    }

    state = stored(engine, "ucdp_ged", "900002")
    assert state.violence_type is ViolenceType.STATE_BASED
    assert set(state.act_types) == {ActType.ARMED_CLASH, ActType.KILLING}  # 1 civilian died
    assert state.threat_category is PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS
    kinds = {a.role: a.kind for a in state.actors}
    assert kinds == {
        ActorRole.SIDE_A: ActorKind.STATE_FORCE,
        ActorRole.SIDE_B: ActorKind.ARMED_GROUP,
    }
    assert state.date_precision is DatePrecision.MONTH
    assert state.priogrid_gid == 141502  # UCDP's own value is kept
    # low 9 > best 8: kept with a warning, widened to min/max.
    assert (state.fatalities_low, state.fatalities_best, state.fatalities_high) == (8, 8, 9)
    assert state.sources[0].credibility is InformationCredibility.POSSIBLY_TRUE  # unclear event
    assert state.sources[0].name == 'Wire Test, "Clashes near Bria"'

    non_state = stored(engine, "ucdp_ged", "900003")
    assert non_state.violence_type is ViolenceType.NON_STATE
    assert non_state.location_precision is LocationPrecision.COUNTRY
    assert non_state.date_precision is DatePrecision.YEAR
    assert non_state.sources[0].name == "UCDP GED"  # no source text at all

    assert report.warnings == 1
    with engine.connect() as conn:
        kept = conn.execute(s.import_problems.select()).all()
    assert [(p.line, p.disposition) for p in kept] == [(3, "kept")]
    assert "not ordered" in kept[0].reason and kept[0].raw.startswith("900002,")


def test_api_layout_with_multiline_quoted_sources(engine) -> None:
    assert detect_format(fixture("ucdp_api_sample.csv")) == "ucdp"
    report = ingest_file(engine, fixture("ucdp_api_sample.csv"))
    assert (report.inserted, report.rejected) == (1, 0)
    ev = stored(engine, "ucdp_ged", "700001")
    assert ev.country_iso3 == "SSD"
    assert ev.date_start == date(2016, 7, 10)
    assert [src.name for src in ev.sources] == ["Test Wire", "Other Wire"]
    assert (ev.latitude, ev.longitude) == (4.85, 31.6)


def test_reduced_layout(engine) -> None:
    report = ingest_file(engine, fixture("ucdp_reduced_sample.csv"))
    assert (report.inserted, report.rejected) == (3, 0)
    drc = stored(engine, "ucdp_ged", "800001")
    assert drc.country_iso3 == "COD"  # "DR Congo (Zaire)"
    assert drc.violence_type is ViolenceType.ONE_SIDED
    assert drc.civilian_fatalities == 4  # one-sided deaths are civilian by definition
    assert drc.priogrid_gid == 129259
    assert drc.location_precision is None  # the reduced layout has no where_prec
    russia = stored(engine, "ucdp_ged", "800002")
    assert russia.country_iso3 == "RUS"
    assert russia.civilian_fatalities is None  # unknown in this layout, not guessed
    assert russia.priogrid_gid == gid_for_point(43.3169, 45.6981)


def test_version_comes_from_the_file_name() -> None:
    assert version_from_filename("ged231_central_african_republic.csv") == "23.1"
    assert version_from_filename("ged211_global_precise_1989_2018.csv") == "21.1"
    assert version_from_filename("events.csv") is None


def test_bad_cells_reject_only_their_row(engine, tmp_path) -> None:
    lines = fixture("ucdp_reduced_sample.csv").read_text().splitlines()
    header, good = lines[0], lines[1]
    bad_rows = [
        good.replace("800001", "800010").replace(",3,129259", ",7,129259"),  # type 7
        good.replace("800001", "800011").replace("2015,4,12", "2015,2,30"),  # no such day
        good.replace("800001", "800012").replace("0.4917", "north"),  # not a number
        good.replace("800001", ""),  # no id
        good.replace("800001", "800013").replace(",3,4,6,", ",3,-4,6,"),  # negative deaths
    ]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([header, good, *bad_rows]) + "\n")
    report = ingest_file(engine, path)
    assert (report.read, report.inserted, report.rejected) == (6, 1, 5)
    reasons = {e["line"]: e["reason"] for e in report.errors}
    assert "type_of_violence" in reasons[3]
    assert "do not form a date" in reasons[4]
    assert "latitude" in reasons[5]
    assert "id is empty" in reasons[6]
    assert "negative" in reasons[7]
    assert count(engine, s.import_problems, s.import_problems.c.disposition == "rejected") == 5


# --- the real shared files --------------------------------------------------------------


def test_car_file_gives_1848_events_1076_one_sided_and_reimports_unchanged(
    engine, shared_file
) -> None:
    path = shared_file("ucdp/ged231_central_african_republic.csv")
    first = ingest_file(engine, path)
    assert (first.read, first.inserted, first.rejected) == (1848, 1848, 0)
    assert count(engine) == 1848
    assert count(engine, s.events, s.events.c.violence_type == "one_sided") == 1076
    assert count(engine, s.events, s.events.c.country_iso3 == "CAF") == 1848
    with engine.connect() as conn:
        versions = conn.execute(s.events.select().with_only_columns(s.events.c.dataset_version))
        assert {v[0] for v in versions} == {"23.1"}
    again = ingest_file(engine, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1848)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ged_api_south_sudan.csv", 974),
        ("ged_api_ethiopia.csv", 3808),
        ("ged_api_sierra_leone.csv", 1497),
        ("ged_api_sri_lanka.csv", 4581),
    ],
)
def test_api_layout_files_counts_and_reimport(sqlite_engine, shared_file, name, expected) -> None:
    path = shared_file(f"ucdp/{name}")
    first = ingest_file(sqlite_engine, path)
    assert (first.read, first.inserted, first.rejected) == (expected, expected, 0)
    again = ingest_file(sqlite_engine, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, expected)


def test_global_precise_file_parses_every_row(shared_file) -> None:
    """The 159,194-row file is read without a single rejection (storing it is in bench/)."""
    path = shared_file("ucdp/ged211_global_precise_1989_2018.csv")
    raw = CountingReader(path)
    try:
        reader = open_reader("ucdp", raw, "utf-8", path, None)
        parsed = rejected = one_sided = 0
        countries: set[str | None] = set()
        for record in reader:
            if isinstance(record, Parsed):
                parsed += 1
                one_sided += record.event.violence_type is ViolenceType.ONE_SIDED
                countries.add(record.event.country_iso3)
            else:
                rejected += 1
    finally:
        raw.dispose()
    assert (parsed, rejected, one_sided) == (159_194, 0, 24_617)
    assert None not in countries  # every UCDP country name resolves to ISO3
