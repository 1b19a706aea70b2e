"""Name normalisation for matching actors and places across datasets."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalize_name(name: str) -> str:
    """Case-, accent- and whitespace-insensitive key: 'Séléka ' and 'seleka' match."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SPACE.sub(" ", text).strip().casefold()
