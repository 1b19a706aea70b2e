"""The cast of a scenario: state forces, armed groups and militias, and the dyads they form.

Counts come from the calibration (distinct actors, dyads per type of violence); which dyads
fight most follows a Zipf law with the fitted exponent. UCDP conventions are kept: state forces
are "Government of <country>", state-based dyads share one conflict "<country>: Government",
non-state and one-sided dyads are their own conflict, and one-sided violence targets
"Civilians" (UCDP actor 9999 / new id 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tocsin.geo.countries import Country
from tocsin.scenario.calibration import Calibration
from tocsin.scenario.names import ARMED_GROUP_PATTERNS, MILITIA_PATTERNS, NameMaker

# Synthetic UCDP-style ids start far above the real ones (real actor/conflict/dyad ids < 100,000).
ACTOR_ID_BASE = 900_000
CONFLICT_ID_BASE = 910_000
DYAD_ID_BASE = 920_000
CIVILIANS_DSET_ID = 9999
CIVILIANS_NEW_ID = 1
CIVILIANS = "Civilians"


@dataclass(frozen=True)
class Actor:
    actor_id: int  # used as both side_*_dset_id and side_*_new_id
    name: str
    kind: str  # "state", "armed_group", "militia", "civilians"


@dataclass(frozen=True)
class Dyad:
    dyad_id: int
    violence: int  # UCDP type_of_violence 1/2/3
    side_a: Actor
    side_b: Actor
    conflict_id: int
    conflict_name: str
    weight: float  # relative frequency within its type of violence

    @property
    def name(self) -> str:
        return f"{self.side_a.name} - {self.side_b.name}"


@dataclass(frozen=True)
class Roster:
    actors: tuple[Actor, ...]
    dyads: tuple[Dyad, ...]


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    ranks = rng.permutation(n) + 1.0
    weights = ranks**-exponent
    return weights / weights.sum()


def build_roster(
    country: Country,
    calibration: Calibration,
    names: NameMaker,
    regions: list[str],
    places: list[str],
    rng: np.random.Generator,
) -> Roster:
    """Actors and dyads; ``regions``/``places`` lend armed groups and militias their names."""
    n_state_dyads = max(1, calibration.dyads["1"])
    n_others = max(calibration.actors - 1, n_state_dyads + 2)
    n_armed = n_state_dyads + (n_others - n_state_dyads + 1) // 2
    government = Actor(ACTOR_ID_BASE, f"Government of {country.name}", "state")
    others = []
    for i in range(n_others):
        if i < n_armed:
            name = names.pick(ARMED_GROUP_PATTERNS, region=str(rng.choice(regions)))
            kind = "armed_group"
        else:
            name = names.pick(MILITIA_PATTERNS, place=str(rng.choice(places)))
            kind = "militia"
        others.append(Actor(ACTOR_ID_BASE + 1 + i, name, kind))
    civilians = Actor(CIVILIANS_DSET_ID, CIVILIANS, "civilians")

    dyads: list[Dyad] = []
    # State-based: the government against the first armed groups, one conflict over government.
    state_conflict = (CONFLICT_ID_BASE, f"{country.name}: Government")
    state_pairs = [(government, others[i]) for i in range(n_state_dyads)]
    # Non-state: pairs of non-state actors, each its own conflict.
    all_pairs = [(a, b) for i, a in enumerate(others) for b in others[i + 1 :]]
    n_non_state = min(max(1, calibration.dyads["2"]), len(all_pairs))
    picked = rng.choice(len(all_pairs), size=n_non_state, replace=False)
    non_state_pairs = [all_pairs[i] for i in sorted(picked)]
    # One-sided: the government and non-state actors against civilians.
    perpetrators = [government, *others]
    n_one_sided = min(max(1, calibration.dyads["3"]), len(perpetrators))
    chosen = [0, *sorted(1 + rng.choice(len(others), size=n_one_sided - 1, replace=False))]
    one_sided_pairs = [(perpetrators[i], civilians) for i in chosen]

    next_dyad = DYAD_ID_BASE
    next_conflict = CONFLICT_ID_BASE + 1
    for violence, pairs in ((1, state_pairs), (2, non_state_pairs), (3, one_sided_pairs)):
        weights = _zipf_weights(len(pairs), calibration.dyad_zipf_exponent, rng)
        for (side_a, side_b), weight in zip(pairs, weights, strict=True):
            if violence == 1:
                conflict_id, conflict_name = state_conflict
            else:
                conflict_id, conflict_name = next_conflict, f"{side_a.name} - {side_b.name}"
                next_conflict += 1
            dyads.append(
                Dyad(next_dyad, violence, side_a, side_b, conflict_id, conflict_name, float(weight))
            )
            next_dyad += 1
    return Roster((government, *others), tuple(dyads))
