"""The Tocsin forecaster: a LightGBM hurdle model for counts, mixed with the unit's own history.

For a unit, an origin month ``t`` (the last month of data) and a step ``s``, it forecasts the
distribution of fatalities in month ``t + s``:

1. a classifier gives ``p = P(y > 0)``;
2. a regressor, trained on the positive months only, gives the centre ``mu`` of
   ``log1p(y) | y > 0``; the spread around it is the empirical distribution of *out-of-sample*
   residuals (see below), so the forecast is as wide as the model's real errors;
3. the resulting hurdle distribution is mixed with the unit's last 12 months taken as equally
   likely outcomes ("conflictology"), with weight ``w``.

Direct multi-step: one pair of models for all steps, with the step as a feature; training rows are
(unit, origin, step) with ``origin + step <= cut-off``.

Time-series cross-validation inside the training data (``validation_folds`` folds of
``validation_months``) calibrates the parts: each fold model is fitted on targets up to its split
and predicts the next months (still before the cut-off); from these out-of-fold predictions come
the residual spread (binned by predicted level, medians removed), a Platt scaling of ``p``, a
factor on the spread and the mixture weight ``w`` (both by validation CRPS). The models are then
refitted on everything. Nothing beyond the history given to :func:`forecast` is ever read:
backtests pass a panel truncated at the cut-off.

Draws are quantiles of the mixture distribution on an evenly spaced probability grid, shuffled by
the seed: deterministic for a seed, with less Monte-Carlo noise than random sampling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np

from tocsin.forecast import baselines, features
from tocsin.forecast.errors import ForecastError
from tocsin.forecast.panel import HistoryTooShortError, Panel
from tocsin.forecast.registry import partitions
from tocsin.forecast.samples import SampleForecast

MODEL_NAME = "tocsin"
MODEL_VERSION = "tocsin-hurdle-lgbm-2"


@dataclass(frozen=True)
class ModelConfig:
    n_estimators: int = 250
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_child_samples: int = 40
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    threads: int = 2
    # Training origins: at most this many months back from the cut-off (None: all).
    history_months: int | None = None
    # Rows of units with no fatality (own or neighbours') in the last 36 months are "cold":
    # keep this share of them, weighted up accordingly (PRIO-GRID panels are mostly cold).
    cold_rate: float = 1.0
    # Steps drawn per (unit, origin) when training (None: every step).
    steps_per_origin: int | None = None
    validation_months: int = 12
    validation_folds: int = 2
    mix_weights: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    spread_factors: tuple[float, ...] = (0.5, 0.75, 1.0)
    calibrate: bool = True
    min_training_months: int = 6
    min_positive_rows: int = 30
    residuals_per_bin: int = 150
    # The intensity model predicts log1p(y) relative to log1p(mean of the last n months).
    base_months: int = 12
    use_covariates: bool = True
    # Give rows of units with the target in the last 36 months ("recent") their own
    # calibration (Platt scaling, residual spread, spread factor, mixture weight) and, if the
    # inner validation prefers it, their own hurdle pair; see ``RecentPart``.
    split_recent: bool = False


# Panels with more unit-months than this (PRIO-GRID panels of a region) are trained on a sample:
# 5% of the "cold" rows (no fatality, own or neighbours', in 36 months; weighted back up) and four
# random steps per unit-origin. Measured on Africa: 10,672 cells x 30 years in under 2 minutes
# and 4.3 GiB per window (BENCHMARKS.md).
LARGE_PANEL_ROWS = 1_000_000
LARGE_PANEL_SETTINGS = {
    "cold_rate": 0.05,
    "steps_per_origin": 4,
    "min_child_samples": 100,
    # In a PRIO-GRID panel the few cells with recent violence carry nearly all of the CRPS, but
    # the pooled calibration is dominated by the many quiet ones (docs/forecast.md).
    "split_recent": True,
}


def default_config(panel: Panel) -> ModelConfig:
    """The settings used for a panel of this size (see ``LARGE_PANEL_ROWS``)."""
    if len(panel.frame) > LARGE_PANEL_ROWS:
        return ModelConfig(**LARGE_PANEL_SETTINGS)
    return ModelConfig()


@dataclass(frozen=True)
class ResidualBins:
    """Residual distributions by bins of the predicted level ``mu``: large counts are relatively
    less volatile than small ones, so one pooled spread would give them absurd tails."""

    edges: np.ndarray  # inner bin edges on mu, ascending (len = bins - 1)
    residuals: tuple[np.ndarray, ...]  # sorted residuals per bin

    @classmethod
    def from_validation(cls, mu: np.ndarray, residuals: np.ndarray, per_bin: int) -> ResidualBins:
        n_bins = int(max(1, min(MAX_RESIDUAL_BINS, len(mu) // per_bin)))
        order = np.argsort(mu, kind="stable")
        chunks = np.array_split(order, n_bins)
        edges = np.array([mu[c[0]] for c in chunks[1:]])
        # Only the spread is taken from validation: its median bias belongs to the model fitted
        # on the shorter history, not to the final model refitted on everything.
        return cls(edges, tuple(np.sort(residuals[c] - np.median(residuals[c])) for c in chunks))

    def quantiles(self, mu: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """Residual quantile ``levels[i]`` of the bin of ``mu[i]``."""
        which = np.searchsorted(self.edges, mu, side="right")
        out = np.empty(len(levels))
        for b, res in enumerate(self.residuals):
            rows = which == b
            if rows.any():
                out[rows] = np.quantile(res, levels[rows])
        return out


MAX_RESIDUAL_BINS = 5


@dataclass(frozen=True)
class Calibration:
    """Corrections learnt on the validation folds and applied to the final model:
    Platt scaling of ``P(y > 0)`` (``sigmoid(a * logit(p) + b)``) and a factor on the spread
    of the intensity residuals."""

    a: float = 1.0
    b: float = 0.0
    spread: float = 1.0

    def probability(self, p: np.ndarray) -> np.ndarray:
        if self.a == 1.0 and self.b == 0.0:
            return p
        q = np.clip(p, 1e-9, 1 - 1e-9)
        return 1 / (1 + np.exp(-(self.a * np.log(q / (1 - q)) + self.b)))

    def residuals(self, bins: ResidualBins) -> ResidualBins:
        if self.spread == 1.0:
            return bins
        return ResidualBins(bins.edges, tuple(r * self.spread for r in bins.residuals))


@dataclass
class RecentPart:
    """How rows of "recent" units (the target in the last ``RECENT_MONTHS`` months) are
    forecast when ``ModelConfig.split_recent`` is on: their own calibration, learnt on their
    out-of-fold rows only, and either the general hurdle pair or a pair fitted on recent rows
    only (``separate``), whichever had the lower inner-validation CRPS."""

    classifier: lgb.Booster
    regressor: lgb.Booster
    residuals: ResidualBins
    mix_weight: float
    calibration: Calibration
    separate: bool


RECENT_MONTHS = 36
RECENT_FEATURE = f"y_sum{RECENT_MONTHS}"


@dataclass
class FittedModel:
    config: ModelConfig
    feature_names: list[str]
    classifier: lgb.Booster
    regressor: lgb.Booster
    residuals: ResidualBins  # out-of-sample residuals of log1p(y) | y > 0, by predicted level
    mix_weight: float
    calibration: Calibration = field(default_factory=lambda: Calibration())
    validation: dict = field(default_factory=dict)
    # With ``split_recent``: the part for recent units (the fields above then serve the others).
    recent: RecentPart | None = None

    @property
    def base_column(self) -> int:
        return self.feature_names.index(f"y_base{self.config.base_months}")

    def recent_rows(self, x: np.ndarray) -> np.ndarray:
        """Rows of ``x`` (feature rows) that the recent part forecasts (none without it)."""
        if self.recent is None:
            return np.zeros(len(x), dtype=bool)
        return is_recent(x, self.feature_names)

    def boosters(self, x: np.ndarray) -> list[tuple[np.ndarray, lgb.Booster, lgb.Booster]]:
        """``(rows, classifier, regressor)`` for each group of rows of ``x`` (for explanations)."""
        recent = self.recent_rows(x)
        groups = [(~recent, self.classifier, self.regressor)]
        if self.recent is not None:
            groups.append((recent, self.recent.classifier, self.recent.regressor))
        return [g for g in groups if g[0].any()]


def is_recent(x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Rows whose unit had the target in the last ``RECENT_MONTHS`` months (the "active"
    units of the evaluation)."""
    return np.nan_to_num(x[:, list(names).index(RECENT_FEATURE)]) > 0


