"""The community-alert SMS syntax: structure when used, free text otherwise, never an exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.domain.taxonomy import ActType, PocThreatCategory
from tocsin.intake.sms_syntax import (
    MAX_SMS_CHARS,
    THREAT_CODES,
    FreeText,
    HelpRequest,
    Rejected,
    StructuredAlert,
    acknowledgement,
    help_text,
    parse_sms,
)


def alert(text: str) -> StructuredAlert:
    result = parse_sms(text)
    assert isinstance(result, StructuredAlert), result
    return result


def test_basic_alert() -> None:
    a = alert("ALERT Bria KIL 3")
    assert (a.place, a.code, a.count, a.language) == ("Bria", "KIL", 3, "en")
    assert a.threat is PocThreatCategory.ATTACK_ON_CIVILIANS
    assert a.act_types == (ActType.KILLING,)


def test_french_case_accents_and_spacing() -> None:
    a = alert("  alerte   Ndélé  Tués   12+  hommes armés à moto ")
    assert (a.place, a.code, a.count, a.language) == ("Ndélé", "KIL", 12, "fr")
    assert a.note == "hommes armés à moto"
    v = alert("ALERTE Kaga Bandoro viol ~2")
    assert (
        v.place == "Kaga Bandoro" and v.threat is PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE
    )
    assert v.count == 2


def test_quoted_place_may_contain_code_words() -> None:
    a = alert('ALERT "Camp Kil" ATK 5')
    assert (a.place, a.code, a.count) == ("Camp Kil", "ATK", 5)


def test_count_and_note_are_optional() -> None:
    a = alert("ALRT Obo PK")
    assert a.count is None and a.note == ""
    assert a.threat is PocThreatCategory.MISCONDUCT_BY_MISSION_PERSONNEL


def test_every_code_maps_into_the_taxonomy() -> None:
    for word, code in THREAT_CODES.items():
        a = alert(f"ALERT Place {word} 1")
        assert a.code == code.code and isinstance(a.threat, PocThreatCategory)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Armed men burned houses in Bria last night", "no alert keyword"),
        ("ALERT", "threat code"),
        ("ALERT Bria", "threat code"),
        ("ALERT Bria nothing here", "threat code"),
        ('ALERT "" KIL 3', "threat code"),
        ('ALERT "Bria" nothing', "threat code"),
    ],
)
def test_unstructured_messages_stay_reports(text: str, reason: str) -> None:
    result = parse_sms(text)
    assert isinstance(result, FreeText) and reason in result.reason
    assert result.text == text.strip()


def test_help() -> None:
    assert parse_sms("AIDE") == HelpRequest("fr")
    assert parse_sms("help") == HelpRequest("en")
    assert "ALERTE" in help_text("fr") and "ALERT" in help_text("en")
    assert help_text("xx") == help_text("en")


def test_overlong_empty_and_non_text_are_rejected_with_reason() -> None:
    assert isinstance(parse_sms("A" * (MAX_SMS_CHARS + 1)), Rejected)
    assert isinstance(parse_sms("A" * 10_000_000), Rejected)
    assert parse_sms("   \n\t ").reason == "the message is empty"  # type: ignore[union-attr]
    assert isinstance(parse_sms(None), Rejected)
    assert isinstance(parse_sms(b"ALERT Bria KIL 3"), Rejected)


def test_unicode_tricks() -> None:
    # Full-width letters fold to ASCII; zero-width and bidi overrides are removed and flagged.
    a = alert("ＡＬＥＲＴ Bria\u200b KIL\u202e 3")
    assert a.place == "Bria" and "invisible_characters" in a.flags
    # Cyrillic look-alike "А" in ALERT: not our keyword; the message stays a free-text report.
    homoglyph = parse_sms("\u0410LERT Bria KIL 3")
    assert isinstance(homoglyph, FreeText) and "mixed_script" in homoglyph.flags
    # Control characters are dropped and flagged, never passed on.
    c = alert("ALERT Bria\x00\x07 KIL 3")
    assert "\x00" not in c.text and "control_characters" in c.flags


def test_huge_count_is_flagged_not_trusted() -> None:
    a = alert("ALERT Bria KIL 99999999999")
    assert a.count is None and "count_out_of_range" in a.flags


def test_script_in_text_is_kept_verbatim_for_escaping_at_display() -> None:
    r = parse_sms("<script>alert(1)</script> ALERT")
    assert isinstance(r, FreeText) and r.text.startswith("<script>")


def test_acknowledgement_repeats_nothing_sent() -> None:
    a = alert("ALERTE Bria TUE 3")
    reply = acknowledgement(a, "K7P-2QX")
    assert "K7P-2QX" in reply and "Bria" not in reply and reply.startswith("Message reçu")
    assert acknowledgement(parse_sms("hello"), "X1").startswith("Message received")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_never_raises(text: str) -> None:
    result = parse_sms(text)
    assert isinstance(result, StructuredAlert | FreeText | HelpRequest | Rejected)
