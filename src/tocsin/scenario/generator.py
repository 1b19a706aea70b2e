"""A reproducible, GED-formatted synthetic conflict for one country (``build_scenario``, and
``generate_scenario`` which also writes it).

Same (country, months, seed, start, calibration) -> the same bytes, on any machine with the same
NumPy: every random draw comes from ``numpy.random.Generator`` streams spawned from the seed, and
nothing depends on the clock (the default window ends in ``DEFAULT_END``, a fixed month).

Other countries use the CAR calibration with the background rate scaled by area
(``rate_scale``): a country twice as large has twice as many background events, within
``RATE_SCALE_BOUNDS`` so that micro-states still have events and Russia stays tractable. Hot
spots, kernels, marks and precision shares are kept as fitted.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np

from tocsin.geo.countries import Country, country_info, country_outline
from tocsin.geo.prio_grid import gid_for_point
from tocsin.scenario import GENERATOR_VERSION
from tocsin.scenario.actors import build_roster
from tocsin.scenario.calibration import CAR_CALIBRATION, Calibration
from tocsin.scenario.dataset import ID_BASE, SOURCE_OFFICE
from tocsin.scenario.ged_format import GED_COLUMNS, format_coordinate, format_timestamp
from tocsin.scenario.geography import admin_layout, build_gazetteer, country_seed
from tocsin.scenario.hawkes import (
    BackgroundSampler,
    ScenarioTooLargeError,
    SimulatedEvents,
    burn_in_months,
    modulation_series,
    simulate,
)
from tocsin.scenario.locations import report_locations
from tocsin.scenario.marks import (
    assign_dyads,
    draw_codes,
    draw_estimates,
    draw_fatalities,
    draw_source_counts,
    split_deaths,
)
from tocsin.scenario.model import Scenario, ScenarioError
from tocsin.scenario.names import NameMaker
from tocsin.scenario.spatial import OutlineSampler

MAX_MONTHS = 1200
EARLIEST_START = date(1946, 1, 1)
DEFAULT_END = date(2026, 1, 1)  # exclusive: by default a scenario ends in December 2025
RATE_SCALE_BOUNDS = (0.05, 10.0)
MAX_EVENTS = 1_000_000
MAX_SEED = 2**63 - 1
# Ids: ID_BASE (10^12) + key * 10^7 + sequence. Real UCDP GED ids are below 10^7 (this and the
# source office mark the rows as synthetic; see scenario.dataset); the key (0..99,999) comes
# from the country and seed, so that scenarios loaded side by side rarely share ids.
ID_BLOCK = 10**7
ID_KEYS = 100_000
ACTIVE_YEAR_DEATHS = 25  # UCDP: a dyad is active in a year with at least 25 battle deaths


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def resolve_window(months: int, start: date | None, today: date) -> tuple[date, date]:
    if isinstance(months, bool) or not isinstance(months, int):
        raise ScenarioError("months must be a whole number")
    if months <= 0:
        raise ScenarioError(f"months must be at least 1, got {months}")
    if months > MAX_MONTHS:
        raise ScenarioError(f"months must be at most {MAX_MONTHS} (100 years), got {months}")
    if start is None:
        end = DEFAULT_END
        start = _add_months(end, -months)
    else:
        start = date(start.year, start.month, 1)
        end = _add_months(start, months)
    if start < EARLIEST_START:
        raise ScenarioError(
            f"the scenario would start in {start:%Y-%m}, before {EARLIEST_START:%Y-%m}: "
            "use fewer months or a later --start"
        )
    if end > date(today.year, today.month, 1):
        raise ScenarioError(
            f"the scenario would run to {_add_months(end, -1):%Y-%m}, past the last complete "
            "month: use fewer months or an earlier --start"
        )
    return start, end


def id_key(iso3: str, seed: int) -> int:
    digest = hashlib.blake2b(f"{iso3}:{seed}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % ID_KEYS


def month_edges(start: date, first: int, last: int) -> np.ndarray:
    """Day offsets from ``start`` of the month boundaries from month ``first`` to ``last``."""
    base = np.datetime64(start, "M")
    months = base + np.arange(first, last + 1)
    return (months.astype("datetime64[D]") - np.datetime64(start, "D")).astype(float)


def _event_dates(
    day: np.ndarray, date_prec: np.ndarray, start: date, end: date, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """date_start/date_end around each event's day, as wide as its date precision says."""
    first, last = np.datetime64(start, "D"), np.datetime64(end, "D") - 1
    when = first + day.astype("timedelta64[D]")
    month = when.astype("datetime64[M]")
    begin, finish = when.copy(), when.copy()
    n = day.size
    gap = np.where(date_prec == 2, rng.integers(1, 6, size=n), 6)  # 2: 2-6 days, 3: a week
    back = (rng.random(n) * (gap + 1)).astype(int)
    within = np.isin(date_prec, (2, 3))
    begin[within] = when[within] - back[within].astype("timedelta64[D]")
    finish[within] = begin[within] + gap[within].astype("timedelta64[D]")
    by_month = np.isin(date_prec, (4, 5))
    extra = np.where(date_prec == 5, rng.integers(1, 12, size=n), 0)  # 5: up to a year
    begin[by_month] = month[by_month].astype("datetime64[D]")
    finish[by_month] = (month[by_month] + 1 + extra[by_month]).astype("datetime64[D]") - 1
    return np.maximum(begin, first), np.minimum(finish, last)


