"""The compact SMS syntax of trained community alert networks, and free text otherwise.

Grammar (case-insensitive, accents optional, any amount of space between words)::

    alert   = KEYWORD place CODE [count] [note]
    KEYWORD = "ALERT" | "ALERTE" | "ALRT"           (ALERTE answers in French)
    place   = 1 to 6 words, up to the first word that is a threat CODE
              (or "quoted text" when the place itself contains a code word)
    CODE    = a threat code from THREAT_CODES, English or French: ATK / ATQ, KIL / TUE, ...
    count   = a whole number of people concerned, optionally "~12" or "12+" (at most 999999)
    note    = anything after: kept as free text
    help    = "HELP" | "AIDE" | "?"                 (the reply explains the syntax)

Examples: ``ALERT Bria KIL 3``, ``alerte  Ndélé  viol 2 hommes armés``, ``ALERT "Camp Kil 5"
ATK``. Anything else is free text, which is just as much a report: the parser only adds
structure when the sender used it, and never refuses a message for not following it.

Hostile input never raises: overlong messages are rejected with a reason; control characters,
zero-width and bidirectional-override characters are removed; compatibility forms (full-width
letters) are folded; a keyword spelled with look-alike letters from another script is not a
keyword (the message stays free text, flagged ``mixed_script``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from tocsin.domain.taxonomy import ActType, PocThreatCategory

MAX_SMS_CHARS = 1600  # ten concatenated SMS segments: longer is not an SMS
MAX_PLACE_WORDS = 6
MAX_COUNT = 999_999

KEYWORDS: dict[str, str] = {"alert": "en", "alrt": "en", "alerte": "fr"}
HELP_WORDS: dict[str, str] = {"help": "en", "aide": "fr", "?": "en"}


@dataclass(frozen=True, slots=True)
class ThreatCode:
    code: str
    threat: PocThreatCategory
    acts: tuple[ActType, ...]
    meaning: str


def _codes() -> dict[str, ThreatCode]:
    table: list[tuple[tuple[str, ...], PocThreatCategory, tuple[ActType, ...], str]] = [
        (
            ("atk", "attack", "atq", "attaque"),
            PocThreatCategory.ATTACK_ON_CIVILIANS,
            (),
            "attack on civilians",
        ),
        (
            ("kil", "kill", "tue", "tues", "mort", "morts"),
            PocThreatCategory.ATTACK_ON_CIVILIANS,
            (ActType.KILLING,),
            "killing",
        ),
        (
            ("inj", "bles", "blesse", "blesses"),
            PocThreatCategory.ATTACK_ON_CIVILIANS,
            (ActType.INJURY,),
            "people injured",
        ),
        (
            ("sv", "vs", "rape", "viol"),
            PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE,
            (ActType.SEXUAL_VIOLENCE,),
            "sexual violence",
        ),
        (
            ("abd", "kid", "enl", "enlev", "enlevement"),
            PocThreatCategory.ATTACK_ON_CIVILIANS,
            (ActType.ABDUCTION,),
            "abduction",
        ),
        (
            ("chd", "child", "enf", "enfant", "enfants"),
            PocThreatCategory.GRAVE_VIOLATION_AGAINST_CHILDREN,
            (),
            "violation against children",
        ),
        (
            ("sch", "school", "eco", "ecole"),
            PocThreatCategory.GRAVE_VIOLATION_AGAINST_CHILDREN,
            (ActType.ATTACK_ON_SCHOOL,),
            "attack on a school",
        ),
        (
            ("hos", "hosp", "san", "sante"),
            PocThreatCategory.ATTACK_ON_CIVILIAN_OBJECTS,
            (ActType.ATTACK_ON_HEALTH_FACILITY,),
            "attack on a health facility",
        ),
        (
            ("idp", "camp", "site"),
            PocThreatCategory.ATTACK_ON_CIVILIANS,
            (ActType.ATTACK_ON_IDP_SITE,),
            "attack on a displacement site",
        ),
        (
            ("dis", "disp", "dep", "depl"),
            PocThreatCategory.FORCED_DISPLACEMENT,
            (ActType.FORCED_DISPLACEMENT,),
            "people forced to flee",
        ),
        (
            ("loot", "pil", "pill", "pillage"),
            PocThreatCategory.ATTACK_ON_CIVILIAN_OBJECTS,
            (ActType.LOOTING,),
            "looting",
        ),
        (
            ("brn", "burn", "inc", "incendie"),
            PocThreatCategory.ATTACK_ON_CIVILIAN_OBJECTS,
            (ActType.PROPERTY_DESTRUCTION,),
            "houses burned",
        ),
        (
            ("thr", "threat", "men", "menace"),
            PocThreatCategory.THREATS_AND_INTIMIDATION,
            (ActType.THREAT,),
            "threats",
        ),
        (
            ("arm", "gun", "armes"),
            PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS,
            (ActType.THREAT,),
            "armed men seen",
        ),
        (
            ("cla", "clash", "aff", "combat", "combats"),
            PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS,
            (ActType.ARMED_CLASH,),
            "fighting",
        ),
        (
            ("hum", "aid", "ong", "ngo"),
            PocThreatCategory.ATTACK_ON_HUMANITARIANS,
            (ActType.ATTACK_ON_AID_WORKERS,),
            "attack on aid workers",
        ),
        (
            ("det", "arr", "arrest", "arrestation"),
            PocThreatCategory.ATTACK_ON_CIVILIANS,
            (ActType.ARBITRARY_DETENTION,),
            "arbitrary arrests",
        ),
        (
            ("pk", "mis", "casque", "casques"),
            PocThreatCategory.MISCONDUCT_BY_MISSION_PERSONNEL,
            (),
            "misconduct by mission personnel",
        ),
    ]
    out: dict[str, ThreatCode] = {}
    for words, threat, acts, meaning in table:
        canonical = words[0].upper()
        for word in words:
            out[word] = ThreatCode(canonical, threat, acts, meaning)
    return out


THREAT_CODES: dict[str, ThreatCode] = _codes()


@dataclass(frozen=True, slots=True)
class StructuredAlert:
    place: str
    code: str
    threat: PocThreatCategory
    act_types: tuple[ActType, ...]
    count: int | None
    note: str
    language: str
    text: str  # the cleaned message, as stored
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FreeText:
    text: str
    language: str | None
    reason: str  # why it is not a structured alert (for the triage officer)
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HelpRequest:
    language: str


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    flags: tuple[str, ...] = field(default=())


ParseResult = StructuredAlert | FreeText | HelpRequest | Rejected

_SPACE = re.compile(r"\s+")
_COUNT = re.compile(r"^~?(\d{1,12})\+?$")


def clean_text(raw: str) -> tuple[str, tuple[str, ...]]:
    """NFKC-folded text with control, zero-width and bidi-override characters removed."""
    flags: list[str] = []
    text = unicodedata.normalize("NFKC", raw)
    out: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc":
            if ch in "\n\t\r":
                out.append(" ")
            else:
                flags.append("control_characters")
            continue
        if category in ("Cf", "Co", "Cs", "Cn"):  # format (zero-width, bidi), private, unpaired
            flags.append("invisible_characters")
            continue
        out.append(ch)
    return _SPACE.sub(" ", "".join(out)).strip(), tuple(dict.fromkeys(flags))


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _scripts(word: str) -> set[str]:
    scripts = set()
    for ch in word:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            scripts.add(name.split(" ")[0] if name else "UNKNOWN")
    return scripts


def parse_sms(message: object) -> ParseResult:
    """Parses one inbound message; never raises."""
    try:
        return _parse(message)
    except Exception:  # noqa: BLE001 - the contract is "never raise" on hostile input
        return Rejected("the message could not be read")


def _parse(message: object) -> ParseResult:
    if not isinstance(message, str):
        return Rejected("the message is not text")
    if len(message) > MAX_SMS_CHARS * 4:  # cheap guard before any normalisation work
        return Rejected(f"the message is longer than {MAX_SMS_CHARS} characters")
    text, flags = clean_text(message)
    if len(text) > MAX_SMS_CHARS:
        return Rejected(f"the message is longer than {MAX_SMS_CHARS} characters", flags)
    if not text:
        return Rejected("the message is empty", flags)

    words = text.split(" ")
    first = _fold(words[0])
    if len(words) == 1 and first in HELP_WORDS:
        return HelpRequest(HELP_WORDS[first])
    if first not in KEYWORDS:
        if len(_scripts(words[0])) > 1:
            flags = (*flags, "mixed_script")
        return FreeText(text, None, "no alert keyword: free text", flags)
    language = KEYWORDS[first]
    rest = text[len(words[0]) :].strip()

    place, after = _split_place(rest)
    if place is None:
        return FreeText(
            text, language, "alert keyword but no place followed by a threat code", flags
        )
    tokens = after.split(" ") if after else []
    if not tokens or _fold(tokens[0]) not in THREAT_CODES:
        return FreeText(
            text, language, "alert keyword but no place followed by a threat code", flags
        )
    code = THREAT_CODES[_fold(tokens[0])]
    count: int | None = None
    note_tokens = tokens[1:]
    if note_tokens:
        match = _COUNT.match(note_tokens[0])
        if match:
            value = int(match.group(1))
            if value <= MAX_COUNT:
                count = value
            else:
                flags = (*flags, "count_out_of_range")
            note_tokens = note_tokens[1:]
    return StructuredAlert(
        place=place,
        code=code.code,
        threat=code.threat,
        act_types=code.acts,
        count=count,
        note=" ".join(note_tokens),
        language=language,
        text=text,
        flags=flags,
    )


def _split_place(rest: str) -> tuple[str | None, str]:
    """(place, remainder): quoted place, else the words before the first threat code."""
    if rest.startswith('"'):
        end = rest.find('"', 1)
        if end <= 1:
            return None, ""
        return rest[1:end].strip() or None, rest[end + 1 :].strip()
    words = rest.split(" ") if rest else []
    for i, word in enumerate(words[: MAX_PLACE_WORDS + 1]):
        if i > 0 and _fold(word) in THREAT_CODES:
            return " ".join(words[:i]), " ".join(words[i:])
    return None, ""


HELP_TEXT = {
    "en": (
        "Send: ALERT <place> <code> <number>. Codes: KIL killing, ATK attack, SV sexual "
        "violence, ABD abduction, CHD children, DIS displacement, LOOT looting, BRN burning, "
        "THR threats, ARM armed men, CLA fighting, HUM aid workers, PK mission personnel. "
        "Example: ALERT Bria KIL 3"
    ),
    "fr": (
        "Envoyez : ALERTE <lieu> <code> <nombre>. Codes : TUE meurtres, ATQ attaque, VIOL "
        "violences sexuelles, ENL enlèvement, ENF enfants, DEPL déplacement, PIL pillage, INC "
        "incendie, MEN menaces, ARMES hommes armés, AFF combats, ONG humanitaires, CASQUE "
        "personnel de la mission. Exemple : ALERTE Bria TUE 3"
    ),
}


def help_text(language: str | None) -> str:
    return HELP_TEXT.get(language or "en", HELP_TEXT["en"])


def acknowledgement(result: ParseResult, receipt_code: str, language: str | None = None) -> str:
    """The reply sent once the report is committed. It repeats nothing the sender wrote: a
    seized phone should not show what was reported, only that something was received."""
    lang = language or getattr(result, "language", None) or "en"
    if lang == "fr":
        return f"Message reçu. Code de suivi : {receipt_code}. Merci."
    return f"Message received. Receipt code: {receipt_code}. Thank you."
