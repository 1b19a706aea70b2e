"""``tocsin alerts ...`` against the default SQLite store of an isolated TOCSIN_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.alerts.forecast_helpers import save_probabilities
from tests.alerts.store_helpers import CONFIG, ledger
from tocsin.alerts.cap import validate_cap
from tocsin.cli import app
from tocsin.store.db import make_engine

runner = CliRunner()


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "triggers.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("TOCSIN_ALERTS_CONFIG", str(path))
    engine = make_engine()
    save_probabilities(engine, {"CF52": [(0.7, 0.1)]})
    engine.dispose()
    return path


def _alert_id() -> str:
    engine = make_engine()
    with engine.connect() as conn:
        (target,) = {t for a, t, _ in ledger(conn) if a == "alert.issue"}
    engine.dispose()
    return target.removeprefix("alert:")


def test_evaluate_list_ack_cap_indicators_deliver(configured: Path) -> None:
    result = runner.invoke(app, ["alerts", "evaluate", "--at", "2024-05-03T09:00:00"])
    assert result.exit_code == 0, result.output
    assert "1 new alert(s)" in result.output and "1 issued" in result.output
    alert_id = _alert_id()
    listed = runner.invoke(app, ["alerts", "list"])
    assert alert_id in listed.output and "issued" in listed.output
    cap = runner.invoke(app, ["alerts", "cap", alert_id, "--tier", "internal"])
    assert cap.exit_code == 0
    validate_cap(cap.stdout.encode())
    refused = runner.invoke(app, ["alerts", "cap", alert_id, "--tier", "public"])
    assert refused.exit_code == 2 and "may not receive" in refused.output
    assert runner.invoke(app, ["alerts", "ack", alert_id]).exit_code == 0
    again = runner.invoke(app, ["alerts", "ack", alert_id])
    assert again.exit_code == 2 and "cannot acknowledge" in again.output
    indicators = runner.invoke(app, ["alerts", "indicators"])
    assert "alerts acknowledged" in indicators.output
    delivered = runner.invoke(app, ["alerts", "deliver"])
    assert delivered.exit_code == 0 and "not sent from here" in delivered.output  # no SMS gateway
    engine = make_engine()
    with engine.connect() as conn:
        actions = [(a, d) for a, t, d in ledger(conn) if t == f"alert:{alert_id}"]
    engine.dispose()
    assert [a for a, _ in actions][-1] == "alert.acknowledge"


def test_bad_input_is_a_clear_error(configured: Path, tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["alerts", "ack", "no-such-alert"])
    assert unknown.exit_code == 2 and "no alert" in unknown.output
    bad_time = runner.invoke(app, ["alerts", "evaluate", "--at", "yesterday"])
    assert bad_time.exit_code == 2 and "Traceback" not in bad_time.output
    bad_state = runner.invoke(app, ["alerts", "list", "--state", "sleeping"])
    assert bad_state.exit_code == 2 and "unknown state" in bad_state.output
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("a: &x [1]\nb: *x\n", encoding="utf-8")
    refused = runner.invoke(app, ["alerts", "evaluate", "--config", str(hostile)])
    assert refused.exit_code == 2 and "anchors and aliases" in refused.output
    missing = runner.invoke(app, ["alerts", "deliver", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "no alert configuration" in missing.output
