"""Learned corroboration model: pair features, context, model file, engine integration.

Every record here is written by hand; nothing comes from the shared data.
"""

from __future__ import annotations

import json
import math
import random
from datetime import date, timedelta

import numpy as np
import pytest

from tocsin.domain.taxonomy import ActType, PocThreatCategory
from tocsin.verify.engine import CorroborationEngine, Relation
from tocsin.verify.features import (
    EXTRA_FEATURES,
    PAIR_FEATURES,
    ActorVocabulary,
    TextProfile,
    extra_features,
    numbers,
    place_in_text,
    trigrams,
)
from tocsin.verify.pairwise import (
    CONTEXT_FEATURES,
    FEATURE_SIGNAL,
    FEATURES,
    PairwiseModel,
    context_rows,
    describe_context,
    fit_pairwise,
    grouped_contributions,
)
from tocsin.verify.records import CandidateRecord, kinds_for
from tocsin.verify.scoring import SIGNAL_LABELS, ScoringModel
from tocsin.verify.text import TextSimilarity

D = date(2021, 7, 3)
KILLING = kinds_for((ActType.KILLING,), PocThreatCategory.ATTACK_ON_CIVILIANS)


def rec(rid: str, **kw) -> CandidateRecord:
    base = dict(
        id=rid,
        source="sms",
        date_start=D,
        latitude=9.5,
        longitude=31.6,
        location_radius_km=2.0,
        country_iso3="SSD",
    )
    base.update(kw)
    return CandidateRecord(**base)


def _identity(name: str) -> str:
    return name


# -- features ---------------------------------------------------------------------------------


def test_trigrams_and_numbers_fold_text() -> None:
    assert trigrams("Malakal") == trigrams("MALAKAL") == trigrams("Malakal!")
    assert " ma" in trigrams("Malakal")
    assert numbers("ALERT Malakal KIL 04 on 2021-07-03") == frozenset({"4", "2021", "7", "3"})
    assert numbers("no digits") == frozenset()
    assert numbers("123456789") == frozenset()  # phone-like runs are not counts


def test_place_in_text_finds_a_place_named_only_in_the_other_text() -> None:
    other = TextProfile.of(rec("b", text="ALERTE Malakal TUE 3"))
    assert place_in_text("Malakal", other) == 1.0
    assert place_in_text("Nasir", other) < 0.3
    assert place_in_text(None, other) is None
    assert place_in_text("!!", other) is None


def test_actor_vocabulary_skips_generic_names_and_finds_whole_words() -> None:
    vocab = ActorVocabulary(_identity)
    vocab.add(["SPLA-IO", "armed men", "civilians", "ab", "White Army"])
    assert len(vocab) == 2 and vocab.version == 2
    vocab.add(["SPLA-IO"])  # already known: no new version
    assert vocab.version == 2
    found = vocab.mentioned(TextProfile.of(rec("x", text="Clashes: SPLA IO vs white army")))
    assert set(found) == {"SPLA-IO", "White Army"}
    assert vocab.mentioned(TextProfile.of(rec("y", text="armed men attacked"))) == ()


def test_extra_features_mark_missing_and_measure_present() -> None:
    a = rec("a", place="Malakal", text="Attack on Malakal, 3 killed", actors=("SPLA-IO",))
    b = rec(
        "b",
        latitude=None,
        longitude=None,
        location_radius_km=None,
        date_end=D + timedelta(days=6),
        text="ALERT Malakal KIL 3 SPLA IO",
    )
    extra = extra_features(
        a,
        b,
        profile_a=TextProfile.of(a),
        profile_b=TextProfile.of(b),
        mentioned_a=("SPLA-IO",),
        mentioned_b=("SPLA-IO",),
        resolve=_identity,
    )
    assert set(extra) == set(EXTRA_FEATURES)
    assert extra["points"] == 1.0 and math.isnan(extra["km"])
    assert extra["radius_max"] == 200.0 and extra["radius_min"] == 2.0
    assert extra["span_days"] == 6.0
    assert extra["actor_any"] == 1.0  # b names the actor only in its text
    assert extra["place_in_text"] == 1.0
    assert extra["number_overlap"] == 1.0
    none = extra_features(
        rec("c"),
        rec("d"),
        profile_a=TextProfile.of(rec("c")),
        profile_b=TextProfile.of(rec("d")),
        mentioned_a=(),
        mentioned_b=(),
        resolve=_identity,
    )
    assert none["km"] == 0.0
    for name in ("actor_any", "place_in_text", "number_overlap"):
        assert math.isnan(none[name])


