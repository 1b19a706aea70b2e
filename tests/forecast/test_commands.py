"""``tocsin forecast ...`` end to end on small hand-made inputs, and its clear errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import insert
from typer.testing import CliRunner

from tests.forecast.conftest import synthetic_frame
from tocsin.cli import app

runner = CliRunner()


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, ["forecast", *args])


def panel_file(tmp_path: Path) -> Path:
    path = tmp_path / "panel.parquet"
    synthetic_frame().to_parquet(path)
    return path


def test_panel_from_event_files(tmp_path: Path) -> None:
    csv = tmp_path / "ged.csv"
    csv.write_text(
        "id,year,type_of_violence,best,date_start,latitude,longitude,country,country_id\n"
        "1,2020,3,4,2020-01-05,4.36,18.55,Central African Republic,482\n"
        "2,2020,1,9,2020-04-02,4.36,18.55,Central African Republic,482\n",
        encoding="utf-8",
    )
    out = tmp_path / "p.parquet"
    result = invoke("panel", "--events", str(csv), "--level", "cm", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert frame["ged_os"].tolist() == [4, 0, 0, 0] and frame["ged_sb"].sum() == 9
    assert "2 of 2 events placed" in result.output


def test_panel_needs_exactly_one_source(tmp_path: Path) -> None:
    result = invoke("panel", "--level", "cm", "--out", str(tmp_path / "p.parquet"))
    assert result.exit_code == 2 and "either --events" in result.output


def test_predict_backtest_evaluate(tmp_path: Path) -> None:
    panel = panel_file(tmp_path)
    preds = tmp_path / "preds.parquet"
    common = ["--panel", str(panel), "--target", "ged_os", "--unit", "country_id"]
    result = invoke(
        "predict",
        *common,
        "--steps",
        "4",
        "--draws",
        "20",
        "--model",
        "conflictology",
        "--out",
        str(preds),
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(preds)
    assert list(frame.columns) == ["month_id", "country_id", "draw", "outcome"]
    assert sorted(frame.month_id.unique()) == [505, 506, 507, 508]

    out_dir = tmp_path / "bt"
    result = invoke(
        "backtest",
        *common,
        "--windows",
        "Y2020,Y2021",
        "--model",
        "zero",
        "--model",
        "conflictology,last",
        "--draws",
        "20",
        "--out",
        str(out_dir),
    )
    assert result.exit_code == 0, result.output
    assert (out_dir / "last" / "window=Y2021" / "predictions.parquet").is_file()

    result = invoke(
        "evaluate",
        "--pred",
        str(out_dir),
        *common[:4],
        "--unit",
        "country_id",
        "--bootstrap",
        "20",
        "--out",
        str(tmp_path / "eval"),
    )
    assert result.exit_code == 0, result.output
    assert "CRPS by window" in result.output
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert report["settings"]["crps_estimator"] == "qd"
    assert {"pit.png", "skill_by_step.png", "top_units.png"} <= {
        p.name for p in (tmp_path / "eval").iterdir()
    }


def test_predict_can_learn_from_an_extra_panel(tmp_path: Path) -> None:
    panel = panel_file(tmp_path)
    extra = tmp_path / "extra.parquet"
    synthetic_frame(seed=9).rename(columns={"country_id": "gid"}).assign(
        gid=lambda f: f.gid + 1000
    ).to_parquet(extra)
    out = tmp_path / "o.parquet"
    result = invoke(
        "predict",
        "--panel",
        str(panel),
        "--target",
        "ged_os",
        "--unit",
        "country_id",
        "--steps",
        "2",
        "--draws",
        "10",
        "--extra-panel",
        str(extra),
        "--extra-unit",
        "gid",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out)["country_id"].max() == 12


def test_bad_requests_fail_with_one_clear_line(tmp_path: Path) -> None:
    panel = panel_file(tmp_path)
    common = ["--panel", str(panel), "--target", "ged_os", "--unit", "country_id"]
    cases = [
        (
            ["predict", *common, "--model", "prophet", "--out", str(tmp_path / "x.parquet")],
            "unknown model",
        ),
        (
            [
                "predict",
                "--panel",
                str(panel),
                "--target",
                "ged_xx",
                "--unit",
                "country_id",
                "--out",
                str(tmp_path / "x.parquet"),
            ],
            "ged_xx",
        ),
        (
            ["backtest", *common, "--windows", "2020", "--model", "zero", "--out", str(tmp_path)],
            "Y2019",
        ),
        (
            [
                "evaluate",
                "--pred",
                str(tmp_path / "none"),
                "--panel",
                str(panel),
                "--target",
                "ged_os",
                "--unit",
                "country_id",
            ],
            "not found",
        ),
        (["explain", "--run", "1", "--unit", "CAF", "--month", "May 2020"], "YYYY-MM"),
    ]
    for args, message in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_a_panel_with_gaps_is_refused_or_filled_on_request(tmp_path: Path) -> None:
    frame = synthetic_frame()
    gappy = frame[~((frame.country_id == 2) & (frame.month_id == 470))]
    path = tmp_path / "gappy.parquet"
    gappy.to_parquet(path)
    args = [
        "predict",
        "--panel",
        str(path),
        "--target",
        "ged_os",
        "--unit",
        "country_id",
        "--model",
        "last",
        "--draws",
        "5",
        "--out",
        str(tmp_path / "o.parquet"),
    ]
    result = invoke(*args)
    assert result.exit_code == 2 and "missing months" in result.output
    assert invoke(*args, "--fill-gaps").exit_code == 0


def _events(n_months: int = 40) -> list[dict]:
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    rows, i = [], 0
    places = {"CAF": (4.36, 18.55), "TCD": (12.1, 15.0), "CMR": (3.9, 11.5), "SSD": (4.85, 31.6)}
    for m in range(n_months):
        for iso, (lat, lon) in places.items():
            for kind in ("one_sided", "state_based"):
                if rng.random() < (0.8 if iso in ("CAF", "SSD") else 0.15):
                    i += 1
                    day = date(2019 + m // 12, m % 12 + 1, 10)
                    rows.append(
                        {
                            "uid": f"00000000-0000-0000-0000-{i:012d}",
                            "dataset": "ucdp_ged",
                            "original_id": str(i),
                            "content_hash": "0" * 32,
                            "date_start": day,
                            "date_end": day,
                            "date_precision": 1,
                            "latitude": lat,
                            "longitude": lon,
                            "country_iso3": iso,
                            "violence_type": kind,
                            "fatalities_best": int(rng.integers(1, 30)),
                            "sensitivity": "public",
                            "case_class": "open",
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
    return rows


def test_run_from_the_store_then_explain() -> None:
    from tocsin.store.db import make_engine
    from tocsin.store.schema import events

    engine = make_engine()
    with engine.begin() as conn:
        conn.execute(insert(events), _events())
    engine.dispose()
    result = invoke(
        "run",
        "--level",
        "cm",
        "--target",
        "ged_os",
        "--cutoff",
        "2022-04",
        "--steps",
        "3",
        "--draws",
        "50",
    )
    assert result.exit_code == 0, result.output
    assert "saved forecast run 1" in result.output
    listed = invoke("runs")
    assert listed.exit_code == 0 and "ged_os" in listed.output
    explained = invoke("explain", "--run", "1", "--unit", "CAF", "--month", "2022-05", "--json")
    assert explained.exit_code == 0, explained.output
    payload = json.loads(explained.output)
    assert payload["unit"] == "CAF" and payload["month"] == "2022-05"
    assert payload["raising"] or payload["lowering"]
    text = invoke("explain", "--run", "1", "--unit", "CAF", "--month", "2022-05")
    assert "raised the risk" in text.output
    missing = invoke("explain", "--run", "1", "--unit", "FRA", "--month", "2022-05")
    assert missing.exit_code == 2 and "no forecast for unit" in missing.output


def test_run_with_an_empty_store_is_refused() -> None:
    result = invoke("run", "--level", "cm")
    assert result.exit_code == 2 and "UCDP" in result.output
