"""The corroboration engine: candidate duplicates and corroborating reports, with reasons.

Usage::

    engine = CorroborationEngine()    # the shipped learned model (PairwiseModel.default())
    engine.add_many(records)          # reports and events, any channel or dataset
    for s in engine.suggest("report-42"):
        print(s.candidate_id, s.score, s.relation, s.reason)

A match from the same source is a *duplicate* (the same channel told us twice); a match from
another source is *corroboration* (an independent account, which raises credibility).

The model is either the learned two-stage ``PairwiseModel`` (default; see pairwise.py) or, as
before, a transparent additive ``ScoringModel`` alone. Both give a probability and a reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import sparse

from tocsin.verify.blocking import BlockingConfig, BlockingIndex
from tocsin.verify.features import ActorVocabulary, TextProfile, extra_features, pair_row
from tocsin.verify.pairwise import (
    CONTEXT_FEATURES,
    FEATURES,
    PairwiseModel,
    context_rows,
    describe_context,
    grouped_contributions,
)
from tocsin.verify.records import CandidateRecord
from tocsin.verify.scoring import (
    SIGNALS,
    ActorResolver,
    PairEvidence,
    ScoringModel,
    Signal,
    pair_evidence,
)
from tocsin.verify.text import TextSimilarity, concepts

Pair = tuple[CandidateRecord, CandidateRecord]
# suggest() gives the learned model's full (two-hop) treatment to this many candidates at most.
SUGGEST_SHORTLIST = 25


class Relation(StrEnum):
    DUPLICATE = "duplicate"
    CORROBORATION = "corroboration"


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A record that probably describes the same incident as the query record."""

    record_id: str
    candidate_id: str
    score: float
    relation: Relation
    signals: tuple[Signal, ...]

    @property
    def reason(self) -> str:
        """One line for the officer: the signals that moved the score, strongest first."""
        parts = [s.describe() for s in self.signals if abs(s.contribution) >= 0.05]
        return "; ".join(parts) if parts else "no signal either way"