# -- context ----------------------------------------------------------------------------------


def test_context_rows_rank_margin_and_common_neighbour() -> None:
    scores = {("a", "b"): 0.9, ("a", "c"): 0.8, ("b", "c"): 0.7, ("c", "d"): 0.95}
    rows = context_rows([("a", "b"), ("a", "c"), ("c", "d")], scores)
    ab, ac, cd = (dict(zip(CONTEXT_FEATURES, r, strict=True)) for r in rows)
    assert ab["rank_best"] == 0 and ab["rank_worst"] == 0  # each other's best match
    assert ab["margin"] == pytest.approx(0.1)
    assert ab["best_common"] == pytest.approx(0.7)  # both match c: min(0.8, 0.7)
    assert ac["rank_best"] == 1 and ac["rank_worst"] == 1  # a prefers b, c prefers d
    assert ac["margin"] == pytest.approx(0.8 - 0.95)
    assert cd["neighbours_min"] == 0 and cd["neighbours_max"] == 2
    assert cd["best_common"] == 0.0
    # Symmetric in the order of the pair.
    assert np.allclose(context_rows([("b", "a")], scores), rows[:1])
    with pytest.raises(KeyError):
        context_rows([("a", "d")], scores)


def test_describe_context_reads_plainly() -> None:
    row = np.array([0, 0, 0.4, 1, 3, 0.8])
    text = describe_context(row)
    assert "each other's best match" in text and "third record" in text
    assert "better candidate" in describe_context(np.array([1, 2, -0.2, 1, 3, 0.0]))


# -- model ------------------------------------------------------------------------------------


