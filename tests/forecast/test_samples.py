"""Prediction files in the challenge layout: written atomically, read strictly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tocsin.forecast import samples
from tocsin.forecast.samples import ForecastFileError, SampleForecast, read_predictions


def forecast(units=("CAF", "TCD")) -> SampleForecast:  # noqa: ANN001
    draws = np.arange(len(units) * 2 * 3).reshape(len(units), 2, 3)
    return SampleForecast(
        "country_iso3", np.array(units, dtype=object), np.array([481, 482]), draws
    )


def test_round_trip_in_blocks(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(samples, "WRITE_BLOCK_ROWS", 6)  # one unit per block
    path = tmp_path / "p.parquet"
    forecast().write(path)
    back = read_predictions(path)
    assert back.unit == "country_iso3" and back.units.tolist() == ["CAF", "TCD"]
    assert np.array_equal(back.draws, forecast().draws)
    assert not list(tmp_path.glob("*.partial"))


def test_rows_may_come_in_any_order_and_with_an_index(tmp_path: Path) -> None:
    frame = forecast().to_frame().sample(frac=1, random_state=0)
    path = tmp_path / "p.parquet"
    frame.set_index(["month_id", "country_iso3", "draw"]).to_parquet(path)
    assert np.array_equal(read_predictions(path).draws, forecast().draws)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.iloc[1:], "expected every unit x month x draw once"),
        (lambda f: pd.concat([f.iloc[1:], f.iloc[[2]]]), "appear twice"),
        (lambda f: f.assign(outcome=-f.outcome), "non-negative"),
        (lambda f: f.drop(columns=["outcome"]), "outcome"),
        (lambda f: f.assign(extra=1), "cannot tell the unit"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, change, message: str) -> None:  # noqa: ANN001
    path = tmp_path / "p.parquet"
    change(forecast().to_frame()).to_parquet(path, index=False)
    with pytest.raises(ForecastFileError, match=message):
        read_predictions(path)


def test_missing_or_unreadable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ForecastFileError, match="not found"):
        read_predictions(tmp_path / "none.parquet")
    (tmp_path / "x.parquet").write_text("hello")
    with pytest.raises(ForecastFileError, match="not a readable"):
        read_predictions(tmp_path / "x.parquet")
