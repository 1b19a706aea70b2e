"""Pair features for the learned corroboration model, beyond the eight scoring signals.

The additive model in ``scoring.py`` sees each signal on its own. The learned model
(``pairwise.py``) also sees the raw measurements behind them and a few cross-field checks that
catch what a single field misses:

- the place one report names, looked for in the *other* report's words ("ALERT Wukro CLASH 1"
  has no place field but its text names the place the form filled in);
- actors named only in the text ("Fighting between OLA and ENDF in ...") matched against the
  actors of the other record, using every actor name the engine has seen in an actor field;
- numbers in the two texts (a count or a date written the same way).

All functions are pure; the engine caches the per-record parts.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from tocsin.geo.distance import haversine_km
from tocsin.verify.records import CandidateRecord
from tocsin.verify.scoring import (
    SIGNALS,
    ActorResolver,
    PairEvidence,
    actor_similarity,
    actor_tokens,
)
from tocsin.verify.text import fold

# Raw measurements and cross-field checks, in the order the model file lists them.
EXTRA_FEATURES: tuple[str, ...] = (
    "points",  # how many of the two records carry a usable point (0, 1, 2)
    "km",  # distance in km between the points (missing unless both have one)
    "radius_max",  # the vaguer record's location radius (km; 200 when it has no point)
    "radius_min",
    "span_days",  # the longer of the two date ranges, in days
    "actor_any",  # actor similarity over actor fields plus actors named in the text
    "place_in_text",  # share of one record's place-name trigrams found in the other's text
    "number_overlap",  # Jaccard of the numbers written in the two texts
)
PAIR_FEATURES: tuple[str, ...] = SIGNALS + EXTRA_FEATURES

_NO_POINT_RADIUS_KM = 200.0
_NUMBER = re.compile(r"(?<!\d)\d{1,4}(?!\d)")
_MISSING = math.nan


def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of the folded text, words padded with spaces."""
    folded = " " + " ".join(fold(text).split()) + " "
    return frozenset(folded[i : i + 3] for i in range(len(folded) - 2))


def numbers(text: str) -> frozenset[str]:
    return frozenset(n.lstrip("0") or "0" for n in _NUMBER.findall(text))


@dataclass(frozen=True, slots=True)
class TextProfile:
    """What the cross-field checks need from one record's text, computed once."""

    grams: frozenset[str]
    numbers: frozenset[str]
    folded: str  # " word word ... " for whole-word actor look-ups

    @classmethod
    def of(cls, record: CandidateRecord) -> TextProfile:
        return cls(
            grams=trigrams(record.text),
            numbers=numbers(record.text),
            folded=" " + " ".join(fold(record.text).split()) + " ",
        )


class ActorVocabulary:
    """Actor names seen in actor fields, to find them again in free text.

    Only names with a distinguishing word (after dropping "armed men", "civilians", ...) and at
    least three characters are kept: "UPC" is worth finding in a text, "men" is not.
    """

    def __init__(self, resolve: ActorResolver) -> None:
        self._resolve = resolve
        self._folded: dict[str, str] = {}
        self._order: dict[str, int] = {}
        # Names by their first folded word: a text is only checked against names whose first
        # word it contains, so a look-up costs the text's length, not the vocabulary's size.
        self._by_first_word: dict[str, list[str]] = defaultdict(list)
        self.version = 0

    def __len__(self) -> int:
        return len(self._folded)

    def add(self, names: Iterable[str]) -> None:
        for name in names:
            if name in self._folded:
                continue
            folded = " ".join(fold(name).split())
            if len(folded) < 3 or not actor_tokens(name, self._resolve):
                continue
            self._folded[name] = f" {folded} "
            self._order[name] = len(self._order)
            self._by_first_word[folded.split()[0]].append(name)
            self.version += 1

    def mentioned(self, profile: TextProfile) -> tuple[str, ...]:
        """Known actor names that occur as whole words in the text, in the order added."""
        words = set(profile.folded.split())
        hits = {
            name
            for word in words
            for name in self._by_first_word.get(word, ())
            if self._folded[name] in profile.folded
        }
        return tuple(sorted(hits, key=self._order.__getitem__))


def place_in_text(place: str | None, other: TextProfile) -> float | None:
    if not place:
        return None
    grams = trigrams(place)
    if not grams:
        return None
    return len(grams & other.grams) / len(grams)


def extra_features(
    a: CandidateRecord,
    b: CandidateRecord,
    *,
    profile_a: TextProfile,
    profile_b: TextProfile,
    mentioned_a: tuple[str, ...],
    mentioned_b: tuple[str, ...],
    resolve: ActorResolver,
) -> dict[str, float]:
    """The EXTRA_FEATURES of one pair; NaN marks a feature that cannot be measured."""
    out: dict[str, float] = dict.fromkeys(EXTRA_FEATURES, _MISSING)
    out["points"] = float(a.has_point) + float(b.has_point)
    if a.has_point and b.has_point:
        out["km"] = haversine_km(a.latitude, a.longitude, b.latitude, b.longitude)  # type: ignore[arg-type]
    radii = [
        (r.location_radius_km or _NO_POINT_RADIUS_KM) if r.has_point else _NO_POINT_RADIUS_KM
        for r in (a, b)
    ]
    out["radius_max"], out["radius_min"] = max(radii), min(radii)
    out["span_days"] = float(
        max((a.last_date - a.date_start).days, (b.last_date - b.date_start).days)
    )
    actors = actor_similarity(
        tuple(dict.fromkeys(a.actors + mentioned_a)),
        tuple(dict.fromkeys(b.actors + mentioned_b)),
        resolve,
    )
    if actors is not None:
        out["actor_any"] = actors[0]
    found = [
        x
        for x in (place_in_text(a.place, profile_b), place_in_text(b.place, profile_a))
        if x is not None
    ]
    if found:
        out["place_in_text"] = max(found)
    if profile_a.numbers and profile_b.numbers:
        shared = profile_a.numbers & profile_b.numbers
        out["number_overlap"] = len(shared) / len(profile_a.numbers | profile_b.numbers)
    return out


def pair_row(evidence: PairEvidence, extra: dict[str, float]) -> list[float]:
    """One row of PAIR_FEATURES: the eight signals (NaN when missing), then the extras."""
    row = [_MISSING if evidence.values[n] is None else float(evidence.values[n]) for n in SIGNALS]  # type: ignore[arg-type]
    return row + [extra[n] for n in EXTRA_FEATURES]
