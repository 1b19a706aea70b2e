"""Pairwise evidence that two records describe the same incident, and an explainable score.

Seven signals are measured for a pair (distance, date gap, actor similarity, type overlap,
fatality agreement, wording overlap, shared facts); a signal that cannot be measured (a field
missing on either side) is "missing", which is evidence in itself and gets its own weight.

The score is an additive model: each signal's value falls into one of a few fixed bins, each bin
has a learned weight, and ``score = sigmoid(intercept + sum of the signals' bin weights)``. A
step function per signal captures shapes a single linear weight cannot (a 1-day gap is nearly as
good as 0 days, a 5-day gap is not) while each signal's share of the evidence stays exactly its
bin weight: that number is the "reason" shown to the officer. Weights are calibrated on a
training split (bench/corroboration.py) and shipped as JSON next to this module.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from tocsin.geo.distance import haversine_km
from tocsin.verify.blocking import day_gap
from tocsin.verify.records import CandidateRecord
from tocsin.verify.text import fold, jaccard

SIGNALS: tuple[str, ...] = (
    "space",
    "time",
    "place",
    "actor",
    "kind",
    "fatalities",
    "text",
    "concepts",
)

SIGNAL_LABELS: dict[str, str] = {
    "space": "distance",
    "time": "dates",
    "place": "place names",
    "actor": "actors",
    "kind": "incident type",
    "fatalities": "fatalities",
    "text": "wording",
    "concepts": "facts named in the text",
    # Not a scoring signal: the learned model's reading of the neighbourhood (pairwise.py).
    "context": "other candidates",
}

# Words that say nothing about *which* actor it was. "Civilians" is the target of almost every
# one-sided event, "unidentified armed men" could be anyone: neither should make two records look
# alike.
_GENERIC_ACTOR_WORDS = frozenset(
    {
        "civilians",
        "civilian",
        "civils",
        "civil",
        "population",
        "unknown",
        "unidentified",
        "inconnu",
        "inconnus",
        "non",
        "identifie",
        "identifies",
        "armed",
        "arme",
        "armes",
        "men",
        "hommes",
        "group",
        "groupe",
        "gunmen",
        "assailants",
        "assaillants",
        "individuals",
        "individus",
        "the",
        "of",
        "de",
        "du",
        "des",
        "la",
        "le",
        "les",
        "and",
        "et",
        "government",
        "gouvernement",
        "forces",
        "force",
    }
)
_TOKEN = re.compile(r"\w+", re.UNICODE)

ActorResolver = Callable[[str], str]


def _identity(name: str) -> str:
    return name


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence: its value in [-1, 1], what it means, and its weight in the score."""

    name: str
    value: float
    detail: str
    contribution: float

    @property
    def label(self) -> str:
        return SIGNAL_LABELS[self.name]

    def describe(self) -> str:
        return f"{self.label}: {self.detail} ({self.contribution:+.2f})"


def actor_tokens(name: str, resolve: ActorResolver = _identity) -> frozenset[str]:
    """The distinguishing words of an actor name, after alias resolution."""
    canonical = resolve(fold(name))
    return frozenset(t for t in _TOKEN.findall(canonical) if t not in _GENERIC_ACTOR_WORDS)


def _trigrams(tokens: frozenset[str]) -> frozenset[str]:
    grams: set[str] = set()
    for token in tokens:
        padded = f" {token} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


@lru_cache(maxsize=65_536)
def _actor_profile(name: str, resolve: ActorResolver) -> tuple[frozenset[str], frozenset[str]]:
    # Cached: the same few hundred actor names recur in every comparison.
    tokens = actor_tokens(name, resolve)
    return tokens, _trigrams(tokens)


@lru_cache(maxsize=65_536)
def _place_grams(name: str) -> frozenset[str]:
    return _trigrams(frozenset(_TOKEN.findall(fold(name))))


