"""NATO Admiralty grading: source reliability (A-F) and information credibility (1-6)."""

from __future__ import annotations

from enum import StrEnum


class SourceReliability(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"

    @property
    def label(self) -> str:
        return _RELIABILITY_LABELS[self]


class InformationCredibility(StrEnum):
    CONFIRMED = "1"
    PROBABLY_TRUE = "2"
    POSSIBLY_TRUE = "3"
    DOUBTFUL = "4"
    IMPROBABLE = "5"
    CANNOT_BE_JUDGED = "6"

    @property
    def label(self) -> str:
        return _CREDIBILITY_LABELS[self]


_RELIABILITY_LABELS = {
    SourceReliability.A: "Completely reliable",
    SourceReliability.B: "Usually reliable",
    SourceReliability.C: "Fairly reliable",
    SourceReliability.D: "Not usually reliable",
    SourceReliability.E: "Unreliable",
    SourceReliability.F: "Reliability cannot be judged",
}

_CREDIBILITY_LABELS = {
    InformationCredibility.CONFIRMED: "Confirmed by other sources",
    InformationCredibility.PROBABLY_TRUE: "Probably true",
    InformationCredibility.POSSIBLY_TRUE: "Possibly true",
    InformationCredibility.DOUBTFUL: "Doubtful",
    InformationCredibility.IMPROBABLE: "Improbable",
    InformationCredibility.CANNOT_BE_JUDGED: "Truth cannot be judged",
}


def parse_grade(code: str) -> tuple[SourceReliability, InformationCredibility]:
    """Parses an Admiralty code such as ``B2``; raises ValueError on anything else."""
    text = code.strip().upper()
    if len(text) != 2:
        raise ValueError(f"Admiralty grade must look like 'B2', got {code!r}")
    try:
        return SourceReliability(text[0]), InformationCredibility(text[1])
    except ValueError as exc:
        raise ValueError(
            f"Admiralty grade {code!r}: reliability is A-F, credibility is 1-6"
        ) from exc


def format_grade(reliability: SourceReliability, credibility: InformationCredibility) -> str:
    return f"{reliability.value}{credibility.value}"
