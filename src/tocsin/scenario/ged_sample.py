"""Read a real UCDP GED file (49-column download or API layout) as a sample to calibrate against.

Only what calibration and comparison need is read; the file itself never leaves its folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tocsin.geo.countries import Country, country_info, list_countries

REQUIRED_COLUMNS = (
    "type_of_violence",
    "dyad_name",
    "side_a",
    "side_b",
    "number_of_sources",
    "where_prec",
    "latitude",
    "longitude",
    "country_id",
    "event_clarity",
    "date_prec",
    "date_start",
    "date_end",
    "deaths_a",
    "deaths_b",
    "deaths_civilians",
    "deaths_unknown",
    "best",
    "high",
    "low",
)
NUMERIC_COLUMNS = (
    "type_of_violence",
    "number_of_sources",
    "where_prec",
    "latitude",
    "longitude",
    "country_id",
    "event_clarity",
    "date_prec",
    "deaths_a",
    "deaths_b",
    "deaths_civilians",
    "deaths_unknown",
    "best",
    "high",
    "low",
)
DEFAULT_WINDOW_MONTHS = 120
MAX_FILE_BYTES = 2 * 1024**3  # calibration reads the file into memory; GED downloads are ~1 GB
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class GedSampleError(ValueError):
    """The file cannot be used for calibration; the message says why."""


@dataclass(frozen=True)
class GedSample:
    source: str
    country: Country
    window_start: pd.Timestamp  # first day of the first month
    window_months: int
    frame: pd.DataFrame  # events whose date_start lies in the window, parsed

    @property
    def window_end(self) -> pd.Timestamp:
        """First day after the window."""
        return self.window_start + pd.DateOffset(months=self.window_months)

    @property
    def window_days(self) -> int:
        return int((self.window_end - self.window_start).days)


def parse_month(text: str) -> pd.Timestamp:
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise GedSampleError(f"month must look like YYYY-MM, got {text[:20]!r}")
    return pd.Timestamp(int(match.group(1)), int(match.group(2)), 1)


def _read(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise GedSampleError(f"GED file not found: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise GedSampleError(
            f"{path.name} is larger than {MAX_FILE_BYTES:,} bytes: extract one country first"
        )
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8").columns
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise GedSampleError(f"{path.name} is not a readable UTF-8 CSV file: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise GedSampleError(
            f"{path.name} lacks the UCDP GED columns {', '.join(missing)}: calibration needs the "
            "full 49-column download or the API layout"
        )
    try:
        frame = pd.read_csv(path, usecols=list(REQUIRED_COLUMNS), dtype=str, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise GedSampleError(f"{path.name} could not be parsed: {exc}") from exc
    for column in NUMERIC_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["date_start"] = pd.to_datetime(frame["date_start"], format="ISO8601", errors="coerce")
    frame["date_end"] = pd.to_datetime(frame["date_end"], format="ISO8601", errors="coerce")
    frame["dyad_name"] = frame["dyad_name"].fillna("")
    usable = frame.dropna(subset=["date_start", "date_end", "latitude", "longitude", "best"])
    if usable.empty:
        raise GedSampleError(f"{path.name} has no events with dates, coordinates and fatalities")
    return usable.reset_index(drop=True)


def _country(frame: pd.DataFrame, country: str | None, name: str) -> tuple[Country, pd.DataFrame]:
    if country is not None:
        info = country_info(country)
        if info.gw_code is None:
            raise GedSampleError(f"{info.iso3} has no Gleditsch-Ward code, so no GED country_id")
        rows = frame[frame["country_id"] == info.gw_code]
        if rows.empty:
            raise GedSampleError(
                f"{name} has no events with country_id {info.gw_code} ({info.iso3})"
            )
        return info, rows
    codes = sorted(int(c) for c in frame["country_id"].dropna().unique())
    if len(codes) != 1:
        raise GedSampleError(
            f"{name} holds events of {len(codes)} countries: choose one with --country ISO3"
        )
    by_gw = {c.gw_code: c for c in list_countries() if c.gw_code is not None}
    if codes[0] not in by_gw:
        raise GedSampleError(f"{name}: country_id {codes[0]} matches no shipped country outline")
    return by_gw[codes[0]], frame


def load_ged_sample(
    path: Path,
    *,
    country: str | None = None,
    window_start: str | None = None,
    window_months: int = DEFAULT_WINDOW_MONTHS,
) -> GedSample:
    """Events of one country in a window of whole months (default: the file's last 120 months)."""
    if not 12 <= window_months <= 1200:
        raise GedSampleError("the calibration window must be 12 to 1200 months long")
    frame = _read(Path(path))
    info, frame = _country(frame, country, Path(path).name)
    if window_start is None:
        last = frame["date_start"].max()
        end = pd.Timestamp(last.year, last.month, 1) + pd.DateOffset(months=1)
        start = end - pd.DateOffset(months=window_months)
    else:
        start = parse_month(window_start)
        end = start + pd.DateOffset(months=window_months)
    inside = (frame["date_start"] >= start) & (frame["date_start"] < end)
    sample = frame[inside].sort_values("date_start", kind="stable").reset_index(drop=True)
    if len(sample) < 50:
        raise GedSampleError(
            f"only {len(sample)} events between {start:%Y-%m} and {end:%Y-%m}: need at least 50"
        )
    return GedSample(Path(path).name, info, start, window_months, sample)
