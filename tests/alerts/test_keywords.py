"""Keyword trigger: multilingual, accent/case-insensitive, gap-tolerant, ReDoS-proof, held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tocsin.alerts.redaction import redact_for_tier
from tocsin.alerts.triggers.config import KeywordsTrigger
from tocsin.alerts.triggers.keywords import (
    MAX_SCANNED_CHARS,
    IncomingReport,
    KeywordPattern,
    evaluate_keywords,
    find_matches,
    fold,
    tokenize,
)
from tocsin.domain.taxonomy import PocThreatCategory, SensitivityTier

AT = datetime(2024, 5, 3, 9, 30, tzinfo=UTC)


def rule(**kw) -> KeywordsTrigger:
    base = {
        "id": "kw",
        "kind": "keywords",
        "name": "Threat language",
        "patterns": {
            "en": ["attack planned", "mobiliz*"],
            "fr": ["attaque prévue", "mobilis*", "brûler le village"],
        },
    }
    return KeywordsTrigger.model_validate(base | kw)


def report(text: str, **kw) -> IncomingReport:
    return IncomingReport(**({"report_id": "r-1", "text": text, "received_at": AT} | kw))


def test_fold_and_tokenize() -> None:
    assert fold("PRÉVUE") == "prevue"
    assert fold("Œuvre") == "oeuvre"
    assert fold("Straße") == "strasse"
    assert [t.folded for t in tokenize("L'attaque est PRÉVUE!")] == [
        "l",
        "attaque",
        "est",
        "prevue",
    ]
    # Decomposed input (e + combining acute) folds the same as precomposed.
    assert [t.folded for t in tokenize("pre\u0301vue")] == ["prevue"]


@pytest.mark.parametrize(
    "text",
    [
        "Des jeunes disent qu'une ATTAQUE est PREVUE demain à Kouki.",
        "une attaque serait prévue contre le site",
        "Elders report an attack is being planned on the market.",
        "Les anti-balaka se mobilisent près de Bossangoa",
        "Armed youth are mobilizing north of the town",
        "Ils menacent de BRÛLER le village",
    ],
)
def test_matches_in_english_and_french(text: str) -> None:
    (c,) = evaluate_keywords(rule(), [report(text)])
    assert c.requires_confirmation
    assert "Held for manual confirmation" in c.explanation_text


@pytest.mark.parametrize(
    "text",
    [
        "Attack on the base last year; nothing planned now for the next weeks.",  # gap > 2
        "The attaque word alone, and nothing prévue",
        "immobilisation of the vehicle",  # prefix must start the word
        "",
    ],
)
def test_non_matches(text: str) -> None:
    assert evaluate_keywords(rule(), [report(text)]) == []


def test_explanation_tiers_and_excerpt() -> None:
    text = "Source X (phone 0700) says: attaque prévue sur le village demain."
    (c,) = evaluate_keywords(rule(), [report(text, area_key="adm1:ouham", area_name="Ouham")])
    assert c.area_key == "adm1:ouham"
    assert "matched 'attaque prévue' (fr)" in c.explanation_text
    assert (
        "Excerpt: “Source X (phone 0700) says: attaque prévue sur le village demain.”"
        in c.explanation_text
    )
    assert c.period_end - c.period_start == timedelta(days=3)
    internal = redact_for_tier(c, SensitivityTier.INTERNAL)
    assert "0700" not in " ".join(internal.passages)  # the excerpt is as restricted as the report
    restricted = redact_for_tier(c, SensitivityTier.RESTRICTED)
    assert any("0700" in p for p in restricted.passages)


def test_threat_category_alone_fires() -> None:
    r = rule(patterns={}, threat_categories=["intercommunal_violence"])
    hit = report(
        "Tension between herders and farmers",
        threat_category=PocThreatCategory.INTERCOMMUNAL_VIOLENCE,
    )
    (c,) = evaluate_keywords(r, [hit, report("Tension", threat_category=None)])
    assert c.threat_category is PocThreatCategory.INTERCOMMUNAL_VIOLENCE
    assert "threat category intercommunal_violence" in c.explanation_text


def test_hostile_inputs() -> None:
    # A pattern designed to explode a backtracking matcher on a long run of matching words.
    evil = KeywordPattern.parse("en", " ".join(["a*"] * 40) + " zzz")
    text = "aaa " * 20_000  # every word matches every "a*"
    assert find_matches([evil], text, max_gap=10) == []
    # Oversized report: scanned up to the limit, and the explanation says so.
    long_text = "x " * MAX_SCANNED_CHARS + "attack planned"
    assert evaluate_keywords(rule(), [report(long_text)]) == []
    long_hit = "attack planned " + "x" * (MAX_SCANNED_CHARS + 10)
    (c,) = evaluate_keywords(rule(), [report(long_hit)])
    assert f"Only the first {MAX_SCANNED_CHARS} characters were scanned" in c.explanation_text
    with pytest.raises(ValueError, match="no words"):
        KeywordPattern.parse("en", "!!! ???")
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_keywords(rule(), [report("x", received_at=AT.replace(tzinfo=None))])
