"""Keyword and threat-category trigger on incoming reports, held for manual confirmation.

Matching is accent- and case-insensitive ("ATTAQUE PRÉVUE" = "attaque prevue"), works on word
tokens rather than regular expressions (so a pattern can never be a ReDoS), allows up to
``max_gap_words`` words between the words of a phrase ("attack is being planned" matches
"attack planned"), and a trailing ``*`` matches a word prefix ("mobilis*" matches "mobilisation",
"mobilisent"). Every candidate requires a person to confirm it before it is issued: a word in a
report is a lead, not a fact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from tocsin.alerts.model import (
    AlertArea,
    AlertCandidate,
    Certainty,
    Passage,
    TriggerKind,
    highest_tier,
)
from tocsin.domain.taxonomy import PocThreatCategory, SensitivityTier

if TYPE_CHECKING:
    from tocsin.alerts.triggers.config import KeywordsTrigger

MAX_SCANNED_CHARS = 200_000  # a report longer than a book is scanned up to here, and says so
_WORD = re.compile(r"\w+")
# Letters that NFKD does not decompose but that people type both ways.
_FOLD = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l", "ı": "i"})


def fold(word: str) -> str:
    """Accent- and case-insensitive form of a word."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class _Token:
    folded: str
    start: int
    end: int


def tokenize(text: str) -> list[_Token]:
    text = unicodedata.normalize("NFC", text)
    return [_Token(fold(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)]


@dataclass(frozen=True)
class KeywordPattern:
    """A phrase as folded word matchers; a matcher ending in '*' is a prefix."""

    language: str
    text: str
    words: tuple[str, ...]

    @classmethod
    def parse(cls, language: str, text: str) -> KeywordPattern:
        words: list[str] = []
        for raw in text.split():
            star = raw.endswith("*")
            core = [fold(w) for w in _WORD.findall(raw)]
            if not core:
                continue
            words.extend(core[:-1])
            words.append(core[-1] + ("*" if star else ""))
        if not words:
            raise ValueError(f"pattern {text!r} has no words")
        return cls(language, text, tuple(words))

    def find(self, tokens: list[_Token], max_gap: int) -> tuple[int, int] | None:
        """(first token index, last token index) of the earliest-ending match, or None.

        Dynamic programming over token positions, vectorised: ``reach[k][j]`` says that the
        first k+1 words match with word k at token j. O(words x tokens), no backtracking
        search, so even a hostile pattern such as 'a* a* a* ...' cannot blow up.
        """
        if not tokens:
            return None
        words = np.array([t.folded for t in tokens])
        reach = [_mask(self.words[0], words)]
        for word in self.words[1:]:
            # j is reachable if some i in [j - max_gap - 1, j - 1] was: a sliding-window "any".
            c = np.concatenate(([0], np.cumsum(reach[-1])))
            j = np.arange(len(words))
            before = c[j] - c[np.maximum(j - max_gap - 1, 0)]
            nxt = _mask(word, words) & (before > 0)
            if not nxt.any():
                return None
            reach.append(nxt)
        if not reach[-1].any():
            return None
        end = int(np.argmax(reach[-1]))
        pos = end
        for prev in reversed(reach[:-1]):  # walk back to a start through any valid predecessor
            window = prev[max(pos - max_gap - 1, 0) : pos]
            pos = max(pos - max_gap - 1, 0) + int(np.flatnonzero(window)[-1])
        return pos, end


def _mask(matcher: str, words: np.ndarray) -> np.ndarray:
    if matcher.endswith("*"):
        return np.char.startswith(words, matcher[:-1])
    return words == matcher


@dataclass(frozen=True)
class IncomingReport:
    """A report as intake hands it over. Its text is as sensitive as ``tier`` says."""

    report_id: str
    text: str
    received_at: datetime
    area_key: str = "unlocated"
    area_name: str = "location not given"
    threat_category: PocThreatCategory | None = None
    tier: SensitivityTier = SensitivityTier.RESTRICTED


@dataclass(frozen=True)
class KeywordMatch:
    pattern: KeywordPattern
    snippet: str


def compile_patterns(rule: KeywordsTrigger) -> tuple[KeywordPattern, ...]:
    return tuple(
        KeywordPattern.parse(lang, phrase)
        for lang, phrases in sorted(rule.patterns.items())
        for phrase in phrases
    )


def find_matches(patterns: Iterable[KeywordPattern], text: str, max_gap: int) -> list[KeywordMatch]:
    text = unicodedata.normalize("NFC", text[:MAX_SCANNED_CHARS])
    tokens = tokenize(text)
    out = []
    for pattern in patterns:
        hit = pattern.find(tokens, max_gap)
        if hit is None:
            continue
        start, end = tokens[hit[0]].start, tokens[hit[1]].end
        lo, hi = max(0, start - 60), min(len(text), end + 60)
        snippet = (
            ("…" if lo else "") + " ".join(text[lo:hi].split()) + ("…" if hi < len(text) else "")
        )
        out.append(KeywordMatch(pattern, snippet))
    return out


def evaluate_keywords(
    rule: KeywordsTrigger, reports: Iterable[IncomingReport]
) -> list[AlertCandidate]:
    patterns = compile_patterns(rule)
    out: list[AlertCandidate] = []
    for report in reports:
        if report.received_at.tzinfo is None:
            raise ValueError(f"report {report.report_id!r}: received_at must be timezone-aware")
        matches = find_matches(patterns, report.text, rule.max_gap_words)
        category_hit = (
            report.threat_category is not None and report.threat_category in rule.threat_categories
        )
        if not matches and not category_hit:
            continue
        reasons = [f"'{m.pattern.text}' ({m.pattern.language})" for m in matches]
        if category_hit:
            assert report.threat_category is not None
            reasons.append(f"threat category {report.threat_category.value}")
        truncated = (
            f" Only the first {MAX_SCANNED_CHARS} characters were scanned."
            if len(report.text) > MAX_SCANNED_CHARS
            else ""
        )
        passages = [
            Passage(
                f"Report {report.report_id} received {report.received_at:%Y-%m-%d %H:%M} UTC from "
                f"{report.area_name} matched {', '.join(reasons)}. Held for manual confirmation: "
                f"a keyword is a lead, not a verified fact.{truncated}",
                rule.tier,
            )
        ]
        detail_tier = highest_tier((rule.tier, report.tier))
        passages.extend(Passage(f"Excerpt: “{m.snippet}”", detail_tier) for m in matches)
        category = (
            report.threat_category
            if category_hit
            else rule.threat_category or report.threat_category
        )
        out.append(
            AlertCandidate(
                trigger_id=rule.id,
                kind=TriggerKind.KEYWORDS,
                area_key=report.area_key,
                period_start=report.received_at,
                period_end=report.received_at + rule.validity,
                headline=f"{rule.name}: report from {report.area_name} to confirm",
                explanation=tuple(passages),
                severity=rule.severity,
                urgency=rule.urgency,
                certainty=rule.certainty if rule.certainty else Certainty.UNKNOWN,
                tier=rule.tier,
                areas=(AlertArea(report.area_name, rule.tier),),
                threat_category=category,
                instruction=rule.instruction,
                measures={"patterns_matched": len(matches), "category_match": int(category_hit)},
                evidence=(f"report:{report.report_id}",),
                requires_confirmation=True,
            )
        )
    return out
