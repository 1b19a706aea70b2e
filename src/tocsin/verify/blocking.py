"""Spatial-temporal blocking: which records are worth scoring against each other.

Scoring every pair of 150k events is 10^10 comparisons; the index makes it a few hundred per
record. Records go into buckets keyed by (week, 0.5-degree cell); a query reads only the buckets
its time window and search radius can reach. Records whose place is missing or vaguer than a
province ("coarse") cannot be placed in a cell, so they are kept per (country, week) and compared
with everything in that country and window: a vague SMS from "the north-east" must still meet the
precise patrol report of the same attack.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tocsin.geo.distance import haversine_km
from tocsin.verify.records import COARSE_RADIUS_KM, CandidateRecord

KM_PER_DEGREE_LAT = 111.32
# A record dated over a longer span than this is only indexed over its first year: a "sometime
# in 2021" record would otherwise sit in every bucket and be compared with everything.
MAX_INDEXED_SPAN_DAYS = 366


@dataclass(frozen=True, slots=True)
class BlockingConfig:
    """How far apart two records may be and still be compared at all.

    These bound recall: a true pair further apart than this is never suggested. The defaults are
    wider than the noise measured in bench/corroboration.py (dates off by up to a week, points
    off by up to ~50 km plus the records' own precision radii).
    """

    max_gap_days: int = 10
    max_distance_km: float = 60.0
    cell_deg: float = 0.5
    # Curated datasets (UCDP GED, ACLED, ...) are de-duplicated by their own coders: two rows of
    # the same such dataset are two events by definition, so they are never compared. Intake
    # channels (sms, web, odk) are not listed here: one person texting twice is a duplicate.
    deduplicated_sources: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.max_gap_days < 0 or self.max_distance_km <= 0 or self.cell_deg <= 0:
            raise ValueError("blocking limits must be positive")


class BlockingIndex:
    """An in-memory index of candidate records; add and remove as records change."""

    def __init__(self, config: BlockingConfig | None = None) -> None:
        self.config = config or BlockingConfig()
        self._records: dict[str, CandidateRecord] = {}
        self._by_cell: dict[tuple[int, int, int], list[str]] = defaultdict(list)
        self._by_country: dict[tuple[str, int], list[str]] = defaultdict(list)
        self._coarse_by_country: dict[tuple[str, int], list[str]] = defaultdict(list)
        self._removed: set[str] = set()

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._records

    def get(self, record_id: str) -> CandidateRecord:
        return self._records[record_id]

    def records(self) -> Iterator[CandidateRecord]:
        return iter(self._records.values())

    def add(self, record: CandidateRecord) -> None:
        if record.id in self._records:
            raise ValueError(f"record {record.id!r} is already indexed")
        self._records[record.id] = record
        self._removed.discard(record.id)
        for bucket in self._buckets(record):
            if record.country_iso3:
                self._by_country[(record.country_iso3, bucket)].append(record.id)
            if record.is_spatially_coarse:
                if record.country_iso3:
                    self._coarse_by_country[(record.country_iso3, bucket)].append(record.id)
            else:
                self._by_cell[(bucket, *self._cell(record))].append(record.id)

    def add_many(self, records: Iterable[CandidateRecord]) -> None:
        for record in records:
            self.add(record)

    def remove(self, record_id: str) -> None:
        """Forgets a record (e.g. merged away); bucket entries are skipped lazily."""
        if self._records.pop(record_id, None) is not None:
            self._removed.add(record_id)

    def candidates(self, record: CandidateRecord) -> list[CandidateRecord]:
        """Indexed records within the time window and search radius of ``record`` (not itself)."""
        seen: set[str] = {record.id}
        out: list[CandidateRecord] = []
        for rid in self._candidate_ids(record):
            if rid in seen or rid in self._removed:
                continue
            seen.add(rid)
            other = self._records.get(rid)
            if other is not None and self.within_limits(record, other):
                out.append(other)
        return out

    def within_limits(self, a: CandidateRecord, b: CandidateRecord) -> bool:
        if a.source == b.source and a.source in self.config.deduplicated_sources:
            return False
        gap = day_gap(a, b)
        if gap > self.config.max_gap_days:
            return False
        if a.is_spatially_coarse or b.is_spatially_coarse:
            # Vague places only block on country: unknown country on either side means we have
            # nothing to block on, and comparing with the whole world would be noise.
            return a.country_iso3 is not None and a.country_iso3 == b.country_iso3
        reach = (
            self.config.max_distance_km + (a.location_radius_km or 0) + (b.location_radius_km or 0)
        )
        return haversine_km(a.latitude, a.longitude, b.latitude, b.longitude) <= reach  # type: ignore[arg-type]

    def _candidate_ids(self, record: CandidateRecord) -> Iterator[str]:
        buckets = self._query_buckets(record)
        if record.is_spatially_coarse:
            if not record.country_iso3:
                return
            for bucket in buckets:
                yield from self._by_country.get((record.country_iso3, bucket), ())
            return
        ci, cj = self._cell(record)
        # The other side's radius is unknown until it is read; COARSE_RADIUS_KM bounds it, so
        # this reach finds every record that within_limits would accept (the check is symmetric).
        reach = self.config.max_distance_km + (record.location_radius_km or 0) + COARSE_RADIUS_KM
        d_lat = math.ceil(reach / (KM_PER_DEGREE_LAT * self.config.cell_deg))
        cos_lat = max(math.cos(math.radians(record.latitude)), 0.05)  # type: ignore[arg-type]
        d_lon = math.ceil(reach / (KM_PER_DEGREE_LAT * cos_lat * self.config.cell_deg))
        n_lon = round(360 / self.config.cell_deg)
        for bucket in buckets:
            for di in range(-d_lat, d_lat + 1):
                for dj in range(-d_lon, d_lon + 1):
                    key = (bucket, ci + di, (cj + dj) % n_lon)
                    yield from self._by_cell.get(key, ())
            if record.country_iso3:
                yield from self._coarse_by_country.get((record.country_iso3, bucket), ())

    def _cell(self, record: CandidateRecord) -> tuple[int, int]:
        size = self.config.cell_deg
        n_lon = round(360 / size)
        ci = math.floor((record.latitude + 90.0) / size)  # type: ignore[operator]
        cj = math.floor((record.longitude + 180.0) / size) % n_lon  # type: ignore[operator]
        return ci, cj

    def _bucket_width(self) -> int:
        return max(self.config.max_gap_days, 1)

    def _buckets(self, record: CandidateRecord) -> range:
        width = self._bucket_width()
        first = record.date_start.toordinal()
        last = min(record.last_date.toordinal(), first + MAX_INDEXED_SPAN_DAYS)
        return range(first // width, last // width + 1)

    def _query_buckets(self, record: CandidateRecord) -> range:
        # A bucket is as wide as the allowed gap, so widening by one bucket each side is enough.
        own = self._buckets(record)
        return range(own.start - 1, own.stop + 1)


def day_gap(a: CandidateRecord, b: CandidateRecord) -> int:
    """Days between two date ranges; 0 when they overlap."""
    if a.last_date < b.date_start:
        return (b.date_start - a.last_date).days
    if b.last_date < a.date_start:
        return (a.date_start - b.last_date).days
    return 0