@dataclass(frozen=True)
class ExtraHistory:
    """More history to learn from, never forecast: e.g. an older extraction of the same event
    data for more countries and years. Its units are separate series (no splicing), its
    features are aligned by name (missing ones are NaN), and it is cut at the same cut-off."""

    panel: Panel
    neighbours: Mapping[object, Sequence[object]] | None = None
    second_ring: Mapping[object, Sequence[object]] | None = None


@dataclass
class Source:
    cube: features.FeatureCube
    y: np.ndarray
    y_months: np.ndarray
    main: bool


def forecast(
    history: Panel,
    target: str,
    months: Sequence[int],
    n_draws: int,
    seed: int,
    *,
    config: ModelConfig | None = None,
    neighbours: Mapping[object, Sequence[object]] | None = None,
    second_ring: Mapping[object, Sequence[object]] | None = None,
    extra: Sequence[ExtraHistory] = (),
) -> tuple[SampleForecast, FittedModel, np.ndarray]:
    """Fit on ``history`` (and ``extra`` histories) and forecast ``months`` for the units present
    in the last month of ``history``.

    Returns the draws, the fitted model and the feature rows of the forecasts (units x months x
    features) used for explanations.
    """
    config = config or ModelConfig()
    cutoff = history.last_month
    steps = partitions.steps_after(cutoff, months)
    if steps[0] < 1:
        raise ForecastError(f"forecast months must be after the history's last month {cutoff}")
    first_origin = None
    if config.history_months is not None:
        first_origin = cutoff - config.history_months - max(steps)
    cube = features.build_features(
        history,
        target,
        neighbours=neighbours,
        second_ring=second_ring,
        first_origin=first_origin,
        covariates=config.use_covariates,
    )
    y, y_months = history.dense(target, cube.units)
    sources = [Source(cube, y, y_months, True)]
    for more in extra:
        if target not in more.panel.frame.columns or more.panel.first_month > cutoff:
            continue
        past = more.panel.until(cutoff)  # never later than the main history
        other = features.build_features(
            past,
            target,
            neighbours=more.neighbours,
            second_ring=more.second_ring,
            first_origin=first_origin,
            covariates=config.use_covariates,
        )
        other_y, other_months = past.dense(target, other.units)
        sources.append(Source(features.align(other, cube.names), other_y, other_months, False))
    rng = np.random.default_rng(seed)
    fitted = fit(sources, steps, cutoff, config, rng, target)
    units_now = history.units_at(cutoff)
    rows = (
        cube.units.searchsorted(units_now)
        if _sorted(cube.units)
        else _positions(cube.units, units_now)
    )
    x_now = cube.at(cutoff)[rows]
    draws, design = _predict_draws(fitted, x_now, steps, history, target, units_now, n_draws, rng)
    out = SampleForecast(history.unit, units_now, np.asarray(months), draws)
    return out, fitted, design


