"""The corroboration engine: candidate duplicates and corroborating reports, with reasons.

Usage::

    engine = CorroborationEngine(ScoringModel.default())
    engine.add_many(records)          # reports and events, any channel or dataset
    for s in engine.suggest("report-42"):
        print(s.candidate_id, s.score, s.relation, s.reason)

A match from the same source is a *duplicate* (the same channel told us twice); a match from
another source is *corroboration* (an independent account, which raises credibility).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from scipy import sparse

from tocsin.verify.blocking import BlockingConfig, BlockingIndex
from tocsin.verify.records import CandidateRecord
from tocsin.verify.scoring import (
    ActorResolver,
    PairEvidence,
    ScoringModel,
    Signal,
    pair_evidence,
)
from tocsin.verify.text import TextSimilarity, concepts


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
        model: ScoringModel | None = None,
        *,
        blocking: BlockingConfig | None = None,
        resolve_actor: ActorResolver | None = None,
    ) -> None:
        self.model = model or ScoringModel.default()
        self.index = BlockingIndex(blocking)
        self._resolve: ActorResolver = resolve_actor or (lambda name: name)
        self._text = TextSimilarity()
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
        if not self._text.fitted:
            # The first batch sets the vocabulary; fitting on the whole corpus up front gives
            # place names their true rarity. Later additions reuse it (refit() to refresh).
            self._text.fit([r.text for r in batch])
        self._remember_text(batch)

    def remove(self, record_id: str) -> None:
        self.index.remove(record_id)
        self._row.pop(record_id, None)
        self._concepts.pop(record_id, None)

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
        return self._suggestion(a, b, self.evidence(a, b))

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
        candidates = self.index.candidates(query)
        if self._is_indexed(query):
            pairs = [(query, other) for other in candidates]
            evidence = self.evidence_for_pairs(pairs)
            out = [self._suggestion(a, b, e) for (a, b), e in zip(pairs, evidence, strict=True)]
        else:
            out = [self.compare(query, other) for other in candidates]
        out = [s for s in out if s.score >= floor]
        out.sort(key=lambda s: (-s.score, s.candidate_id))
        return out[: max(limit, 0)]

    def candidate_pairs(self) -> Iterator[tuple[CandidateRecord, CandidateRecord]]:
        """Every pair the blocking index proposes, each once."""
        for record in list(self.index.records()):
            for other in self.index.candidates(record):
                if record.id < other.id:
                    yield record, other

    def all_suggestions(
        self, min_score: float | None = None, *, batch_size: int = 20_000
    ) -> Iterator[Suggestion]:
        """Scores every proposed pair (batch de-duplication of a whole store)."""
        floor = self.model.threshold if min_score is None else min_score
        batch: list[tuple[CandidateRecord, CandidateRecord]] = []
        for pair in self.candidate_pairs():
            batch.append(pair)
            if len(batch) >= batch_size:
                yield from self._score_batch(batch, floor)
                batch = []
        yield from self._score_batch(batch, floor)

    def _score_batch(
        self, pairs: list[tuple[CandidateRecord, CandidateRecord]], floor: float
    ) -> Iterator[Suggestion]:
        for (a, b), evidence in zip(pairs, self.evidence_for_pairs(pairs), strict=True):
            suggestion = self._suggestion(a, b, evidence)
            if suggestion.score >= floor:
                yield suggestion

    def _suggestion(
        self, a: CandidateRecord, b: CandidateRecord, evidence: PairEvidence
    ) -> Suggestion:
        score, signals = self.model.score(evidence)
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
