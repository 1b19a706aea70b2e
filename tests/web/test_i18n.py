"""English and French: every message of the templates and page modules has a French
translation, the compiled catalogue matches its source, and the language is chosen from the
cookie, then Accept-Language, else English."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from tocsin.web.i18n import (
    choose_language,
    environment,
    locale_dir,
    parse_accept_language,
    translations,
)

WEB_DIR = Path(__file__).resolve().parents[2] / "src" / "tocsin" / "web"
BABEL_CFG = Path(__file__).resolve().parents[2] / "babel.cfg"
PO = locale_dir() / "fr" / "LC_MESSAGES" / "messages.po"
MO = locale_dir() / "fr" / "LC_MESSAGES" / "messages.mo"


def _extracted() -> set[str]:
    """Every msgid in the templates and Python modules, extracted as the script does."""
    from babel.messages.frontend import parse_mapping_cfg

    method_map, options_map = parse_mapping_cfg(io.StringIO(BABEL_CFG.read_text()))
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(WEB_DIR), method_map, options_map, keywords=keywords
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def _first(msgid: str | tuple[str, ...] | list[str]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _catalog():  # noqa: ANN202
    with PO.open("rb") as fh:
        return read_po(fh, locale="fr")


def test_every_message_has_a_french_translation() -> None:
    extracted = _extracted()
    assert len(extracted) > 100  # the extraction itself works
    catalog = _catalog()
    missing = []
    for msgid in sorted(extracted):
        message = next(
            (m for m in catalog if (m.id[0] if isinstance(m.id, tuple) else m.id) == msgid), None
        )
        if message is None or message.fuzzy:
            missing.append(msgid)
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(s.strip() for s in strings):
            missing.append(msgid)
    assert missing == [], f"no French translation for: {missing}"


def test_placeholders_survive_translation() -> None:
    import re

    pattern = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
    for message in _catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(pattern.findall(ids[-1]))
        for text in strings:
            assert set(pattern.findall(text)) == expected, message.id


def test_compiled_catalogue_matches_its_source() -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalog())
    with MO.open("rb") as fh:
        shipped = read_mo(fh)
    fresh = read_mo(io.BytesIO(compiled.getvalue()))

    def pairs(catalog) -> dict[str, object]:  # noqa: ANN001
        return {
            _first(m.id): tuple(m.string) if not isinstance(m.string, str) else m.string
            for m in catalog
            if m.id
        }

    assert pairs(shipped) == pairs(fresh)


def test_french_pages_render_in_french() -> None:
    html = (
        environment("fr")
        .get_template("login.html")
        .render(
            next="/map", error=None, username="", viewer=None, static=lambda p: p, current_path="/"
        )
    )
    assert 'lang="fr"' in html
    assert (
        "Se connecter" in html and "Mot de passe" in html and "Aller au contenu principal" in html
    )
    assert translations("fr").ngettext("%(num)d incident matches.", "x", 2) == (
        "%(num)d incidents correspondent."
    )


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "en"),
        (None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        (None, "de-DE,de;q=0.9,fr;q=0.5", "fr"),
        (None, "en;q=0.4, fr;q=0.6", "fr"),
        (None, "de, it", "en"),
        ("en", "fr", "en"),
        ("fr", None, "fr"),
        ("xx", "fr", "fr"),
        ("<script>", None, "en"),
        (None, "fr;q=0", "en"),
        (None, "fr;q=abc, en", "en"),
        (None, "*", "en"),
        (None, "f" * 2000, "en"),
        (None, ",,,;;;q=,", "en"),
        (None, "fr;q=2", "en"),
    ],
)
def test_language_choice(cookie, header, expected) -> None:
    assert choose_language(cookie, header) == expected


def test_accept_language_parsing_is_bounded() -> None:
    assert parse_accept_language("fr-CA;q=0.7, en-GB;q=0.8, fr") == ["fr", "en"]
    assert parse_accept_language("x" * 600) == []
    assert len(parse_accept_language(", ".join(f"l{i:03d}" for i in range(100)))) <= 32


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        translations("de")