def actor_similarity(
    a: Sequence[str], b: Sequence[str], resolve: ActorResolver = _identity
) -> tuple[float, str, str] | None:
    """Best match between two actor lists: (similarity in [0, 1], name a, name b).

    ``None`` when either side names no specific actor. Trigram overlap, rather than equality,
    lets "Ethiopian army" meet "Government of Ethiopia" and "anti-Balaka" meet "antibalaka".
    """
    sides_a = [(n, *_actor_profile(n, resolve)) for n in a]
    sides_b = [(n, *_actor_profile(n, resolve)) for n in b]
    sides_a = [x for x in sides_a if x[1]]
    sides_b = [x for x in sides_b if x[1]]
    if not sides_a or not sides_b:
        return None
    best: tuple[float, str, str] = (-1.0, "", "")
    for name_a, tok_a, grams_a in sides_a:
        for name_b, tok_b, grams_b in sides_b:
            sim = 1.0 if tok_a == tok_b else jaccard(grams_a, grams_b)
            if sim > best[0]:
                best = (sim, name_a, name_b)
    return best


def place_similarity(a: str | None, b: str | None) -> float | None:
    """Trigram containment of two place names: 1 when one name contains the other.

    Containment (shared / smaller) rather than Jaccard, because one source writes "Ndele" and
    another "Ndélé town, Bamingui-Bangoran": the short name is wholly inside the long one.
    """
    if not a or not b:
        return None
    ga = _place_grams(a)
    gb = _place_grams(b)
    if not ga or not gb:
        return None
    return len(ga & gb) / min(len(ga), len(gb))


def fatality_divergence(a: int | None, b: int | None) -> float | None:
    """|log((a + 1) / (b + 1))|: 0 when the counts match; ``None`` if either is unknown.

    On a log scale with +1 smoothing, "0 vs 1" (0.69) is as far as "50 vs 100" (0.68): early
    counts of small incidents are off by one all the time, big tolls are off by half.
    """
    if a is None or b is None:
        return None
    return abs(math.log((a + 1) / (b + 1)))


@dataclass(frozen=True, slots=True)
class PairEvidence:
    """Raw signal values for one pair (``None`` = missing), before weighting.

    Values: ``space`` distance in units of the pair's combined location uncertainty (0 = same
    point); ``time`` days between the date ranges; the others are similarities in [0, 1].
    """

    values: Mapping[str, float | None]
    details: Mapping[str, str]


def location_scale_km(a: CandidateRecord, b: CandidateRecord) -> float:
    """How far apart two points of this precision may be and still be "the same place".

    Two map taps 5 km apart are far; two district centroids 40 km apart are not.
    """
    return 5.0 + 0.5 * ((a.location_radius_km or 25.0) + (b.location_radius_km or 25.0))


def pair_evidence(
    a: CandidateRecord,
    b: CandidateRecord,
    *,
    text_overlap: float | None,
    concepts_a: frozenset[str],
    concepts_b: frozenset[str],
    resolve: ActorResolver = _identity,
) -> PairEvidence:
    values: dict[str, float | None] = dict.fromkeys(SIGNALS)
    details: dict[str, str] = {}

    if a.has_point and b.has_point:
        km = haversine_km(a.latitude, a.longitude, b.latitude, b.longitude)  # type: ignore[arg-type]
        values["space"] = km / location_scale_km(a, b)
        details["space"] = f"{km:.1f} km apart"
    else:
        details["space"] = "location unknown on one side"

    gap = day_gap(a, b)
    values["time"] = float(gap)
    details["time"] = "same dates" if gap == 0 else f"{gap} day{'s' if gap != 1 else ''} apart"

    place = place_similarity(a.place, b.place)
    if place is None:
        details["place"] = "not named on one side"
    else:
        values["place"] = place
        details["place"] = f"'{a.place}' ~ '{b.place}' ({place:.2f})"

    actors = actor_similarity(a.actors, b.actors, resolve)
    if actors is None:
        details["actor"] = "not named on one side"
    else:
        sim, name_a, name_b = actors
        values["actor"] = sim
        details["actor"] = (
            f"'{name_a}' = '{name_b}'" if sim >= 0.999 else f"'{name_a}' ~ '{name_b}' ({sim:.2f})"
        )

    if a.kinds and b.kinds:
        values["kind"] = jaccard(a.kinds, b.kinds)
        shared = sorted(a.kinds & b.kinds)
        details["kind"] = f"both {', '.join(shared)}" if shared else "different types"
    else:
        details["kind"] = "unknown on one side"

    fat = fatality_divergence(a.fatalities, b.fatalities)
    if fat is None:
        details["fatalities"] = "unknown on one side"
    else:
        values["fatalities"] = fat
        details["fatalities"] = f"{a.fatalities} vs {b.fatalities}"

    if text_overlap is None:
        details["text"] = "no text on one side"
    else:
        values["text"] = text_overlap
        details["text"] = f"overlap {text_overlap:.2f}"

    if concepts_a and concepts_b:
        values["concepts"] = jaccard(concepts_a, concepts_b)
        shared_c = sorted(concepts_a & concepts_b)
        details["concepts"] = (
            f"both mention {', '.join(c.lower() for c in shared_c)}" if shared_c else "none shared"
        )
    else:
        details["concepts"] = "none recognised on one side"
    return PairEvidence(values=values, details=details)


