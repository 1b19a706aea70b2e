"""Bad requests get a clear error and write nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.geo.countries import UnknownCountryError
from tocsin.scenario.generator import MAX_MONTHS, build_scenario, generate_scenario, resolve_window
from tocsin.scenario.model import ScenarioError
from tocsin.scenario.output import MANIFEST_NAME, write_scenario

TODAY = date(2026, 11, 21)


@pytest.mark.parametrize("months", [0, -1, MAX_MONTHS + 1, 10**9])
def test_months_out_of_range(months: int) -> None:
    with pytest.raises(ScenarioError, match="months must be"):
        resolve_window(months, None, TODAY)


def test_months_must_be_an_integer() -> None:
    with pytest.raises(ScenarioError, match="whole number"):
        resolve_window(2.5, None, TODAY)  # type: ignore[arg-type]


def test_window_must_fit_between_1946_and_today() -> None:
    with pytest.raises(ScenarioError, match="before 1946-01"):
        resolve_window(1000, None, TODAY)
    with pytest.raises(ScenarioError, match="last complete month"):
        resolve_window(12, date(2026, 6, 1), TODAY)
    assert resolve_window(12, date(2025, 11, 17), TODAY) == (date(2025, 11, 1), date(2026, 11, 1))
    assert resolve_window(48, None, TODAY) == (date(2022, 1, 1), date(2026, 1, 1))


@pytest.mark.parametrize("seed", [-1, 2**63, True])
def test_bad_seed(seed: int) -> None:
    with pytest.raises(ScenarioError, match="seed"):
        build_scenario("CAF", 12, seed)


def test_unknown_country() -> None:
    with pytest.raises(UnknownCountryError, match="unknown country code 'ZZZ'"):
        build_scenario("ZZZ", 12, 1)


def test_refuses_a_non_empty_folder_unless_forced(tmp_path: Path) -> None:
    scenario = build_scenario("CAF", 6, 1, start=date(2020, 1, 1))
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ScenarioError, match="not empty"):
        write_scenario(scenario, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    write_scenario(scenario, tmp_path, force=True)
    other = build_scenario("CAF", 6, 2, start=date(2020, 1, 1))
    write_scenario(other, tmp_path, force=True)
    # The earlier scenario's CSV is replaced, the user's file is kept.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ged_synthetic_caf_seed2.csv",
        "notes.txt",
        MANIFEST_NAME,
    ]
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_refuses_a_file_as_folder(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    scenario = build_scenario("CAF", 3, 1, start=date(2020, 1, 1))
    with pytest.raises(ScenarioError, match="not a folder"):
        write_scenario(scenario, target, force=True)


def test_written_files_are_reproducible(tmp_path: Path) -> None:
    scenario = build_scenario("CAF", 6, 5, start=date(2020, 1, 1))
    first = write_scenario(scenario, tmp_path / "a")
    again = write_scenario(build_scenario("CAF", 6, 5, start=date(2020, 1, 1)), tmp_path / "b")
    for a, b in zip(first, again, strict=True):
        assert a.read_bytes() == b.read_bytes()
    manifest = json.loads(first[1].read_text())
    assert manifest["events_file"] == first[0].name
    assert len(manifest["events_sha256"]) == 64
    assert not list((tmp_path / "a").glob(".*tmp"))


def test_generate_writes_and_returns_the_csv(tmp_path: Path) -> None:
    """The call ./scripts/demo makes."""
    path = generate_scenario(country="CAF", months=4, seed=7, out_dir=tmp_path / "s", force=True)
    assert path == tmp_path / "s" / "ged_synthetic_caf_seed7.csv"
    assert path.read_bytes().startswith(b"id,relid,year,")
    assert (tmp_path / "s" / MANIFEST_NAME).is_file()


def test_cli_generate(tmp_path: Path) -> None:
    out = tmp_path / "scenario"
    result = CliRunner().invoke(
        app,
        ["scenario", "generate", "--country", "caf", "--months", "6", "--seed", "3", "--out",
         str(out), "--start", "2021-03"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "synthetic events, 2021-03 to 2021-08" in result.output
    assert (out / "ged_synthetic_caf_seed3.csv").is_file()
    assert (out / MANIFEST_NAME).is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--country", "QQQ", "--months", "6", "--seed", "1"], "unknown country code"),
        (["--country", "CAF", "--months", "0", "--seed", "1"], "months must be at least 1"),
        (["--country", "CAF", "--months", "5000", "--seed", "1"], "at most 1200"),
        (["--country", "CAF", "--months", "6", "--seed", "-4"], "seed must be"),
        (["--country", "CAF", "--months", "6", "--seed", "1", "--start", "2020/01"], "YYYY-MM"),
        (["--country", "CAF", "--months", "6", "--seed", "1", "--start", "2020-13"], "YYYY-MM"),
        (["--country", "CAF", "--months", "6", "--seed", "1", "--start", "2999-01"], "complete"),
    ],
)
def test_cli_errors(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["scenario", "generate", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()


def test_cli_refuses_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    result = CliRunner().invoke(
        app,
        ["scenario", "generate", "--country", "CAF", "--months", "3", "--seed", "1", "--out",
         str(tmp_path), "--start", "2020-01"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "not empty" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["x"]
