"""The one source of truth for time in forecasting: month ids, windows, cut-offs, steps.

VIEWS numbers months from January 1980 (``month_id`` 1). A prediction-challenge window ``Y{year}``
forecasts the twelve months of ``year`` from data up to October of the year before, so its months
are steps 3 to 14 after the cut-off. Every other module asks this one for month arithmetic and
for the truncated history it may read; ``tests/forecast/test_partitions.py`` checks that no other
module under ``forecast/`` does month arithmetic of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tocsin.forecast.errors import ForecastError

EPOCH_YEAR = 1980
MONTHS_PER_YEAR = 12
# October: the challenge's data cut-off month for next year's window.
CUTOFF_MONTH_OF_YEAR = 10
_WINDOW_NAME = re.compile(r"^Y(\d{4})$")
# The VIEWS month ids cover the years its data can: 1980 onwards; 2200 is a sanity bound.
MIN_YEAR, MAX_YEAR = EPOCH_YEAR, 2200


def month_id(year: int, month: int) -> int:
    """VIEWS month id: 1 is January 1980."""
    if not 1 <= month <= MONTHS_PER_YEAR:
        raise ForecastError(f"month must be 1-12, got {month}")
    return (year - EPOCH_YEAR) * MONTHS_PER_YEAR + month


def year_month(mid: int) -> tuple[int, int]:
    """Inverse of :func:`month_id`."""
    year, month0 = divmod(int(mid) - 1, MONTHS_PER_YEAR)
    return year + EPOCH_YEAR, month0 + 1


def month_label(mid: int) -> str:
    year, month = year_month(mid)
    return f"{year:04d}-{month:02d}"


def month_ids_of_dates(years, months):  # noqa: ANN001, ANN201 - array-likes in, array out
    """Vectorised :func:`month_id` for pandas/numpy columns of years and months."""
    return (years - EPOCH_YEAR) * MONTHS_PER_YEAR + months


@dataclass(frozen=True)
class Window:
    """A forecast window: the months forecast and the last month the model may read."""

    name: str
    cutoff: int  # last month_id of training data (inclusive)
    first: int  # first forecast month_id
    last: int  # last forecast month_id

    @property
    def months(self) -> list[int]:
        return list(range(self.first, self.last + 1))

    @property
    def steps(self) -> list[int]:
        """Steps ahead of the cut-off, VIEWS style (January of the window year is step 3)."""
        return [m - self.cutoff for m in self.months]


def challenge_window(year: int) -> Window:
    """Window ``Y{year}``: January-December of ``year`` from data up to October of ``year - 1``."""
    if not MIN_YEAR < year <= MAX_YEAR:
        raise ForecastError(f"window year {year} is out of range {MIN_YEAR + 1}-{MAX_YEAR}")
    cutoff = month_id(year - 1, CUTOFF_MONTH_OF_YEAR)
    return Window(f"Y{year}", cutoff, month_id(year, 1), month_id(year, MONTHS_PER_YEAR))


def parse_window(name: str) -> Window:
    match = _WINDOW_NAME.match(name.strip())
    if not match:
        raise ForecastError(f"window {name!r} is not of the form Y2019")
    return challenge_window(int(match.group(1)))


def parse_windows(spec: str) -> list[Window]:
    """``"Y2019,Y2020"`` -> windows, in the order given, without duplicates."""
    names = [part for part in (p.strip() for p in spec.split(",")) if part]
    if not names:
        raise ForecastError("no window given; expected e.g. Y2019,Y2020")
    if len(set(names)) != len(names):
        raise ForecastError(f"window listed twice in {spec!r}")
    return [parse_window(n) for n in names]


def forecast_window(last_observed: int, steps: int) -> Window:
    """The live window: months ``last_observed + 1 .. last_observed + steps``."""
    if not 1 <= steps <= 120:
        raise ForecastError(f"steps must be 1-120, got {steps}")
    return Window(
        f"from_{month_label(last_observed)}",
        last_observed,
        last_observed + 1,
        last_observed + steps,
    )


def steps_after(cutoff: int, months: Iterable[int]) -> list[int]:
    """Steps ahead of ``cutoff`` of the given months (1 = the month after), sorted, unique."""
    return sorted({int(m) - cutoff for m in months})


def months_before(cutoff: int, n: int) -> tuple[int, int]:
    """Inclusive range of the ``n`` months ending at ``cutoff``."""
    return cutoff - n + 1, cutoff