def _simulate(
    country: Country,
    calibration: Calibration,
    sampler: OutlineSampler,
    start: date,
    months: int,
    rng: np.random.Generator,
) -> tuple[SimulatedEvents, BackgroundSampler]:
    process = calibration.process
    shape = calibration.background
    centers_lat, centers_lon = sampler.uniform(shape.hotspots, rng)
    background = BackgroundSampler(
        outline=sampler,
        centers_lat=centers_lat,
        centers_lon=centers_lon,
        sigma_km=np.array(shape.hotspot_sigma_km),
        weights=np.array(shape.hotspot_weights),
    )
    burn_in = burn_in_months(process)
    edges = month_edges(start, -burn_in, months)
    rate_scale = float(np.clip(country.area_km2 / calibration.area_km2, *RATE_SCALE_BOUNDS))
    events = simulate(
        process,
        background,
        month_edges=edges,
        modulation=modulation_series(
            process.modulation_sd, process.modulation_ar, burn_in + months, rng
        )[0],
        rate_scale=rate_scale,
        rng=rng,
        max_events=MAX_EVENTS,
    )
    return events, background


def generate_scenario(
    country: str,
    months: int,
    seed: int,
    *,
    out_dir: Path,
    force: bool = False,
    start: date | None = None,
) -> Path:
    """Build a scenario and write it to ``out_dir``; returns the GED CSV's path."""
    from tocsin.scenario.output import write_scenario

    scenario = build_scenario(country, months, seed, start=start)
    return write_scenario(scenario, out_dir, force=force)[0]


