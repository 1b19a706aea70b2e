"""Invented place and actor names: pronounceable, reproducible, and not meant to be real.

Names are assembled from syllables, so a made-up village can by chance share a real one's name;
every scenario row also says, in its source fields, that it is synthetic.
"""

from __future__ import annotations

import numpy as np

_ONSETS = (
    "b", "d", "g", "k", "l", "m", "n", "p", "s", "t", "v", "y", "z",
    "mb", "nd", "ng", "gb", "kp", "ny", "sh", "dj", "br", "tr",
)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "a", "o", "ou", "ai")
_CODAS = ("", "", "", "", "n", "m", "r", "l")

ARMED_GROUP_PATTERNS = (
    "Movement for the Liberation of {region}",
    "Patriotic Front of {region}",
    "Union for Peace in {region}",
    "Democratic Alliance of {region}",
    "Popular Army of {region}",
    "Revolutionary Council of {region}",
    "National Resistance of {region}",
    "Coalition for Justice in {region}",
)
MILITIA_PATTERNS = (
    "{place} self-defence group",
    "{place} militia",
    "{place} youth brigade",
    "{place} vigilance committee",
)


class NameMaker:
    """Draws distinct invented names from one random stream."""

    def __init__(self, rng: np.random.Generator, reserved: set[str] | None = None) -> None:
        self._rng = rng
        self._used: set[str] = set(reserved or ())

    def _word(self) -> str:
        syllables = int(self._rng.choice((2, 2, 3, 3, 3, 4)))
        parts = []
        for i in range(syllables):
            parts.append(str(self._rng.choice(_ONSETS)) + str(self._rng.choice(_VOWELS)))
            if i == syllables - 1:
                parts.append(str(self._rng.choice(_CODAS)))
        return "".join(parts).capitalize()

    def place(self) -> str:
        for _ in range(1000):
            word = self._word()
            if word not in self._used:
                self._used.add(word)
                return word
        # Only reachable after hundreds of thousands of names: number the rest.
        word = f"{self._word()} {len(self._used)}"
        self._used.add(word)
        return word

    def pick(self, patterns: tuple[str, ...], **values: str) -> str:
        for _ in range(100):
            name = str(self._rng.choice(patterns)).format(**values)
            if name not in self._used:
                self._used.add(name)
                return name
        name = f"{patterns[0].format(**values)} {len(self._used)}"
        self._used.add(name)
        return name
