"""Events (GED files, the store) become zero-filled panels at every level."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import insert

from tocsin.forecast.events import EventSourceError, read_ged_files, read_store_events
from tocsin.forecast.panel import PanelError
from tocsin.forecast.panel_build import build_panel, land_cells
from tocsin.geo.prio_grid import gid_for_point

FULL_HEADER = (
    "id,relid,year,type_of_violence,best,date_start,date_end,latitude,longitude,"
    "priogrid_gid,country,country_id,adm_1\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def full_file(tmp_path: Path) -> Path:
    rows = [
        "1,A-1,2020,3,4,2020-01-05,2020-01-05,4.36,18.55,,Central African Republic,482,Bangui",
        "2,A-2,2020,1,10,2020-03-02T00:00:00,2020-03-02,4.36,18.55,,Central African Republic,482,",
        "3,A-3,2020,3,2,2020-03-20,2020-03-21,7.0,21.0,,Central African Republic,482,",
    ]
    return write(tmp_path / "ged.csv", FULL_HEADER + "\n".join(rows) + "\n")


def reduced_file(tmp_path: Path) -> Path:
    header = (
        "id,year,month,day,country,type_of_violence,conflict_name,side_a,side_b,latitude,"
        "longitude,low_death,best_death,high_death,type_of_violence_code,"
        "priogrid_gid_computed\n"
    )
    rows = ["10,2020,2,1,DR Congo (Zaire),One-sided violence,x,a,b,-1.5,29.2,1,3,5,3,"]
    return write(tmp_path / "reduced.csv", header + "\n".join(rows) + "\n")


def test_three_layouts_read_into_one_frame(tmp_path: Path) -> None:
    events = read_ged_files([full_file(tmp_path), reduced_file(tmp_path)])
    assert events["violence"].tolist() == ["os", "sb", "os", "os"]
    assert events["month_id"].tolist() == [481, 483, 483, 482]
    assert events["country_iso3"].tolist() == ["CAF", "CAF", "CAF", "COD"]
    assert events["gwcode"].tolist() == [482, 482, 482, 490]


def test_the_same_event_in_two_files_counts_once(tmp_path: Path) -> None:
    path = full_file(tmp_path)
    assert len(read_ged_files([path, path])) == 3


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("9,B,2020,3,-4,2020-01-05,2020-01-05,4.3,18.5,,Chad,483,", "negative"),
        ("9,B,2020,4,4,2020-01-05,2020-01-05,4.3,18.5,,Chad,483,", "type of violence"),
        ("9,B,2020,3,x,2020-01-05,2020-01-05,4.3,18.5,,Chad,483,", "best fatality"),
        ("9,B,2020,3,1.5,2020-01-05,2020-01-05,4.3,18.5,,Chad,483,", "fractional"),
        ("9,B,2020,3,1,yesterday,2020-01-05,4.3,18.5,,Chad,483,", "date_start"),
    ],
)
def test_bad_event_rows_are_refused_with_their_line(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path / "bad.csv", FULL_HEADER + row + "\n")
    with pytest.raises(EventSourceError, match=message) as info:
        read_ged_files([path])
    assert "line(s) [2]" in str(info.value)


def test_files_that_are_not_ged_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EventSourceError, match="not a UCDP GED layout"):
        read_ged_files([write(tmp_path / "x.csv", "a,b\n1,2\n")])
    with pytest.raises(EventSourceError, match="not found"):
        read_ged_files([tmp_path / "nope.csv"])
    with pytest.raises(EventSourceError, match="no event file"):
        read_ged_files([])


def test_unknown_country_names_are_refused(tmp_path: Path) -> None:
    text = reduced_file(tmp_path).read_text().replace("DR Congo (Zaire)", "Atlantis")
    with pytest.raises(EventSourceError, match="Atlantis"):
        read_ged_files([write(tmp_path / "r.csv", text)])


def test_country_month_panel_is_zero_filled(tmp_path: Path) -> None:
    events = read_ged_files([full_file(tmp_path)])
    panel, report = build_panel(events, "cm", first_month=480, last_month=484)
    assert panel.unit == "country_iso3"
    frame = panel.frame.set_index("month_id")
    assert frame["ged_os"].tolist() == [0, 4, 0, 2, 0]
    assert frame["events_sb"].tolist() == [0, 0, 0, 1, 0]
    assert set(frame["gwcode"]) == {482}
    assert report.n_placed == 3 and report.dropped == {}


def test_events_outside_the_month_range_are_reported(tmp_path: Path) -> None:
    events = read_ged_files([full_file(tmp_path)])
    _, report = build_panel(events, "cm", first_month=482, last_month=484)
    assert report.dropped == {"outside the month range": 1}


def square(lon0: float, lat0: float, size: float) -> dict:
    ring = [
        [lon0, lat0],
        [lon0 + size, lat0],
        [lon0 + size, lat0 + size],
        [lon0, lat0 + size],
        [lon0, lat0],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def test_pgm_panel_covers_the_land_cells_of_the_chosen_countries(tmp_path: Path) -> None:
    outlines = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"iso3": "CAF"}, "geometry": square(18.2, 4.1, 0.6)},
        ],
    }
    path = write(tmp_path / "countries.geojson", json.dumps(outlines))
    events = read_ged_files([full_file(tmp_path)])
    panel, report = build_panel(events, "pgm", country_codes=["CAF"], boundaries=path)
    # A 0.6-degree square from (18.2, 4.1) overlaps 2 x 2 half-degree cells.
    assert len(panel.units) == 4
    assert gid_for_point(4.36, 18.55) in panel.units
    assert report.dropped == {"outside the land cells of the chosen countries": 1}
    assert panel.frame["ged_sb"].sum() == 10 and panel.frame["ged_os"].sum() == 4


def test_land_cells_ignore_cells_that_only_touch_the_outline() -> None:
    from shapely.geometry import shape

    cells = land_cells([shape(square(0.0, 0.0, 0.5))])
    assert cells.tolist() == [gid_for_point(0.25, 0.25)]


def test_admin_panel_assigns_events_by_point_in_polygon(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import shape

    polygons = gpd.GeoDataFrame(
        {"adm1_pcode": ["CF71", "CF42"]},
        geometry=[shape(square(18.0, 4.0, 1.0)), shape(square(20.5, 6.5, 1.0))],
        crs="EPSG:4326",
    )
    path = tmp_path / "adm1.parquet"
    polygons.to_parquet(path)
    events = read_ged_files([full_file(tmp_path)])
    panel, report = build_panel(events, "adm1", boundaries=path)
    totals = panel.frame.groupby("admin1_pcode")[["ged_sb", "ged_os"]].sum()
    assert totals.loc["CF71"].tolist() == [10, 4]
    assert totals.loc["CF42"].tolist() == [0, 2]
    assert report.n_placed == 3


def test_admin_levels_need_boundaries_with_pcodes(tmp_path: Path) -> None:
    events = read_ged_files([full_file(tmp_path)])
    with pytest.raises(PanelError, match="boundaries"):
        build_panel(events, "adm1")
    with pytest.raises(PanelError, match="unknown level"):
        build_panel(events, "village")
    bad = write(
        tmp_path / "b.geojson",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"name": "x"}, "geometry": square(0, 0, 1)}
                ],
            }
        ),
    )
    with pytest.raises(PanelError, match="adm2_pcode"):
        build_panel(events, "adm2", boundaries=bad)


def _store_event(i: int, day: date, kind: str, deaths: int, tier: str = "public") -> dict:
    now = datetime.now(UTC)
    return {
        "uid": f"00000000-0000-0000-0000-{i:012d}",
        "dataset": "ucdp_ged",
        "original_id": str(i),
        "content_hash": "0" * 32,
        "date_start": day,
        "date_end": day,
        "date_precision": 1,
        "latitude": 4.36,
        "longitude": 18.55,
        "country_iso3": "CAF",
        "priogrid_gid": 135_157,
        "violence_type": kind,
        "fatalities_best": deaths,
        "sensitivity": tier,
        "case_class": "open",
        "created_at": now,
        "updated_at": now,
    }


def test_store_events_become_a_panel(engine) -> None:  # noqa: ANN001
    from tocsin.store.schema import events

    with engine.begin() as conn:
        conn.execute(
            insert(events),
            [
                _store_event(1, date(2021, 1, 3), "one_sided", 5),
                _store_event(2, date(2021, 2, 3), "state_based", 7),
                _store_event(3, date(2021, 2, 9), "one_sided", 1, tier="confidential"),
            ],
        )
    frame = read_store_events(engine)
    assert sorted(frame["violence"]) == ["os", "sb"]  # the confidential event is not read
    panel, _ = build_panel(frame, "cm", first_month=492, last_month=494)
    assert panel.frame["ged_os"].tolist() == [0, 5, 0]
    assert panel.frame["ged_sb"].tolist() == [0, 0, 7]
    with pytest.raises(EventSourceError, match="not in the store"):
        read_store_events(engine, datasets=["acled"])


def test_an_empty_store_says_so(engine) -> None:  # noqa: ANN001
    with pytest.raises(EventSourceError, match="no UCDP dataset"):
        read_store_events(engine)
    assert pd.DataFrame().empty
