"""Every command, at every level, answers --help and documents itself."""

from __future__ import annotations

import click  # noqa: F401 - type of the walked commands
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from tocsin.cli import app


def _walk(
    cmd: click.Command, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, cmd)]
    if isinstance(getattr(cmd, "commands", None), dict):
        for name, sub in sorted(cmd.commands.items()):
            found.extend(_walk(sub, (*path, name)))
    return found


COMMANDS = _walk(get_command(app))


def test_the_expected_commands_exist() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"demo", "db", "db upgrade"} <= names


@pytest.mark.parametrize(
    ("path", "cmd"), COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_help(path: tuple[str, ...], cmd: click.Command) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert (cmd.help or cmd.short_help or "").strip(), f"'tocsin {' '.join(path)}' has no help text"
