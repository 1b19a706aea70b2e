"""Languages of the web interface: gettext catalogues (Babel) and one Jinja2 environment each.

Catalogues live in ``tocsin/locale/<lang>/LC_MESSAGES/messages.mo``, compiled from the ``.po``
files by ``scripts/dev/update_translations.sh``. English is the source language (the msgids),
so it needs no catalogue.

The language of a request comes from, in order: the ``tocsin_lang`` cookie set by the language
switch, then the ``Accept-Language`` header, else English. Each language gets its own Jinja2
environment with the translations installed once, so concurrent requests in different
languages never share mutable gettext state.

Strings defined in Python (labels of enum values) are marked with :func:`N_` so that extraction
finds them, and translated at render time with ``_(label)`` in the template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, partial
from importlib import resources
from pathlib import Path

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

LANGUAGES: Mapping[str, str] = {"en": "English", "fr": "Français"}
# The public reporting pages (web/public_report.py) also speak Arabic, written right to left.
PUBLIC_LANGUAGES: Mapping[str, str] = {**LANGUAGES, "ar": "العربية"}
RTL_LANGUAGES = frozenset({"ar"})
DEFAULT_LANGUAGE = "en"
COOKIE_NAME = "tocsin_lang"
DOMAIN = "messages"
TEMPLATES_DIR = Path(__file__).parent / "templates"

# An Accept-Language header is client input: bounded, and parsed by a strict pattern.
_MAX_HEADER = 512
_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$"
)


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Marks a string for extraction without translating it (translated when rendered)."""
    return message


def locale_dir() -> Path:
    return Path(str(resources.files("tocsin") / "locale"))


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue of ``lang``; English (the source language) has none."""
    if lang not in PUBLIC_LANGUAGES:
        raise ValueError(
            f"unsupported language {lang!r}; choose from {', '.join(PUBLIC_LANGUAGES)}"
        )
    if lang == DEFAULT_LANGUAGE:
        return NullTranslations()
    found = Translations.load(str(locale_dir()), [lang], DOMAIN)
    if not isinstance(found, Translations):  # Babel returns NullTranslations when missing
        raise RuntimeError(
            f"the {lang} catalogue is missing from {locale_dir()}; "
            "run scripts/dev/update_translations.sh"
        )
    return found


@cache
def environment(lang: str) -> Environment:
    """The Jinja2 environment for ``lang``: autoescaping on, gettext installed."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = lang
    env.globals["text_direction"] = "rtl" if lang in RTL_LANGUAGES else "ltr"
    env.globals["languages"] = LANGUAGES
    # Imported here: these modules import N_ from this one.
    from tocsin.web.feature_labels import explain_feature
    from tocsin.web.labels import term
    from tocsin.web.overview import attribution_for

    env.globals["feature_text"] = partial(explain_feature, gettext=translations(lang).gettext)
    env.filters["term"] = partial(term, gettext=translations(lang).gettext)
    env.globals["attribution"] = partial(attribution_for, gettext=translations(lang).gettext)
    return env


def parse_accept_language(header: str | None) -> list[str]:
    """Primary language subtags in order of preference (q descending, then position).

    Malformed ranges are ignored one by one; an oversized header is ignored entirely.
    """
    if not header or len(header) > _MAX_HEADER:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        match = _RANGE.match(part)
        if match is None:
            continue
        tag, q = match.group(1), match.group(2)
        try:
            weight = 1.0 if q is None else float(q)
        except ValueError:
            continue
        if not 0.0 < weight <= 1.0 or tag == "*":
            continue
        ranked.append((-weight, position, tag.split("-")[0].lower()))
    ranked.sort()
    return list(dict.fromkeys(tag for _, _, tag in ranked))


def choose_language(
    cookie: str | None, accept_language: str | None, allowed: Mapping[str, str] = LANGUAGES
) -> str:
    if cookie in allowed:
        return cookie  # type: ignore[return-value]
    for tag in parse_accept_language(accept_language):
        if tag in allowed:
            return tag
    return DEFAULT_LANGUAGE


def gettext(lang: str, message: str) -> str:
    """Translates one message outside a template (e.g. a value in a JSON response)."""
    return translations(lang).gettext(message)


class TranslatableError(ValueError):
    """An error whose message a person reads: an English msgid (marked with :func:`N_` where it
    is raised) and its ``%(name)s`` parameters, so each page can show it in its reader's
    language. ``str(error)`` is the English text (logs, the command line's default)."""

    def __init__(self, message: str, **params: object) -> None:
        self.message = message
        self.params = params
        super().__init__(message % params if params else message)

    def translate(self, lang: str) -> str:
        text = translations(lang).gettext(self.message)
        return text % self.params if self.params else text
