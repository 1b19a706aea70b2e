"""Corroboration on the incident page: other incidents the engine matches, and nothing that
would tell a viewer where a case with a withheld location happened (TM-68)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from tests.api.support import Env, add_user, login, make_env, store_events
from tocsin.domain.entities import ActorLink, Event, Provenance
from tocsin.domain.taxonomy import (
    ActorRole,
    ActType,
    CaseClass,
    LocationPrecision,
    SensitivityTier,
    ViolenceType,
)
from tocsin.security.policies import Role


def _event(dataset: str, tag: str, tier: SensitivityTier, place: str) -> Event:
    return Event(
        provenance=Provenance(dataset, tag),
        date_start=date(2024, 5, 1),
        date_end=date(2024, 5, 1),
        latitude=4.36,
        longitude=18.58,
        location_precision=LocationPrecision.EXACT,
        country_iso3="CAF",
        admin1_name="Bangui",
        place_name=place,
        title=f"Attack on {place}",
        violence_type=ViolenceType.ONE_SIDED,
        act_types=(ActType.KILLING,),
        actors=(ActorLink("Armed Group X", ActorRole.PERPETRATOR),),
        fatalities_best=4,
        sensitivity=tier,
        case_class=CaseClass.GENERAL,
    )


OPEN = _event("ucdp_ged", "1", SensitivityTier.PUBLIC, "Kina market")
OTHER_SOURCE = _event("mission_reports", "7", SensitivityTier.PUBLIC, "Kina market")
HIDDEN = _event("mission_reports", "8", SensitivityTier.RESTRICTED, "Kina market")
FAR = dataclasses.replace(
    _event("acled_x", "9", SensitivityTier.PUBLIC, "Far town"), latitude=7.9, longitude=22.1
)


@pytest.fixture
def env(sqlite_engine, tmp_path: Path) -> Env:
    env = make_env(sqlite_engine, tmp_path / "home")
    store_events(env, [OPEN, OTHER_SOURCE, HIDDEN, FAR])
    return env


def _section(html: str) -> str:
    start = html.index('id="corroboration"')
    return html[start : html.index("</section>", start)]


def test_an_independent_account_is_listed_with_a_link(env: Env) -> None:
    login(env, add_user(env, "hro", Role.HUMAN_RIGHTS_OFFICER))
    section = _section(env.client.get(f"/incidents/{OPEN.uid}").text)
    assert f'href="/incidents/{OTHER_SOURCE.uid}"' in section
    assert "independent account" in section and "mission_reports" in section
    assert FAR.uid not in section  # 400 km away: not a candidate


def test_tm_68_cases_with_a_withheld_location_are_never_matched(env: Env) -> None:
    login(env, add_user(env, "cmd", Role.COMMANDER))  # sees restricted cases, not where
    section = _section(env.client.get(f"/incidents/{OPEN.uid}").text)
    assert HIDDEN.uid not in section  # would place the restricted case at Kina market
    assert OTHER_SOURCE.uid in section
    hidden_page = _section(env.client.get(f"/incidents/{HIDDEN.uid}").text)
    assert "no exact location you may see" in hidden_page
    assert OPEN.uid not in hidden_page and OTHER_SOURCE.uid not in hidden_page


def test_a_role_that_may_see_the_location_gets_the_restricted_match(env: Env) -> None:
    login(env, add_user(env, "hro", Role.HUMAN_RIGHTS_OFFICER))
    section = _section(env.client.get(f"/incidents/{OPEN.uid}").text)
    assert HIDDEN.uid in section


def test_partner_sees_public_matches_only_and_in_french(env: Env) -> None:
    login(env, add_user(env, "par", Role.PARTNER))
    env.client.cookies.set("tocsin_lang", "fr")
    section = _section(env.client.get(f"/incidents/{OPEN.uid}").text)
    assert OTHER_SOURCE.uid in section and HIDDEN.uid not in section
    assert "témoignage indépendant" in section


def test_nothing_nearby_says_so(env: Env) -> None:
    login(env, add_user(env, "hro", Role.HUMAN_RIGHTS_OFFICER))
    section = _section(env.client.get(f"/incidents/{FAR.uid}").text)
    assert "No other incident you may see within 10 days and 60 km" in section