def _sorted(a: np.ndarray) -> bool:
    try:
        return bool(np.all(a[:-1] <= a[1:]))
    except TypeError:
        return False


def _positions(units: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    index = {u: i for i, u in enumerate(units.tolist())}
    return np.array([index[u] for u in wanted.tolist()])


# --- training ---------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    x: np.ndarray
    y: np.ndarray
    base: np.ndarray  # the intensity model's offset: log1p of the unit's recent mean level
    weight: np.ndarray
    target_month: np.ndarray
    conflictology: np.ndarray  # (rows, 12) the unit's 12 months up to the row's origin
    main: np.ndarray  # rows from the history being forecast (not from an extra history)

    @classmethod
    def concat(cls, parts: list[TrainingSet]) -> TrainingSet:
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("x", "y", "base", "weight", "target_month", "conflictology", "main")
            )
        )


def training_rows(
    cube: features.FeatureCube,
    y: np.ndarray,
    y_months: np.ndarray,
    steps: Sequence[int],
    cutoff: int,
    config: ModelConfig,
    rng: np.random.Generator,
    main: bool = True,
) -> TrainingSet:
    """(unit, origin, step) rows whose target month is at or before ``cutoff``.

    Rows are chosen first (as indices) and gathered once, so memory peaks at one copy of the
    training matrix even for PRIO-GRID panels.
    """
    offset = int(cube.months[0] - y_months[0])  # y column of cube origin 0
    last = min(cutoff, int(y_months[-1]))  # an extra history may end before the cut-off
    names = cube.names
    cold_source = [names.index(n) for n in ("y_sum36", "nb1_sum36") if n in names]
    n_units, n_origins, n_features = cube.values.shape
    steps = np.asarray(steps)
    picked_units, picked_origins, picked_steps, weights = [], [], [], []
    for oi in range(n_origins):
        origin = int(cube.months[oi])
        usable = steps[origin + steps <= last]
        if usable.size == 0:
            continue
        if config.steps_per_origin is not None and usable.size > config.steps_per_origin:
            usable = rng.choice(usable, size=config.steps_per_origin, replace=False)
        present = ~np.isnan(y[:, offset + oi])
        cold = np.ones(n_units, dtype=bool)
        for k in cold_source:
            cold &= ~(np.nan_to_num(cube.values[:, oi, k]) > 0)
        for s in usable:
            y_t = y[:, offset + oi + int(s)]
            keep = present & ~np.isnan(y_t)
            weight = np.ones(n_units, dtype=np.float32)
            if config.cold_rate < 1.0:
                sampled = rng.random(n_units) < config.cold_rate
                keep &= ~cold | sampled | (y_t > 0)
                weight = np.where(cold & ~(y_t > 0), 1.0 / config.cold_rate, 1.0)
            idx = np.flatnonzero(keep)
            picked_units.append(idx)
            picked_origins.append(np.full(idx.size, oi, dtype=np.int64))
            picked_steps.append(np.full(idx.size, s, dtype=np.int64))
            weights.append(weight[idx].astype(np.float32))
    units = np.concatenate(picked_units) if picked_units else np.empty(0, dtype=np.int64)
    if units.size == 0:
        raise HistoryTooShortError(
            f"history too short to train: no (origin, step) pair ends by month {cutoff}"
        )
    origins, step = np.concatenate(picked_origins), np.concatenate(picked_steps)
    x = np.empty((units.size, n_features + 1), dtype=np.float32)
    for first in range(0, units.size, GATHER_ROWS):
        rows = slice(first, first + GATHER_ROWS)
        x[rows, :n_features] = cube.values[units[rows], origins[rows], :]
    x[:, n_features] = step
    columns = offset + origins
    base_col = names.index(f"y_base{config.base_months}")
    return TrainingSet(
        x,
        y[units, columns + step],
        np.nan_to_num(x[:, base_col]),
        np.concatenate(weights),
        cube.months[origins].astype(np.int64) + step,
        _conflictology_rows(y, units, columns),
        np.full(units.size, main),
    )


