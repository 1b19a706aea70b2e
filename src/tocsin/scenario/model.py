"""What a generated scenario is, apart from how it is made or written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tocsin.geo.countries import Country


class ScenarioError(ValueError):
    """A scenario request that cannot be met; the message says why."""


@dataclass(frozen=True)
class Scenario:
    country: Country
    months: int
    seed: int
    window_start: date
    window_end: date  # exclusive
    rows: list[list[str]]  # GED_COLUMNS order
    manifest: dict

    @property
    def events_file_name(self) -> str:
        return f"ged_synthetic_{self.country.iso3.lower()}_seed{self.seed}.csv"
