"""Trigger files: the shipped example loads; every kind of mistake is named with line and path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tocsin.alerts.model import Urgency
from tocsin.alerts.triggers.config import (
    ForecastRiskTrigger,
    KeywordsTrigger,
    ProximityTrigger,
    SurgeTrigger,
    TriggerConfigError,
    load_triggers,
    parse_duration,
    parse_triggers,
)
from tocsin.config import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "docs" / "examples" / "triggers.yaml"

MINIMAL = """\
mission: TEST
sender: tocsin.test
escalation:
  ack_deadline: {default: 2h}
  ladder:
    - after: 0m
      notify: [duty_officer]
triggers:
  - id: fc
    kind: forecast_risk
    name: Forecast
    outcome: p_ge_1
    level: 0.5
"""


def problems(text: str) -> list[str]:
    with pytest.raises(TriggerConfigError) as info:
        parse_triggers(text, source="t.yaml")
    return info.value.problems


def test_example_file_loads_with_every_kind() -> None:
    config = load_triggers(EXAMPLE)
    kinds = {type(t) for t in config.triggers}
    assert kinds == {ForecastRiskTrigger, SurgeTrigger, ProximityTrigger, KeywordsTrigger}
    ladder = config.escalation.to_ladder()
    assert ladder.ack_deadline(Urgency.IMMEDIATE) == timedelta(hours=1)
    assert ladder.ack_deadline(Urgency.EXPECTED) == timedelta(hours=4)
    assert [s.notify[0] for s in ladder.steps] == [
        "duty_officer",
        "head_of_field_office",
        "senior_poc_adviser",
    ]
    sites = config.protected_sites()
    route = next(s for s in sites if s.id == "msr-example")
    assert route.is_route and len(route.coords) == 3


def test_minimal_file_and_defaults() -> None:
    config = parse_triggers(MINIMAL)
    (trigger,) = config.triggers
    assert isinstance(trigger, ForecastRiskTrigger)
    assert trigger.level == 0.5 and trigger.rise is None and trigger.enabled


def test_errors_name_line_and_path() -> None:
    text = MINIMAL.replace("level: 0.5", "level: 1.5\n    levle: 0.2")
    found = problems(text)
    assert "t.yaml:13: triggers[0].level: Input should be less than or equal to 1" in found
    assert "t.yaml:14: triggers[0].levle: Extra inputs are not permitted" in found


def test_unknown_kind_and_missing_condition() -> None:
    found = problems(MINIMAL.replace("kind: forecast_risk", "kind: astrology"))
    assert any("triggers[0]" in p and "astrology" in p for p in found)
    found = problems(MINIMAL.replace("    level: 0.5\n", ""))
    assert any("needs a 'level', a 'rise', or both" in p for p in found)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("default: 2h", "default: 2"), "a duration is written like"),
        (("default: 2h", "default: 2 fortnights"), "is not a duration"),
        (("sender: tocsin.test", "sender: tocsin test"), "sender"),
        (("notify: [duty_officer]", "notify: [Duty Officer]"), "is not a role name"),
        (("notify: [duty_officer]", "notify: []"), "notify"),
        (("ack_deadline: {default: 2h}", "ack_deadline: {Immediate: 2h}"), "needs a 'default'"),
    ],
)
def test_bad_values_are_explained(change: tuple[str, str], message: str) -> None:
    found = problems(MINIMAL.replace(*change))
    assert any(message in p for p in found), found


def test_duplicate_ids_and_unordered_ladder() -> None:
    doubled = MINIMAL + MINIMAL[MINIMAL.index("  - id: fc") :]
    assert any("trigger id 'fc' is used twice" in p for p in problems(doubled))
    ladder = MINIMAL.replace(
        "    - after: 0m\n      notify: [duty_officer]",
        "    - after: 2h\n      notify: [a]\n    - after: 1h\n      notify: [b]",
    )
    assert any("strictly increasing" in p for p in problems(ladder))


def test_surge_needs_enough_history_and_keywords_need_something() -> None:
    surge = MINIMAL.replace(
        "kind: forecast_risk\n    name: Forecast\n    outcome: p_ge_1\n    level: 0.5",
        "kind: surge\n    name: S\n    window_days: 30\n    history_days: 60",
    )
    assert any("at least three windows" in p for p in problems(surge))
    keywords = MINIMAL.replace(
        "kind: forecast_risk\n    name: Forecast\n    outcome: p_ge_1\n    level: 0.5",
        "kind: keywords\n    name: K\n    patterns: {fr: ['*']}",
    )
    assert any("would match every report" in p for p in problems(keywords))
    bad_lang = keywords.replace("{fr: ['*']}", "{French: [attaque]}")
    assert any("ISO 639" in p for p in problems(bad_lang))


def test_sites_need_exactly_one_valid_geometry() -> None:
    base = MINIMAL.replace(
        "triggers:\n",
        "sites:\n  - id: s1\n    name: S\n    kind: school\n    GEOM\ntriggers:\n",
    )
    both = base.replace(
        "GEOM", "point: {lat: 1, lon: 2}\n    route: [{lat: 1, lon: 2}, {lat: 1, lon: 3}]"
    )
    assert any("exactly one of 'point' or 'route'" in p for p in problems(both))
    out_of_range = base.replace("GEOM", "point: {lat: 91, lon: 2}")
    assert any("sites[0].point.lat" in p for p in problems(out_of_range))
    nan = base.replace("GEOM", "point: {lat: .nan, lon: 2}")
    assert problems(nan)


def test_hostile_yaml_is_refused(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    assert any("anchors and aliases" in p for p in problems(bomb))
    assert any(
        "python/object" in p or "not valid YAML" in p
        for p in problems("!!python/object:os.system {}")
    )
    assert problems("- just\n- a list\n") == [
        "the top level must be a mapping (mission:, triggers:, ...)"
    ]
    assert any("nesting deeper" in p for p in problems("a: " + "[" * 60 + "]" * 60))
    with pytest.raises(TriggerConfigError, match="not UTF-8"):
        parse_triggers(b"mission: \xff\xfe")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 1_000_001)
    with pytest.raises(TriggerConfigError, match="at most 1000000"):
        load_triggers(big)
    with pytest.raises(TriggerConfigError, match="cannot read"):
        load_triggers(tmp_path / "missing.yaml")


def test_parse_duration() -> None:
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration(" 2 h ") == timedelta(hours=2)
    assert parse_duration("1w") == timedelta(weeks=1)
    for bad in ("", "2", "h", "-1h", 5):
        with pytest.raises(ValueError):
            parse_duration(bad)