GATHER_ROWS = 500_000


def _conflictology_rows(y: np.ndarray, units: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Each row's unit's 12 values up to its origin (the conflictology draws there)."""
    n = baselines.CONFLICTOLOGY_DRAWS
    padded = np.concatenate([np.full((y.shape[0], n - 1), np.nan), y], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, n, axis=1)
    out = windows[units, columns].astype(np.float32)  # months columns - 11 .. columns
    incomplete = np.flatnonzero(np.isnan(out).any(axis=1))
    if incomplete.size:
        part = out[incomplete].astype(np.float64)
        part[np.isnan(part).all(axis=1)] = 0.0  # no history at all: nothing to repeat
        out[incomplete] = baselines.spread_to_draws(part, n)
    return out


def fit(
    sources: list[Source],
    steps: Sequence[int],
    cutoff: int,
    config: ModelConfig,
    rng: np.random.Generator,
    target: str,
) -> FittedModel:
    main = sources[0]
    n_months = int(np.sum(~np.isnan(main.y), axis=1).max()) if main.y.size else 0
    if n_months < config.min_training_months:
        raise HistoryTooShortError(
            f"history too short to train: {n_months} month(s) of {target!r}, at least "
            f"{config.min_training_months} needed"
        )
    parts = [training_rows(main.cube, main.y, main.y_months, steps, cutoff, config, rng)]
    for more in sources[1:]:
        try:
            parts.append(
                training_rows(
                    more.cube, more.y, more.y_months, steps, cutoff, config, rng, main=False
                )
            )
        except HistoryTooShortError:
            continue  # an extra history too short to add anything
    data = TrainingSet.concat(parts)
    cube = main.cube
    if int((data.y > 0).sum()) < config.min_positive_rows:
        raise HistoryTooShortError(
            f"history too short to train: only {int((data.y > 0).sum())} training rows with "
            f"fatalities (at least {config.min_positive_rows} needed)"
        )
    names = [*cube.names, "step"]
    recent = is_recent(data.x, names) if config.split_recent else None
    residuals, mix_weight, validation, calibration, split = _validate(data, cutoff, config, recent)
    clf, reg = _fit_pair(data, np.ones(len(data.y), dtype=bool), config)
    recent_part = None
    if split is not None:
        pair = _fit_pair(data, recent, config) if split.separate else (clf, reg)
        recent_part = RecentPart(
            *pair, split.residuals, split.mix_weight, split.calibration, split.separate
        )
    if residuals is None:
        # Too little validation data: fall back on in-sample residuals, widened by the ratio
        # typical of boosted trees (documented in docs/forecast.md).
        pos = data.y > 0
        mu_in = data.base[pos] + reg.predict(data.x[pos])
        residuals = ResidualBins.from_validation(
            mu_in, (np.log1p(data.y[pos]) - mu_in) * 1.5, config.residuals_per_bin
        )
        validation = {"fallback": "in-sample residuals x 1.5"}
    return FittedModel(
        config,
        names,
        clf,
        reg,
        residuals,
        mix_weight,
        calibration=calibration,
        validation=validation,
        recent=recent_part,
    )


def _validate(data: TrainingSet, cutoff: int, config: ModelConfig, recent: np.ndarray | None):  # noqa: ANN202
    """Time-series cross-validation inside the training data.

    Fold ``k`` fits on targets up to ``cutoff - k * validation_months`` and predicts the next
    ``validation_months`` target months (main-panel rows only). From these out-of-fold
    predictions come: the residual spread of the intensity part, Platt scaling of ``P(y > 0)``,
    and the spread factor and mixture weight that minimise the (row-weighted) CRPS.

    With ``recent`` (rows of units with the target in the last 36 months), the other rows get
    these from their own out-of-fold rows, and the recent rows from theirs, for the general
    pair and for a pair fitted on recent rows only; the lower validation CRPS picks the pair.
    Returns the general part's residuals, mixture weight, validation report and calibration,
    and the recent part's :class:`Calibrated` (or None).
    """
    none = None, 0.0, {}, Calibration(), None
    oof = _out_of_fold(data, cutoff, config)
    if oof is None:
        return none
    if recent is not None:
        split = _validate_split(data, cutoff, config, recent, oof)
        if split is not None:
            quiet, chosen = split
            validation = {
                "folds": oof.folds,
                "other": quiet.validation,
                "recent": chosen.validation,
            }
            return quiet.residuals, quiet.mix_weight, validation, quiet.calibration, chosen
    general = _calibrate(data, oof, np.ones(len(oof.rows), dtype=bool), config)
    if general is None:
        return none
    general.validation.update(folds=oof.folds)
    return general.residuals, general.mix_weight, general.validation, general.calibration, None


def _validate_split(data, cutoff, config, recent, oof):  # noqa: ANN001, ANN202
    """``(other rows' Calibrated, recent rows' Calibrated)``, or None if either has too few
    validation rows (then the model is not split)."""
    in_recent = recent[oof.rows]
    quiet = _calibrate(data, oof, ~in_recent, config)
    shared = _calibrate(data, oof, in_recent, config)
    if quiet is None or shared is None:
        return None
    own = _out_of_fold(data, cutoff, config, recent)
    separate = None
    if own is not None:
        separate = _calibrate(data, own, np.ones(len(own.rows), dtype=bool), config, True)
    chosen = separate if separate is not None and separate.score < shared.score else shared
    chosen.validation.update(
        separate_pair=chosen.separate,
        crps_shared_pair=shared.score,
        crps_separate_pair=None if separate is None else separate.score,
    )
    return quiet, chosen


@dataclass
class OutOfFold:
    """Out-of-fold predictions of the inner validation: ``rows`` index the training set."""

    rows: np.ndarray
    p: np.ndarray
    mu: np.ndarray
    folds: int


def _out_of_fold(
    data: TrainingSet, cutoff: int, config: ModelConfig, only: np.ndarray | None = None
) -> OutOfFold | None:
    """Fold models fitted on earlier targets (of the rows ``only``, if given) predict the
    following ``validation_months`` (main-panel rows, of ``only``)."""
    rows, ps, mus = [], [], []
    for k in range(1, config.validation_folds + 1):
        split = cutoff - k * config.validation_months
        early = data.target_month <= split
        late = (
            data.main
            & (data.target_month > split)
            & (data.target_month <= split + config.validation_months)
        )
        if only is not None:
            early, late = early & only, late & only
        if not late.any() or (data.y[early] > 0).sum() < config.min_positive_rows:
            break
        clf, reg = _fit_pair(data, early, config)
        rows.append(np.flatnonzero(late))
        ps.append(clf.predict(data.x[late]))
        mus.append(data.base[late] + reg.predict(data.x[late]))
    if not rows:
        return None
    return OutOfFold(np.concatenate(rows), np.concatenate(ps), np.concatenate(mus), len(rows))


@dataclass
class Calibrated:
    residuals: ResidualBins
    calibration: Calibration
    mix_weight: float
    score: float  # the validation CRPS at the chosen settings
    validation: dict
    separate: bool = False


def _calibrate(
    data: TrainingSet, oof: OutOfFold, subset: np.ndarray, config: ModelConfig, separate=False
) -> Calibrated | None:
    """Residual spread, Platt scaling, spread factor and mixture weight from the out-of-fold
    rows ``subset``; None if they hold too few positive outcomes."""
    rows = oof.rows[subset]
    p, mu, y = oof.p[subset], oof.mu[subset], data.y[rows]
    conf, weight = data.conflictology[rows], data.weight[rows]
    pos = y > 0
    if pos.sum() < MIN_VALIDATION_RESIDUALS:
        return None
    residuals = ResidualBins.from_validation(
        mu[pos], np.log1p(y[pos]) - mu[pos], config.residuals_per_bin
    )
    a, b = _platt(p, pos, weight) if config.calibrate else (1.0, 0.0)
    calibrated = Calibration(a, b).probability(p)
    spread, mix_weight, validation = _choose_mix(calibrated, mu, residuals, y, conf, weight, config)
    validation.update(platt=[a, b])
    score = min(validation["validation_crps"].values())
    return Calibrated(residuals, Calibration(a, b, spread), mix_weight, score, validation, separate)


def _platt(p: np.ndarray, positive: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Weighted logistic regression of the outcome on ``logit(p)`` (Platt scaling)."""
    from sklearn.linear_model import LogisticRegression

    if positive.all() or not positive.any():
        return 1.0, 0.0
    q = np.clip(p, 1e-9, 1 - 1e-9)
    logit = np.log(q / (1 - q)).reshape(-1, 1)
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(logit, positive, sample_weight=weight)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


MIN_VALIDATION_RESIDUALS = 10


def _lgb_params(config: ModelConfig, objective: str, seed: int) -> dict:
    return {
        "objective": objective,
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "min_child_samples": config.min_child_samples,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": 1,
        "num_threads": config.threads,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "max_bin": MAX_BIN,
        "verbosity": -1,
    }


def _fit_pair(data: TrainingSet, rows: np.ndarray, config: ModelConfig):  # noqa: ANN202
    y, base = data.y[rows], data.base[rows]
    pos = y > 0
    # Datasets are binned right away and the float copies dropped: a PRIO-GRID training matrix
    # is large, and LightGBM needs only its bins.
    params = _lgb_params(config, "binary", 1)
    occurrence = lgb.Dataset(
        data.x[rows], label=pos.astype(float), weight=data.weight[rows], params=params
    ).construct()
    clf = lgb.train(params, occurrence, num_boost_round=config.n_estimators)
    del occurrence
    positive_rows = (np.flatnonzero(rows) if rows.dtype == bool else np.asarray(rows))[pos]
    params = _lgb_params(config, "regression", 2)
    intensity = lgb.Dataset(
        data.x[positive_rows], label=np.log1p(y[pos]) - base[pos], params=params
    ).construct()
    reg = lgb.train(params, intensity, num_boost_round=config.n_estimators)
    return clf, reg


MAX_BIN = 63


# --- draws ------------------------------------------------------------------------------------


def hurdle_quantiles(p: np.ndarray, mu: np.ndarray, residuals: ResidualBins, n: int) -> np.ndarray:
    """``n`` draws per row: quantiles of the hurdle distribution on an even probability grid."""
    levels = (np.arange(n) + 0.5) / n
    zero_share = 1 - np.clip(p, 0, 1)
    out = np.zeros((len(p), n))
    pos_level = (levels[None, :] - zero_share[:, None]) / np.maximum(p[:, None], 1e-12)
    positive = pos_level > 0
    mu_rep = np.repeat(mu[:, None], n, axis=1)[positive]
    r = residuals.quantiles(mu_rep, np.clip(pos_level, 0, 1)[positive])
    values = np.expm1(mu_rep + r)
    out[positive] = np.maximum(1, np.round(values))
    return out


def mixture_draws(model_draws: np.ndarray, conflictology: np.ndarray, w: float) -> np.ndarray:
    """Replace a share ``w`` of each row's draws by the unit's 12 last values, evenly."""
    n = model_draws.shape[1]
    k = int(round(w * n))
    if k == 0:
        return model_draws
    # Keep model draws at evenly spaced quantile positions so both parts stay representative.
    keep = np.linspace(0, n - 1, n - k).round().astype(int)
    conf_idx = np.floor(np.arange(k) * conflictology.shape[1] / k).astype(int)
    return np.concatenate(
        [model_draws[:, keep], np.sort(conflictology, axis=1)[:, conf_idx]], axis=1
    )


def crps_of_draws(y: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """CRPS of the empirical distribution of each row's draws (same as scoringrules' "qd"),
    in numpy: training should not wait for numba to compile the scoring library."""
    x = np.sort(draws, axis=1)
    n = x.shape[1]
    weights = (2 * np.arange(1, n + 1) - n - 1) / n**2
    return np.abs(x - y[:, None]).mean(axis=1) - (x * weights).sum(axis=1)


def _choose_mix(p, mu, residuals, y, conf, weight, config):  # noqa: ANN001, ANN202, PLR0913
    """Spread factor and mixture weight minimising the (row-weighted) validation CRPS."""
    scores = {}
    for spread in config.spread_factors:
        base = hurdle_quantiles(p, mu, Calibration(spread=spread).residuals(residuals), 100)
        for w in config.mix_weights:
            crps = crps_of_draws(y, mixture_draws(base, conf, w))
            scores[(spread, w)] = float(np.average(crps, weights=weight))
    spread, w = min(scores, key=scores.get)
    table = {f"spread={k[0]} w={k[1]}": v for k, v in scores.items()}
    return spread, w, {"validation_crps": table, "mix_weight": w, "spread": spread}


def _predict_draws(fitted, x_now, steps, history, target, units_now, n_draws, rng):  # noqa: ANN001, ANN202
    _, conf = baselines.conflictology_values(history, target)
    n_units = len(units_now)
    draws = np.zeros((n_units, len(steps), n_draws), dtype=np.int64)
    design = np.zeros((n_units, len(steps), x_now.shape[1] + 1), dtype=np.float32)
    recent = fitted.recent_rows(x_now)  # the step column is not needed to tell
    parts = [(~recent, fitted)]
    if fitted.recent is not None:
        parts.append((recent, fitted.recent))
    for j, s in enumerate(steps):
        x = np.column_stack([x_now, np.full(n_units, s, dtype=np.float32)])
        design[:, j, :] = x
        mixed = np.zeros((n_units, n_draws))
        for rows, part in parts:
            if not rows.any():
                continue
            xr = x[rows]
            p = part.calibration.probability(part.classifier.predict(xr))
            mu = np.nan_to_num(xr[:, fitted.base_column]) + part.regressor.predict(xr)
            residuals = part.calibration.residuals(part.residuals)
            base = hurdle_quantiles(p, mu, residuals, n_draws)
            mixed[rows] = mixture_draws(base, conf[rows], part.mix_weight)
        # Draw order carries no meaning; shuffle it so draw k is not "the k-th quantile".
        perm = rng.permuted(np.tile(np.arange(n_draws), (n_units, 1)), axis=1)
        draws[:, j, :] = np.take_along_axis(mixed, perm, axis=1).astype(np.int64)
    return draws, design