class CorroborationEngine:
    """Indexes candidate records and scores the pairs its blocking index proposes."""

    def __init__(
        self,
        model: PairwiseModel | ScoringModel | None = None,
        *,
        blocking: BlockingConfig | None = None,
        resolve_actor: ActorResolver | None = None,
    ) -> None:
        self.model: PairwiseModel | ScoringModel = model or PairwiseModel.default()
        self.index = BlockingIndex(blocking)
        self._resolve: ActorResolver = resolve_actor or (lambda name: name)
        self._text = TextSimilarity()
        # Actor names seen in actor fields, looked for again in free text (features.py).
        self._vocabulary = ActorVocabulary(self._resolve)
        self._profiles: dict[str, TextProfile] = {}
        self._mentions: dict[str, tuple[int, tuple[str, ...]]] = {}
        # One row per record ever added, in a single sparse matrix, so that batch scoring can
        # take the cosine of many pairs in one vectorised product.
        self._matrix: sparse.csr_matrix | None = None
        self._row: dict[str, int] = {}
        self._concepts: dict[str, frozenset[str]] = {}

    def __len__(self) -> int:
        return len(self.index)

    def add(self, record: CandidateRecord) -> None:
        self.add_many([record])

    def add_many(self, records: Iterable[CandidateRecord]) -> None:
        batch = list(records)
        self.index.add_many(batch)
        for record in batch:
            self._vocabulary.add(record.actors)
        if not self._text.fitted:
            # The first batch sets the vocabulary; fitting on the whole corpus up front gives
            # place names their true rarity. Later additions reuse it (refit() to refresh).
            self._text.fit([r.text for r in batch])
        self._remember_text(batch)

    def remove(self, record_id: str) -> None:
        self.index.remove(record_id)
        self._row.pop(record_id, None)
        self._concepts.pop(record_id, None)
        self._profiles.pop(record_id, None)
        self._mentions.pop(record_id, None)

    def refit(self) -> None:
        """Relearns the text vocabulary from everything indexed (after large imports)."""
        records = list(self.index.records())
        self._text = TextSimilarity().fit([r.text for r in records])
        self._matrix = None
        self._row.clear()
        self._remember_text(records)

    def evidence(self, a: CandidateRecord, b: CandidateRecord) -> PairEvidence:
        return self._evidence(a, b, self._overlap(a, b))

    def evidence_for_pairs(
        self, pairs: list[tuple[CandidateRecord, CandidateRecord]]
    ) -> list[PairEvidence]:
        """Evidence for many indexed pairs, with the text cosines computed in one product."""
        if not pairs:
            return []
        assert self._matrix is not None
        rows_a = [self._row[a.id] for a, _ in pairs]
        rows_b = [self._row[b.id] for _, b in pairs]
        overlaps = TextSimilarity.overlap_rows(self._matrix[rows_a], self._matrix[rows_b])
        return [
            self._evidence(a, b, float(o) if a.text.strip() and b.text.strip() else None)
            for (a, b), o in zip(pairs, overlaps, strict=True)
        ]

    def _evidence(
        self, a: CandidateRecord, b: CandidateRecord, overlap: float | None
    ) -> PairEvidence:
        return pair_evidence(
            a,
            b,
            text_overlap=overlap,
            concepts_a=self._concept_set(a),
            concepts_b=self._concept_set(b),
            resolve=self._resolve,
        )

    def compare(self, a: CandidateRecord, b: CandidateRecord) -> Suggestion:
        """Scores one pair, whether or not blocking would have proposed it."""
        return self._score_pairs([(a, b)], floor=-1.0)[0]

    def suggest(
        self,
        record: CandidateRecord | str,
        *,
        limit: int = 10,
        min_score: float | None = None,
    ) -> list[Suggestion]:
        """The best-scoring matches for a record (indexed or not), best first.

        ``min_score`` defaults to the model's calibrated operating threshold.
        """
        query = self.index.get(record) if isinstance(record, str) else record
        floor = self.model.threshold if min_score is None else min_score
        pairs = [(query, other) for other in self.index.candidates(query)]
        shortlist = max(limit, SUGGEST_SHORTLIST)
        if isinstance(self.model, PairwiseModel) and len(pairs) > shortlist:
            # The learned model reads each candidate's own neighbourhood; in a dense store that
            # is hundreds of candidates times hundreds. Only the stage-1 best few can win, so
            # only they get the full treatment (their scores are exactly those of a full run).
            first = self._stage1()
            stage1 = [first.score(e)[0] for e in self._evidence_any(pairs)]
            order = sorted(range(len(pairs)), key=lambda i: (-stage1[i], pairs[i][1].id))
            pairs = [pairs[i] for i in order[:shortlist]]
        out = self._score_pairs(pairs, floor=floor)
        out.sort(key=lambda s: (-s.score, s.candidate_id))
        return out[: max(limit, 0)]

    def candidate_pairs(self) -> Iterator[Pair]:
        """Every pair the blocking index proposes, each once."""
        for record in list(self.index.records()):
            for other in self.index.candidates(record):
                if record.id < other.id:
                    yield record, other

    def all_suggestions(
        self, min_score: float | None = None, *, batch_size: int = 20_000
    ) -> Iterator[Suggestion]:
        """Scores every proposed pair (batch de-duplication of a whole store).

        The learned model needs every pair's neighbourhood, so all candidate pairs are scored
        together; ``batch_size`` bounds the evidence batches of the transparent model.
        """
        floor = self.model.threshold if min_score is None else min_score
        pairs = list(self.candidate_pairs())
        if isinstance(self.model, PairwiseModel):
            yield from self._score_pairs(pairs, floor=floor, complete=True)
            return
        for start in range(0, len(pairs), max(batch_size, 1)):
            yield from self._score_pairs(pairs[start : start + batch_size], floor=floor)

    # -- scoring ----------------------------------------------------------------------------

    def feature_rows(
        self,
        pairs: list[Pair],
        *,
        stage1: ScoringModel | None = None,
        complete: bool = False,
    ) -> tuple[np.ndarray, list[PairEvidence]]:
        """The learned model's feature rows for ``pairs`` (and their stage-1 evidence).

        ``complete``: ``pairs`` already holds every candidate pair of its records (a whole-store
        run), so no neighbourhood needs to be looked up. Training uses this very method, so a
        model sees exactly the features it will be served.
        """
        first = stage1 or self._stage1()
        evidence = self._evidence_any(pairs)
        if complete:
            scores = {
                _key(a, b): first.score(e)[0] for (a, b), e in zip(pairs, evidence, strict=True)
            }
        else:
            scores = self._neighbourhood_scores(pairs, evidence, first)
        context = context_rows([_key(a, b) for a, b in pairs], scores)
        if not pairs:
            return np.zeros((0, len(FEATURES))), evidence
        rows = np.array(
            [
                pair_row(e, self._extra(a, b)) + list(c)
                for (a, b), e, c in zip(pairs, evidence, context, strict=True)
            ],
            dtype=float,
        )
        return rows, evidence

    def _stage1(self) -> ScoringModel:
        return self.model.stage1 if isinstance(self.model, PairwiseModel) else self.model

    def _score_pairs(
        self, pairs: list[Pair], *, floor: float, complete: bool = False
    ) -> list[Suggestion]:
        if not pairs:
            return []
        if isinstance(self.model, ScoringModel):
            out = [
                self._suggestion(a, b, e)
                for (a, b), e in zip(pairs, self._evidence_any(pairs), strict=True)
            ]
            return [s for s in out if s.score >= floor]
        rows, evidence = self.feature_rows(pairs, complete=complete)
        probabilities = self.model.predict(rows)
        keep = [i for i, p in enumerate(probabilities) if p >= floor]
        contributions = self.model.contributions(rows[keep])
        out = []
        for i, contrib in zip(keep, contributions, strict=True):
            a, b = pairs[i]
            out.append(self._explained(a, b, evidence[i], rows[i], contrib))
        return out

    def _explained(
        self,
        a: CandidateRecord,
        b: CandidateRecord,
        evidence: PairEvidence,
        row: np.ndarray,
        contrib: np.ndarray,
    ) -> Suggestion:
        bias, groups = grouped_contributions(contrib)
        signals = [
            Signal(
                name=name,
                value=math.nan if evidence.values[name] is None else evidence.values[name],  # type: ignore[arg-type]
                detail=evidence.details.get(name, ""),
                contribution=groups.get(name, 0.0),
            )
            for name in SIGNALS
        ]
        signals.append(
            Signal(
                name="context",
                value=float(row[-len(CONTEXT_FEATURES)]),
                detail=describe_context(row[-len(CONTEXT_FEATURES) :]),
                contribution=groups.get("context", 0.0),
            )
        )
        signals.sort(key=lambda s: -abs(s.contribution))
        score = _sigmoid(bias + sum(groups.values()))
        relation = Relation.DUPLICATE if a.source == b.source else Relation.CORROBORATION
        return Suggestion(a.id, b.id, score, relation, tuple(signals))

    def _neighbourhood_scores(
        self, pairs: list[Pair], evidence: list[PairEvidence], first: ScoringModel
    ) -> dict[tuple[str, str], float]:
        """Stage-1 scores of the requested pairs and of every candidate pair of their records."""
        nodes: dict[str, CandidateRecord] = {}
        for a, b in pairs:
            nodes.setdefault(a.id, a)
            nodes.setdefault(b.id, b)
        scores = {_key(a, b): first.score(e)[0] for (a, b), e in zip(pairs, evidence, strict=True)}
        extra: dict[tuple[str, str], Pair] = {}
        for record in list(nodes.values()):
            for other in self.index.candidates(record):
                other = nodes.get(other.id, other)  # an edited query shadows its indexed id
                key = _key(record, other)
                if other.id != record.id and key not in scores and key not in extra:
                    extra[key] = (record, other)
        more = list(extra.values())
        for key, e in zip(extra, self._evidence_any(more), strict=True):
            scores[key] = first.score(e)[0]
        return scores

    def _evidence_any(self, pairs: list[Pair]) -> list[PairEvidence]:
        """Evidence for any pairs: batched when both records are indexed as they are."""
        out: list[PairEvidence | None] = [None] * len(pairs)
        batch = [i for i, (a, b) in enumerate(pairs) if self._is_indexed(a) and self._is_indexed(b)]
        for i, e in zip(batch, self.evidence_for_pairs([pairs[i] for i in batch]), strict=True):
            out[i] = e
        for i, (a, b) in enumerate(pairs):
            if out[i] is None:
                out[i] = self.evidence(a, b)
        return out  # type: ignore[return-value]

    def _extra(self, a: CandidateRecord, b: CandidateRecord) -> dict[str, float]:
        return extra_features(
            a,
            b,
            profile_a=self._profile(a),
            profile_b=self._profile(b),
            mentioned_a=self._mentioned(a),
            mentioned_b=self._mentioned(b),
            resolve=self._resolve,
        )

    def _profile(self, record: CandidateRecord) -> TextProfile:
        cached = self._profiles.get(record.id)
        if cached is not None and self._is_indexed(record):
            return cached
        profile = TextProfile.of(record)
        if self._is_indexed(record):
            self._profiles[record.id] = profile
        return profile

    def _mentioned(self, record: CandidateRecord) -> tuple[str, ...]:
        cached = self._mentions.get(record.id)
        if (
            cached is not None
            and cached[0] == self._vocabulary.version
            and self._is_indexed(record)
        ):
            return cached[1]
        names = self._vocabulary.mentioned(self._profile(record))
        if self._is_indexed(record):
            self._mentions[record.id] = (self._vocabulary.version, names)
        return names

    def _suggestion(
        self, a: CandidateRecord, b: CandidateRecord, evidence: PairEvidence
    ) -> Suggestion:
        score, signals = self._stage1().score(evidence)
        relation = Relation.DUPLICATE if a.source == b.source else Relation.CORROBORATION
        return Suggestion(a.id, b.id, score, relation, signals)

    def _remember_text(self, records: list[CandidateRecord]) -> None:
        if not records:
            return
        block = self._text.vectors([r.text for r in records])
        base = 0 if self._matrix is None else self._matrix.shape[0]
        if self._matrix is None:
            self._matrix = block
        else:
            self._matrix = sparse.vstack([self._matrix, block]).tocsr()
        for i, record in enumerate(records):
            self._row[record.id] = base + i
            self._concepts[record.id] = concepts(record.text)

    def _is_indexed(self, record: CandidateRecord) -> bool:
        # A query may reuse an indexed id with different content (an edited report): only use
        # the cached vectors when it is the very record that was indexed.
        return record.id in self.index and self.index.get(record.id) == record

    def _vector(self, record: CandidateRecord) -> sparse.csr_matrix:
        if self._matrix is not None and record.id in self._row and self._is_indexed(record):
            return self._matrix[self._row[record.id]]
        return self._text.vectors([record.text])

    def _overlap(self, a: CandidateRecord, b: CandidateRecord) -> float | None:
        if not (a.text.strip() and b.text.strip()):
            return None
        if not self._text.fitted:
            # Nothing indexed yet: a vocabulary from the two texts alone still compares them.
            pair_model = TextSimilarity().fit([a.text, b.text])
            both = pair_model.vectors([a.text, b.text])
            return float(TextSimilarity.overlap_rows(both[0], both[1])[0])
        return float(TextSimilarity.overlap_rows(self._vector(a), self._vector(b))[0])

    def _concept_set(self, record: CandidateRecord) -> frozenset[str]:
        cached = self._concepts.get(record.id)
        if cached is not None and self._is_indexed(record):
            return cached
        return concepts(record.text)


def _key(a: CandidateRecord, b: CandidateRecord) -> tuple[str, str]:
    return (a.id, b.id) if a.id <= b.id else (b.id, a.id)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
