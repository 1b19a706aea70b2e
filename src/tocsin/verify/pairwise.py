"""The learned pairwise corroboration model: gradient-boosted trees over pair and context features.

Two stages, the way record-linkage systems usually do it:

1. The transparent additive model (``scoring.ScoringModel``) scores every pair the blocking
   index proposes. Its scores are not the answer; they describe each record's neighbourhood.
2. A LightGBM classifier reads, for each pair, the raw signals (``features.PAIR_FEATURES``) and
   *context* built from the stage-1 neighbourhood (``CONTEXT_FEATURES``): is this the best
   candidate of both records? how far ahead of the next best? do both match a third report?
   In a war where the same two sides clash in the same district every few days, a pair that
   looks good in isolation is often only the second-best explanation for one of its records.

The output is a probability (LightGBM's log loss; the benchmark prints a reliability table on
held-out data). Each suggestion's reason is the model's own TreeSHAP decomposition (LightGBM
``pred_contrib``), summed per signal, so "distance: 5.2 km apart (+1.9)" is that signal's
exact share of the log-odds, as with the additive model.

Trained by ``bench/corroboration.py --save-model`` (train split only) and shipped as
``pairwise_model.json`` next to this module.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from tocsin.verify.features import PAIR_FEATURES
from tocsin.verify.scoring import ScoringModel

CONTEXT_FEATURES: tuple[str, ...] = (
    "rank_best",  # how many other candidates of the better-placed record outscore this pair
    "rank_worst",  # the same for the worse-placed record (capped at 5)
    "margin",  # stage-1 score minus the best score either record has with anyone else
    "neighbours_min",  # fewer candidate count of the two records
    "neighbours_max",
    "best_common",  # best third record both match: max over k of min(s(a,k), s(b,k))
)
FEATURES: tuple[str, ...] = PAIR_FEATURES + CONTEXT_FEATURES
_RANK_CAP = 5

# Which officer-facing signal each feature's share of the score is reported under.
FEATURE_SIGNAL: dict[str, str] = {
    "space": "space",
    "points": "space",
    "km": "space",
    "radius_max": "space",
    "radius_min": "space",
    "time": "time",
    "span_days": "time",
    "place": "place",
    "place_in_text": "place",
    "actor": "actor",
    "actor_any": "actor",
    "kind": "kind",
    "fatalities": "fatalities",
    "number_overlap": "fatalities",
    "text": "text",
    "concepts": "concepts",
    **{name: "context" for name in CONTEXT_FEATURES},
}

MODEL_FILE = "pairwise_model.json"
# LightGBM settings; small trees keep the shipped file near 150 kB and the model smooth.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "min_data_in_leaf": 20,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 1,
    "seed": 7,
    "deterministic": True,
}
DEFAULT_ROUNDS = 150


def context_rows(
    pairs: Sequence[tuple[str, str]], stage1: Mapping[tuple[str, str], float]
) -> np.ndarray:
    """CONTEXT_FEATURES for each requested pair, from stage-1 scores of a neighbourhood.

    ``stage1`` holds a score for every pair of the neighbourhood (keys as (id, id), either
    order, each pair once) and must include the requested pairs and every candidate pair of
    their records; anything outside it is taken as "not a candidate". Symmetric in a and b.
    """
    neighbours: dict[str, dict[str, float]] = defaultdict(dict)
    for (x, y), s in stage1.items():
        neighbours[x][y] = s
        neighbours[y][x] = s
    rows = np.zeros((len(pairs), len(CONTEXT_FEATURES)), dtype=float)
    for i, (a, b) in enumerate(pairs):
        own = neighbours[a].get(b)
        if own is None:
            raise KeyError(f"no stage-1 score for the pair ({a!r}, {b!r})")
        others_a = [s for k, s in neighbours[a].items() if k != b]
        others_b = [s for k, s in neighbours[b].items() if k != a]
        rank_a = sum(s > own for s in others_a)
        rank_b = sum(s > own for s in others_b)
        common = (set(neighbours[a]) & set(neighbours[b])) - {a, b}
        best_common = max((min(neighbours[a][k], neighbours[b][k]) for k in common), default=0.0)
        rows[i] = (
            min(rank_a, rank_b, _RANK_CAP),
            min(max(rank_a, rank_b), _RANK_CAP),
            own - max(others_a + others_b, default=0.0),
            min(len(others_a), len(others_b)),
            max(len(others_a), len(others_b)),
            best_common,
        )
    return rows


@dataclass(frozen=True)
class PairwiseModel:
    """Stage-1 additive model + LightGBM booster + operating threshold, with provenance."""

    stage1: ScoringModel
    booster_text: str
    threshold: float = 0.5
    provenance: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must be strictly between 0 and 1")
        booster = self._booster()
        names = tuple(booster.feature_name())
        if names != FEATURES:
            raise ValueError(f"model was trained on features {names}, this code needs {FEATURES}")

    def _booster(self):  # -> lightgbm.Booster, cached on the frozen instance
        cached = self.__dict__.get("_cached_booster")
        if cached is None:
            import lightgbm

            try:
                cached = lightgbm.Booster(model_str=self.booster_text)
            except lightgbm.basic.LightGBMError as exc:
                raise ValueError(f"not a LightGBM model: {exc}") from exc
            object.__setattr__(self, "_cached_booster", cached)
        return cached

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities that each row's pair is the same incident."""
        if len(rows) == 0:
            return np.zeros(0)
        return np.asarray(self._booster().predict(_check(rows)), dtype=float)

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        """TreeSHAP log-odds contributions: one column per feature, then the bias column."""
        if len(rows) == 0:
            return np.zeros((0, len(FEATURES) + 1))
        return np.asarray(self._booster().predict(_check(rows), pred_contrib=True), dtype=float)

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": "tocsin.verify.pairwise",
                "features": list(FEATURES),
                "threshold": self.threshold,
                "provenance": self.provenance,
                "metrics": dict(self.metrics),
                "stage1": json.loads(self.stage1.to_json()),
                "booster": self.booster_text,
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> PairwiseModel:
        try:
            data = json.loads(text)
            if data.get("kind") != "tocsin.verify.pairwise":
                raise ValueError("not a pairwise corroboration model file")
            if tuple(data["features"]) != FEATURES:
                raise ValueError("model file lists other features than this code computes")
            return cls(
                stage1=ScoringModel.from_json(json.dumps(data["stage1"])),
                booster_text=str(data["booster"]),
                threshold=float(data["threshold"]),
                provenance=str(data.get("provenance", "")),
                metrics=dict(data.get("metrics", {})),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a pairwise corroboration model file: {exc}") from exc

    @classmethod
    def default(cls) -> PairwiseModel:
        """The model shipped with Tocsin (see docs/corroboration.md for how it was trained).

        Loaded once per process: engines are built per request and must not re-parse it.
        """
        return _shipped_model()


@lru_cache(maxsize=1)
def _shipped_model() -> PairwiseModel:
    text = resources.files("tocsin.verify").joinpath(MODEL_FILE).read_text("utf-8")
    return PairwiseModel.from_json(text)


def _check(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=float)
    if rows.ndim != 2 or rows.shape[1] != len(FEATURES):
        raise ValueError(f"expected rows of {len(FEATURES)} features, got shape {rows.shape}")
    return rows


def fit_pairwise(
    rows: np.ndarray,
    labels: Sequence[bool],
    stage1: ScoringModel,
    *,
    threshold: float = 0.5,
    provenance: str = "",
    params: Mapping[str, Any] | None = None,
    rounds: int = DEFAULT_ROUNDS,
) -> PairwiseModel:
    """Trains the booster on feature rows built with ``stage1`` (use a training split only)."""
    import lightgbm

    rows = _check(rows)
    y = np.asarray([bool(x) for x in labels])
    if len(y) != len(rows):
        raise ValueError("one label per row")
    if len(set(y.tolist())) < 2:
        raise ValueError("need both matching and non-matching pairs to fit")
    settings = {**DEFAULT_PARAMS, **(params or {})}
    data = lightgbm.Dataset(rows, label=y.astype(float), feature_name=list(FEATURES))
    booster = lightgbm.train(settings, data, num_boost_round=rounds)
    return PairwiseModel(
        stage1=stage1,
        booster_text=booster.model_to_string(),
        threshold=threshold,
        provenance=provenance,
    )


def grouped_contributions(contrib_row: np.ndarray) -> tuple[float, dict[str, float]]:
    """(bias, per-signal sum of feature contributions) for one row of ``contributions``."""
    groups: dict[str, float] = defaultdict(float)
    for name, value in zip(FEATURES, contrib_row[:-1], strict=True):
        groups[FEATURE_SIGNAL[name]] += float(value)
    return float(contrib_row[-1]), dict(groups)


def describe_context(row: np.ndarray) -> str:
    """A plain reading of one pair's CONTEXT_FEATURES for the officer."""
    values = dict(zip(CONTEXT_FEATURES, row, strict=True))
    best, worst = int(values["rank_best"]), int(values["rank_worst"])
    if worst == 0:
        standing = "each other's best match"
    elif best == 0:
        standing = f"best match for one; {worst} better candidate(s) for the other"
    else:
        standing = f"{best}+ better candidate(s) for both"
    parts = [standing, f"lead over the next best {values['margin']:+.2f}"]
    if values["best_common"] >= 0.5:
        parts.append(f"both also match a third record ({values['best_common']:.2f})")
    return ", ".join(parts)
