"""Multilingual text similarity for corroboration, with no model fetched at run time.

Two complementary signals:

- TF-IDF over character 3-5-grams (scikit-learn). Character n-grams survive typos, inflection and
  the many spellings of the same place ("Ndélé", "Ndele", "N'Dele") and are language-agnostic:
  French and English share most place and actor names and many cognates (attaque/attack,
  civils/civilians, village).
- A small hand-written concept lexicon (English, French, Arabic) mapping words to concepts
  (KILL, ATTACK, RAPE, ...). It bridges translations that share no characters ("tués"/"killed",
  "قتل"). It is data, reviewed by people who know the field; extend it per mission languages.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from tocsin.store.names import normalize_name

# Concept -> word stems. A word matches a stem when it starts with it (after accent folding and
# case folding), which covers plurals and conjugations ("tué", "tués", "tuée").
CONCEPT_STEMS: dict[str, tuple[str, ...]] = {
    "KILL": (
        "kill",
        "dead",
        "death",
        "died",
        "murder",
        "massacr",
        "execut",
        "shot dead",
        "tue",
        "tua",
        "mort",
        "deced",
        "assassin",
        "abattu",
        "execute",
        "قتل",
        "مقتل",
        "قتلى",
        "مات",
        "وفا",
    ),
    "INJURE": ("injur", "wound", "hurt", "bless", "جرح", "جريح", "اصاب", "إصاب"),
    "ATTACK": (
        "attack",
        "raid",
        "assault",
        "ambush",
        "stormed",
        "attaq",
        "embusc",
        "incursion",
        "هجوم",
        "هاجم",
        "كمين",
        "اعتد",
    ),
    "SHOOT": ("shoot", "shot", "gunfire", "fired", "fusill", "tir", "balle", "اطلاق", "رصاص"),
    "RAPE": (
        "rape",
        "raped",
        "sexual",
        "viol",
        "sexuel",
        "agression sex",
        "اغتصاب",
        "جنسي",
    ),
    "ABDUCT": (
        "abduct",
        "kidnap",
        "hostage",
        "enlev",
        "kidnapp",
        "otage",
        "rapt",
        "اختطاف",
        "خطف",
        "رهين",
    ),
    "LOOT": ("loot", "pillag", "pill", "steal", "stole", "vol", "نهب", "سرق"),
    "BURN": (
        "burn",
        "torch",
        "arson",
        "set fire",
        "on fire",
        "brul",
        "incend",
        "feu",
        "حرق",
        "احرق",
        "نار",
    ),
    "DISPLACE": (
        "displac",
        "fled",
        "flee",
        "deplac",
        "fui",
        "fuir",
        "refugi",
        "نزوح",
        "نازح",
        "فر",
    ),
    "CHILD": (
        "child",
        "children",
        "boy",
        "girl",
        "minor",
        "enfant",
        "garcon",
        "fille",
        "mineur",
        "طفل",
        "اطفال",
        "أطفال",
        "قاصر",
    ),
    "WOMAN": ("woman", "women", "femme", "امراة", "امرأة", "نساء"),
    "SCHOOL": (
        "school",
        "student",
        "teacher",
        "pupil",
        "ecole",
        "eleve",
        "enseign",
        "مدرس",
        "طالب",
        "معلم",
    ),
    "HEALTH": (
        "hospital",
        "clinic",
        "health",
        "hopital",
        "clinique",
        "sante",
        "centre de sante",
        "مستشفى",
        "عيادة",
        "صحي",
    ),
    "AID": ("aid worker", "humanitarian", "ngo", "ong", "humanitaire", "انسان", "إنسان", "منظمة"),
    "SOLDIER": (
        "soldier",
        "army",
        "military",
        "troop",
        "soldat",
        "armee",
        "militaire",
        "جندي",
        "جيش",
        "عسكر",
    ),
    "REBEL": (
        "rebel",
        "insurg",
        "militia",
        "armed group",
        "armed men",
        "gunmen",
        "rebelle",
        "milice",
        "groupe arme",
        "hommes armes",
        "متمرد",
        "ميليشيا",
        "مسلح",
    ),
    "POLICE": ("police", "gendarm", "شرطة"),
    "VILLAGE": ("village", "hamlet", "town", "localite", "قرية", "بلدة"),
    "CAMP": ("camp", "idp", "site", "مخيم"),
    "MARKET": ("market", "marche", "سوق"),
    "CHURCH": ("church", "mosque", "eglise", "mosquee", "كنيسة", "مسجد"),
    "CATTLE": (
        "cattle",
        "cow",
        "herd",
        "livestock",
        "betail",
        "vache",
        "boeuf",
        "troupeau",
        "ماشية",
        "ابقار",
    ),
    "THREAT": ("threat", "intimidat", "menac", "تهديد"),
    "DETAIN": ("arrest", "detain", "detention", "arret", "detenu", "اعتقال", "احتجاز"),
    "CLASH": ("clash", "fighting", "battle", "combat", "affrontement", "اشتباك", "معارك"),
}

_WORD = re.compile(r"\w+", re.UNICODE)
_AR_PREFIXES = ("وال", "بال", "لل", "ال", "و")
_NON_TEXT = re.compile(r"[^\w\s]", re.UNICODE)

# Pre-folded stems grouped by first character for fast lookup.
_STEMS: list[tuple[str, str]] = sorted(
    ((normalize_name(stem), concept) for concept, stems in CONCEPT_STEMS.items() for stem in stems),
    key=lambda item: -len(item[0]),
)


def fold(text: str) -> str:
    """Accent-, case- and width-insensitive form; punctuation becomes space."""
    text = unicodedata.normalize("NFKC", text)
    return normalize_name(_NON_TEXT.sub(" ", text))


def concepts(text: str) -> frozenset[str]:
    """The lexicon concepts a text mentions, in any of the supported languages."""
    folded = " " + fold(text) + " "
    found: set[str] = set()
    words = _WORD.findall(folded)
    # Arabic attaches the article and some prepositions to the word ("في القرية", "بالقرية"):
    # also try each word without them.
    words += [
        w[len(p) :] for w in words for p in _AR_PREFIXES if w.startswith(p) and len(w) > len(p) + 1
    ]
    for stem, concept in _STEMS:
        if concept in found:
            continue
        if " " in stem:
            if f" {stem}" in folded:
                found.add(concept)
        elif any(word.startswith(stem) for word in words):
            # Very short stems ("tir", "vol", "feu") would match too much as prefixes of long
            # words ("tirailleur" is fine, "volontaire" is not); require a near-whole word.
            if len(stem) <= 3 and not any(
                word.startswith(stem) and len(word) <= len(stem) + 2 for word in words
            ):
                continue
            found.add(concept)
    return frozenset(found)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


class TextSimilarity:
    """Cosine similarity of character n-gram TF-IDF vectors, fitted on a corpus.

    ``fit`` learns the vocabulary and IDF weights from the records being compared (so rare place
    names weigh more than "attack"); texts added later are transformed with that vocabulary.
    """

    def __init__(self, ngram_range: tuple[int, int] = (3, 5), max_features: int = 2**18) -> None:
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=ngram_range,
            lowercase=True,
            strip_accents="unicode",
            sublinear_tf=True,
            max_features=max_features,
            dtype=np.float32,
        )
        self._fitted = False

    @property
    def fitted(self) -> bool:
        return self._fitted

    def fit(self, texts: Sequence[str]) -> TextSimilarity:
        corpus = [fold(t) for t in texts if t and t.strip()]
        if not corpus:
            corpus = ["empty"]  # a vocabulary of one word: every similarity will be 0
        self._vectorizer.fit(corpus)
        self._fitted = True
        return self

    def vectors(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """L2-normalised rows; an empty text is an all-zero row."""
        if not self._fitted:
            raise RuntimeError("TextSimilarity.fit must be called before vectors()")
        return self._vectorizer.transform([fold(t) if t else "" for t in texts]).tocsr()

    @staticmethod
    def overlap_rows(a: sparse.csr_matrix, b: sparse.csr_matrix) -> np.ndarray:
        """Row-wise wording overlap in [0, 1] of two equally long stacks of vectors.

        The share of the *shorter* text's TF-IDF mass whose n-grams also occur in the other text.
        Plain cosine punishes length differences: a 6-word SMS inside a 60-word partner report
        scores low even when every one of its place and actor names is there. Containment of the
        shorter side does not, and for two texts of similar length it behaves like cosine.
        """
        mass_a = np.asarray(a.multiply(a).sum(axis=1)).ravel()
        mass_b = np.asarray(b.multiply(b).sum(axis=1)).ravel()
        a_in_b = np.asarray(a.multiply(a).multiply(b > 0).sum(axis=1)).ravel()
        b_in_a = np.asarray(b.multiply(b).multiply(a > 0).sum(axis=1)).ravel()
        size_a = (a > 0).sum(axis=1).A1
        size_b = (b > 0).sum(axis=1).A1
        with np.errstate(invalid="ignore", divide="ignore"):
            share_a = np.where(mass_a > 0, a_in_b / mass_a, 0.0)
            share_b = np.where(mass_b > 0, b_in_a / mass_b, 0.0)
        # Equally long texts: either side could be "the shorter"; take the mean so that the
        # overlap of (a, b) is exactly that of (b, a).
        out = np.where(
            size_a < size_b, share_a, np.where(size_b < size_a, share_b, (share_a + share_b) / 2)
        )
        return np.clip(out, 0.0, 1.0)
