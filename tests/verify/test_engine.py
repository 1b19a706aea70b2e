"""Corroboration engine: blocking, signals, scores with reasons, on hand-written records."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tocsin.domain.entities import ActorLink, Event, Provenance
from tocsin.domain.taxonomy import ActorRole, ActType, LocationPrecision, PocThreatCategory
from tocsin.verify.blocking import BlockingConfig, BlockingIndex, day_gap
from tocsin.verify.engine import CorroborationEngine, Relation
from tocsin.verify.records import CandidateRecord, Kind, kinds_for, record_from_event
from tocsin.verify.scoring import (
    SIGNAL_BINS,
    SIGNALS,
    ScoringModel,
    actor_similarity,
    fatality_divergence,
    fit_model,
    pair_evidence,
    place_similarity,
)
from tocsin.verify.text import TextSimilarity, concepts

D = date(2022, 3, 14)


def rec(rid: str, **kw) -> CandidateRecord:
    base = dict(
        id=rid,
        source="sms",
        date_start=D,
        latitude=6.5,
        longitude=20.6,
        location_radius_km=2.0,
        country_iso3="CAF",
    )
    base.update(kw)
    return CandidateRecord(**base)


# -- records ----------------------------------------------------------------------------------


def test_record_rejects_inconsistent_input() -> None:
    with pytest.raises(ValueError, match="date_end"):
        rec("a", date_end=D - timedelta(days=1))
    with pytest.raises(ValueError, match="together"):
        rec("a", latitude=None)
    with pytest.raises(ValueError, match="out of range"):
        rec("a", latitude=91.0)
    with pytest.raises(ValueError, match="negative"):
        rec("a", fatalities=-1)
    with pytest.raises(ValueError, match="id"):
        rec("")


def test_record_from_event_maps_vocabularies() -> None:
    event = Event(
        provenance=Provenance("odk", "uuid:1"),
        date_start=D,
        date_end=D,
        latitude=6.5,
        longitude=20.6,
        location_precision=LocationPrecision.ADMIN2,
        act_types=(ActType.KILLING,),
        threat_category=PocThreatCategory.ATTACK_ON_CIVILIANS,
        actors=(ActorLink("UPC", ActorRole.PERPETRATOR),),
        fatalities_best=4,
        place_name="Bambari",
        description="Attack on the market",
    )
    record = record_from_event(event)
    assert record.id == event.uid and record.source == "odk"
    assert record.location_radius_km == 50.0
    assert Kind.LETHAL_VIOLENCE in record.kinds and Kind.INJURY in record.kinds
    assert record.actors == ("UPC",) and "Bambari" in record.text
    assert record.place == "Bambari"


# -- blocking ---------------------------------------------------------------------------------


def test_blocking_finds_near_and_skips_far() -> None:
    index = BlockingIndex(BlockingConfig(max_gap_days=3, max_distance_km=30))
    near = rec("near", latitude=6.6, longitude=20.7)  # ~15 km
    late = rec("late", date_start=D + timedelta(days=9))
    far = rec("far", latitude=8.0)  # ~165 km
    other_side_of_cell = rec("edge", latitude=6.49, longitude=20.49)  # across a 0.5 deg line
    index.add_many([near, late, far, other_side_of_cell])
    found = {r.id for r in index.candidates(rec("q"))}
    assert found == {"near", "edge"}


def test_blocking_coarse_records_meet_by_country() -> None:
    index = BlockingIndex()
    vague = rec("vague", latitude=None, longitude=None, location_radius_km=None)
    elsewhere = rec("elsewhere", latitude=None, longitude=None, country_iso3="SSD")
    precise = rec("precise")
    index.add_many([vague, elsewhere, precise])
    assert {r.id for r in index.candidates(precise)} == {"vague"}
    assert {r.id for r in index.candidates(vague)} == {"precise"}
    # No country and no point: nothing to block on, so no candidates rather than the world.
    assert index.candidates(rec("lost", latitude=None, longitude=None, country_iso3=None)) == []


def test_blocking_is_symmetric_for_mixed_precision() -> None:
    index = BlockingIndex(BlockingConfig(max_distance_km=20))
    wide = rec("wide", latitude=7.3, location_radius_km=100.0)  # ~90 km away, radius 100
    tight = rec("tight")
    index.add_many([wide, tight])
    assert [r.id for r in index.candidates(tight)] == ["wide"]
    assert [r.id for r in index.candidates(wide)] == ["tight"]


def test_blocking_deduplicated_sources_and_removal() -> None:
    index = BlockingIndex(BlockingConfig(deduplicated_sources=frozenset({"ucdp_ged"})))
    a = rec("a", source="ucdp_ged")
    b = rec("b", source="ucdp_ged")
    c = rec("c", source="sms")
    index.add_many([a, b, c])
    assert {r.id for r in index.candidates(a)} == {"c"}
    index.remove("c")
    assert index.candidates(a) == []
    with pytest.raises(ValueError, match="already indexed"):
        index.add(a)


def test_day_gap_between_ranges() -> None:
    a = rec("a", date_end=D + timedelta(days=6))
    assert day_gap(a, rec("b", date_start=D + timedelta(days=3))) == 0
    assert day_gap(a, rec("c", date_start=D + timedelta(days=9))) == 3
    assert day_gap(rec("d", date_start=D + timedelta(days=9)), a) == 3


def test_blocking_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        BlockingConfig(max_distance_km=0)


# -- signals ----------------------------------------------------------------------------------


def test_concepts_bridge_languages() -> None:
    en = concepts("Armed men killed 4 civilians and burned the village")
    fr = concepts("Des hommes armés ont tué 4 civils et brûlé le village")
    ar = concepts("مسلحون قتلوا أربعة مدنيين في القرية")
    assert {"KILL", "REBEL", "VILLAGE", "BURN"} <= en & fr
    assert {"KILL", "VILLAGE"} <= ar
    assert concepts("") == frozenset()
    assert "LOOT" not in concepts("volontaires")  # short stems need near-whole words


def test_text_overlap_favours_shared_names_and_handles_empty() -> None:
    sim = TextSimilarity().fit(
        ["ALERT Ndele KIL 4", "Attaque à Ndélé, quatre civils tués", "Fighting in Bria", ""]
    )
    vec = sim.vectors(["ALERT Ndele KIL 4", "Attaque à Ndélé, 4 civils tués", "Fighting in Bria"])
    same = TextSimilarity.overlap_rows(vec[0], vec[1])[0]
    other = TextSimilarity.overlap_rows(vec[0], vec[2])[0]
    assert same > other
    empty = sim.vectors([""])
    assert TextSimilarity.overlap_rows(empty, vec[0])[0] == 0.0
    with pytest.raises(RuntimeError):
        TextSimilarity().vectors(["x"])


def test_actor_similarity_ignores_generic_words_and_uses_aliases() -> None:
    assert actor_similarity(["Civilians"], ["UPC"]) is None  # nothing specific on one side
    sim, _, _ = actor_similarity(["anti-Balaka"], ["antibalaka milice"])
    assert sim > 0.4
    low, _, _ = actor_similarity(["UPC"], ["FPRC"])
    assert low < 0.2
    resolved, _, _ = actor_similarity(
        ["FACA"],
        ["Government of Central African Republic"],
        resolve=lambda n: {"faca": "central african republic"}.get(n, n),
    )
    assert resolved == 1.0


def test_place_similarity_contains_short_names() -> None:
    assert place_similarity("Ndele", "Ndélé town, Bamingui-Bangoran") == 1.0
    assert place_similarity("Bria", "Kaga Bandoro") < 0.2
    assert place_similarity(None, "Bria") is None
    assert place_similarity("...", "Bria") is None


def test_fatality_divergence_is_forgiving_for_small_counts() -> None:
    assert fatality_divergence(3, 3) == 0.0
    assert fatality_divergence(None, 3) is None
    assert fatality_divergence(0, 1) == pytest.approx(fatality_divergence(49, 99), abs=0.02)


def test_pair_evidence_marks_missing_signals() -> None:
    a = rec("a", latitude=None, longitude=None, location_radius_km=None)
    b = rec("b", kinds=kinds_for((ActType.KILLING,)))
    ev = pair_evidence(a, b, text_overlap=None, concepts_a=frozenset(), concepts_b=frozenset())
    assert ev.values["space"] is None and ev.values["kind"] is None
    assert ev.values["time"] == 0.0
    assert "unknown" in ev.details["space"]


# -- model ------------------------------------------------------------------------------------


def _toy_training() -> tuple[list, list[bool]]:
    """Hand-made pairs: matches are close in space and time, non-matches are not."""
    evidence, labels = [], []
    for i in range(40):
        match = i % 2 == 0
        a = rec(f"a{i}", fatalities=3)
        b = rec(
            f"b{i}",
            latitude=6.5 + (0.01 if match else 0.4),
            date_start=D + timedelta(days=0 if match else 6),
            fatalities=3 if match else 30,
        )
        evidence.append(
            pair_evidence(
                a,
                b,
                text_overlap=0.8 if match else 0.1,
                concepts_a=frozenset({"KILL"}),
                concepts_b=frozenset({"KILL"}),
            )
        )
        labels.append(match)
    return evidence, labels


def test_fit_model_separates_and_round_trips_json() -> None:
    evidence, labels = _toy_training()
    model = fit_model(evidence, labels, threshold=0.6, provenance="toy")
    scores = [model.score(e)[0] for e in evidence]
    assert min(s for s, y in zip(scores, labels, strict=True) if y) > 0.6
    assert max(s for s, y in zip(scores, labels, strict=True) if not y) < 0.4
    # A missing signal contributes nothing: weights are expressed relative to "unknown".
    assert all(w.missing == 0.0 for w in model.signals.values())
    again = ScoringModel.from_json(model.to_json())
    assert again.score(evidence[0])[0] == pytest.approx(model.score(evidence[0])[0])
    # The reason's contributions add up to the logit.
    score, signals = model.score(evidence[0])
    import math

    logit = model.intercept + sum(s.contribution for s in signals)
    assert score == pytest.approx(1 / (1 + math.exp(-logit)))


def test_fit_model_rejects_bad_input() -> None:
    evidence, labels = _toy_training()
    with pytest.raises(ValueError, match="both"):
        fit_model(evidence, [True] * len(evidence))
    with pytest.raises(ValueError, match="one label"):
        fit_model(evidence, labels[:-1])


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"intercept": 0}),
        json.dumps({"intercept": 0, "signals": {}}),
        ScoringModel.neutral().to_json().replace('"threshold": 0.5', '"threshold": 1.5'),
        ScoringModel.neutral().to_json().replace("0.1,", "0.2,", 1),  # other bin edges
    ],
)
def test_model_file_errors_are_clear(text: str) -> None:
    with pytest.raises(ValueError):
        ScoringModel.from_json(text)


def test_shipped_model_loads_and_is_calibrated() -> None:
    model = ScoringModel.default()
    assert set(model.signals) == set(SIGNALS)
    assert "bench/corroboration.py" in model.provenance
    for name, weights in model.signals.items():
        assert len(weights.bins) == len(SIGNAL_BINS[name]) + 1
    # Sanity of the calibration: same place beats far apart, same day beats a week apart.
    assert model.signals["space"].bins[0] > model.signals["space"].bins[-1]
    assert model.signals["time"].bins[0] > model.signals["time"].bins[-1]


# -- engine -----------------------------------------------------------------------------------


def _scenario() -> list[CandidateRecord]:
    killing = kinds_for((ActType.KILLING,), PocThreatCategory.ATTACK_ON_CIVILIANS)
    return [
        rec("sms-1", text="ALERT Ndele KIL 4", kinds=killing, fatalities=4),
        rec(
            "web-1",
            source="web",
            latitude=6.52,
            longitude=20.61,
            location_radius_km=25.0,
            date_start=D + timedelta(days=1),
            actors=("anti-Balaka",),
            kinds=killing,
            fatalities=5,
            text="Des hommes armés anti-Balaka ont tué 5 civils à Ndélé",
        ),
        rec(
            "odk-1",
            source="odk",
            latitude=6.9,
            longitude=21.3,
            date_start=D + timedelta(days=4),
            actors=("FPRC",),
            kinds=kinds_for((ActType.LOOTING,)),
            fatalities=0,
            text="Pillage du marché de Bamingui par le FPRC",
        ),
        rec(
            "sms-2",
            latitude=6.5,
            longitude=20.6,
            date_start=D + timedelta(days=60),
            text="ALERT Ndele KIL 4",
            fatalities=4,
        ),
    ]


def test_engine_suggests_the_duplicate_with_reasons() -> None:
    engine = CorroborationEngine(ScoringModel.default())
    engine.add_many(_scenario())
    suggestions = engine.suggest("sms-1", min_score=0.0)
    ids = [s.candidate_id for s in suggestions]
    assert ids[0] == "web-1"
    assert "sms-2" not in ids  # two months later: never even a candidate
    top = suggestions[0]
    assert top.relation is Relation.CORROBORATION  # another channel
    unrelated = engine.compare(engine.index.get("sms-1"), engine.index.get("odk-1"))
    assert top.score > 0.5 > unrelated.score
    assert "distance" in top.reason and "km apart" in top.reason
    assert top.signals[0].contribution == max(abs(s.contribution) for s in top.signals)


def test_engine_relation_and_unindexed_queries() -> None:
    engine = CorroborationEngine(ScoringModel.default())
    engine.add_many(_scenario())
    query = rec("sms-new", text="ALERT Ndele KIL 4", fatalities=4)  # not indexed
    suggestions = engine.suggest(query, min_score=0.0)
    assert suggestions and suggestions[0].candidate_id == "sms-1"
    assert suggestions[0].relation is Relation.DUPLICATE  # same channel twice
    assert engine.suggest(query, min_score=0.0, limit=0) == []


def test_engine_batch_and_single_scoring_agree() -> None:
    engine = CorroborationEngine(ScoringModel.default())
    engine.add_many(_scenario())
    batch = {(s.record_id, s.candidate_id): s.score for s in engine.all_suggestions(0.0)}
    assert batch
    for (a, b), score in batch.items():
        single = engine.compare(engine.index.get(a), engine.index.get(b))
        assert single.score == pytest.approx(score, abs=1e-6)


def test_engine_remove_and_refit() -> None:
    engine = CorroborationEngine(ScoringModel.default())
    engine.add_many(_scenario())
    engine.remove("web-1")
    assert "web-1" not in [s.candidate_id for s in engine.suggest("sms-1", min_score=0.0)]
    engine.refit()
    assert len(engine) == 3
    engine.add(rec("web-2", source="web", text="ALERT Ndele KIL 4", fatalities=4))
    assert [s.candidate_id for s in engine.suggest("sms-1", min_score=0.0)] == ["web-2"]


def test_compare_works_on_an_empty_engine() -> None:
    engine = CorroborationEngine(ScoringModel.default())
    result = engine.compare(rec("x", text="ALERT Bria KIL 2"), rec("y", text="ALERT Bria KIL 2"))
    assert 0.0 < result.score < 1.0
