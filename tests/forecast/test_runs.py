"""Stored runs: saved atomically on both backends, read back, explained, checked."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import func, select

from tocsin import config
from tocsin.forecast import explain, model, runs
from tocsin.forecast.panel import MONTH
from tocsin.forecast.registry.partitions import forecast_window
from tocsin.store.schema_forecast import forecast_explanations, forecast_runs, forecast_values


def _forecast(panel, fast_config):  # noqa: ANN001, ANN202
    window = forecast_window(panel.last_month, 3)
    return model.forecast(panel, "ged_os", window.months, 60, 0, config=fast_config)


def _save(engine, panel, fast_config) -> int:  # noqa: ANN001
    forecast, fitted, design = _forecast(panel, fast_config)
    return runs.save_run(
        engine,
        forecast=forecast,
        model_name="tocsin",
        model_version=model.MODEL_VERSION,
        level="cm",
        target="ged_os",
        data_cutoff=panel.last_month,
        seed=0,
        input_hash=runs.panel_hash(panel, "ged_os"),
        config={"n": 1},
        fitted=fitted,
        design=design,
        explain_top=2,
    )


def test_a_saved_run_reads_back(engine, panel, fast_config) -> None:  # noqa: ANN001
    run_id = _save(engine, panel, fast_config)
    info = runs.get_run(engine, run_id)
    assert (info.level, info.target, info.n_units, info.n_draws) == ("cm", "ged_os", 12, 60)
    assert info.data_cutoff == panel.last_month and info.first_month == panel.last_month + 1
    assert len(info.input_hash) == 64 and info.config == {"n": 1}
    values = runs.run_values(engine, run_id)
    assert len(values) == 12 * 3
    assert ((values.p_ge25 <= values.p_ge1) & (values.q05 <= values.q95)).all()
    draws = runs.load_draws(engine, run_id)
    assert draws.draws.shape == (12, 3, 60)
    stored = values.set_index(["unit", "month_id"]).loc[("1", panel.last_month + 1)]
    assert stored["mean"] == pytest.approx(draws.draws[0, 0].mean())
    assert runs.latest_run(engine, level="cm", target="ged_os").id == run_id
    assert runs.latest_run(engine, level="pgm", target="ged_os") is None


def test_explanations_name_what_raised_and_lowered_the_risk(engine, panel, fast_config) -> None:  # noqa: ANN001
    run_id = _save(engine, panel, fast_config)
    found = runs.explanation(engine, run_id, "1", panel.last_month + 1)
    quiet = runs.explanation(engine, run_id, "2", panel.last_month + 1)
    assert found.summary["p_ge1"] > quiet.summary["p_ge1"]  # unit 1 is a violent one
    assert found.raising and all(f.contribution > 0 for f in found.raising)
    assert all(f.contribution < 0 for f in found.lowering)
    assert {f.part for f in found.raising + found.lowering} <= {"occurrence", "intensity"}
    assert all(f.description for f in found.raising)
    assert found.as_dict()["month"] == "2022-01"
    with pytest.raises(runs.RunNotFoundError):
        runs.explanation(engine, run_id, "999", panel.last_month + 1)
    with pytest.raises(runs.RunNotFoundError):
        runs.get_run(engine, run_id + 100)


def test_a_tampered_draws_file_is_detected(engine, panel, fast_config) -> None:  # noqa: ANN001
    run_id = _save(engine, panel, fast_config)
    path = config.home() / runs.get_run(engine, run_id).draws_path
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(runs.ArtefactError, match="SHA-256"):
        runs.load_draws(engine, run_id)
    path.unlink()
    with pytest.raises(runs.ArtefactError, match="missing"):
        runs.load_draws(engine, run_id)


def test_a_failed_save_leaves_neither_rows_nor_file(
    engine, panel, fast_config, monkeypatch
) -> None:  # noqa: ANN001
    forecast, fitted, design = _forecast(panel, fast_config)
    calls = []
    real_insert = runs._insert

    def failing(conn, table, frame):  # noqa: ANN001, ANN202
        calls.append(table.name)
        if table is forecast_explanations:
            raise RuntimeError("disk full")
        return real_insert(conn, table, frame)

    monkeypatch.setattr(runs, "_insert", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        runs.save_run(
            engine,
            forecast=forecast,
            model_name="tocsin",
            model_version="v",
            level="cm",
            target="ged_os",
            data_cutoff=1,
            seed=0,
            input_hash="0" * 64,
            config={},
            fitted=fitted,
            design=design,
        )
    assert calls == ["forecast_values", "forecast_explanations"]
    with engine.connect() as conn:
        for table in (forecast_runs, forecast_values, forecast_explanations):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
    folder = config.home() / runs.ARTEFACT_DIR
    assert not any(folder.iterdir())


def test_deleting_a_run_removes_its_rows_and_file(engine, panel, fast_config) -> None:  # noqa: ANN001
    run_id = _save(engine, panel, fast_config)
    path = config.home() / runs.get_run(engine, run_id).draws_path
    runs.delete_run(engine, run_id)
    assert not path.exists()
    assert runs.list_runs(engine) == []


def test_the_input_hash_changes_with_the_data(panel, frame) -> None:  # noqa: ANN001
    from tocsin.forecast.panel import make_panel

    other = make_panel(
        frame.assign(ged_os=frame.ged_os + (frame.index == 5)), "country_id", targets=["ged_os"]
    )
    assert runs.panel_hash(panel, "ged_os") == runs.panel_hash(panel, "ged_os")
    assert runs.panel_hash(panel, "ged_os") != runs.panel_hash(other, "ged_os")
    assert np.isfinite(len(runs.panel_hash(panel, "ged_os")))


def test_explanations_of_a_split_model_cover_every_unit_month(
    hot_and_sporadic_panel,  # noqa: ANN001
    fast_config,  # noqa: ANN001
) -> None:
    panel = hot_and_sporadic_panel
    months = forecast_window(panel.last_month, 2).months
    config = replace(fast_config, split_recent=True)
    forecast, fitted, design = model.forecast(panel, "ged_os", months, 50, 0, config=config)
    assert fitted.recent is not None
    rows = runs.explanation_rows(forecast, fitted, design, 2)
    pairs = set(zip(rows["unit"], rows[MONTH], strict=True))
    assert len(pairs) == 60 * 2
    # Rows of recent units are explained by the recent part's classifier: its base value.
    recent_units = set(forecast.units[fitted.recent_rows(design[:, 0, :])].astype(str))
    occurrence = rows[rows["part"] == "occurrence"]
    base_recent = set(occurrence[occurrence["unit"].isin(recent_units)]["base_value"].round(6))
    expected = explain.contributions(fitted.recent.classifier, design[:1, 0, :])[1][0]
    assert base_recent == {round(float(expected), 6)}