# Bin edges per signal: a value v falls in bin i where edges[i-1] <= v < edges[i]. They are
# fixed (not learned) so that every weight has a plain meaning, e.g. "1 day apart".
SIGNAL_BINS: dict[str, tuple[float, ...]] = {
    "space": (0.1, 0.25, 0.5, 1.0, 2.0, 4.0),
    "time": (0.5, 1.5, 2.5, 4.5, 7.5),
    "place": (0.2, 0.4, 0.6, 0.8, 0.95),
    "actor": (0.3, 0.5, 0.7, 0.95),
    "kind": (0.01, 0.4, 0.6, 0.99),
    "fatalities": (0.1, 0.3, 0.6, 1.0, 1.6),
    "text": (0.1, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8),
    "concepts": (0.01, 0.3, 0.6, 0.99),
}


def bin_index(name: str, value: float) -> int:
    return bisect.bisect_right(SIGNAL_BINS[name], value)


@dataclass(frozen=True, slots=True)
class SignalWeights:
    """One weight per bin of a signal, plus the weight of the signal being missing."""

    bins: tuple[float, ...]
    missing: float

    def contribution(self, name: str, value: float | None) -> float:
        return self.missing if value is None else self.bins[bin_index(name, value)]


@dataclass(frozen=True, slots=True)
class ScoringModel:
    """An additive model over binned signals. Serialisable, so a calibration can be shipped."""

    intercept: float
    signals: Mapping[str, SignalWeights]
    threshold: float = 0.5
    provenance: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.signals) - set(SIGNALS)
        missing = set(SIGNALS) - set(self.signals)
        if unknown or missing:
            raise ValueError(
                f"model must weigh exactly {SIGNALS}; unknown {sorted(unknown)}, "
                f"missing {sorted(missing)}"
            )
        for name, weights in self.signals.items():
            if len(weights.bins) != len(SIGNAL_BINS[name]) + 1:
                raise ValueError(
                    f"signal {name!r} needs {len(SIGNAL_BINS[name]) + 1} bin weights, "
                    f"got {len(weights.bins)}"
                )
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must be strictly between 0 and 1")
        numbers = [self.intercept]
        for weights in self.signals.values():
            numbers += [*weights.bins, weights.missing]
        if not all(math.isfinite(w) for w in numbers):
            raise ValueError("model weights must be finite numbers")

    @classmethod
    def neutral(cls, threshold: float = 0.5) -> ScoringModel:
        """All weights zero: every pair scores 0.5. Useful as a placeholder before fitting."""
        return cls(
            intercept=0.0,
            signals={n: SignalWeights((0.0,) * (len(SIGNAL_BINS[n]) + 1), 0.0) for n in SIGNALS},
            threshold=threshold,
        )

    def score(self, evidence: PairEvidence) -> tuple[float, tuple[Signal, ...]]:
        """Score in (0, 1) and the signals ordered by how much they weighed."""
        logit = self.intercept
        signals: list[Signal] = []
        for name in SIGNALS:
            value = evidence.values[name]
            contribution = self.signals[name].contribution(name, value)
            logit += contribution
            signals.append(
                Signal(
                    name=name,
                    value=float("nan") if value is None else value,
                    detail=evidence.details.get(name, ""),
                    contribution=contribution,
                )
            )
        signals.sort(key=lambda s: -abs(s.contribution))
        return _sigmoid(logit), tuple(signals)

    def to_json(self) -> str:
        return json.dumps(
            {
                "intercept": self.intercept,
                "signals": {
                    name: {
                        "edges": list(SIGNAL_BINS[name]),
                        "bins": list(w.bins),
                        "missing": w.missing,
                    }
                    for name, w in self.signals.items()
                },
                "threshold": self.threshold,
                "provenance": self.provenance,
                "metrics": dict(self.metrics),
            },
            indent=2,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ScoringModel:
        try:
            data = json.loads(text)
            signals = {}
            for name, spec in data["signals"].items():
                if name in SIGNAL_BINS and tuple(spec["edges"]) != SIGNAL_BINS[name]:
                    raise ValueError(f"signal {name!r} was fitted with other bin edges")
                signals[name] = SignalWeights(
                    bins=tuple(float(x) for x in spec["bins"]), missing=float(spec["missing"])
                )
            return cls(
                intercept=float(data["intercept"]),
                signals=signals,
                threshold=float(data.get("threshold", 0.5)),
                provenance=str(data.get("provenance", "")),
                metrics=dict(data.get("metrics", {})),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a corroboration model file: {exc}") from exc

    @classmethod
    def default(cls) -> ScoringModel:
        """The calibration shipped with Tocsin (see docs/verification.md for how it was made)."""
        text = resources.files("tocsin.verify").joinpath("model.json").read_text("utf-8")
        return cls.from_json(text)


def _design_row(evidence: PairEvidence) -> list[float]:
    """One-hot of each signal's bin, plus a "missing" column per signal."""
    row: list[float] = []
    for name in SIGNALS:
        width = len(SIGNAL_BINS[name]) + 1
        cells = [0.0] * (width + 1)
        value = evidence.values[name]
        cells[width if value is None else bin_index(name, value)] = 1.0
        row += cells
    return row


def fit_model(
    evidence: Sequence[PairEvidence],
    labels: Sequence[bool],
    *,
    threshold: float = 0.5,
    provenance: str = "",
    regularization: float = 1.0,
) -> ScoringModel:
    """Fits the bin weights by L2-regularised logistic regression (use a training split only)."""
    from sklearn.linear_model import LogisticRegression

    if len(evidence) != len(labels):
        raise ValueError("one label per pair")
    if len(set(labels)) < 2:
        raise ValueError("need both matching and non-matching pairs to fit")
    clf = LogisticRegression(C=regularization, max_iter=2000)
    clf.fit([_design_row(e) for e in evidence], [bool(x) for x in labels])
    coef = [float(c) for c in clf.coef_[0]]
    intercept = float(clf.intercept_[0])
    signals: dict[str, SignalWeights] = {}
    pos = 0
    for name in SIGNALS:
        width = len(SIGNAL_BINS[name]) + 1
        missing = coef[pos + width]
        # Re-express each signal relative to "missing" (an exactly equivalent model): then a
        # signal we could not measure contributes 0 and every other contribution reads as
        # "evidence compared with not knowing", which is what the officer's reason should say.
        intercept += missing
        signals[name] = SignalWeights(
            bins=tuple(w - missing for w in coef[pos : pos + width]), missing=0.0
        )
        pos += width + 1
    return ScoringModel(
        intercept=intercept,
        signals=signals,
        threshold=threshold,
        provenance=provenance,
    )


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
