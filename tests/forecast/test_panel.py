"""Panels are validated once: bad input is refused with the rows that are wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tocsin.forecast.panel import (
    HistoryTooShortError,
    PanelError,
    make_panel,
    read_views_panel,
    recover_history_from_lags,
)


def small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "month_id": [1, 2, 3, 1, 2, 3],
            "country_id": [7, 7, 7, 9, 9, 9],
            "ged_sb": [0, 2, 5, 1, 0, 0],
            "ged_os": [0, 0, 1, 0, 0, 3],
        }
    )


def test_a_good_panel_is_sorted_and_typed() -> None:
    panel = make_panel(small().sample(frac=1, random_state=1), "country_id", targets=["ged_sb"])
    assert panel.frame["country_id"].tolist() == [7, 7, 7, 9, 9, 9]
    assert panel.frame["ged_sb"].dtype == np.int64
    assert (panel.first_month, panel.last_month) == (1, 3)
    dense, months = panel.dense("ged_sb")
    assert dense.tolist() == [[0, 2, 5], [1, 0, 0]] and months.tolist() == [1, 2, 3]


def test_duplicate_unit_months_are_refused() -> None:
    frame = pd.concat([small(), small().iloc[[1]]])
    with pytest.raises(PanelError, match="share a unit-month"):
        make_panel(frame, "country_id", targets=["ged_sb"])


def test_gaps_are_refused_unless_filled_explicitly() -> None:
    frame = small().drop(index=1)  # unit 7 loses month 2
    with pytest.raises(PanelError, match="missing months"):
        make_panel(frame, "country_id", targets=["ged_sb"])
    frame = frame.assign(cov=[1.0, 3.0, 4.0, 5.0, 6.0])
    filled = make_panel(frame, "country_id", targets=["ged_sb"], fill_gaps=True)
    row = filled.frame[(filled.frame.country_id == 7) & (filled.frame.month_id == 2)].iloc[0]
    assert row["ged_sb"] == 0 and row["ged_os"] == 0 and row["cov"] == 1.0  # carried forward


@pytest.mark.parametrize(
    ("value", "message"),
    [(-1, "negative"), (2.5, "fractional"), (np.nan, "missing"), ("many", "missing or not")],
)
def test_bad_fatality_counts_are_refused(value: object, message: str) -> None:
    frame = small().astype({"ged_sb": object})
    frame.loc[2, "ged_sb"] = value
    with pytest.raises(PanelError, match=message):
        make_panel(frame, "country_id", targets=["ged_sb"])


def test_a_bad_count_in_a_non_target_column_is_refused_too() -> None:
    frame = small()
    frame.loc[0, "ged_os"] = -4
    with pytest.raises(PanelError, match="ged_os"):
        make_panel(frame, "country_id", targets=["ged_sb"])


@pytest.mark.parametrize(
    ("unit", "ids"),
    [
        ("priogrid_gid", [0, 5]),
        ("priogrid_gid", [259_201, 5]),
        ("country_iso3", ["XYZ", "FRA"]),
        ("country_id", [-3, 5]),
        ("country_id", [None, 5]),
    ],
)
def test_unknown_units_are_refused(unit: str, ids: list) -> None:
    frame = pd.DataFrame({"month_id": [1, 1], unit: ids, "ged_os": [0, 0]})
    with pytest.raises(PanelError):
        make_panel(frame, unit, targets=["ged_os"])


def test_missing_columns_and_bad_months_are_refused() -> None:
    with pytest.raises(PanelError, match="unit column"):
        make_panel(small(), "priogrid_gid")
    with pytest.raises(PanelError, match="target"):
        make_panel(small(), "country_id", targets=["ged_ns"])
    with pytest.raises(PanelError, match="month_id"):
        make_panel(small().assign(month_id=0), "country_id")
    with pytest.raises(PanelError, match="no rows"):
        make_panel(small().iloc[:0], "country_id")


def test_until_drops_later_rows_and_refuses_an_empty_history() -> None:
    panel = make_panel(small(), "country_id", targets=["ged_sb"])
    assert panel.until(2).last_month == 2
    assert panel.until(2).frame["month_id"].max() == 2
    with pytest.raises(HistoryTooShortError):
        panel.until(0)


def test_views_files_stack_and_must_agree(tmp_path: Path) -> None:
    main = small()
    extra = pd.DataFrame({"month_id": [0 + 1], "country_id": [7], "ged_sb": [0], "ged_os": [0]})
    main.to_parquet(tmp_path / "a.parquet")
    extra.to_parquet(tmp_path / "b.parquet")
    panel = read_views_panel([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert len(panel.frame) == 6
    extra.assign(ged_sb=9).to_parquet(tmp_path / "c.parquet")
    with pytest.raises(PanelError, match="disagree"):
        read_views_panel([tmp_path / "a.parquet", tmp_path / "c.parquet"])
    with pytest.raises(PanelError, match="not found"):
        read_views_panel([tmp_path / "missing.parquet"])
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(PanelError, match="cannot read"):
        read_views_panel([tmp_path / "bad.parquet"])


def test_history_is_recovered_from_the_panels_own_lag_columns() -> None:
    frame = pd.DataFrame(
        {
            "month_id": [10, 11, 12],
            "country_id": [1, 1, 1],
            "ged_sb": [5.0, np.nan, 7.0],
            "ged_sb_tlag_1": [4, 5, 6],
            "ged_sb_tlag_2": [3, 4, 5],
        }
    )
    out = recover_history_from_lags(frame, "country_id", "ged_sb")
    values = dict(zip(out["month_id"], out["ged_sb"], strict=True))
    assert values == {8: 3, 9: 4, 10: 5, 11: 6, 12: 7}


def test_a_target_missing_in_a_units_last_month_drops_that_month() -> None:
    frame = pd.DataFrame(
        {
            "month_id": [10, 11, 12, 10, 11, 12],
            "country_id": [1, 1, 1, 2, 2, 2],
            "ged_os_tlag_1": [0, 4, 5, 0, 1, 2],
        }
    )
    out = recover_history_from_lags(frame, "country_id", "ged_os")
    assert out.groupby("country_id")["month_id"].max().tolist() == [11, 11]
    assert out.loc[out.country_id == 1, "ged_os"].tolist() == [0, 4, 5]  # 9 comes from tlag_1
