"""Time partitions: one module does month arithmetic, and windows are the challenge's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tocsin.forecast.errors import ForecastError
from tocsin.forecast.registry import partitions

FORECAST_DIR = Path(partitions.__file__).resolve().parents[1]


def test_month_ids_follow_views() -> None:
    assert partitions.month_id(1980, 1) == 1
    assert partitions.month_id(2018, 1) == 457
    assert partitions.year_month(516) == (2022, 12)
    for mid in (1, 12, 13, 457, 516, 1000):
        assert partitions.month_id(*partitions.year_month(mid)) == mid
    assert partitions.month_label(466) == "2018-10"


def test_challenge_window_reads_to_october_and_forecasts_steps_3_to_14() -> None:
    window = partitions.parse_window("Y2019")
    assert window.cutoff == partitions.month_id(2018, 10) == 466
    assert window.months == list(range(469, 481))
    assert window.steps == list(range(3, 15))


def test_forecast_window_starts_after_the_last_month() -> None:
    window = partitions.forecast_window(516, 36)
    assert (window.first, window.last, window.steps[0]) == (517, 552, 1)


@pytest.mark.parametrize("spec", ["", "2019", "Y19", "Y2019,Y2019", "Y1970", "Y20190"])
def test_bad_window_specs_are_refused(spec: str) -> None:
    with pytest.raises(ForecastError):
        partitions.parse_windows(spec)


def test_bad_months_are_refused() -> None:
    with pytest.raises(ForecastError):
        partitions.month_id(2020, 13)
    with pytest.raises(ForecastError):
        partitions.forecast_window(500, 0)


# Month arithmetic outside the registry would be a second source of truth for cut-offs.
_DATE_ARITHMETIC = re.compile(r"\b1980\b|[*/%]\s*12\b|\b12\s*\*|divmod\([^)]*\b12\b|CUTOFF_MONTH")


def test_no_other_forecast_module_does_month_arithmetic() -> None:
    offenders = []
    for path in sorted(FORECAST_DIR.rglob("*.py")):
        if path.name == "partitions.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if _DATE_ARITHMETIC.search(code):
                offenders.append(f"{path.relative_to(FORECAST_DIR)}:{number}: {line.strip()}")
    assert offenders == [], "month arithmetic belongs in registry/partitions.py"


def test_the_scan_sees_the_whole_package() -> None:
    scanned = {p.name for p in FORECAST_DIR.rglob("*.py")}
    assert {"model.py", "baselines.py", "backtest.py", "features.py", "partitions.py"} <= scanned