def build_scenario(
    iso3: str,
    months: int,
    seed: int,
    *,
    start: date | None = None,
    calibration: Calibration | None = None,
    today: date | None = None,
) -> Scenario:
    """Generate a scenario in memory; raises ``ScenarioError`` (or ``UnknownCountryError``)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ScenarioError(f"seed must be a whole number from 0 to {MAX_SEED}")
    calibration = calibration or CAR_CALIBRATION
    if calibration is None:
        raise ScenarioError("no calibration: run `tocsin scenario calibrate` first")
    country = country_info(iso3)
    window_start, window_end = resolve_window(months, start, today or date.today())
    streams = np.random.SeedSequence([seed, country_seed(country.iso3) % 2**32]).spawn(6)
    process_rng, marks_rng, dates_rng, names_rng, roster_rng, places_rng = (
        np.random.default_rng(s) for s in streams
    )
    sampler = OutlineSampler(country_outline(country.iso3))
    layout = admin_layout(country, sampler)
    names = NameMaker(names_rng, reserved=set(layout.adm1_names) | set(layout.adm2_names))
    try:
        events, background = _simulate(
            country, calibration, sampler, window_start, months, process_rng
        )
    except ScenarioTooLargeError as exc:
        raise ScenarioError(f"{exc}: use fewer months") from None
    gazetteer = build_gazetteer(country, background, names, places_rng)
    roster = build_roster(
        country, calibration, names, list(layout.adm1_names), list(gazetteer.names), roster_rng
    )

    # Marks are handed down the branching tree, then the burn-in is dropped.
    dyad_index = assign_dyads(events.parent, roster.dyads, calibration, marks_rng)
    keep = np.flatnonzero(events.t >= 0)
    order = keep[np.argsort(events.t[keep], kind="stable")]
    n = order.size  # may be 0: a short window in a small country can be quiet
    t = events.t[order]
    dyads = [roster.dyads[i] for i in dyad_index[order]]
    violence = np.array([d.violence for d in dyads])
    best = draw_fatalities(violence, calibration.fatalities, marks_rng)
    low, high = draw_estimates(best, calibration.estimates, marks_rng)
    deaths = split_deaths(best, violence, calibration.death_patterns, marks_rng)
    where_prec = draw_codes(calibration.where_prec_shares, n, marks_rng)
    date_prec = draw_codes(calibration.date_prec_shares, n, marks_rng)
    clarity = np.where(marks_rng.random(n) < calibration.unclear_share, 2, 1)
    sources = draw_source_counts(calibration, n, marks_rng)
    date_start, date_end = _event_dates(
        np.floor(t).astype(int), date_prec, window_start, window_end, dates_rng
    )
    places = report_locations(
        events.latitude[order],
        events.longitude[order],
        where_prec,
        country_name=country.name,
        layout=layout,
        gazetteer=gazetteer,
        outline=sampler,
        names=names,
    )
    report_lag = dates_rng.integers(0, 15, size=n).astype("timedelta64[D]")
    reported = np.minimum(date_end + report_lag, np.datetime64(window_end, "D") - 1)

    years = date_start.astype("datetime64[Y]").astype(int) + 1970
    battle_deaths: dict[tuple[int, int], int] = defaultdict(int)
    for d, y, b in zip(dyads, years, best, strict=True):
        battle_deaths[(d.dyad_id, int(y))] += int(b)

    key = id_key(country.iso3, seed)
    gw = "" if country.gw_code is None else str(country.gw_code)
    tag = f"{country.iso3}-{seed}"
    rows = []
    # Rows (and ids) in order of date_start, then of the simulated time.
    for rank, i in enumerate(np.lexsort((t, date_start))):
        d = dyads[i]
        lat, lon = float(places.latitude[i]), float(places.longitude[i])
        day_reported = str(reported[i])
        headline = f"Synthetic event {tag}-{rank + 1}, not a real report"
        rows.append(
            [
                str(ID_BASE + key * ID_BLOCK + rank + 1),
                "0",
                str(years[i]),
                "1" if battle_deaths[(d.dyad_id, int(years[i]))] >= ACTIVE_YEAR_DEATHS else "0",
                "Clear",
                str(d.violence),
                str(d.conflict_id),
                str(d.conflict_id),
                d.conflict_name,
                str(d.dyad_id),
                str(d.dyad_id),
                d.name,
                str(d.side_a.actor_id),
                str(d.side_a.actor_id),
                d.side_a.name,
                str(d.side_b.actor_id),
                "1" if d.side_b.kind == "civilians" else str(d.side_b.actor_id),
                d.side_b.name,
                str(sources[i]),
                f'"{SOURCE_OFFICE},{day_reported},{headline}"',
                SOURCE_OFFICE,
                day_reported,
                headline,
                "",
                str(where_prec[i]),
                places.where_coordinates[i],
                places.where_description[i],
                format_coordinate(lat),
                format_coordinate(lon),
                places.adm_1[i],
                places.adm_2[i],
                str(gid_for_point(lat, lon)),
                country.name,
                gw,
                country.ged_region,
                str(clarity[i]),
                str(date_prec[i]),
                format_timestamp(date_start[i]),
                format_timestamp(date_end[i]),
                str(deaths[i, 0]),
                str(deaths[i, 1]),
                str(deaths[i, 2]),
                str(deaths[i, 3]),
                str(best[i]),
                str(high[i]),
                str(low[i]),
                gw if d.side_a.kind == "state" else "",
                "",
            ]
        )
    assert all(len(r) == len(GED_COLUMNS) for r in rows[:1])
    manifest = {
        "generator": "tocsin scenario",
        "generator_version": GENERATOR_VERSION,
        "synthetic": True,
        "country": {"iso3": country.iso3, "name": country.name, "gw_code": country.gw_code},
        "months": months,
        "seed": seed,
        "window": {"start": f"{window_start:%Y-%m}", "end": f"{_add_months(window_end, -1):%Y-%m}"},
        "events": n,
        "id_range": [ID_BASE + key * ID_BLOCK + 1, ID_BASE + key * ID_BLOCK + n],
        "rate_scale": float(np.clip(country.area_km2 / calibration.area_km2, *RATE_SCALE_BOUNDS)),
        "actors": [{"id": a.actor_id, "name": a.name, "kind": a.kind} for a in roster.actors],
        "calibration": calibration.as_dict(),
    }
    return Scenario(country, months, seed, window_start, window_end, rows, manifest)
