"""Maximum-likelihood fit of the self-exciting space-time process to real GED events.

The fit alternates, like stochastic declustering (Zhuang, Ogata & Vere-Jones 2002):

1. given the background's spatial density ``f`` and monthly multiplier ``m``, maximise the
   Hawkes log-likelihood over (mu, alpha, beta, sigma) with L-BFGS-B and the analytic gradient;
2. from the fitted intensity, each event's probability of being a background event;
3. refit ``f`` (hot spots + uniform, EM, number of hot spots by BIC) and ``m`` (smoothed monthly
   background counts) with those probabilities as weights.

GED reports places, not points: many events share a town's or a province's coordinates, which
would let the spatial kernels shrink to nothing. Each event is therefore spread by the size of
what its ``where_prec`` stands for (``LOCATION_SPREAD_KM``), and its time drawn uniformly within
its reported date range, with a fixed seed so that the fit is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.spatial import cKDTree

from tocsin.geo.countries import country_outline
from tocsin.scenario.calibration import BackgroundShape, ProcessParams
from tocsin.scenario.ged_sample import GedSample
from tocsin.scenario.hawkes import burn_in_months, modulation_series, simulate_monthly_counts
from tocsin.scenario.spatial import to_local_km

FIT_SEED = 0
# What a GED location stands for, as a Gaussian spread in km: a village or town (1), somewhere
# within 25 km (2), a second-order (3) or first-order (4) admin unit's centroid, a road or region
# (5), the whole country (6).
LOCATION_SPREAD_KM = {1: 2.0, 2: 12.0, 3: 40.0, 4: 90.0, 5: 40.0, 6: 250.0}
MAX_PAIR_LAG_DAYS = 540.0  # three mean lags of the slowest allowed component
MAX_PAIR_KM = 200.0  # over three sd of the widest allowed spatial component
# Mean parent-offspring lag of the two temporal components: days (fast) and weeks to months (slow).
FAST_LAG_DAYS_BOUNDS = (0.25, 7.0)
SLOW_LAG_DAYS_BOUNDS = (7.0, 180.0)
# The offspring's spatial kernel: the same place (a few km) or the same area (tens of km).
NEAR_SIGMA_BOUNDS_KM = (0.5, 10.0)
FAR_SIGMA_BOUNDS_KM = (10.0, 60.0)
BRANCHING_BOUNDS = (0.01, 0.95)  # strictly subcritical, so that simulations stay finite
HOTSPOT_SIGMA_FLOOR_KM = 10.0
MAX_HOTSPOTS = 8
EM_RESTARTS = 2
EM_ITERATIONS = 100
OUTER_ITERATIONS = 4
MODULATION_SMOOTHING_MONTHS = 2.0
MODULATION_FLOOR = 0.05
SMM_REPLICATIONS = 100
SMM_SD_GRID = np.arange(1, 9) * 0.25  # 0.25 .. 2.0
SMM_AR_GRID = np.array([0.5, 0.7, 0.8, 0.9, 0.95])
SMM_MAX_AR = 0.95
SMM_ACF_SCALE = 0.1


@dataclass(frozen=True)
class PreparedEvents:
    t: np.ndarray  # days since window start, ascending
    x: np.ndarray  # km east of the reference point
    y: np.ndarray  # km north
    month: np.ndarray  # month index in the window
    order: np.ndarray  # positions in the sample's frame, in time order
    days: float  # window length
    month_days: np.ndarray  # length of each month
    area_km2: float


@dataclass(frozen=True)
class Pairs:
    child: np.ndarray
    parent: np.ndarray
    lag: np.ndarray
    dist2: np.ndarray


@dataclass(frozen=True)
class ProcessFit:
    process: ProcessParams
    background: BackgroundShape
    prepared: PreparedEvents
    background_probability: np.ndarray  # per event, in prepared (time) order
    pairs: Pairs
    pair_weight: np.ndarray  # probability that pair.parent triggered pair.child
    log_likelihood: float


def prepare_events(sample: GedSample) -> PreparedEvents:
    rng = np.random.default_rng(FIT_SEED)
    frame = sample.frame
    start = sample.window_start
    first = (frame["date_start"] - start).dt.days.to_numpy(dtype=float)
    span = ((frame["date_end"] - frame["date_start"]).dt.days.to_numpy(dtype=float)).clip(0) + 1.0
    days = float(sample.window_days)
    t = np.clip(first + rng.random(len(frame)) * span, 0.0, days - 1e-6)
    spread = np.array([LOCATION_SPREAD_KM.get(int(p), 40.0) for p in frame["where_prec"]])
    c = sample.country
    ref = country_outline(c.iso3).representative_point()
    x, y = to_local_km(frame["latitude"].to_numpy(), frame["longitude"].to_numpy(), ref.y, ref.x)
    x = x + rng.normal(size=len(frame)) * spread
    y = y + rng.normal(size=len(frame)) * spread
    order = np.argsort(t, kind="stable")
    month_starts = [start + pd.DateOffset(months=k) for k in range(sample.window_months + 1)]
    month_days = np.diff([(m - start).days for m in month_starts]).astype(float)
    month_edges = np.concatenate([[0.0], np.cumsum(month_days)])
    month = np.searchsorted(month_edges, t[order], side="right") - 1
    return PreparedEvents(
        t=t[order],
        x=x[order],
        y=y[order],
        month=np.clip(month, 0, sample.window_months - 1),
        order=order,
        days=days,
        month_days=month_days,
        area_km2=c.area_km2,
    )


def candidate_pairs(ev: PreparedEvents) -> Pairs:
    """(child, parent) pairs close enough in time and space for the kernels to matter."""
    tree = cKDTree(np.column_stack([ev.x, ev.y]))
    pairs = tree.query_pairs(MAX_PAIR_KM, output_type="ndarray")
    if pairs.size == 0:
        empty = np.zeros(0)
        return Pairs(empty.astype(int), empty.astype(int), empty, empty)
    a, b = pairs[:, 0], pairs[:, 1]
    child = np.where(ev.t[a] > ev.t[b], a, b)
    parent = np.where(ev.t[a] > ev.t[b], b, a)
    lag = ev.t[child] - ev.t[parent]
    keep = (lag > 0) & (lag <= MAX_PAIR_LAG_DAYS)
    child, parent, lag = child[keep], parent[keep], lag[keep]
    dist2 = (ev.x[child] - ev.x[parent]) ** 2 + (ev.y[child] - ev.y[parent]) ** 2
    return Pairs(child, parent, lag, dist2)


# --- background: hot spots + uniform, fitted by weighted EM -------------------------------------


@dataclass(frozen=True)
class Hotspots:
    centers: np.ndarray  # (k, 2) km
    sigma: np.ndarray  # (k,) km
    weights: np.ndarray  # k hot-spot shares then the uniform share; sums to 1
    log_likelihood: float

    def density(self, x: np.ndarray, y: np.ndarray, area_km2: float) -> np.ndarray:
        return self._components(x, y, area_km2) @ self.weights

    def _components(self, x: np.ndarray, y: np.ndarray, area_km2: float) -> np.ndarray:
        return _component_densities(x, y, self.centers, self.sigma, area_km2)


def _component_densities(
    x: np.ndarray, y: np.ndarray, centers: np.ndarray, sigma: np.ndarray, area_km2: float
) -> np.ndarray:
    d2 = (x[:, None] - centers[None, :, 0]) ** 2 + (y[:, None] - centers[None, :, 1]) ** 2
    var = np.asarray(sigma)[None, :] ** 2
    gauss = np.exp(-d2 / (2 * var)) / (2 * np.pi * var)
    return np.column_stack([gauss, np.full(len(x), 1.0 / area_km2)])


def _em(x, y, w, k, area_km2, rng) -> Hotspots:  # noqa: ANN001
    # k-means++-like seeding, weighted by w
    first = rng.choice(len(x), p=w / w.sum())
    centers = [np.array([x[first], y[first]])]
    for _ in range(1, k):
        d2 = np.min([(x - c[0]) ** 2 + (y - c[1]) ** 2 for c in centers], axis=0)
        p = w * d2
        pick = rng.choice(len(x), p=p / p.sum()) if p.sum() > 0 else rng.choice(len(x))
        centers.append(np.array([x[pick], y[pick]]))
    centers_arr = np.array(centers)
    sigma = np.full(k, 50.0)
    weights = np.full(k + 1, 1.0 / (k + 1))
    previous = -np.inf
    for _ in range(EM_ITERATIONS):
        dens = _component_densities(x, y, centers_arr, sigma, area_km2) * weights
        total = dens.sum(axis=1)
        loglik = float(np.sum(w * np.log(total)))
        resp = dens / total[:, None] * w[:, None]
        mass = resp.sum(axis=0) + 1e-12
        weights = mass / mass.sum()
        hot = resp[:, :k]
        centers_arr = np.column_stack([hot.T @ x, hot.T @ y]) / mass[:k, None]
        d2 = (x[:, None] - centers_arr[None, :, 0]) ** 2 + (
            y[:, None] - centers_arr[None, :, 1]
        ) ** 2
        sigma = np.maximum(HOTSPOT_SIGMA_FLOOR_KM, np.sqrt((hot * d2).sum(axis=0) / (2 * mass[:k])))
        if loglik - previous < 1e-5 * abs(loglik):
            break
        previous = loglik
    dens = _component_densities(x, y, centers_arr, sigma, area_km2) @ weights
    return Hotspots(centers_arr, sigma, weights, float(np.sum(w * np.log(dens))))


def fit_hotspots(ev: PreparedEvents, weights: np.ndarray) -> Hotspots:
    """Hot spots + uniform background; the number of hot spots minimises the (weighted) BIC."""
    rng = np.random.default_rng(FIT_SEED)
    n_eff = float(weights.sum())
    best: tuple[float, Hotspots] | None = None
    for k in range(1, MAX_HOTSPOTS + 1):
        fits = [_em(ev.x, ev.y, weights, k, ev.area_km2, rng) for _ in range(EM_RESTARTS)]
        fit = max(fits, key=lambda f: f.log_likelihood)
        bic = -2 * fit.log_likelihood + (4 * k) * np.log(n_eff)
        if best is None or bic < best[0]:
            best = (bic, fit)
    assert best is not None
    return best[1]


# --- background modulation: slowly varying monthly multiplier -----------------------------------


def fit_modulation(ev: PreparedEvents, weights: np.ndarray) -> np.ndarray:
    """Monthly multiplier of the background rate (mean 1 over the window's days)."""
    months = len(ev.month_days)
    counts = np.bincount(ev.month, weights=weights, minlength=months)
    grid = np.arange(months)
    kernel = np.exp(-0.5 * ((grid[:, None] - grid[None, :]) / MODULATION_SMOOTHING_MONTHS) ** 2)
    smooth = (kernel @ counts) / (kernel @ ev.month_days)  # background events per day
    m = np.maximum(smooth / (np.sum(smooth * ev.month_days) / ev.days), MODULATION_FLOOR)
    return m / (np.sum(m * ev.month_days) / ev.days)


def _simulated_moments(
    process: ProcessParams, ev: PreparedEvents, sd: float, ar: float
) -> tuple[float, float]:
    """Mean sample variance and lag-one autocorrelation of monthly counts over
    ``SMM_REPLICATIONS`` simulated windows. The seed is the same for every call (common random
    numbers), which keeps the moments smooth in the parameters."""
    rng = np.random.default_rng(FIT_SEED)
    burn = burn_in_months(process)
    edges = np.concatenate(
        [-ev.month_days.mean() * np.arange(burn, 0, -1), [0.0], np.cumsum(ev.month_days)]
    )
    m = modulation_series(sd, ar, burn + len(ev.month_days), rng, SMM_REPLICATIONS)
    counts = simulate_monthly_counts(process, edges, m, rng, burn).astype(float)
    variance = counts.var(axis=1, ddof=1)
    centred = counts - counts.mean(axis=1, keepdims=True)
    lag_cov = np.mean(centred[:, :-1] * centred[:, 1:], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        autocorrelation = np.where(variance > 0, lag_cov / centred.var(axis=1), 0.0)
    return float(variance.mean()), float(autocorrelation.mean())


def match_monthly_moments(process: ProcessParams, ev: PreparedEvents) -> tuple[float, float]:
    """Modulation (sd, AR) at which simulated monthly counts vary and persist as the real ones.

    Simulated method of moments: minimise the squared errors of the variance (relative) and the
    lag-one autocorrelation (in units of ``SMM_ACF_SCALE``) of monthly counts over a coarse grid,
    then a finer grid around the best point. (Simulated counts are step functions of the
    parameters, which stalls gradient-free local search.) Moments of the declustered background
    counts alone fall short: triggered events amplify surges.
    """
    counts = np.bincount(ev.month, minlength=len(ev.month_days)).astype(float)
    target_var = float(counts.var(ddof=1))
    centred = counts - counts.mean()
    target_acf = float(np.mean(centred[:-1] * centred[1:]) / centred.var()) if target_var else 0.0

    def loss(sd: float, ar: float) -> float:
        variance, acf = _simulated_moments(process, ev, sd, ar)
        return ((variance - target_var) / max(target_var, 1.0)) ** 2 + (
            (acf - target_acf) / SMM_ACF_SCALE
        ) ** 2

    def best_on(sds: np.ndarray, ars: np.ndarray) -> tuple[float, float]:
        scored = [(loss(float(sd), float(ar)), float(sd), float(ar)) for sd in sds for ar in ars]
        _, sd, ar = min(scored)
        return sd, ar

    sd, ar = best_on(SMM_SD_GRID, SMM_AR_GRID)
    sd_step, ar_step = SMM_SD_GRID[1] - SMM_SD_GRID[0], 0.05
    sd, ar = best_on(
        np.clip(sd + sd_step * np.linspace(-0.5, 0.5, 3), 0.0, None),
        np.clip(ar + ar_step * np.linspace(-0.5, 0.5, 3), 0.0, SMM_MAX_AR),
    )
    return sd, ar


# --- the Hawkes likelihood ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Theta:
    """The Hawkes parameters from the optimiser's unconstrained vector
    (log mu, log alpha, log b1, log b2, logit p, log sigma1, log sigma2, logit q)."""

    mu: float
    alpha: float
    fast: float  # decay rate of the fast temporal component (per day)
    slow: float  # decay rate of the slow component
    share: float  # weight of the fast temporal component
    near: float  # sd (km) of the near spatial component
    far: float  # sd (km) of the far spatial component
    near_share: float  # weight of the near spatial component

    @classmethod
    def from_vector(cls, theta: np.ndarray) -> _Theta:
        mu, alpha, fast, slow, near, far = np.exp(theta[[0, 1, 2, 3, 5, 6]])
        share, near_share = 1 / (1 + np.exp(-theta[[4, 7]]))
        return cls(mu, alpha, fast, slow, float(share), near, far, float(near_share))

    def kernel(self, pairs: Pairs) -> np.ndarray:
        """alpha * h(lag) * g(distance) for every candidate pair."""
        return self.alpha * self.time(pairs.lag) * self.space(pairs.dist2)

    def time(self, lag: np.ndarray) -> np.ndarray:
        return self.share * self.fast * np.exp(-self.fast * lag) + (1 - self.share) * (
            self.slow * np.exp(-self.slow * lag)
        )

    def space(self, dist2: np.ndarray) -> np.ndarray:
        return self.near_share * _gauss(dist2, self.near) + (1 - self.near_share) * _gauss(
            dist2, self.far
        )


def _gauss(dist2: np.ndarray, sd: float) -> np.ndarray:
    return np.exp(-dist2 / (2 * sd * sd)) / (2 * np.pi * sd * sd)


def _negative_log_likelihood(
    theta: np.ndarray, ev: PreparedEvents, pairs: Pairs, background: np.ndarray, exposure: float
) -> tuple[float, np.ndarray]:
    """-log L and its gradient in the unconstrained parameters.

    log L = sum_i log(mu b_i + alpha sum_j h(t_i - t_j) g(x_i - x_j)) - mu * exposure
            - alpha * sum_j H(T - t_j), with h a mixture of two exponentials, H its integral and
            g a mixture of two Gaussians (whose mass outside the country is neglected).
    """
    p = _Theta.from_vector(theta)
    n = len(ev.t)
    lag, dist2 = pairs.lag, pairs.dist2
    g_near, g_far = _gauss(dist2, p.near), _gauss(dist2, p.far)
    space = p.near_share * g_near + (1 - p.near_share) * g_far
    e_fast, e_slow = np.exp(-p.fast * lag), np.exp(-p.slow * lag)
    time = p.share * p.fast * e_fast + (1 - p.share) * p.slow * e_slow

    def per_child(weights: np.ndarray) -> np.ndarray:
        return np.bincount(pairs.child, weights=weights, minlength=n)

    trig = per_child(time * space)
    d_fast = per_child(p.share * (1 - p.fast * lag) * e_fast * space)
    d_slow = per_child((1 - p.share) * (1 - p.slow * lag) * e_slow * space)
    d_share = per_child((p.fast * e_fast - p.slow * e_slow) * space)
    # d g / d log sd = g * (d^2 / sd^2 - 2) for a 2-D Gaussian
    d_near = per_child(time * p.near_share * g_near * (dist2 / p.near**2 - 2))
    d_far = per_child(time * (1 - p.near_share) * g_far * (dist2 / p.far**2 - 2))
    d_near_share = per_child(time * (g_near - g_far))
    lam = p.mu * background + p.alpha * trig
    tail = ev.days - ev.t
    t_fast, t_slow = np.exp(-p.fast * tail), np.exp(-p.slow * tail)
    integral = p.share * (1 - t_fast) + (1 - p.share) * (1 - t_slow)
    loglik = np.sum(np.log(lam)) - p.mu * exposure - p.alpha * np.sum(integral)
    grad = np.array(
        [
            (np.sum(background / lam) - exposure) * p.mu,
            (np.sum(trig / lam) - np.sum(integral)) * p.alpha,
            p.alpha * (np.sum(d_fast / lam) - p.share * np.sum(tail * t_fast)) * p.fast,
            p.alpha * (np.sum(d_slow / lam) - (1 - p.share) * np.sum(tail * t_slow)) * p.slow,
            p.alpha * (np.sum(d_share / lam) - np.sum(t_slow - t_fast)) * p.share * (1 - p.share),
            p.alpha * np.sum(d_near / lam),
            p.alpha * np.sum(d_far / lam),
            p.alpha * np.sum(d_near_share / lam) * p.near_share * (1 - p.near_share),
        ]
    )
    return -float(loglik), -grad


def _maximise(
    ev: PreparedEvents, pairs: Pairs, background: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, float]:
    bounds = [
        (np.log(1e-6), np.log(1e4)),
        tuple(np.log(BRANCHING_BOUNDS)),
        (np.log(1 / FAST_LAG_DAYS_BOUNDS[1]), np.log(1 / FAST_LAG_DAYS_BOUNDS[0])),
        (np.log(1 / SLOW_LAG_DAYS_BOUNDS[1]), np.log(1 / SLOW_LAG_DAYS_BOUNDS[0])),
        (-8.0, 8.0),
        tuple(np.log(NEAR_SIGMA_BOUNDS_KM)),
        tuple(np.log(FAR_SIGMA_BOUNDS_KM)),
        (-8.0, 8.0),
    ]
    result = minimize(
        _negative_log_likelihood,
        start,
        args=(ev, pairs, background, ev.days),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-8},
    )
    return result.x, -float(result.fun)


def fit_process(sample: GedSample) -> ProcessFit:
    ev = prepare_events(sample)
    pairs = candidate_pairs(ev)
    n = len(ev.t)
    weights = np.ones(n)
    hotspots = fit_hotspots(ev, weights)
    modulation = np.ones(len(ev.month_days))
    theta = np.array(
        [np.log(0.5 * n / ev.days), np.log(0.5), np.log(1.0), np.log(1 / 30), 0.0]
        + [np.log(3.0), np.log(30.0), 0.0]
    )
    for iteration in range(OUTER_ITERATIONS):
        background = modulation[ev.month] * hotspots.density(ev.x, ev.y, ev.area_km2)
        theta, loglik = _maximise(ev, pairs, background, theta)
        p = _Theta.from_vector(theta)
        kernel = p.kernel(pairs)
        trig = np.bincount(pairs.child, weights=kernel, minlength=n)
        weights = p.mu * background / (p.mu * background + trig)
        if iteration == OUTER_ITERATIONS - 1:
            break  # keep background, modulation and parameters consistent with each other
        hotspots = fit_hotspots(ev, weights)
        modulation = fit_modulation(ev, weights)
    lam = p.mu * background + trig
    process = ProcessParams(
        background_per_day=float(p.mu),
        branching_ratio=float(p.alpha),
        fast_decay_per_day=float(p.fast),
        slow_decay_per_day=float(p.slow),
        fast_share=float(p.share),
        near_sigma_km=float(p.near),
        far_sigma_km=float(p.far),
        near_share=float(p.near_share),
        modulation_sd=0.0,
        modulation_ar=0.0,
    )
    sd, ar = match_monthly_moments(process, ev)
    process = replace(process, modulation_sd=sd, modulation_ar=ar)
    order = np.argsort(-hotspots.weights[:-1], kind="stable")
    shape = BackgroundShape(
        hotspots=len(order),
        hotspot_sigma_km=tuple(float(s) for s in hotspots.sigma[order]),
        hotspot_weights=tuple(float(w) for w in hotspots.weights[:-1][order]),
        uniform_share=float(hotspots.weights[-1]),
    )
    return ProcessFit(
        process=process,
        background=shape,
        prepared=ev,
        background_probability=weights,
        pairs=pairs,
        pair_weight=kernel / lam[pairs.child],
        log_likelihood=loglik,
    )
