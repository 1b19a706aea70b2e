"""Simulation of the self-exciting space-time process by its branching structure.

Background ("immigrant") events arrive as a Poisson process whose rate is modulated month by
month; each event then has Poisson(alpha) direct offspring, each after a lag drawn from the
two-exponential temporal kernel and displaced by one of two Gaussians (the same place, or the
same area), generation after generation
(Hawkes 1971; Hawkes & Oakes 1974). Parents always precede their offspring in the arrays, so
marks can be handed down in index order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tocsin.scenario.calibration import ProcessParams
from tocsin.scenario.spatial import OutlineSampler, offset_km

PLACEMENT_TRIES = 20  # redraws of a point that fell outside the country before falling back
MAX_BURN_IN_MONTHS = 24


class ScenarioTooLargeError(ValueError):
    """The simulated process exceeded the event budget."""


def burn_in_months(process: ProcessParams) -> int:
    """Months simulated before the window so that it opens on a process already running:
    five mean parent-offspring lags."""
    return min(MAX_BURN_IN_MONTHS, math.ceil(5.0 / process.slow_decay_per_day / 30.44))


def modulation_series(
    sd: float, ar: float, n_months: int, rng: np.random.Generator, replications: int = 1
) -> np.ndarray:
    """Monthly background multiplier m = exp(z - sd^2/2), z a stationary AR(1) with marginal
    standard deviation ``sd`` and lag-one autocorrelation ``ar``, so that E[m] = 1.
    Shape (replications, n_months)."""
    shocks = rng.normal(size=(replications, n_months))
    z = np.empty((replications, n_months))
    z[:, 0] = sd * shocks[:, 0]
    innovation = sd * math.sqrt(max(0.0, 1.0 - ar * ar))
    for k in range(1, n_months):
        z[:, k] = ar * z[:, k - 1] + innovation * shocks[:, k]
    return np.exp(z - sd * sd / 2.0)


def offspring_lags(process: ProcessParams, n: int, rng: np.random.Generator) -> np.ndarray:
    """Parent-offspring lags in days from the two-exponential temporal kernel."""
    fast = rng.random(n) < process.fast_share
    rate = np.where(fast, process.fast_decay_per_day, process.slow_decay_per_day)
    return rng.exponential(size=n) / rate


def simulate_monthly_counts(
    process: ProcessParams,
    month_edges: np.ndarray,
    modulation: np.ndarray,
    rng: np.random.Generator,
    first_month: int,
) -> np.ndarray:
    """Monthly event counts of many independent replications at once (times only, no places or
    marks): what moment matching needs. ``modulation`` is (replications, months); counts are
    returned for months ``first_month`` onwards (the rest is burn-in)."""
    replications, months = modulation.shape
    month_days = np.diff(month_edges)
    counts = rng.poisson(process.background_per_day * modulation * month_days)
    flat = counts.ravel()
    rep = np.repeat(np.repeat(np.arange(replications), months), flat)
    start = np.tile(month_edges[:-1], replications).repeat(flat)
    t = start + rng.random(flat.sum()) * np.tile(month_days, replications).repeat(flat)
    out_t, out_rep = [t], [rep]
    while t.size:
        children = rng.poisson(process.branching_ratio, size=t.size)
        t = t.repeat(children) + offspring_lags(process, int(children.sum()), rng)
        rep = rep.repeat(children)
        keep = t < month_edges[-1]
        t, rep = t[keep], rep[keep]
        out_t.append(t)
        out_rep.append(rep)
    all_t, all_rep = np.concatenate(out_t), np.concatenate(out_rep)
    month = np.searchsorted(month_edges, all_t, side="right") - 1
    table = np.zeros((replications, months), dtype=np.int64)
    np.add.at(table, (all_rep, month), 1)
    return table[:, first_month:]


@dataclass(frozen=True)
class BackgroundSampler:
    """Background locations: Gaussian hot spots plus a uniform share, all inside the outline."""

    outline: OutlineSampler
    centers_lat: np.ndarray
    centers_lon: np.ndarray
    sigma_km: np.ndarray  # spread of each hot spot
    weights: np.ndarray  # hot-spot shares; 1 - sum is the uniform share

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.append(self.weights, max(0.0, 1.0 - self.weights.sum()))
        component = rng.choice(len(probabilities), size=n, p=probabilities / probabilities.sum())
        lat, lon = self.outline.uniform(n, rng)  # the uniform share, and the fallback
        hot = np.flatnonzero(component < len(self.weights))
        for _ in range(PLACEMENT_TRIES):
            if hot.size == 0:
                break
            c = component[hot]
            cand_lat, cand_lon = offset_km(
                self.centers_lat[c],
                self.centers_lon[c],
                rng.normal(size=hot.size) * self.sigma_km[c],
                rng.normal(size=hot.size) * self.sigma_km[c],
            )
            inside = self.outline.contains(cand_lat, cand_lon)
            lat[hot[inside]], lon[hot[inside]] = cand_lat[inside], cand_lon[inside]
            hot = hot[~inside]
        return lat, lon


@dataclass(frozen=True)
class SimulatedEvents:
    t: np.ndarray  # days since the window start (negative during burn-in)
    latitude: np.ndarray
    longitude: np.ndarray
    parent: np.ndarray  # index of the triggering event, -1 for background events


def simulate(
    process: ProcessParams,
    background: BackgroundSampler,
    *,
    month_edges: np.ndarray,
    modulation: np.ndarray,
    rate_scale: float,
    rng: np.random.Generator,
    max_events: int,
) -> SimulatedEvents:
    """Events on [month_edges[0], month_edges[-1]) days; the caller drops the burn-in."""
    end = float(month_edges[-1])
    month_days = np.diff(month_edges)
    expected = process.background_per_day * rate_scale * modulation * month_days
    counts = rng.poisson(expected)
    if counts.sum() > max_events:
        raise ScenarioTooLargeError(f"more than {max_events:,} background events")
    t = month_edges[:-1].repeat(counts) + rng.random(counts.sum()) * month_days.repeat(counts)
    lat, lon = background.sample(int(counts.sum()), rng)
    times, lats, lons = [t], [lat], [lon]
    parents = [np.full(t.size, -1)]
    total = t.size
    frontier = np.arange(t.size)
    while frontier.size:
        children = rng.poisson(process.branching_ratio, size=frontier.size)
        parent = np.repeat(frontier, children)
        child_t = np.concatenate(times)[parent] + offspring_lags(process, parent.size, rng)
        keep = child_t < end
        parent, child_t = parent[keep], child_t[keep]
        all_lat, all_lon = np.concatenate(lats), np.concatenate(lons)
        near = rng.random(parent.size) < process.near_share
        sigma = np.where(near, process.near_sigma_km, process.far_sigma_km)
        child_lat, child_lon = _place_offspring(
            all_lat[parent], all_lon[parent], sigma, background.outline, rng
        )
        offset = total
        total += parent.size
        if total > max_events:
            raise ScenarioTooLargeError(f"more than {max_events:,} events")
        times.append(child_t)
        lats.append(child_lat)
        lons.append(child_lon)
        parents.append(parent)
        frontier = np.arange(offset, total)
    return SimulatedEvents(
        np.concatenate(times), np.concatenate(lats), np.concatenate(lons), np.concatenate(parents)
    )


def _place_offspring(
    parent_lat: np.ndarray,
    parent_lon: np.ndarray,
    sigma_km: np.ndarray,
    outline: OutlineSampler,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian displacement; offspring that would leave the country stay at their parent."""
    lat, lon = parent_lat.copy(), parent_lon.copy()
    todo = np.arange(parent_lat.size)
    for _ in range(PLACEMENT_TRIES):
        if todo.size == 0:
            break
        cand_lat, cand_lon = offset_km(
            parent_lat[todo],
            parent_lon[todo],
            rng.normal(size=todo.size) * sigma_km[todo],
            rng.normal(size=todo.size) * sigma_km[todo],
        )
        inside = outline.contains(cand_lat, cand_lon)
        lat[todo[inside]], lon[todo[inside]] = cand_lat[inside], cand_lon[inside]
        todo = todo[~inside]
    return lat, lon
