"""TM-67: nothing of a record or a filter reaches the server log, a page title or an address
the pages build. (The browser test ``test_tm_67_every_control_has_a_name_and_titles_hold_no_
record_data`` checks titles and addresses in Chromium on every page.)"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.api.support import (
    Env,
    add_user,
    login,
    make_env,
    matrix_event,
    secret_values,
    store_events,
)
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security.policies import Role

RES = matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "res")


@pytest.fixture
def env(sqlite_engine, tmp_path: Path) -> Env:
    env = make_env(sqlite_engine, tmp_path / "home")
    store_events(env, [RES])
    return env


def test_tm_67_access_log_holds_paths_only(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    headers = login(env, add_user(env, "hro", Role.HUMAN_RIGHTS_OFFICER))
    place = secret_values("res")["place_name"]
    with caplog.at_level(logging.INFO, logger="tocsin.access"):
        env.client.get("/map", params={"actor": "Armed Group X", "start": "2024-05-01"})
        env.client.get(f"/incidents/{RES.uid}")
        env.client.post(
            "/sitrep",
            data={"period": "2024-05", "area": "CAF", "format": "html"}
            | {"csrf_token": headers["X-CSRF-Token"]},
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "tocsin.access"]
    assert any("/map" in line for line in lines)  # the log works
    text = "\n".join(lines)
    for value in ("Armed Group X", "Armed+Group", "2024-05", "CAF", place, "?"):
        assert value not in text, value


def test_tm_67_page_titles_are_generic(env: Env) -> None:
    login(env, add_user(env, "hro", Role.HUMAN_RIGHTS_OFFICER))
    values = secret_values("res")
    for path in ("/map?actor=Armed+Group+X", f"/incidents/{RES.uid}", "/dashboard"):
        html = env.client.get(path).text
        title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
        assert title.endswith(" · Tocsin") and len(title) < 40, title
        for value in (values["place_name"], values["title"], "Armed Group X", RES.uid):
            assert value not in title