def _synthetic(n: int = 400, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = rng.random((n, len(FEATURES)))
    rows[rng.random(rows.shape) < 0.1] = np.nan  # missing values, as in real rows
    near = rows[:, FEATURES.index("space")]
    labels = np.nan_to_num(near, nan=1.0) < 0.4
    return rows, labels


def test_fit_predict_explain_and_round_trip() -> None:
    rows, labels = _synthetic()
    model = fit_pairwise(
        rows, labels, ScoringModel.neutral(), threshold=0.6, rounds=20, provenance="test"
    )
    p = model.predict(rows)
    assert p.shape == (len(rows),) and ((p > 0) & (p < 1)).all()
    assert p[labels].mean() > p[~labels].mean() + 0.3
    contrib = model.contributions(rows[:5])
    assert contrib.shape == (5, len(FEATURES) + 1)
    # TreeSHAP contributions add up to the log-odds of the prediction.
    logits = np.log(p[:5] / (1 - p[:5]))
    assert np.allclose(contrib.sum(axis=1), logits, atol=1e-6)
    bias, groups = grouped_contributions(contrib[0])
    assert set(groups) <= set(SIGNAL_LABELS)
    assert bias + sum(groups.values()) == pytest.approx(logits[0], abs=1e-6)
    again = PairwiseModel.from_json(model.to_json())
    assert again.threshold == 0.6 and again.provenance == "test"
    assert np.allclose(again.predict(rows), p)
    assert model.predict(np.zeros((0, len(FEATURES)))).shape == (0,)


def test_fit_rejects_bad_input() -> None:
    rows, labels = _synthetic(50)
    with pytest.raises(ValueError, match="both"):
        fit_pairwise(rows, np.zeros(50, bool), ScoringModel.neutral())
    with pytest.raises(ValueError, match="one label"):
        fit_pairwise(rows, labels[:10], ScoringModel.neutral())
    with pytest.raises(ValueError, match="features"):
        fit_pairwise(rows[:, :3], labels, ScoringModel.neutral())


def test_model_file_errors_are_clear() -> None:
    rows, labels = _synthetic(200)
    good = json.loads(fit_pairwise(rows, labels, ScoringModel.neutral(), rounds=5).to_json())
    cases = [
        "not json",
        json.dumps({"kind": "something else"}),
        json.dumps({**good, "features": ["space"]}),
        json.dumps({**good, "threshold": 1.5}),
        json.dumps({**good, "booster": "tree\nversion=v4\ngarbage"}),
        json.dumps({k: v for k, v in good.items() if k != "stage1"}),
    ]
    for text in cases:
        with pytest.raises(ValueError):
            PairwiseModel.from_json(text)
    model = PairwiseModel.from_json(json.dumps(good))
    with pytest.raises(ValueError, match="features"):
        model.predict(np.zeros((2, 3)))


def test_every_feature_is_reported_under_a_signal() -> None:
    assert set(FEATURE_SIGNAL) == set(FEATURES)
    assert set(FEATURE_SIGNAL.values()) <= set(SIGNAL_LABELS)
    assert FEATURES[: len(PAIR_FEATURES)] == PAIR_FEATURES


def test_shipped_model_loads_with_provenance() -> None:
    model = PairwiseModel.default()
    assert model is PairwiseModel.default()  # loaded once per process
    assert 0.0 < model.threshold < 1.0
    assert "bench/corroboration.py" in model.provenance
    assert "test_precision_at_recall_0.8" in model.metrics


# -- engine with the learned model ------------------------------------------------------------


def _scenario() -> list[CandidateRecord]:
    return [
        rec("sms-1", text="ALERT Malakal KIL 4", kinds=KILLING, fatalities=4, place="Malakal"),
        rec(
            "web-1",
            source="web",
            latitude=9.52,
            longitude=31.62,
            location_radius_km=25.0,
            date_start=D + timedelta(days=1),
            actors=("White Army",),
            kinds=KILLING,
            fatalities=5,
            place="Malakal town",
            text="Des hommes armés de la White Army ont tué 5 civils à Malakal",
        ),
        rec(
            "odk-1",
            source="odk",
            latitude=9.9,
            longitude=32.1,
            date_start=D + timedelta(days=5),
            actors=("SSPDF",),
            kinds=kinds_for((ActType.LOOTING,)),
            fatalities=0,
            place="Nasir",
            text="Pillage du marché de Nasir par des soldats",
        ),
        rec(
            "sms-2",
            latitude=9.5,
            longitude=31.6,
            date_start=D + timedelta(days=60),
            text="ALERT Malakal KIL 4",
            fatalities=4,
        ),
    ]


def test_default_engine_uses_the_learned_model_with_reasons() -> None:
    engine = CorroborationEngine()
    assert isinstance(engine.model, PairwiseModel)
    engine.add_many(_scenario())
    suggestions = engine.suggest("sms-1", min_score=0.0)
    ids = [s.candidate_id for s in suggestions]
    assert ids[0] == "web-1" and "sms-2" not in ids
    top = suggestions[0]
    assert top.relation is Relation.CORROBORATION
    unrelated = engine.compare(engine.index.get("sms-1"), engine.index.get("odk-1"))
    assert top.score > unrelated.score
    assert top.reason and ("(+" in top.reason or "(-" in top.reason)
    assert {s.name for s in top.signals} == set(SIGNAL_LABELS)
    contributions = [abs(s.contribution) for s in top.signals]
    assert contributions == sorted(contributions, reverse=True)


def test_batch_single_and_reversed_scoring_agree() -> None:
    engine = CorroborationEngine()
    engine.add_many(_scenario())
    batch = {(s.record_id, s.candidate_id): s.score for s in engine.all_suggestions(0.0)}
    assert batch
    for (a, b), score in batch.items():
        ra, rb = engine.index.get(a), engine.index.get(b)
        assert engine.compare(ra, rb).score == pytest.approx(score, abs=1e-9)
        assert engine.compare(rb, ra).score == pytest.approx(score, abs=1e-9)
    for s in engine.suggest("sms-1", min_score=0.0):
        assert s.score == pytest.approx(batch[tuple(sorted((s.record_id, s.candidate_id)))])


def test_threshold_filters_and_unindexed_queries_work() -> None:
    engine = CorroborationEngine()
    engine.add_many(_scenario())
    everything = engine.suggest("sms-1", min_score=0.0)
    default = engine.suggest("sms-1")
    assert all(s.score >= engine.model.threshold for s in default)
    assert len(default) <= len(everything)
    query = rec("sms-new", text="ALERT Malakal KIL 4", fatalities=4)
    found = engine.suggest(query, min_score=0.0)
    assert found and found[0].relation is Relation.DUPLICATE
    # An edited report that reuses an indexed id is scored as edited, not from the cache.
    edited = rec("sms-1", latitude=4.85, longitude=31.6, text="ALERT Juba KIL 1")
    assert "web-1" not in [s.candidate_id for s in engine.suggest(edited, min_score=0.0)]


def test_engine_survives_sparse_hostile_and_oversized_records() -> None:
    engine = CorroborationEngine()
    assert engine.suggest(rec("lonely")) == []
    assert list(engine.all_suggestions()) == []
    nasty = "<script>alert(1)</script>\x00\u202e" + "Malakal " * 2_000
    engine.add_many(
        [
            rec("bare", latitude=None, longitude=None, location_radius_km=None),
            rec("no-country", latitude=None, longitude=None, country_iso3=None, text="?"),
            rec("huge", text=nasty, actors=("<b>UPC</b>",), place=nasty[:500]),
            rec("twin", text="Malakal", fatalities=0),
        ]
    )
    for s in engine.all_suggestions(0.0):
        assert 0.0 < s.score < 1.0 and isinstance(s.reason, str)
    result = engine.compare(rec("x", text=""), rec("y", text=""))
    assert 0.0 < result.score < 1.0


def test_add_after_scoring_updates_actor_mentions() -> None:
    engine = CorroborationEngine()
    engine.add(rec("a", text="Clashes in Malakal, SPLA IO blamed", place="Malakal"))
    engine.add(rec("b", source="web", text="Fighting around Malakal", actors=("SPLA-IO",)))
    a, b = engine.index.get("a"), engine.index.get("b")
    assert engine._mentioned(a) == ("SPLA-IO",)  # learnt from b's actor field
    engine.add(rec("c", source="odk", latitude=4.8, longitude=31.5, actors=("White Army",)))
    engine.add(rec("d", source="odk", latitude=4.8, longitude=31.5, text="White Army seen"))
    # The vocabulary grew: cached mentions are refreshed, not served stale.
    assert engine._mentioned(engine.index.get("d")) == ("White Army",)
    assert engine._mentioned(a) == ("SPLA-IO",)
    row, _ = engine.feature_rows([(a, b)])
    assert row[0][FEATURES.index("actor_any")] == 1.0  # a names the actor only in its text


def test_text_overlap_is_symmetric_for_equally_long_texts() -> None:
    sim = TextSimilarity().fit(["attack malakal", "malakal attack", "nasir fighting"])
    vec = sim.vectors(["attack malakal", "nasir attack"])
    ab = TextSimilarity.overlap_rows(vec[0], vec[1])[0]
    ba = TextSimilarity.overlap_rows(vec[1], vec[0])[0]
    assert ab == pytest.approx(ba)


def test_random_records_never_break_scoring() -> None:
    rng = random.Random(11)
    records = [
        rec(
            f"r{i}",
            source=rng.choice(["sms", "web", "odk"]),
            date_start=D + timedelta(days=rng.randint(0, 12)),
            latitude=9.5 + rng.uniform(-0.3, 0.3),
            longitude=31.6 + rng.uniform(-0.3, 0.3),
            location_radius_km=rng.choice([2.0, 25.0, 50.0]),
            fatalities=rng.choice([None, 0, 1, 5]),
            actors=rng.choice([(), ("SSPDF",), ("SPLA-IO", "SSPDF")]),
            text=rng.choice(["", "ALERT Malakal KIL 2", "Combats à Nasir", "قتل 3 في ملكال"]),
        )
        for i in range(30)
    ]
    engine = CorroborationEngine()
    engine.add_many(records)
    batch = list(engine.all_suggestions(0.0))
    assert batch and all(0.0 < s.score < 1.0 for s in batch)


def test_actor_vocabulary_lookup_matches_a_plain_scan() -> None:
    rng = random.Random(5)
    words = ["spla", "io", "white", "army", "nas", "sspdf", "murle", "youth", "front"]
    names = [" ".join(rng.sample(words, rng.randint(1, 3))) for _ in range(40)]
    vocab = ActorVocabulary(_identity)
    vocab.add(names)
    kept = list(dict.fromkeys(n for n in names if len(n) >= 3))
    for _ in range(50):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 8)))
        profile = TextProfile.of(rec("t", text=text))
        expected = tuple(n for n in kept if f" {n} " in profile.folded)
        assert vocab.mentioned(profile) == expected


def test_suggest_shortlist_keeps_exact_scores_of_the_best(monkeypatch) -> None:
    import tocsin.verify.engine as engine_module

    engine = CorroborationEngine()
    engine.add_many(_scenario())
    engine.add(rec("odk-2", source="odk", latitude=9.6, date_start=D + timedelta(days=3)))
    full = engine.suggest("sms-1", min_score=0.0)
    monkeypatch.setattr(engine_module, "SUGGEST_SHORTLIST", 1)
    short = engine.suggest("sms-1", min_score=0.0, limit=1)
    assert len(full) > 1 and len(short) == 1
    assert short[0].candidate_id == full[0].candidate_id
    assert short[0].score == pytest.approx(full[0].score, abs=1e-12)
