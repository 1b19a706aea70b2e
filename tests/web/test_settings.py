"""Web settings: the tile URL (and the CSP it needs) and the admin-boundaries file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.support import add_user, login, make_env
from tocsin.security.policies import Role
from tocsin.web import pages
from tocsin.web.settings import WebSettings, WebSettingsError, parse_tile_url


def test_tiles_are_off_by_default(monkeypatch) -> None:
    monkeypatch.delenv("TOCSIN_TILE_URL", raising=False)
    monkeypatch.delenv("TOCSIN_ADMIN_BOUNDARIES", raising=False)
    assert WebSettings.from_env() == WebSettings()


def test_tile_url_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("TOCSIN_TILE_URL", "https://tiles.example.org/{z}/{x}/{y}.png")
    monkeypatch.setenv("TOCSIN_TILE_ATTRIBUTION", "© Example contributors")
    tiles = WebSettings.from_env().tiles
    assert tiles is not None and tiles.origin == "https://tiles.example.org"
    assert parse_tile_url("/tiles/{z}/{x}/{y}.png").origin is None


@pytest.mark.parametrize(
    "template",
    [
        "https://tiles.example.org/{z}/{x}.png",
        "ftp://tiles.example.org/{z}/{x}/{y}.png",
        "javascript:alert(1)//{z}/{x}/{y}",
        "https://{s}.tiles.example.org/{z}/{x}/{y}.png",
        "https://user@tiles.example.org/{z}/{x}/{y}.png",
        "//tiles.example.org/{z}/{x}/{y}.png",
        "tiles/{z}/{x}/{y}.png",
        'https://tiles.example.org/{z}/{x}/{y}.png" onload="x',
        "https://tiles.example.org/{z}/{x}/{y}.png; script-src *",
        "https://t.example.org/" + "a" * 600 + "/{z}/{x}/{y}.png",
    ],
)
def test_bad_tile_urls_are_refused(template: str) -> None:
    with pytest.raises(WebSettingsError):
        parse_tile_url(template)


def test_missing_boundaries_file_is_refused(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOCSIN_ADMIN_BOUNDARIES", str(tmp_path / "none.parquet"))
    with pytest.raises(WebSettingsError, match="no such file"):
        WebSettings.from_env()


def test_map_page_csp_allows_exactly_the_tile_origin(sqlite_engine, tmp_path: Path) -> None:
    env = make_env(sqlite_engine, tmp_path / "home")
    settings = WebSettings(tiles=parse_tile_url("https://tiles.example.org/{z}/{x}/{y}.png", "T"))
    env.app.state.web_settings = settings
    login(env, add_user(env, "ana", Role.ANALYST))
    page = env.client.get("/map")
    csp = page.headers["content-security-policy"]
    assert "img-src 'self' data: https://tiles.example.org;" in csp
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp
    assert 'data-tile-url="https://tiles.example.org/{z}/{x}/{y}.png"' in page.text
    # Other pages keep the base policy.
    assert "tiles.example.org" not in env.client.get("/login").headers["content-security-policy"]


def test_install_adds_the_page_login_rate_limit_once(sqlite_engine, tmp_path: Path) -> None:
    env = make_env(sqlite_engine, tmp_path / "home")
    rules = env.app.state.services.settings.rate_rules
    assert rules.count(pages.PAGE_LOGIN_RULE) == 1
